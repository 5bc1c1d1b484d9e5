"""Configurable materials: thresholds from specs and --set, metal, iodinated contrast (xraylab.physics.materials)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from xraylab.errors import ConfigError
from xraylab.physics.attenuation import linear_attenuation, mass_attenuation
from xraylab.physics.geometry import preset_geometry
from xraylab.physics.materials import (
    BLOOD_HU,
    CONTRAST,
    MATERIALS,
    METAL,
    MaterialConfig,
    contrast_density,
    hu_to_density,
    iodine_hu_per_mg_ml,
    iodine_mg_ml,
)
from xraylab.physics.presets import resolve_physics


def test_thresholds_come_from_set_and_are_checked():
    p = resolve_physics("chest_pa", ["materials.bone_min_hu=300", "materials.metal=cocr"])
    assert p.materials.bone_min_hu == 300 and p.materials.metal == "cocr"
    assert resolve_physics("chest_pa").model_dump().get("materials") is None  # defaults stay out of dumps
    with pytest.raises(ConfigError, match="materials.bogus"):
        resolve_physics("chest_pa", ["materials.bogus=1"])
    with pytest.raises(ConfigError, match="must increase"):
        resolve_physics("chest_pa", ["materials.metal_min_hu=200"])


@pytest.mark.parametrize("hu", [200.0, 400.0, 700.0])
def test_iodinated_blood_reproduces_its_ct_number(hu):
    """At the CT's effective energy (70 keV) a voxel's μ is μ_water (1 + HU/1000): iodinated blood with the iodine
    its HU implies gives that μ within 3 %; the old rule (bone above 350 HU, Schneider density) does not."""
    e = 70.0
    target = float(linear_attenuation("water", [e])[0]) * (1 + hu / 1000.0)
    c = float(iodine_mg_ml(hu, iodine_hu_per_mg_ml(e)))
    mu = float(mass_attenuation(f"iodinated_blood_{c:.1f}", [e])[0]) * float(contrast_density(c))
    assert mu == pytest.approx(target, rel=0.03)
    if hu >= 350:
        rho_bone = float(hu_to_density(torch.tensor([hu]))[0])
        assert abs(float(mass_attenuation("bone", [e])[0]) * rho_bone / target - 1) > 0.05


def _vessel(hu: float, metal_hu: float | None = None):
    from xraylab.phantoms import sphere

    ct = sphere(radius_mm=20.5, n=61, hu=hu)
    ct = dataclasses.replace(ct, structures={1: "aorta"})
    if metal_hu is not None:
        ct.hu[28:33, 28:33, 28:33] = metal_hu  # a 5-voxel cube of metal in the vessel's middle
    return ct


def _materials(ct, cfg=None):
    from xraylab.render import build_scene

    scene = build_scene(ct, materials=cfg)
    g = preset_geometry("chest_pa", rows=9, cols=9, pitch_mm=2.0)
    return scene.projector.project(g).materials, scene.projector.volumes


def test_contrast_auto_follows_the_blood_pool():
    auto = MaterialConfig(contrast="auto")
    plain, vol = _materials(_vessel(BLOOD_HU), auto)
    assert sorted(plain) == sorted(MATERIALS[:5]) and not vol.material_present[CONTRAST]
    enhanced, vol = _materials(_vessel(400.0), auto)
    name = vol.material_names[CONTRAST]
    assert name.startswith("iodinated_blood_") and name in enhanced
    assert float(name.rsplit("_", 1)[1]) == pytest.approx(float(iodine_mg_ml(400.0, iodine_hu_per_mg_ml())), abs=0.1)
    never, vol = _materials(_vessel(400.0))  # the default: the HU rule (bone here: no skeleton labels)
    assert not any(k.startswith("iodinated_blood_") for k in never) and float(never["bone"].max()) > 0
    removed, vol = _materials(_vessel(400.0), MaterialConfig(contrast="remove"))
    code = vol.code.astype(np.int64) % len(MATERIALS)
    pool = code == 3  # the vessel: soft tissue at unenhanced blood density
    assert float(removed["bone"].max()) == 0 and np.allclose(vol.density[pool], 1.06)


def test_metal_takes_the_alloy_and_its_density():
    plain, vol = _materials(_vessel(BLOOD_HU, metal_hu=3071.0))
    assert not vol.material_present[METAL] and float(plain["bone"].max()) > 0  # metal is opt-in
    mats, vol = _materials(_vessel(BLOOD_HU, metal_hu=3071.0), MaterialConfig(metal="stainless_steel",
                                                                              metal_min_hu=3000))
    assert vol.material_present[METAL] and "stainless_steel" in mats
    code = vol.code.astype(np.int64) % len(MATERIALS)
    assert np.all(vol.density[code == METAL] == pytest.approx(8.0))
    # the central ray crosses 5 voxels (mm) of steel: 8 g/cm³ × 0.5 cm
    assert float(mats["stainless_steel"][0, 0, 4, 4]) == pytest.approx(8.0 * 0.5, rel=0.05)


@pytest.mark.slow
def test_generate_builds_the_scene_for_the_spec_materials(tmp_path):
    import yaml

    from xraylab.data.generate import generate

    spec = {"name": "m", "seed": 1, "cts": ["default"], "preset": "chest_pa", "geometry": {"rows": 32, "cols": 32},
            "physics": {"materials": {"bone_min_hu": 300, "contrast": "never"}}, "sweep": {"samples": 1},
            "render": {"renderer": "trilinear", "n_points": 64, "downsample": 8}, "output": {"size": 32},
            "split": {"train": 1.0, "val": 0.0, "test": 0.0}}
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(spec))
    generate(tmp_path / "s.yaml", tmp_path / "out", progress=False)
    import pandas as pd

    m = pd.read_parquet(tmp_path / "out" / "manifest.parquet")
    assert len(m) == 1 and (tmp_path / "out" / m["image"].iloc[0]).is_file()
