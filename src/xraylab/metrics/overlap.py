"""Overlap metrics for binary masks: Dice and IoU, per image and class.

Shapes: ``pred`` and ``target`` are boolean (or {0, 1}) tensors/arrays ``[B, K, H, W]``
(any number of trailing spatial dimensions works); the result is float64 ``[B, K]``.

Empty-mask policy (``empty=``), the same for Dice and IoU:

===============  ===========================  ==============================
``empty``        GT empty, prediction empty   GT empty, prediction non-empty
===============  ===========================  ==============================
``"score"``      1.0 (perfect agreement)      0.0 (pure false positive)
``"nan"``        NaN (excluded from means)    NaN (excluded from means)
===============  ===========================  ==============================

A non-empty GT with an empty prediction is always 0.0. ``"score"`` equals MONAI's
``DiceMetric(ignore_empty=False)``, ``"nan"`` equals ``DiceMetric(ignore_empty=True)``
(MONAI's default). Aggregations in :mod:`xraylab.evaluate` use NaN-aware means.
"""

from __future__ import annotations

import numpy as np
import torch

EMPTY_POLICIES = ("score", "nan")


def masks_from_logits(logits: torch.Tensor, threshold: float = 0.5) -> torch.Tensor:
    """Binary masks (bool, same shape and device) from segmentation logits: ``sigmoid(logits) > threshold``.

    The one binarisation of a segmentation output, used by evaluation and by trainer validation alike.
    """
    return torch.sigmoid(logits.float()) > threshold


def _counts(pred, target) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(intersection, |pred|, |target|) summed over spatial axes, float64 ``[B, K]``."""
    p = torch.as_tensor(pred).bool()
    t = torch.as_tensor(target).bool().to(p.device)
    if p.shape != t.shape:
        raise ValueError(f"pred and target shapes differ: {tuple(p.shape)} vs {tuple(t.shape)}")
    if p.ndim < 3:
        raise ValueError(f"expected [B, K, *spatial] masks, got shape {tuple(p.shape)}")
    dims = tuple(range(2, p.ndim))
    inter = (p & t).sum(dim=dims).double().cpu().numpy()
    sp = p.sum(dim=dims).double().cpu().numpy()
    st = t.sum(dim=dims).double().cpu().numpy()
    return inter, sp, st


def _check_policy(empty: str) -> None:
    if empty not in EMPTY_POLICIES:
        raise ValueError(f"empty policy must be one of {EMPTY_POLICIES}, got {empty!r}")


def dice(pred, target, empty: str = "score") -> np.ndarray:
    """Dice coefficient 2|P∩T| / (|P| + |T|) per image and class, ``[B, K]`` in [0, 1]."""
    _check_policy(empty)
    inter, sp, st = _counts(pred, target)
    denom = sp + st
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(denom > 0, 2.0 * inter / np.maximum(denom, 1), 1.0)
    if empty == "nan":
        out = np.where(st == 0, np.nan, out)
    return out


def iou(pred, target, empty: str = "score") -> np.ndarray:
    """Intersection over union |P∩T| / |P∪T| per image and class, ``[B, K]`` in [0, 1]."""
    _check_policy(empty)
    inter, sp, st = _counts(pred, target)
    union = sp + st - inter
    out = np.where(union > 0, inter / np.maximum(union, 1), 1.0)
    if empty == "nan":
        out = np.where(st == 0, np.nan, out)
    return out


def stray_components(pred, target) -> tuple[np.ndarray, np.ndarray]:
    """Predicted regions far from the target: per image and class, the number of connected components of ``pred``
    (8-connected in 2D, 26 in 3D) that share no pixel with ``target``, and their total pixel count.

    Shapes as :func:`dice` (``[B, K, *spatial]``); returns two int64 ``[B, K]`` arrays. A stray component is a
    false positive away from the structure (a "lung" on a shoulder, a marker or text), which Dice barely sees and
    HD95 turns into a large distance.
    """
    from scipy import ndimage

    p = torch.as_tensor(pred).bool().cpu().numpy()
    t = torch.as_tensor(target).bool().cpu().numpy()
    if p.shape != t.shape:
        raise ValueError(f"pred and target shapes differ: {p.shape} vs {t.shape}")
    structure = np.ones((3,) * (p.ndim - 2), dtype=bool)
    count = np.zeros(p.shape[:2], dtype=np.int64)
    pixels = np.zeros(p.shape[:2], dtype=np.int64)
    for b in range(p.shape[0]):
        for k in range(p.shape[1]):
            lab, n = ndimage.label(p[b, k], structure=structure)
            if n == 0:
                continue
            touching = np.zeros(n + 1, dtype=bool)
            touching[np.unique(lab[t[b, k] & (lab > 0)])] = True
            sizes = np.bincount(lab.ravel(), minlength=n + 1)
            stray = ~touching
            stray[0] = False
            count[b, k] = int(stray.sum())
            pixels[b, k] = int(sizes[stray].sum())
    return count, pixels
