"""RAMP Table 5 / LOCO arithmetic and the volume augmentation strategies (no data needed)."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from xraylab.errors import ConfigError
from xraylab.volumes.augment import STRATEGIES, make_volume_augmentation
from xraylab.volumes.evaluate import loco_table, ramp_table


def _rows(model, vol, corruption, severity, dices, annotated=(True, True)):
    return [{"model": model, "image_id": f"{vol}__{corruption}_L{severity}", "source_image_id": vol,
             "subject_id": vol, "pseudo_subject": False, "corruption": corruption, "severity": severity,
             "class": c, "annotated": a, "dice": d, "hd95_mm": 1.0}
            for c, d, a in zip(("liver", "kidney"), dices, annotated)]


def test_ramp_table_follows_the_papers_definitions():
    rows = []
    rows += _rows("m", "v1", "none", 0, (0.9, 0.7))          # clean 0.8
    rows += _rows("m", "v1", "ct_stripe", 5, (0.5, 0.3))     # 0.4
    rows += _rows("m", "v1", "ct_speckle", 1, (0.8, 0.6))    # 0.7
    rows += _rows("m", "v2", "none", 0, (1.0, 0.0), annotated=(True, False))  # kidney unannotated: clean 1.0
    rows += _rows("m", "v2", "ct_stripe", 5, (0.6, 0.0), annotated=(True, False))   # 0.6
    rows += _rows("m", "v2", "ct_speckle", 1, (0.9, 0.0), annotated=(True, False))  # 0.9
    t = ramp_table(pd.DataFrame(rows)).iloc[0]
    assert t["clean_dice"] == pytest.approx(0.9)
    assert t["mean_corrupted_dice"] == pytest.approx((0.4 + 0.7 + 0.6 + 0.9) / 4)
    assert t["robustness_gap"] == pytest.approx(0.9 - 0.65)
    assert t["worst_case_dice"] == pytest.approx((0.4 + 0.6) / 2)  # per-volume minimum, then mean
    rows += _rows("loco_ct_stripe", "v1", "ct_stripe", 5, (0.7, 0.5))
    lt = loco_table(pd.DataFrame(rows), {"ct_stripe": "loco_ct_stripe"}, reference="m").iloc[0]
    assert lt["loco_dice"] == pytest.approx(0.6) and lt["m_dice"] == pytest.approx(0.5)


@pytest.mark.parametrize("strategy", list(STRATEGIES))
def test_volume_strategies_keep_shapes_range_and_labels(strategy):
    g = torch.Generator().manual_seed(3)
    x = torch.rand(2, 1, 12, 10, 8)
    y = (torch.rand(2, 1, 12, 10, 8) > 0.7).to(torch.uint8) * 2
    aug = make_volume_augmentation(strategy, (5.0, 5.0, 5.0))
    out, lab, recs = aug(x, y, g)
    assert out.shape == x.shape and lab is not None and lab.shape == y.shape
    assert float(out.min()) >= 0 and float(out.max()) <= 1
    assert set(lab.unique().tolist()) <= {0, 2}
    ops = {r["op"] for rec in recs for r in rec}
    if strategy == "none":
        assert not ops and torch.equal(out, x)
    if strategy in ("single", "all_corruption", "artifact", "intensity"):
        assert torch.equal(lab, y)  # no spatial stage: labels untouched


def test_loco_exclusion_and_bad_options():
    g = torch.Generator().manual_seed(0)
    aug = make_volume_augmentation("all_corruption", (5.0, 5.0, 5.0), p_ramp=1.0, exclude=["ct_salt_pepper"])
    seen = set()
    for _ in range(30):
        _, _, recs = aug(torch.rand(1, 1, 8, 8, 8), None, g)
        seen |= {r["op"] for r in recs[0]}
    assert "ct_salt_pepper" not in seen and len(seen) >= 8
    with pytest.raises(ConfigError):
        make_volume_augmentation("mixup")
    with pytest.raises(ConfigError):
        make_volume_augmentation("ramp", None, p_rampp=0.5)


@pytest.mark.parametrize("strategy", list(STRATEGIES))
def test_volume_strategies_are_registered_ramp_strategies(strategy):
    """One sampler: each 3D strategy draws exactly what its entry of the 2D registry draws on the same volume."""
    from xraylab.degrade.pipelines import AUGMENTATIONS, make_augmentation

    name, fixed = STRATEGIES[strategy]
    assert name in AUGMENTATIONS.names()
    x = torch.rand(2, 1, 10, 9, 8, generator=torch.Generator().manual_seed(1))
    a = make_volume_augmentation(strategy, (2.0, 1.0, 1.5), p_ramp=1.0)(x, None, torch.Generator().manual_seed(4))
    b = make_augmentation(name, **{**fixed, "p_ramp": 1.0, "spacing_mm": (2.0, 1.0, 1.5)})(
        x, None, torch.Generator().manual_seed(4))
    assert torch.equal(a[0], b[0]) and a[2] == b[2]
