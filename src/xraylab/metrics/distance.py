"""Boundary distances between binary masks: Hausdorff distance (HD) and HD95.

Definition (MONAI ``HausdorffDistanceMetric``): the boundary of a mask is its set of
foreground pixels that have a background 4-neighbour (pixels outside the image count
as background), i.e. ``mask XOR binary_erosion(mask)``. For each boundary pixel of one
mask we take the Euclidean distance to the nearest boundary pixel of the other; the
directed distance is the maximum (HD) or the ``percentile``-th percentile with linear
interpolation (HD95: 95) of these distances, and the symmetric value is the maximum of
the two directed values. Coordinates are scaled by ``spacing`` (row, col), so distances
come out in pixels for ``spacing=(1, 1)`` and in mm for the pixel spacing in mm. Volumes
``[B, K, D, H, W]`` work the same way (6-neighbourhood boundaries, ``spacing`` per axis in mm):
the one HD/HD95 of 2D evaluation and of 3D volumes.

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
    """Boundary pixels of boolean masks ``[N, *spatial]`` (2D or 3D): foreground with a background face
    neighbour (4-neighbourhood in 2D, 6 in 3D); outside the image counts as background."""
    m = np.asarray(masks, dtype=bool)
    inner = m.copy()
    for ax in range(1, m.ndim):
        def at(sl: slice, ax: int = ax) -> tuple[slice, ...]:
            return tuple(sl if a == ax else slice(None) for a in range(m.ndim))

        inner[at(slice(1, None))] &= m[at(slice(None, -1))]
        inner[at(slice(None, -1))] &= m[at(slice(1, None))]
        inner[at(slice(0, 1))] = False
        inner[at(slice(-1, None))] = False
    return m & ~inner


def _spacing_per_image(spacing, n_images: int, n_dims: int = 2) -> np.ndarray:
    """Spacing as float64 ``[B, D]`` (one value per spatial axis) from a scalar, a ``D``-tuple, or ``[B, D]``."""
    if spacing is None:
        return np.ones((n_images, n_dims))
    s = np.asarray(spacing, dtype=np.float64)
    if s.ndim == 0:
        return np.full((n_images, n_dims), float(s))
    if s.shape == (n_dims,):
        return np.broadcast_to(s, (n_images, n_dims)).copy()
    if s.shape == (n_images, n_dims):
        return s
    raise ValueError(
        f"spacing must be a number, one value per axis ({n_dims}), or [B, {n_dims}] per image; got shape {s.shape}")


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
    if p.shape != t.shape or p.ndim not in (4, 5):
        raise ValueError(f"expected two [B, K, H, W] or [B, K, D, H, W] masks of one shape, got {p.shape}, {t.shape}")
    b, k, *spatial = p.shape
    sp = _spacing_per_image(spacing, b, len(spatial))
    ep = boundaries(p.reshape(b * k, *spatial))
    et = boundaries(t.reshape(b * k, *spatial))
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
            out[:, n] = float(np.hypot.reduce((np.asarray(spatial) - 1) * scale))  # the image diagonal
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

    ``pred``, ``target``: boolean ``[B, K, H, W]`` or ``[B, K, D, H, W]`` (numpy or torch, any device);
    ``percentile``: None for HD, 95 for HD95; ``spacing``: pixel size per axis ((row, col) in 2D) in mm,
    a scalar, or ``[B, n_axes]`` per image (None = pixels). Returns float64 ``[B, K]``
    in the unit of ``spacing``.
    """
    return hausdorff_many(pred, target, (percentile,), spacing, empty)[0]


def hd95(pred, target, spacing=None, empty: str = "max") -> np.ndarray:
    """HD95 (MONAI definition) per image and class, ``[B, K]``; see :func:`hausdorff`."""
    return hausdorff(pred, target, percentile=95.0, spacing=spacing, empty=empty)
