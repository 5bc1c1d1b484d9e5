"""3D segmentation metrics with MONAI's definitions.

* Dice: :func:`monai.metrics.compute_dice` with ``ignore_empty=False`` (an empty ground truth scores 1 when
  the prediction is empty too, else 0);
* HD95: :func:`monai.metrics.compute_hausdorff_distance` with ``percentile=95`` and the voxel spacing, so in
  mm (symmetric: the 95th percentile of both directed surface distances, the larger one); NaN when the
  ground truth or the prediction of a class is empty.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F


def one_hot(labels: torch.Tensor, n_classes: int) -> torch.Tensor:
    """``[I, J, K]`` integer labels -> ``[1, n_classes + 1, I, J, K]`` float one-hot (channel 0 background)."""
    return F.one_hot(labels.long(), n_classes + 1).permute(3, 0, 1, 2)[None].float()


def dice_hd95(pred: torch.Tensor, truth: torch.Tensor, n_classes: int,
              spacing: Sequence[float], hd95: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Per-class Dice and HD95 (mm) of integer maps ``pred``, ``truth`` ``[I, J, K]``; arrays of ``n_classes``.

    ``hd95=False`` skips the surface distances (all NaN), the slow part on CPU."""
    import warnings

    from monai.metrics import compute_dice, compute_hausdorff_distance

    p, t = one_hot(pred.cpu(), n_classes), one_hot(truth.cpu(), n_classes)
    dice = compute_dice(p, t, include_background=False, ignore_empty=False)[0].numpy().astype(np.float64)
    hd = np.full(n_classes, np.nan)
    for c in range(1, n_classes + 1):
        if hd95 and p[0, c].any() and t[0, c].any():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                hd[c - 1] = float(compute_hausdorff_distance(
                    p[:, [0, c]], t[:, [0, c]], include_background=False, percentile=95,
                    spacing=[float(s) for s in spacing])[0, 0])
    return dice, hd
