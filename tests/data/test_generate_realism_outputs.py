"""Generate writes the for-processing image and records the field of view (issue 12, items 4 and 5)."""

from __future__ import annotations

import json

import numpy as np

from xraylab.data.generate import generate
from xraylab.data.manifest import read_manifest
from xraylab.io.images import read_image, sha256_file
from xraylab.render import FOR_PROCESSING_SCALE

from .helpers import tiny_spec, write_spec


def test_for_processing_image_and_field_record(tmp_path):
    spec = tiny_spec(sweep={"grid": {"geometry.rotation_deg": [0]}}, structures=["lungs"])
    spec["output"] = {**spec["output"], "layers": True, "crop_to_field": True}
    out = tmp_path / "out"
    generate(write_spec(tmp_path, spec), out, workers=1, progress=False)
    df = read_manifest(out)
    r = df.iloc[0]
    assert sha256_file(out / r["image_for_processing"]) == r["sha256:image_for_processing"]
    field = json.loads(r["field"])
    assert field["field"] == "auto" and field["clipped"]
    box = json.loads(r["framing_box"])  # cut to the exposed field: fewer rows than the 24-row detector
    assert box is not None and box[1] - box[0] < 24
    fp = read_image(out / r["image_for_processing"]) * FOR_PROCESSING_SCALE
    layers = np.load(out / r["layers"])
    assert {"for_processing", "valid", "field"} <= set(layers.files)
    inside = layers["valid"] > 0.5
    # The PNG holds −ln(I/I₀) / 8: it agrees with the float layer to the 16-bit step.
    assert np.allclose(fp[inside], np.clip(layers["for_processing"][inside], 0, FOR_PROCESSING_SCALE), atol=1e-3)
