"""3D segmentation scores of integer label maps with the one implementation in :mod:`xraylab.metrics`.

* Dice: :func:`xraylab.metrics.dice` with policy ``"score"`` (an empty ground truth scores 1 when the prediction
  is empty too, else 0; MONAI ``compute_dice(ignore_empty=False)``);
* HD95: :func:`xraylab.metrics.hausdorff_many` at the 95th percentile with the voxel spacing, so in mm
  (symmetric: the larger of the two directed 95th percentiles of surface distances, MONAI's definition); NaN when
  the ground truth or the prediction of a class is empty (policy ``"monai"``).

Values are float64 (MONAI's ``compute_dice`` / ``compute_hausdorff_distance`` return float32; the two agree to
float32 precision, see ``tests/volumes/test_volume_metrics.py``).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from xraylab.metrics import dice, hausdorff_many


def class_masks(labels: torch.Tensor, n_classes: int) -> torch.Tensor:
    """``[I, J, K]`` integer labels -> ``[1, n_classes, I, J, K]`` bool masks of classes 1..n_classes."""
    ids = torch.arange(1, n_classes + 1, device=labels.device).view(-1, 1, 1, 1)
    return (labels.long()[None] == ids)[None]


def dice_hd95(pred: torch.Tensor, truth: torch.Tensor, n_classes: int,
              spacing: Sequence[float], hd95: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Per-class Dice and HD95 (mm) of integer maps ``pred``, ``truth`` ``[I, J, K]``; float64 arrays of
    ``n_classes`` (class ids 1..n_classes; 0 is background). ``spacing``: voxel size per axis in mm.

    ``hd95=False`` skips the surface distances (all NaN), the slow part on CPU."""
    p, t = class_masks(pred.cpu(), n_classes), class_masks(truth.cpu(), n_classes)
    d = dice(p, t, empty="score")[0]
    if not hd95:
        return d, np.full(n_classes, np.nan)
    hd = hausdorff_many(p, t, (95.0,), [float(s) for s in spacing], empty="monai")[0, 0]
    return d, hd


def mean_dice(pred: torch.Tensor, truth: torch.Tensor, ids: Sequence[int]) -> float:
    """Mean :func:`xraylab.metrics.dice` (policy ``"score"``) of integer maps ``[I, J, K]`` over the 1-based class
    ``ids`` (NaN for none): the 3D trainer's validation score."""
    if not ids:
        return float("nan")
    n = max(ids)
    d = dice(class_masks(pred.cpu(), n), class_masks(truth.cpu(), n), empty="score")[0]
    return float(np.mean([d[c - 1] for c in ids]))
