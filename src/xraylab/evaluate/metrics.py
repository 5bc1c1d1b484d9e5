"""The metrics of :mod:`xraylab.metrics` under their older evaluation name (re-exports; implemented there once)."""

from xraylab.metrics import (
    accuracy,
    balanced_accuracy,
    balanced_error,
    boundaries,
    confusion_matrix,
    dice,
    hausdorff,
    hausdorff_many,
    hd95,
    iou,
    masks_from_logits,
    per_class_accuracy,
    stray_components,
)

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
    "masks_from_logits",
    "per_class_accuracy",
    "stray_components",
]
