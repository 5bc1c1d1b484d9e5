"""Batched, gradient-free inference (device-agnostic)."""

from __future__ import annotations

import torch

from xraylab.errors import XRayLabError
from xraylab.metrics import masks_from_logits


@torch.no_grad()
def predict_masks(module: torch.nn.Module, images: torch.Tensor, threshold: float = 0.5) -> torch.Tensor:
    """Binary masks ``[B, K, H, W]`` (bool, on the images' device): sigmoid(logits) > ``threshold``."""
    logits = module(images)
    if logits.ndim != 4 or logits.shape[0] != images.shape[0] or logits.shape[-2:] != images.shape[-2:]:
        raise XRayLabError(
            f"segmentation model returned shape {tuple(logits.shape)} for input {tuple(images.shape)}; "
            "expected [B, K, H, W] logits on the input grid"
        )
    return masks_from_logits(logits, threshold)


@torch.no_grad()
def predict_labels(module: torch.nn.Module, images: torch.Tensor) -> torch.Tensor:
    """Predicted class indices ``[B]`` (int64): argmax of ``[B, K]`` logits."""
    logits = module(images)
    if logits.ndim != 2 or logits.shape[0] != images.shape[0]:
        raise XRayLabError(f"classifier returned shape {tuple(logits.shape)}; expected [B, K] logits")
    return logits.argmax(dim=1)
