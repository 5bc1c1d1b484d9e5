"""Boundary distances between binary masks: Hausdorff distance (HD) and HD95.

Definition (MONAI ``HausdorffDistanceMetric``): the boundary of a mask is its set of
foreground pixels that have a background 4-neighbour (pixels outside the image count
as background), i.e. ``mask XOR binary_erosion(mask)``. For each boundary pixel of one
mask we take the Euclidean distance to the nearest boundary pixel of the other; the
directed distance is the maximum (HD) or the ``percentile``-th percentile with linear
interpolation (HD95: 95) of these distances, and the symmetric value is the maximum of
the two directed values. Coordinates are scaled by ``spacing`` (row, col), so distances
come out in pixels for ``spacing=(1, 1)`` and in mm for the pixel spacing in mm.

Empty-mask policy (``empty=``):

=============  ===================  ==================================================
``empty``      both masks empty     exactly one mask empty
=============  ===================  ==================================================
``"max"``      0.0                  the image diagonal in the output unit (worst case)
``"nan"``      0.0                  NaN (excluded from NaN-aware means)
``"monai"``    NaN                  +inf for HD, NaN for a percentile (MONAI 1.6 output)
=============  ===================  ==================================================

Speed: boundaries are computed for the whole batch with array operations; nearest
boundary distances use a k-d tree over boundary coordinates (one per mask pair, no
loop over pixels), the same exact search MONAI uses on CPU.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from scipy.spatial import cKDTree

EMPTY_POLICIES = ("max", "nan", "monai")


def _as_bool_numpy(x) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().to("cpu").numpy()
    return np.asarray(x).astype(bool, copy=False)


def boundaries(masks: np.ndarray) -> np.ndarray:
    """Boundary pixels of boolean masks ``[N, H, W]`` (4-neighbourhood, image border = background)."""
    m = np.asarray(masks, dtype=bool)
    inner = m.copy()
    inner[:, 1:, :] &= m[:, :-1, :]
    inner[:, :-1, :] &= m[:, 1:, :]
    inner[:, :, 1:] &= m[:, :, :-1]
    inner[:, :, :-1] &= m[:, :, 1:]
    inner[:, 0, :] = False
    inner[:, -1, :] = False
    inner[:, :, 0] = False
    inner[:, :, -1] = False
    return m & ~inner


def _spacing_per_image(spacing, n_images: int) -> np.ndarray:
    """Spacing as float64 ``[B, 2]`` (row, col) from a scalar, a (row, col) pair, or ``[B, 2]``."""
    if spacing is None:
        return np.ones((n_images, 2))
    s = np.asarray(spacing, dtype=np.float64)
    if s.ndim == 0:
        return np.full((n_images, 2), float(s))
    if s.shape == (2,):
        return np.broadcast_to(s, (n_images, 2)).copy()
    if s.shape == (n_images, 2):
        return s
    raise ValueError(f"spacing must be a number, (row, col), or [B, 2] per image; got shape {s.shape}")


def _stat(d: np.ndarray, percentile: float | None) -> float:
    return float(d.max()) if percentile is None else float(np.percentile(d, percentile))


def hausdorff_many(
    pred,
    target,
    percentiles: Sequence[float | None] = (None, 95.0),
    spacing: float | Sequence[float] | np.ndarray | None = None,
    empty: str = "max",
) -> np.ndarray:
    """Several Hausdorff statistics from one nearest-boundary search, float64 ``[P, B, K]``.

    ``percentiles[i]`` is None for HD or a percentile in [0, 100] (95 for HD95); other
    arguments as in :func:`hausdorff`.
    """
    if empty not in EMPTY_POLICIES:
        raise ValueError(f"empty policy must be one of {EMPTY_POLICIES}, got {empty!r}")
    for q in percentiles:
        if q is not None and not 0 <= q <= 100:
            raise ValueError(f"percentile must lie in [0, 100], got {q}")
    p = _as_bool_numpy(pred)
    t = _as_bool_numpy(target)
    if p.shape != t.shape or p.ndim != 4:
        raise ValueError(f"expected two [B, K, H, W] masks of one shape, got {p.shape} and {t.shape}")
    b, k, h, w = p.shape
    sp = _spacing_per_image(spacing, b)
    ep = boundaries(p.reshape(b * k, h, w))
    et = boundaries(t.reshape(b * k, h, w))
    has_p = np.any(ep.reshape(b * k, -1), axis=1)  # np.any(axis=...) is typed as an array, ndarray.any is not
    has_t = np.any(et.reshape(b * k, -1), axis=1)
    out = np.empty((len(percentiles), b * k), dtype=np.float64)
    for n in range(b * k):
        scale = sp[n // k]
        if has_p[n] and has_t[n]:
            cp = np.argwhere(ep[n]) * scale
            ct = np.argwhere(et[n]) * scale
            d_pt = cKDTree(ct).query(cp, k=1)[0]
            d_tp = cKDTree(cp).query(ct, k=1)[0]
            out[:, n] = [max(_stat(d_pt, q), _stat(d_tp, q)) for q in percentiles]
        elif not has_p[n] and not has_t[n]:
            out[:, n] = np.nan if empty == "monai" else 0.0
        elif empty == "max":
            out[:, n] = float(np.hypot((h - 1) * scale[0], (w - 1) * scale[1]))
        elif empty == "nan":
            out[:, n] = np.nan
        else:
            out[:, n] = [np.inf if q is None else np.nan for q in percentiles]
    return out.reshape(len(percentiles), b, k)


def hausdorff(
    pred,
    target,
    percentile: float | None = None,
    spacing: float | Sequence[float] | np.ndarray | None = None,
    empty: str = "max",
) -> np.ndarray:
    """Symmetric Hausdorff distance per image and class.

    ``pred``, ``target``: boolean ``[B, K, H, W]`` (numpy or torch, any device);
    ``percentile``: None for HD, 95 for HD95; ``spacing``: pixel size (row, col) in mm,
    a scalar, or ``[B, 2]`` per image (None = pixels). Returns float64 ``[B, K]``
    in the unit of ``spacing``.
    """
    return hausdorff_many(pred, target, (percentile,), spacing, empty)[0]


def hd95(pred, target, spacing=None, empty: str = "max") -> np.ndarray:
    """HD95 (MONAI definition) per image and class, ``[B, K]``; see :func:`hausdorff`."""
    return hausdorff(pred, target, percentile=95.0, spacing=spacing, empty=empty)
