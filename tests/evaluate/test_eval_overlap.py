"""Dice and IoU: hand-built cases with known answers, empty-mask policies, MONAI agreement."""

import numpy as np
import pytest
import torch

from xraylab.evaluate.metrics import dice, iou


def square(size=40, r=10, c=10, side=12, dr=0, dc=0):
    m = np.zeros((size, size), bool)
    m[r + dr : r + dr + side, c + dc : c + dc + side] = True
    return m


@pytest.mark.parametrize("k", [0, 1, 3, 7, 12])
def test_squares_offset_by_k_pixels(k):
    gt, pr = square(), square(dc=k)
    a = 12
    got_d = dice(pr[None, None], gt[None, None])[0, 0]
    got_i = iou(pr[None, None], gt[None, None])[0, 0]
    assert got_d == pytest.approx(max(a - k, 0) / a)
    assert got_i == pytest.approx(max(a - k, 0) / (a + min(k, a)))


def test_per_class_shapes_and_values():
    gt = np.stack([square(), square(dc=5)])[None]  # [1, 2, H, W]
    pr = np.stack([square(), square()])[None]
    d = dice(torch.from_numpy(pr), torch.from_numpy(gt))
    assert d.shape == (1, 2)
    assert d[0, 0] == 1.0 and d[0, 1] == pytest.approx(7 / 12)


def test_empty_policies():
    z = np.zeros((1, 3, 8, 8), bool)
    gt, pr = z.copy(), z.copy()
    pr[0, 1, 2, 2] = True  # class 1: GT empty, prediction not
    gt[0, 2, 2, 2] = True  # class 2: GT present, prediction empty
    s = dice(pr, gt, empty="score")
    n = dice(pr, gt, empty="nan")
    np.testing.assert_array_equal(s[0], [1.0, 0.0, 0.0])
    assert np.isnan(n[0, 0]) and np.isnan(n[0, 1]) and n[0, 2] == 0.0
    np.testing.assert_array_equal(iou(pr, gt, empty="score")[0], [1.0, 0.0, 0.0])
    with pytest.raises(ValueError):
        dice(pr, gt, empty="zero")


@pytest.mark.parametrize("ignore_empty,policy", [(False, "score"), (True, "nan")])
def test_matches_monai_dice(ignore_empty, policy):
    from monai.metrics import DiceMetric

    g = torch.Generator().manual_seed(0)
    gt = torch.rand(6, 3, 24, 24, generator=g) > 0.6
    pr = torch.rand(6, 3, 24, 24, generator=g) > 0.5
    gt[0, 1] = False  # empty GT, non-empty prediction
    gt[1, 2] = False
    pr[1, 2] = False  # both empty
    pr[2, 0] = False  # empty prediction
    metric = DiceMetric(include_background=True, reduction="none", ignore_empty=ignore_empty)
    ref = metric(pr.float(), gt.float()).numpy()
    ours = dice(pr, gt, empty=policy)
    np.testing.assert_allclose(ours, ref, rtol=1e-6, atol=1e-6, equal_nan=True)


def test_stray_components_count_regions_that_touch_no_target():
    import numpy as np

    from xraylab.evaluate.metrics import stray_components

    target = np.zeros((1, 2, 20, 20), bool)
    target[0, :, 5:10, 5:10] = True
    pred = np.zeros_like(target)
    pred[0, 0, 6:12, 6:12] = True      # overlaps the target: not stray
    pred[0, 0, 15:17, 15:18] = True    # far away: stray, 6 px
    pred[0, 0, 0, 19] = True           # a single far pixel: stray
    pred[0, 1, 11, 11] = True          # diagonal neighbour of nothing in the target: stray (8-connectivity within pred)
    n, px = stray_components(pred, target)
    assert n.tolist() == [[2, 1]] and px.tolist() == [[7, 1]]
    none, _ = stray_components(np.zeros_like(target), target)
    assert none.tolist() == [[0, 0]]
