"""Radiographic post-processing: flat field → −log → contrast enhancement → window/LUT → 8/16 bit.

Works on the flat-field-normalised detector image (transmission-like, ≈ I/I₀). Every step is optional;
the output is float32 in [0, 1] (bone bright, air dark), quantised to 2^bits − 1 levels when ``output_bits`` > 0.
A real detector delivers two images (DICOM DX "for processing" / "for presentation"): the *for-processing*
image is −ln(I/I₀) (:func:`xraylab.render.render_view` keeps it as the ``for_processing`` layer); the
*for-presentation* image is this module's output — with ``enhancement: clinical`` + ``lut: sigmoid`` (the
``chest_pa`` family of presets) the standard clinical processing of :func:`clinical_process`.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field, field_validator


class PostProcessConfig(BaseModel):
    """Display chain. Windows are in the units of the image after ``log`` (line integral μL) or before it."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    flat_field: bool = Field(
        True, description="use the flat-field-corrected image; false: offset-corrected raw / flood maximum"
    )
    log: bool = Field(True, description="take −log of the normalised image (attenuation line integral)")
    window: Literal["auto", "fixed", "minmax"] = Field("auto", description="auto: percentiles inside the field")
    window_percentiles: tuple[float, float] = Field((0.5, 99.5), description="auto window, percent")
    window_range: tuple[float, float] = Field((0.0, 5.0), description="fixed window (low, high)")
    lut: Literal["linear", "gamma", "sigmoid"] = "linear"
    gamma: float = Field(1.0, gt=0, le=10, description="exponent of the gamma LUT")
    sigmoid_slope: float = Field(8.0, gt=0, le=100, description="slope of the sigmoid LUT")
    enhancement: Literal["none", "unsharp", "multiscale", "clinical"] = Field(
        "none", description="none; unsharp (mask of sigma enhancement_sigma_mm); multiscale (band boost); clinical: "
        "multi-scale contrast equalisation + edge enhancement (clinical_process, the for-presentation image)")
    enhancement_amount: float = Field(0.5, ge=0, le=10, description="gain of the enhanced detail")
    enhancement_sigma_mm: float = Field(3.0, gt=0, le=100, description="unsharp-mask Gaussian σ, mm; clinical: σ "
                                        "of the finest band")
    multiscale_levels: int = Field(4, ge=1, le=8, description="Laplacian-pyramid levels for multiscale/clinical")
    equalization: float = Field(0.0, ge=0, le=1, description="clinical: fraction of the large-scale contrast "
                                "(coarser than the last band) removed, 0 = none, 1 = flat")
    detail_power: float = Field(1.0, gt=0, le=1, description="clinical: band amplitude compression exponent p "
                                "(MUSICA-type; p < 1 lifts faint detail relative to strong edges)")
    edge_amount: float = Field(0.0, ge=0, le=10, description="clinical: extra gain of the finest band (edges)")
    output_bits: Literal[0, 8, 16] = Field(16, description="quantise to 8 or 16 bit levels; 0 = float")

    @field_validator("window_percentiles")
    @classmethod
    def _percentiles(cls, v: tuple[float, float]) -> tuple[float, float]:
        if not 0 <= v[0] < v[1] <= 100:
            raise ValueError(f"must satisfy 0 ≤ low < high ≤ 100, got {v}")
        return v

    @field_validator("window_range")
    @classmethod
    def _range(cls, v: tuple[float, float]) -> tuple[float, float]:
        if v[0] >= v[1]:
            raise ValueError(f"must be (low, high) with low < high, got {v}")
        return v


def _gauss_blur(x: torch.Tensor, sigma_px: float) -> torch.Tensor:
    if sigma_px <= 0.3:
        return x
    r = max(1, int(math.ceil(3 * sigma_px)))
    r = min(r, x.shape[-1] - 1, x.shape[-2] - 1)
    t = torch.arange(-r, r + 1, dtype=x.dtype, device=x.device)
    k = torch.exp(-0.5 * (t / sigma_px) ** 2)
    k = k / k.sum()
    b, c, h, w = x.shape
    y = x.reshape(b * c, 1, h, w)
    y = F.conv2d(F.pad(y, (r, r, 0, 0), mode="reflect"), k.view(1, 1, 1, -1))
    y = F.conv2d(F.pad(y, (0, 0, r, r), mode="reflect"), k.view(1, 1, -1, 1))
    return y.reshape(b, c, h, w)


