"""Segmentation and classification metrics, each implemented once (see each module for shapes, units and
empty-mask policies).

One layer low (only numpy, torch and scipy), so trainer validation (:mod:`xraylab.train.metrics`), 2D evaluation
(:mod:`xraylab.evaluate`, which re-exports these names as :mod:`xraylab.evaluate.metrics`) and 3D evaluation
(:mod:`xraylab.volumes`) score with the same functions: :func:`dice` / :func:`iou` (2D and 3D),
:func:`hausdorff_many` (HD / HD95, 2D and 3D), :func:`masks_from_logits` (the one sigmoid > 0.5 binarisation).
"""

from xraylab.metrics.classification import (
    accuracy,
    balanced_accuracy,
    balanced_error,
    confusion_matrix,
    per_class_accuracy,
)
from xraylab.metrics.distance import boundaries, hausdorff, hausdorff_many, hd95
from xraylab.metrics.overlap import dice, iou, masks_from_logits, stray_components

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
