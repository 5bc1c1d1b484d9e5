"""Traditional augmentation baselines of Ward & Imran (Figures 2-3): GB, GN, HB, LB.

Generic image corruptions, used for radiographs and dermoscopy alike, with four
levels each; pixel sizes are for a 256 x 256 image and scale with the image.
"""

from __future__ import annotations

from xraylab.degrade import filters as flt
from xraylab.degrade import rng
from xraylab.degrade.base import Corruption, size_scale
from xraylab.degrade.registry import register

_TAGS = ("xray", "dermoscopy")


@register
class GaussianBlur(Corruption):
    """GB: isotropic Gaussian blur, ``sigma_px`` = 1, 2, 3, 4 at levels 1-4."""

    name = "gaussian_blur"
    modalities = _TAGS
    description = "Gaussian blur (traditional baseline GB)"
    table = {"sigma_px": (0.0, 1.0, 2.0, 3.0, 4.0)}

    def _apply(self, x, p, g):
        return flt.gaussian_blur(x, p["sigma_px"] * size_scale(x))


@register
class GaussianNoise(Corruption):
    """GN: additive white Gaussian noise, sigma = 0.04, 0.08, 0.12, 0.16 (intensity units)."""

    name = "gaussian_noise"
    modalities = _TAGS
    description = "additive Gaussian noise (traditional baseline GN)"
    table = {"sigma": (0.0, 0.04, 0.08, 0.12, 0.16)}

    def _apply(self, x, p, g):
        return rng.randn(x.shape, g, x).mul_(p["sigma"]).add_(x)  # in place on the fresh noise tensor


@register
class HighBrightness(Corruption):
    """HB: global brightness offset ``+ delta``, delta = 0.1, 0.2, 0.3, 0.4, clipped to [0, 1]."""

    name = "high_brightness"
    modalities = _TAGS
    description = "brightness increase (traditional baseline HB)"
    table = {"delta": (0.0, 0.1, 0.2, 0.3, 0.4)}

    def _apply(self, x, p, g):
        return x + p["delta"]


@register
class LowBrightness(Corruption):
    """LB: global brightness offset ``- delta``, delta = 0.1, 0.2, 0.3, 0.4, clipped to [0, 1]."""

    name = "low_brightness"
    modalities = _TAGS
    description = "brightness decrease (traditional baseline LB)"
    table = {"delta": (0.0, 0.1, 0.2, 0.3, 0.4)}

    def _apply(self, x, p, g):
        return x - p["delta"]
