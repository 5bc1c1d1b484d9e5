"""HD / HD95: exact values on shifted squares, anisotropic spacing, empty policies, MONAI agreement."""

import numpy as np
import pytest
import torch
from scipy import ndimage

from xraylab.evaluate.metrics import boundaries, hausdorff, hd95


def square(size=48, r=12, c=12, side=14, dr=0, dc=0):
    m = np.zeros((size, size), bool)
    m[r + dr : r + dr + side, c + dc : c + dc + side] = True
    return m


def test_boundary_is_ring_of_square():
    b = boundaries(square()[None])[0]
    assert b.sum() == 4 * 14 - 4
    assert not b[13:25, 13:25].any()


def test_boundary_counts_image_border():
    m = np.ones((1, 5, 5), bool)
    assert boundaries(m)[0].sum() == 16


@pytest.mark.parametrize("k", [1, 2, 5])
def test_square_shift_hd_exact(k):
    gt, pr = square()[None, None], square(dc=k)[None, None]
    assert hausdorff(pr, gt)[0, 0] == pytest.approx(k)
    assert hausdorff(gt, pr)[0, 0] == pytest.approx(k)
    assert 0 < hd95(pr, gt)[0, 0] <= k


def test_anisotropic_spacing_mm():
    gt = square()[None, None]
    sp = (0.5, 2.0)  # (row, col) mm
    assert hausdorff(square(dc=3)[None, None], gt, spacing=sp)[0, 0] == pytest.approx(6.0)
    assert hausdorff(square(dr=3)[None, None], gt, spacing=sp)[0, 0] == pytest.approx(1.5)
    per_image = np.array([[1.0, 1.0], [0.5, 2.0]])
    both = hausdorff(np.concatenate([square(dc=3)[None, None]] * 2), np.concatenate([gt, gt]), spacing=per_image)
    np.testing.assert_allclose(both[:, 0], [3.0, 6.0])


def test_empty_policies():
    z = np.zeros((1, 3, 10, 20), bool)
    gt, pr = z.copy(), z.copy()
    pr[0, 1, 2:4, 2:4] = True  # only the prediction has a mask
    gt[0, 2, 2:4, 2:4] = True  # only the GT has a mask
    diag = np.hypot(9 * 0.5, 19 * 2.0)
    np.testing.assert_allclose(hausdorff(pr, gt, spacing=(0.5, 2.0), empty="max")[0], [0.0, diag, diag])
    n = hausdorff(pr, gt, empty="nan")[0]
    assert n[0] == 0.0 and np.isnan(n[1]) and np.isnan(n[2])
    m = hausdorff(pr, gt, empty="monai")[0]
    assert np.isnan(m[0]) and np.isinf(m[1]) and np.isinf(m[2])
    assert np.isnan(hd95(pr, gt, empty="monai")[0]).all()


def random_masks(n, size, seed):
    """Smoothed-noise blobs (some touching the border) and pure noise masks."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        noise = rng.normal(size=(size, size))
        sigma = [0.0, 2.0, 4.0][i % 3]
        field = ndimage.gaussian_filter(noise, sigma) if sigma else noise
        out.append(field > np.quantile(field, rng.uniform(0.5, 0.9)))
    return np.stack(out)[:, None]


@pytest.mark.parametrize("percentile", [None, 95])
@pytest.mark.parametrize("spacing", [None, (0.7, 1.3)])
def test_matches_monai_on_random_masks(percentile, spacing):
    from monai.metrics import compute_hausdorff_distance

    gt = random_masks(12, 40, 1)
    pr = random_masks(12, 40, 2)
    ref = compute_hausdorff_distance(torch.from_numpy(pr), torch.from_numpy(gt), include_background=True,
                                     percentile=percentile, spacing=spacing).numpy()
    ours = hausdorff(pr, gt, percentile=percentile, spacing=spacing, empty="monai")
    np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("percentile", [None, 95])
def test_monai_policy_matches_monai_on_empty(percentile):
    from monai.metrics import compute_hausdorff_distance

    z = np.zeros((3, 1, 12, 12), bool)
    gt, pr = z.copy(), z.copy()
    pr[1, 0, 3:6, 3:6] = True
    gt[2, 0, 3:6, 3:6] = True
    with pytest.warns(UserWarning):
        ref = compute_hausdorff_distance(
            torch.from_numpy(pr), torch.from_numpy(gt), include_background=True, percentile=percentile
        ).numpy()
    np.testing.assert_array_equal(hausdorff(pr, gt, percentile=percentile, empty="monai"), ref)


def test_many_equals_single_calls():
    from xraylab.evaluate.metrics import hausdorff_many

    gt = random_masks(6, 32, 3)
    pr = random_masks(6, 32, 4)
    pr[0] = False
    both = hausdorff_many(pr, gt, (None, 95.0, 50.0), spacing=(0.5, 1.5), empty="monai")
    for i, q in enumerate((None, 95.0, 50.0)):
        np.testing.assert_array_equal(both[i], hausdorff(pr, gt, q, (0.5, 1.5), "monai"))
    assert np.isinf(both[0, 0, 0]) and np.isnan(both[1, 0, 0])


def test_isotropic_spacing_scales_pixel_distances():
    gt = random_masks(6, 32, 5)
    pr = random_masks(6, 32, 6)
    np.testing.assert_allclose(hausdorff(pr, gt, 95, spacing=0.7), 0.7 * hausdorff(pr, gt, 95), rtol=1e-12)
