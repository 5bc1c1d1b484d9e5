"""Classification metrics from integer labels.

``y_true`` and ``y_pred`` are integer arrays ``[N]`` with values in ``[0, n_classes)``.
Per-class accuracy is the recall of each true class (the fraction of its samples
predicted correctly), NaN for a class without samples; balanced accuracy is the mean
of the per-class accuracies over the classes present in ``y_true``.
"""

from __future__ import annotations

import numpy as np


def confusion_matrix(y_true, y_pred, n_classes: int) -> np.ndarray:
    """Counts ``[n_classes, n_classes]`` (int64): rows = true class, columns = predicted class."""
    t = np.asarray(y_true, dtype=np.int64).ravel()
    p = np.asarray(y_pred, dtype=np.int64).ravel()
    if t.shape != p.shape:
        raise ValueError(f"y_true and y_pred lengths differ: {t.shape} vs {p.shape}")
    if t.size and (min(t.min(), p.min()) < 0 or max(t.max(), p.max()) >= n_classes):
        raise ValueError(f"labels must lie in [0, {n_classes})")
    return np.bincount(t * n_classes + p, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def accuracy(y_true, y_pred) -> float:
    """Fraction of correct predictions (NaN for no samples)."""
    t = np.asarray(y_true).ravel()
    p = np.asarray(y_pred).ravel()
    return float(np.mean(t == p)) if t.size else float("nan")


def per_class_accuracy(y_true, y_pred, n_classes: int) -> np.ndarray:
    """Recall of each true class, float64 ``[n_classes]`` (NaN where a class has no samples)."""
    cm = confusion_matrix(y_true, y_pred, n_classes)
    support = cm.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(support > 0, np.diag(cm) / np.maximum(support, 1), np.nan)


def balanced_accuracy(y_true, y_pred, n_classes: int) -> float:
    """Mean per-class accuracy over the classes present in ``y_true`` (NaN for no samples)."""
    pca = per_class_accuracy(y_true, y_pred, n_classes)
    return float(np.nanmean(pca)) if np.isfinite(pca).any() else float("nan")


def balanced_error(y_true, y_pred, n_classes: int) -> float:
    """1 − balanced accuracy (the MedMNIST-C error measure)."""
    return 1.0 - balanced_accuracy(y_true, y_pred, n_classes)
