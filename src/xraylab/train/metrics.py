"""Validation metrics accumulated over batches: per-class Dice and (balanced) accuracy.

Dice uses thresholded sigmoid probabilities (> 0.5, Fok et al.) per image and class; an image where
both prediction and ground truth are empty scores 1. Balanced accuracy is the mean recall over the
classes present in the validation targets (the RAMP/MedMNIST-C selection metric for classifiers).
"""

from __future__ import annotations

import torch


class DiceMeter:
    """Accumulates per-image, per-class Dice of ``[B, K, H, W]`` logits against binary targets."""

    def __init__(self, classes: list[str]) -> None:
        self.classes = list(classes)
        self.sum = torch.zeros(len(classes), dtype=torch.float64)
        self.count = 0

    @torch.no_grad()
    def update(self, logits: torch.Tensor, target: torch.Tensor) -> None:
        pred = logits.float() > 0.0  # sigmoid(z) > 0.5
        gt = target > 0.5
        dims = (2, 3)
        inter = (pred & gt).sum(dims).double()
        total = pred.sum(dims).double() + gt.sum(dims).double()
        dice = torch.where(total > 0, 2.0 * inter / total.clamp_min(1), torch.ones_like(total))
        self.sum += dice.sum(0).cpu()
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
