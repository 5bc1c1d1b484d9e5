"""Segmentation and classification metrics (see each module for shapes, units and empty-mask policies)."""

from xraylab.evaluate.metrics.classification import (
    accuracy,
    balanced_accuracy,
    balanced_error,
    confusion_matrix,
    per_class_accuracy,
)
from xraylab.evaluate.metrics.distance import boundaries, hausdorff, hausdorff_many, hd95
from xraylab.evaluate.metrics.overlap import dice, iou, stray_components

__all__ = [
    "accuracy",
    "balanced_accuracy",
    "balanced_error",
    "boundaries",
    "confusion_matrix",
    "dice",
    "hausdorff",
    "hausdorff_many",
    "hd95",
    "iou",
    "per_class_accuracy",
    "stray_components",
]
