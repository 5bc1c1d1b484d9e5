"""One render path: ``xraylab render`` (render_ct) and a one-item ``xraylab generate`` write the same bytes,
and every registered preset resolves and renders through it."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import torch
import yaml

from xraylab.data.generate import generate
from xraylab.data.manifest import read_manifest
from xraylab.io.ct import load_default_ct
from xraylab.physics.presets import PRESETS, resolve_preset
from xraylab.physics.projector import Projector
from xraylab.render import render_ct, render_view, view_arrays

pytestmark = pytest.mark.slow


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_render_and_one_item_generate_write_identical_bytes(tmp_path):
    """Same CT, pose, physics, seed and size → the same image and mask bytes from both commands."""
    spec = {
        "name": "one", "seed": 7, "cts": ["default"], "structures": ["heart", "lungs"], "preset": "chest_pa",
        "geometry": {"rows": 24, "cols": 24},
        "physics": {"spectrum": {"kvp": 100}, "focal_spot": {"size_mm": 0.6}},
        "sweep": {"grid": {"geometry.rotation_deg": [10]}},
        "render": {"renderer": "trilinear", "n_points": 500, "downsample": 4},
        "output": {"size": 24, "mask_resize": "nearest", "normalize": "none", "contact_sheet": 0},
        "split": {"train": 1.0, "val": 0.0, "test": 0.0},
    }
    spec_path = tmp_path / "one.yaml"
    spec_path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    gen_out = tmp_path / "gen"
    assert generate(spec_path, gen_out, workers=1, progress=False).complete
    row = read_manifest(gen_out).iloc[0]

    geom, _ = resolve_preset("chest_pa", geometry={"rows": 24, "cols": 24, "rotation_deg": 10})
    ct = load_default_ct(4)
    render_ct(ct, geom, tmp_path / "render", structures=["heart", "lungs"], preset="chest_pa",
              overrides=["spectrum.kvp=100", "focal_spot.size_mm=0.6"], seed=int(row["seed"]), progress=False)
    assert _sha(tmp_path / "render" / "image.png") == _sha(gen_out / row["image"])
    for s in ("heart", "lungs"):
        assert _sha(tmp_path / "render" / "masks" / f"{s}.png") == _sha(gen_out / row[f"mask:{s}"])
    # The manifest records the focal spot the blur used (physics owns it; the geometry has no copy).
    assert row["physics.focal_spot.size_mm"] == 0.6
    assert not any(c.startswith("geometry.focal_spot") for c in row.index)


@pytest.fixture(scope="module")
def tiny_projector():
    torch.manual_seed(0)
    return Projector(load_default_ct(4), structures=["lungs"], n_points=64)


@pytest.mark.parametrize("name", PRESETS.names())
def test_every_preset_resolves_and_renders(name, tiny_projector):
    """Contract per registered preset: a geometry + config, a finite [0, 1] image, the pose-free physics."""
    geom, cfg = resolve_preset(name, geometry={"rows": 16, "cols": 16})
    assert geom.rows == 16 and cfg == resolve_preset(name)[1]
    res = render_view(tiny_projector, geom, cfg, seed=1)
    img = res.layers["image"]
    assert img.shape == (1, 1, 16, 16) and torch.isfinite(img).all()
    assert float(img.min()) >= 0.0 and float(img.max()) <= 1.0 and float(img.std()) > 0
    again = render_view(tiny_projector, geom, cfg, seed=1).layers["image"]
    assert torch.equal(img, again)
    arrays = view_arrays(res, (8, 8), normalize="minmax", layers=())
    assert arrays.image.shape == (8, 8) and 0.5 < arrays.image.max() <= 1.0 and arrays.layers == {}
    assert arrays.masks["lungs"].dtype == bool and arrays.masks["lungs"].any()


def test_framing_box_widens_the_structure_box_by_drawn_margins_and_clips_to_the_detector():
    from xraylab.render import framing_box

    m = np.zeros((100, 80), bool)
    m[20:60, 10:50] = True  # a 40 × 40 box
    rng = np.random.default_rng(0)
    fixed = {"top": (0.1, 0.1), "bottom": (0.25, 0.25), "left": (0.05, 0.05), "right": (0.5, 0.5)}
    assert framing_box(m, fixed, rng) == (16, 70, 8, 70)
    wide = {"top": (2.0, 2.0), "bottom": (2.0, 2.0), "left": (2.0, 2.0), "right": (2.0, 2.0)}
    assert framing_box(m, wide, rng) == (0, 100, 0, 80)  # clipped to the detector
    assert framing_box(np.zeros((5, 5), bool), fixed, rng) is None
    drawn = [framing_box(m, {"top": (0.0, 0.5)}, np.random.default_rng(s))[0] for s in range(20)]
    assert min(drawn) >= 0 and max(drawn) <= 20 and len(set(drawn)) > 3  # margins vary within their range
    assert framing_box(m, {"top": (0.0, 0.5)}, np.random.default_rng(3)) == framing_box(
        m, {"top": (0.0, 0.5)}, np.random.default_rng(3))  # fixed by the generator's seed
