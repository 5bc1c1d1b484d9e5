"""Validation metrics accumulated over batches: per-class Dice and (balanced) accuracy.

Dice is :func:`xraylab.metrics.dice` (policy ``"score"``: an image where both prediction and ground truth are
empty scores 1) of :func:`xraylab.metrics.masks_from_logits` (sigmoid > 0.5, Fok et al.) per image and class, the
same functions evaluation scores with, against targets > 0.5. Balanced accuracy is the mean recall over the
classes present in the validation targets (the RAMP/MedMNIST-C selection metric for classifiers).
"""

from __future__ import annotations

import torch

from xraylab.metrics import dice, masks_from_logits


class DiceMeter:
    """Accumulates per-image, per-class Dice of ``[B, K, H, W]`` logits against binary targets."""

    def __init__(self, classes: list[str]) -> None:
        self.classes = list(classes)
        self.sum = torch.zeros(len(classes), dtype=torch.float64)
        self.count = 0

    @torch.no_grad()
    def update(self, logits: torch.Tensor, target: torch.Tensor) -> None:
        per_image = dice(masks_from_logits(logits), target > 0.5, empty="score")  # float64 [B, K]
        self.sum += torch.from_numpy(per_image).sum(0)
        self.count += logits.shape[0]

    def compute(self) -> dict[str, float]:
        per = (self.sum / max(self.count, 1)).tolist()
        out = {f"dice:{c}": float(v) for c, v in zip(self.classes, per)}
        out["mean_dice"] = float(sum(per) / max(len(per), 1))
        return out


class AccuracyMeter:
    """Accumulates a confusion matrix of ``[B, K]`` logits against class indices ``[B]``."""

    def __init__(self, classes: list[str]) -> None:
        self.classes = list(classes)
        k = len(classes)
        self.confusion = torch.zeros(k, k, dtype=torch.int64)

    @torch.no_grad()
    def update(self, logits: torch.Tensor, target: torch.Tensor) -> None:
        k = len(self.classes)
        pred = logits.argmax(1).cpu()
        idx = target.cpu() * k + pred
        self.confusion += torch.bincount(idx, minlength=k * k).view(k, k)

    def compute(self) -> dict[str, float]:
        conf = self.confusion.double()
        support = conf.sum(1)
        present = support > 0
        recall = torch.where(present, conf.diag() / support.clamp_min(1), torch.zeros_like(support))
        out = {f"recall:{c}": float(r) for c, r in zip(self.classes, recall.tolist())}
        out["accuracy"] = float(conf.diag().sum() / conf.sum().clamp_min(1))
        out["balanced_accuracy"] = float(recall[present].mean()) if present.any() else 0.0
        return out


def make_meter(task: str, classes: list[str]) -> DiceMeter | AccuracyMeter:
    return DiceMeter(classes) if task == "segmentation" else AccuracyMeter(classes)


def monitor_name(task: str) -> str:
    """The validation metric that picks the best checkpoint (higher is better)."""
    return "mean_dice" if task == "segmentation" else "balanced_accuracy"