def unsharp_mask(x: torch.Tensor, sigma_px: float, amount: float) -> torch.Tensor:
    """x + amount·(x − G_σ ⊗ x), ``[B, C, H, W]``."""
    return x + amount * (x - _gauss_blur(x, sigma_px))


def multiscale_enhance(x: torch.Tensor, levels: int, amount: float) -> torch.Tensor:
    """Boost band-pass details of a Gaussian-difference pyramid: x + amount·Σₖ (G_{σₖ}x − G_{σₖ₊₁}x)·wₖ.

    Bands of σ = 1, 2, 4, … px; fine bands get the full gain, coarser ones less (wₖ = 1/(k+1)), a simple
    stand-in for the commercial multi-scale processing (MUSICA-type) of chest radiographs.
    """
    out = x
    prev = x
    for k in range(levels):
        cur = _gauss_blur(x, 2.0**k)
        out = out + amount * (prev - cur) / (k + 1)
        prev = cur
    return out


def clinical_process(x: torch.Tensor, cfg: PostProcessConfig, pitch_mm: float,
                     mask: torch.Tensor | None = None) -> torch.Tensor:
    """Multi-scale contrast equalisation + edge enhancement of the log image ``x`` ``[B, 1, H, W]``.

    The commercial processing of chest radiographs (Agfa MUSICA, Vuylsteke & Schoeters, Proc. SPIE 2167, 1994;
    Prokop et al., Eur. Radiol. 13:2003, "Principles of image processing in digital chest radiography")
    decomposes the image into band-pass layers, compresses their amplitude non-linearly and recombines them with
    the coarse remainder attenuated: dense and lucent regions come closer in grey level while local detail
    (vessels, rib edges) gains contrast. Here: difference-of-Gaussian bands of σₖ = enhancement_sigma_mm·2ᵏ
    (k < multiscale_levels), each mapped to sign(b)·Mₖ·(|b|/Mₖ)^detail_power (Mₖ: 99th percentile of |b| in the
    field) and multiplied by 1 + enhancement_amount (+ edge_amount for the finest band); the remainder coarser
    than the last band is pulled towards its field mean by ``equalization``. Values outside ``mask`` (the
    collimated field) are clamped to the field's range first, so the field edge leaves no halo.
    """
    m = None if mask is None else (mask > 0.5).expand_as(x)
    lo, hi = [], []
    for i in range(x.shape[0]):
        v = x[i][m[i]] if m is not None and bool(m[i].any()) else x[i].reshape(-1)
        v = v[:: max(1, v.numel() // 1_000_000)]
        q = torch.quantile(v, torch.tensor([0.001, 0.999], device=x.device, dtype=x.dtype))
        lo.append(q[0])
        hi.append(q[1])
    xl = torch.stack(lo).view(-1, 1, 1, 1)
    xh = torch.stack(hi).view(-1, 1, 1, 1)
    x = torch.minimum(torch.maximum(x, xl), xh)
    prev, bands = x, []
    for k in range(cfg.multiscale_levels):
        cur = _gauss_blur(x, cfg.enhancement_sigma_mm * 2.0**k / pitch_mm)
        bands.append(prev - cur)
        prev = cur
    weights = m.float() if m is not None else torch.ones_like(x)
    n = weights.sum(dim=(-2, -1), keepdim=True).clamp_min(1.0)
    base_mean = (prev * weights).sum(dim=(-2, -1), keepdim=True) / n
    out = base_mean + (1.0 - cfg.equalization) * (prev - base_mean)
    for k, b in enumerate(bands):
        mag = b.abs()
        scale = torch.stack([torch.quantile((mag[i][m[i]] if m is not None and bool(m[i].any()) else mag[i]
                                             ).reshape(-1)[:: max(1, mag[i].numel() // 1_000_000)], 0.99)
                             for i in range(b.shape[0])]).view(-1, 1, 1, 1).clamp_min(1e-6)
        if cfg.detail_power != 1.0:
            b = torch.sign(b) * scale * (mag / scale).clamp_min(1e-6) ** cfg.detail_power  # finite gradient at 0
        gain = 1.0 + cfg.enhancement_amount + (cfg.edge_amount if k == 0 else 0.0)
        out = out + gain * b
    return out


def window_limits(
    x: torch.Tensor, cfg: PostProcessConfig, mask: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-image window (low, high), each ``[B, 1, 1, 1]``; percentiles taken where ``mask`` > 0.5 if given."""
    b = x.shape[0]
    if cfg.window == "fixed":
        lo = torch.full((b, 1, 1, 1), cfg.window_range[0], device=x.device)
        hi = torch.full((b, 1, 1, 1), cfg.window_range[1], device=x.device)
        return lo, hi
    los, his = [], []
    for i in range(b):
        v = x[i].reshape(-1)
        if mask is not None:
            m = mask[min(i, mask.shape[0] - 1)].reshape(-1) > 0.5
            if m.any():
                v = v[m]
        v = v[torch.isfinite(v)]
        if v.numel() == 0:
            los.append(torch.tensor(0.0, device=x.device))
            his.append(torch.tensor(1.0, device=x.device))
            continue
        if cfg.window == "minmax":
            los.append(v.min())
            his.append(v.max())
        else:
            if v.numel() > 1_000_000:  # quantile has a size limit; a strided subsample is plenty
                v = v[:: v.numel() // 1_000_000 + 1]
            probs = torch.tensor([p / 100 for p in cfg.window_percentiles], device=x.device, dtype=v.dtype)
            q = torch.quantile(v, probs)
            los.append(q[0])
            his.append(q[1])
    lo = torch.stack(los).view(b, 1, 1, 1)
    hi = torch.stack(his).view(b, 1, 1, 1)
    hi = torch.where(hi - lo > 1e-12, hi, lo + 1.0)
    return lo, hi


def postprocess(
    normalized: torch.Tensor, cfg: PostProcessConfig, pitch_mm: float, mask: torch.Tensor | None = None
) -> torch.Tensor:
    """Display image ``[B, 1, H, W]`` in [0, 1] from the flat-field-normalised image ``[B, 1, H, W]``.

    ``mask``: optional ``[B or 1, 1, H, W]`` region (e.g. the collimated field) for the auto window.
    """
    x = normalized
    if cfg.log:
        x = -torch.log(x.clamp_min(1e-6))
    else:
        x = 1.0 - x  # keep the radiographic polarity: attenuating structures bright
    if cfg.enhancement == "unsharp":
        x = unsharp_mask(x, cfg.enhancement_sigma_mm / pitch_mm, cfg.enhancement_amount)
    elif cfg.enhancement == "multiscale":
        x = multiscale_enhance(x, cfg.multiscale_levels, cfg.enhancement_amount)
    elif cfg.enhancement == "clinical":
        x = clinical_process(x, cfg, pitch_mm, mask)
    lo, hi = window_limits(x, cfg, mask)
    y = ((x - lo) / (hi - lo)).clamp(0.0, 1.0)
    if cfg.lut == "gamma":
        y = y**cfg.gamma
    elif cfg.lut == "sigmoid":
        s = cfg.sigmoid_slope
        y0, y1 = 1 / (1 + math.exp(s / 2)), 1 / (1 + math.exp(-s / 2))
        y = (torch.sigmoid(s * (y - 0.5)) - y0) / (y1 - y0)
    if cfg.output_bits:
        levels = float(2**cfg.output_bits - 1)
        y = torch.round(y * levels) / levels
    return y.clamp(0.0, 1.0)
