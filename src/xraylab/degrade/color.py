"""Colour-space helpers for RGB tensors ``[B, 3, H, W]`` in [0, 1] and the CIEDE2000 report."""

from __future__ import annotations

import numpy as np
import torch

_EPS = 1e-8


def rgb_to_hsv(x: torch.Tensor) -> torch.Tensor:
    """RGB -> HSV, all channels in [0, 1] (hue in turns)."""
    r, g, b = x.unbind(1)
    maxc, _ = x.max(1)
    minc, _ = x.min(1)
    delta = maxc - minc
    s = torch.where(maxc > _EPS, delta / maxc.clamp_min(_EPS), torch.zeros_like(maxc))
    dc = delta.clamp_min(_EPS)
    rc, gc, bc = (maxc - r) / dc, (maxc - g) / dc, (maxc - b) / dc
    h = torch.where(maxc == r, bc - gc, torch.where(maxc == g, 2.0 + rc - bc, 4.0 + gc - rc))
    h = torch.where(delta > _EPS, (h / 6.0) % 1.0, torch.zeros_like(h))
    return torch.stack([h, s, maxc], 1)


def hsv_to_rgb(x: torch.Tensor) -> torch.Tensor:
    """HSV (hue in turns) -> RGB in [0, 1]."""
    h, s, v = x.unbind(1)
    out = []
    for n in (5.0, 3.0, 1.0):
        k = (n + h * 6.0) % 6.0
        out.append(v - v * s * torch.clamp(torch.minimum(k, 4.0 - k), 0.0, 1.0))
    return torch.stack(out, 1)


def mean_delta_e2000(clean: torch.Tensor, corrupted: torch.Tensor) -> list[float]:
    """Mean CIEDE2000 colour difference per sample between two RGB batches (scikit-image, D65)."""
    from skimage.color import deltaE_ciede2000, rgb2lab

    a = clean.detach().float().cpu().clamp(0, 1).permute(0, 2, 3, 1).numpy()
    b = corrupted.detach().float().cpu().clamp(0, 1).permute(0, 2, 3, 1).numpy()
    return [float(np.mean(deltaE_ciede2000(rgb2lab(a[i]), rgb2lab(b[i])))) for i in range(a.shape[0])]
