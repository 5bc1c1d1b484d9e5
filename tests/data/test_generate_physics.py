"""Physics sweeps through the generator: a one-factor kVp sweep lowers lung/bone contrast as kVp rises."""

from __future__ import annotations

import numpy as np

from xraylab.data.generate import generate
from xraylab.data.manifest import read_manifest
from xraylab.io.images import read_image, read_mask

from .helpers import tiny_spec, write_spec


def test_kvp_one_factor_sweep_contrast_falls(tmp_path):
    kvps = [60, 80, 100, 120, 150]
    spec = tiny_spec(
        structures=["lungs", "spine"],
        geometry={"rows": 32, "cols": 32},
        sweep={"one_factor": {"physics.spectrum.kvp": kvps}},
        output={"size": 32, "layers": True, "contact_sheet": 0},
    )
    out = tmp_path / "kvp"
    assert generate(write_spec(tmp_path, spec), out, workers=1, progress=False).complete
    df = read_manifest(out).sort_values("physics.spectrum.kvp")
    assert list(df["physics.spectrum.kvp"]) == kvps
    assert (df["sweep_factor"] == "physics.spectrum.kvp").all()
    # Everything but the kVp is the preset's.
    assert df["physics.spectrum.mas"].nunique() == 1 and df["physics.grid.ratio"].nunique() == 1
    contrast = []
    for _, r in df.iterrows():
        lungs, spine = read_mask(out / r["mask:lungs"]), read_mask(out / r["mask:spine"])
        lung_only, spine_only = lungs & ~spine, spine & ~lungs
        assert lung_only.sum() > 10 and spine_only.sum() > 3
        with np.load(out / r["layers"]) as z:
            signal = z["noise_free"]  # flat-fielded expected detector signal (no noise)
            assert set(z.files) >= {"primary", "scatter", "normalized", "material/bone", "path/lungs"}
        atten = -np.log(np.clip(signal, 1e-6, None))
        contrast.append(float(atten[spine_only].mean() - atten[lung_only].mean()))
        assert read_image(out / r["image"]).shape == (32, 32)
    assert all(c > 0 for c in contrast), contrast
    assert all(a > b for a, b in zip(contrast, contrast[1:])), f"contrast must fall with kVp: {contrast}"
    assert contrast[0] > 1.2 * contrast[-1], contrast


def test_random_physics_sweep_is_reproducible_and_varies(tmp_path):
    spec = tiny_spec(
        sweep={"grid": {"geometry.rotation_deg": [0]},
               "random": {"physics.spectrum.kvp": {"uniform": [70, 140]}, "geometry.tilt_deg": {"normal": [0, 3]}},
               "samples": 3},
        output={"size": 32, "contact_sheet": 0},
    )
    p = write_spec(tmp_path, spec)
    from xraylab.data.generate import plan_dataset
    from xraylab.data.spec import load_spec

    s, d = load_spec(p)
    rows = [it["row"] for it in plan_dataset(s, d, str(p)).items]
    kvp = [r["physics.spectrum.kvp"] for r in rows]
    assert len(set(kvp)) == 3 and all(70 <= k <= 140 for k in kvp)
    assert [r["physics.spectrum.kvp"] for r in (it["row"] for it in plan_dataset(s, d, str(p)).items)] == kvp
    assert len({r["seed"] for r in rows}) == 3  # each item its own noise seed
