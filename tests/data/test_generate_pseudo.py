"""Pseudo-subjects in a generate spec: deformed copies of a CT with their own ids, kept in their source's split."""

from __future__ import annotations

import numpy as np
import yaml

from xraylab.data.generate import generate
from xraylab.data.manifest import read_dataset_json, read_manifest
from xraylab.io.images import read_image, read_mask


def test_pseudo_subjects_render_differently_and_follow_their_source_split(tmp_path):
    spec = {
        "name": "pseudo", "seed": 3,
        "cts": [{"default": True, "pseudo_subjects": 2, "pseudo_elastic_mm": 1.0}],
        "structures": ["lungs"], "preset": "ideal",
        "geometry": {"rows": 24, "cols": 24},
        "sweep": {"grid": {"geometry.rotation_deg": [0]}},
        "render": {"n_points": 64, "downsample": 4},
        "output": {"size": 24, "contact_sheet": 0, "mask_resize": "nearest"},
        "split": {"train": 0.5, "val": 0.0, "test": 0.5},
    }
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    out = tmp_path / "out"
    assert generate(path, out, workers=1, progress=False).complete
    df = read_manifest(out).set_index("subject_id")
    base = df.index[~df.index.str.contains("~")][0]
    assert sorted(df.index) == sorted([base, f"{base}~p1", f"{base}~p2"])
    assert set(df["source_subject_id"]) == {base}
    assert df["pseudo_subject"].to_dict() == {base: False, f"{base}~p1": True, f"{base}~p2": True}
    assert df["split"].nunique() == 1  # one source → one split, whatever the fractions
    masks = {s: read_mask(out / df.loc[s, "mask:lungs"]) for s in df.index}
    assert masks[base].any() and all(m.any() for m in masks.values())
    assert not np.array_equal(masks[base], masks[f"{base}~p1"])  # deformed anatomy
    assert not np.array_equal(masks[f"{base}~p1"], masks[f"{base}~p2"])
    img = read_image(out / df.loc[f"{base}~p1", "image"])
    assert img.std() > 0
    info = read_dataset_json(out)
    assert "lung_upper_lobe_left" in info["structure_definitions"]["lungs"]
