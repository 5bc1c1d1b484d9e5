"""Training losses.

Segmentation losses take logits ``[B, K, H, W]`` and binary targets ``[B, K, H, W]`` (multi-label,
sigmoid per class); classification losses take logits ``[B, K]`` and class indices ``[B]`` (long).
All return a scalar tensor (mean over the batch).

Dice loss follows Fok et al. 2024 eq. 1, ``1 - (2 Σ y ŷ + ε) / (Σ y + Σ ŷ + ε)`` on the sigmoid
probabilities, per image and class, averaged; Dice + BCE is their eq. 3.
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def soft_dice_loss(logits: torch.Tensor, target: torch.Tensor, smooth: float = 1.0) -> torch.Tensor:
    """Mean over images and classes of ``1 - soft Dice`` between ``sigmoid(logits)`` and ``target``."""
    prob = torch.sigmoid(logits.float())
    target = target.float()
    dims = tuple(range(2, logits.ndim))
    inter = (prob * target).sum(dims)
    denom = prob.sum(dims) + target.sum(dims)
    return (1.0 - (2.0 * inter + smooth) / (denom + smooth)).mean()


def bce_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy with logits, mean over pixels, classes and images."""
    return F.binary_cross_entropy_with_logits(logits.float(), target.float())


def binary_focal_loss(logits: torch.Tensor, target: torch.Tensor, gamma: float = 2.0) -> torch.Tensor:
    """Per-pixel binary focal loss ``-(1 - p_t)^γ log p_t`` (Lin et al. 2017), mean."""
    logits, target = logits.float(), target.float()
    ce = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    p_t = torch.exp(-ce)
    return ((1.0 - p_t) ** gamma * ce).mean()


def focal_ce_loss(logits: torch.Tensor, target: torch.Tensor, gamma: float = 2.0) -> torch.Tensor:
    """Multi-class focal loss on softmax probabilities, mean over the batch."""
    logp = F.log_softmax(logits.float(), dim=1).gather(1, target[:, None]).squeeze(1)
    return (-((1.0 - logp.exp()) ** gamma) * logp).mean()


def build_loss(name: str, task: str, smooth: float = 1.0, gamma: float = 2.0) -> LossFn:
    """Return the loss function ``name`` (dice | dice_bce | bce | focal | ce) for ``task``."""
    seg = task == "segmentation"
    if seg and name == "dice":
        return lambda lo, t: soft_dice_loss(lo, t, smooth)
    if seg and name == "dice_bce":
        return lambda lo, t: bce_loss(lo, t) + soft_dice_loss(lo, t, smooth)
    if seg and name == "bce":
        return bce_loss
    if seg and name == "focal":
        return lambda lo, t: binary_focal_loss(lo, t, gamma)
    if not seg and name == "ce":
        return lambda lo, t: F.cross_entropy(lo.float(), t)
    if not seg and name == "focal":
        return lambda lo, t: focal_ce_loss(lo, t, gamma)
    raise ValueError(f"loss {name!r} does not fit task {task!r}")


def consistency_loss(logits_a: torch.Tensor, logits_b: torch.Tensor, task: str) -> torch.Tensor:
    """Disagreement between predictions on two views of the same images.

    Segmentation: mean squared difference of the sigmoid probabilities. Classification: symmetric
    KL divergence between the softmax distributions (batch mean).
    """
    a, b = logits_a.float(), logits_b.float()
    if task == "segmentation":
        return F.mse_loss(torch.sigmoid(a), torch.sigmoid(b))
    la, lb = F.log_softmax(a, dim=1), F.log_softmax(b, dim=1)
    kl_ab = F.kl_div(lb, la, log_target=True, reduction="batchmean")
    kl_ba = F.kl_div(la, lb, log_target=True, reduction="batchmean")
    return 0.5 * (kl_ab + kl_ba)
