"""3D scores use the one implementation in xraylab.metrics: exact values on shifted boxes, MONAI agreement, and the
3D trainer's validation Dice equals evaluation's."""

import numpy as np
import pytest
import torch
from scipy import ndimage

from xraylab.metrics import boundaries, dice, hausdorff
from xraylab.volumes.metrics import class_masks, dice_hd95, mean_dice


def box(shape=(12, 14, 16), lo=(3, 4, 5), size=(5, 6, 7), shift=(0, 0, 0)):
    m = np.zeros(shape, bool)
    s = tuple(slice(a + d, a + d + n) for a, d, n in zip(lo, shift, size))
    m[s] = True
    return m


def test_3d_boundary_is_the_shell_of_a_box():
    b = boundaries(box()[None])[0]
    assert b.sum() == 5 * 6 * 7 - 3 * 4 * 5
    assert boundaries(np.ones((1, 3, 3, 3), bool))[0].sum() == 26  # the image border counts as background


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_3d_hausdorff_of_a_shifted_box_is_the_shift_in_mm(axis):
    spacing = (2.0, 0.5, 1.25)
    shift = [0, 0, 0]
    shift[axis] = 2
    gt, pr = box()[None, None], box(shift=tuple(shift))[None, None]
    assert hausdorff(pr, gt)[0, 0] == pytest.approx(2.0)
    assert hausdorff(pr, gt, spacing=spacing)[0, 0] == pytest.approx(2 * spacing[axis])


def test_dice_hd95_matches_monai_and_handles_empty_classes():
    from monai.metrics import compute_dice, compute_hausdorff_distance

    rng = np.random.default_rng(0)
    a = ndimage.gaussian_filter(rng.normal(size=(20, 24, 18)), 2)
    b = a + 0.05 * ndimage.gaussian_filter(rng.normal(size=a.shape), 1)
    pred = torch.from_numpy(np.digitize(a, [-0.05, 0.05]).astype(np.int64))  # classes 1 and 2; class 3 absent
    truth = torch.from_numpy(np.digitize(b, [-0.05, 0.08]).astype(np.int64))
    spacing = (1.5, 0.8, 2.0)
    d, hd = dice_hd95(pred, truth, 3, spacing)
    onehot = torch.nn.functional.one_hot(pred, 4).permute(3, 0, 1, 2)[None].float()
    t1 = torch.nn.functional.one_hot(truth, 4).permute(3, 0, 1, 2)[None].float()
    md = compute_dice(onehot, t1, include_background=False, ignore_empty=False)[0].numpy()
    np.testing.assert_allclose(d, md, rtol=1e-6)  # MONAI computes in float32
    assert 0.5 < d[1] < d[0] < 1 and d[2] == 1.0  # class 3: empty in both
    for c in (1, 2):
        mh = float(compute_hausdorff_distance(onehot[:, [0, c]], t1[:, [0, c]], include_background=False,
                                              percentile=95, spacing=list(spacing))[0, 0])
        assert hd[c - 1] == pytest.approx(mh, rel=1e-5)
    assert np.isnan(hd[2])  # empty ground truth and prediction: no surface distance
    assert np.isnan(dice_hd95(pred, truth, 3, spacing, hd95=False)[1]).all()


def test_3d_validation_dice_is_evaluation_dice():
    rng = np.random.default_rng(1)
    pred = torch.from_numpy(rng.integers(0, 3, (6, 7, 8)))
    truth = torch.from_numpy(rng.integers(0, 3, (6, 7, 8)))
    d, _ = dice_hd95(pred, truth, 2, (1.0, 1.0, 1.0), hd95=False)
    assert mean_dice(pred, truth, [1, 2]) == pytest.approx(d.mean(), abs=1e-15)
    assert mean_dice(pred, truth, [2]) == d[1]
    assert np.isnan(mean_dice(pred, truth, []))
    masks = class_masks(pred, 2)
    assert masks.shape == (1, 2, 6, 7, 8) and masks.dtype == torch.bool
    assert dice(masks, class_masks(truth, 2))[0].tolist() == d.tolist()
