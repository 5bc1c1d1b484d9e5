"""CT corruption operators of RAMP (Kang et al., Table 2), on 2D slices and 3D volumes.

Inputs are normalised CT in [0, 1]: ``[B, C, H, W]`` slices or ``[B, C, D, H, W]``
volumes. Output is clipped to [0, 1].

Lengths in mm. The blur widths of Table 2 (isotropic blur, motion blur, the compound's blur) are
voxel counts on the grid the paper trained on: nnU-Net's 3d_fullres configuration of TotalSegmentator,
whose CTs are resampled to 1.5 mm isotropic voxels (Wasserthal et al., Radiol. AI 2023, "all CT images
were resampled to 1.5 mm isotropic resolution"). We store them in mm (voxels x
:data:`REFERENCE_SPACING_MM`) and convert them with the volume's own voxel spacing:
``apply(x, level, g, spacing_mm=(sd, sh, sw))`` (one value per spatial axis of ``x``, in its axis order).
Without ``spacing_mm`` the reference 1.5 mm grid is assumed, i.e. the paper's voxel values.
Ratios stay relative to the grid: the resolution factor, the ghost shift (a fraction of the axis),
the stripe fraction and the bias field's 4-per-axis control grid.

Severity mapping. RAMP evaluates each operator at severities
``s in {0.05, 0.10, 0.15, 0.20, 0.25}`` (§3.5). We map them onto levels 1-5
(``s = 0.05 * level``) and each level onto the operator's Table 2 range linearly:

    param(level) = lo + (hi - lo) * (s - 0.05) / 0.20,

so level 1 is the mildest training value ``lo`` and level 5 the harshest ``hi``;
level 0 is the identity setting and fractional levels interpolate. RAMP training
draws severities uniformly in [1, 5], i.e. parameters uniformly over the Table 2
range (:func:`xraylab.degrade.ramp.sample_corruptions`).

Random structure (axis, slices, ghost shifts, bias field, sign) is drawn once per
call and shared by the batch; noise fields are independent per voxel and sample.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F

from xraylab.degrade import filters as flt
from xraylab.degrade import rng
from xraylab.degrade.base import Corruption
from xraylab.degrade.registry import register
from xraylab.degrade.rng import fresh_generator
from xraylab.errors import ConfigError

PAPER_SEVERITIES = (0.05, 0.10, 0.15, 0.20, 0.25)
#: mm per voxel of the grid Table 2's voxel lengths refer to (TotalSegmentator / nnU-Net 3d_fullres, 1.5 mm)
REFERENCE_SPACING_MM = 1.5
_TAGS = ("ct",)


def range_table(lo: float, hi: float, identity: float = 0.0) -> tuple[float, ...]:
    """Table values at levels 0..5: the identity, then ``lo .. hi`` linearly over the 5 paper severities."""
    return (identity,) + tuple(lo + (hi - lo) * (s - 0.05) / 0.20 for s in PAPER_SEVERITIES)


def voxel_spacing(x: torch.Tensor, spacing_mm: float | Sequence[float] | None) -> tuple[float, ...]:
    """Spacing in mm per spatial axis of ``x`` (``None``: the 1.5 mm reference grid); raises on a bad value."""
    nd = x.dim() - 2
    if spacing_mm is None:
        return (REFERENCE_SPACING_MM,) * nd
    sp = (float(spacing_mm),) * nd if isinstance(spacing_mm, (int, float)) else tuple(float(s) for s in spacing_mm)
    if len(sp) != nd or not all(math.isfinite(s) and s > 0 for s in sp):
        raise ConfigError(f"spacing_mm {spacing_mm!r}: need {nd} positive voxel sizes in mm (one per spatial axis)")
    return sp


def mm_to_voxels(length_mm: float, spacing: Sequence[float]) -> list[float]:
    """``length_mm`` expressed in voxels along each axis of ``spacing`` (mm per voxel)."""
    return [float(length_mm) / s for s in spacing]


class CTCorruption(Corruption):
    """Base of the RAMP operators: volumetric, five levels, ``(lo, hi)`` range of the main parameter.

    :meth:`apply` and :meth:`apply_with_mask` take an optional ``spacing_mm`` (voxel size per spatial
    axis); operators with lengths implement :meth:`_apply_spaced`, the others :meth:`_apply`.
    """

    modalities = _TAGS
    volumetric = True
    param_range: tuple[float, float] = (0.0, 0.0)

    def apply(
        self, image: torch.Tensor, severity: float, generator: torch.Generator | None = None,
        spacing_mm: float | Sequence[float] | None = None,
    ) -> torch.Tensor:
        """Corrupt ``image`` (float in [0, 1]) at ``severity``; lengths converted with ``spacing_mm`` (mm/voxel)."""
        self.check(image)
        p = self.params(severity)
        spacing = voxel_spacing(image, spacing_mm)
        if float(severity) == 0.0:
            return image.clone()
        g = generator if generator is not None else fresh_generator()
        out = self._apply_spaced(image, p, g, spacing).to(image.dtype)
        if out.data_ptr() == image.data_ptr():
            return out.clamp(0.0, 1.0)
        return out.clamp_(0.0, 1.0)

    def apply_with_mask(
        self, image: torch.Tensor, mask: torch.Tensor | None, severity: float,
        generator: torch.Generator | None = None, spacing_mm: float | Sequence[float] | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Corrupt ``image``; the CT operators never move content, so ``mask`` is returned unchanged."""
        return self.apply(image, severity, generator, spacing_mm=spacing_mm), mask

    def _apply_spaced(
        self, x: torch.Tensor, p: dict[str, float], g: torch.Generator, spacing: Sequence[float]
    ) -> torch.Tensor:
        return self._apply(x, p, g)

    def _apply(self, x: torch.Tensor, p: dict[str, float], g: torch.Generator) -> torch.Tensor:
        # the length-bearing operators work on the reference grid when called without a spacing
        return self._apply_spaced(x, p, g, (REFERENCE_SPACING_MM,) * (x.dim() - 2))


def _bias_field(x: torch.Tensor, g: torch.Generator, grid: int = 4) -> torch.Tensor:
    """Smooth random field ``b`` with zero mean and max |b| = 1, shaped ``[B, 1, *spatial]``.

    A ``grid^nd`` normal field, Gaussian-smoothed (sigma = 1 cell), upsampled with
    (bi/tri)linear interpolation.
    """
    nd = x.dim() - 2
    low = rng.randn((x.shape[0], 1) + (grid,) * nd, g, x)
    low = flt.gaussian_blur(low, 1.0)
    mode = "bilinear" if nd == 2 else "trilinear"
    field = F.interpolate(low, size=list(x.shape[2:]), mode=mode, align_corners=True)
    field = field - flt.spatial_mean(field)
    peak = field.abs().amax(dim=tuple(range(2, field.dim())), keepdim=True).clamp_min(1e-6)
    return field / peak


def _random_axis(x: torch.Tensor, g: torch.Generator) -> int:
    return 2 + rng.randint(g, 0, x.dim() - 3)


@register
class CTGaussianNoise(CTCorruption):
    """Additive Gaussian noise, sigma in [0.02, 0.20] (sensor noise)."""

    name = "ct_gaussian_noise"
    description = "additive Gaussian noise (RAMP Table 2)"
    param_range = (0.02, 0.20)
    table = {"sigma": range_table(0.02, 0.20)}

    def _apply(self, x, p, g):
        return x + p["sigma"] * rng.randn(x.shape, g, x)


@register
class CTIsotropicBlur(CTCorruption):
    """Isotropic Gaussian smoothing, sigma in [0.5, 2.5] reference voxels = [0.75, 3.75] mm (soft kernel)."""

    name = "ct_isotropic_blur"
    description = "isotropic Gaussian blur (RAMP Table 2)"
    param_range = (0.5, 2.5)
    table = {"sigma_mm": range_table(0.5 * REFERENCE_SPACING_MM, 2.5 * REFERENCE_SPACING_MM)}

    def _apply_spaced(self, x, p, g, spacing):
        return flt.gaussian_blur(x, mm_to_voxels(p["sigma_mm"], spacing))


@register
class CTRicianNoise(CTCorruption):
    """Rician-like noise ``sqrt((x + n1)^2 + n2^2)``, n1, n2 ~ N(0, sigma^2), sigma in [0.02, 0.20]."""

    name = "ct_rician_noise"
    description = "Rician-like magnitude noise (RAMP Table 2)"
    param_range = (0.02, 0.20)
    table = {"sigma": range_table(0.02, 0.20)}

    def _apply(self, x, p, g):
        n1 = rng.randn(x.shape, g, x)
        n2 = rng.randn(x.shape, g, x)
        return torch.sqrt((x + p["sigma"] * n1) ** 2 + (p["sigma"] * n2) ** 2)


@register
class CTMotionBlur(CTCorruption):
    """Directional motion blur: 1D Gaussian, sigma in [0.5, 3.0] reference voxels = [0.75, 4.5] mm, random axis."""

    name = "ct_motion_blur"
    description = "1D Gaussian blur along a random axis (RAMP Table 2)"
    param_range = (0.5, 3.0)
    table = {"sigma_mm": range_table(0.5 * REFERENCE_SPACING_MM, 3.0 * REFERENCE_SPACING_MM)}

    def _apply_spaced(self, x, p, g, spacing):
        axis = _random_axis(x, g)
        return flt.gaussian_blur(x, p["sigma_mm"] / spacing[axis - 2], axes=[axis])


@register
class CTSaltPepper(CTCorruption):
    """Salt-and-pepper: each voxel with probability in [0.02, 0.20] set to 0 or 1 (equal odds)."""

    name = "ct_salt_pepper"
    description = "dead/hot voxels (RAMP Table 2)"
    param_range = (0.02, 0.20)
    table = {"prob": range_table(0.02, 0.20)}

    def _apply(self, x, p, g):
        # one uniform field u: u < prob hits the voxel, and a hit is salt (1) when u < prob / 2
        u = rng.rand(x.shape, g, x)
        out = x.masked_fill(u < p["prob"], 0.0)
        return out.masked_fill_(u < 0.5 * p["prob"], 1.0)


@register
class CTSpeckle(CTCorruption):
    """Multiplicative speckle ``x (1 + n)``, n ~ N(0, sigma^2), sigma in [0.02, 0.20]."""

    name = "ct_speckle"
    description = "multiplicative speckle noise (RAMP Table 2)"
    param_range = (0.02, 0.20)
    table = {"sigma": range_table(0.02, 0.20)}

    def _apply(self, x, p, g):
        return x * (1.0 + p["sigma"] * rng.randn(x.shape, g, x))


@register
class CTBiasField(CTCorruption):
    """Low-frequency multiplicative non-uniformity ``x exp(strength b)``, strength in [0.10, 0.60].

    ``b``: 4-per-axis random field, Gaussian-smoothed, (tri)linearly upsampled, zero mean, max |b| = 1.
    """

    name = "ct_bias_field"
    description = "smooth multiplicative bias field (RAMP Table 2)"
    param_range = (0.10, 0.60)
    table = {"strength": range_table(0.10, 0.60)}

    def _apply(self, x, p, g):
        return x * torch.exp(p["strength"] * _bias_field(x, g))


@register
class CTGhosting(CTCorruption):
    """Ghosting-like artifact: ``x + intensity * mean_k roll(x, k * shift)``, k = 1..n.

    ``intensity`` in [0.10, 0.40]; the number of ghosts ``n`` in {2, 3, 4}, the axis and the
    base shift (10-30 % of that axis) are random.
    """

    name = "ct_ghosting"
    description = "shifted copies along a random axis (RAMP Table 2)"
    param_range = (0.10, 0.40)
    table = {"intensity": range_table(0.10, 0.40)}

    def _apply(self, x, p, g):
        axis = _random_axis(x, g)
        n = rng.randint(g, 2, 4)
        shift = rng.uniform(g, 0.10, 0.30) * x.shape[axis]
        ghosts = sum(torch.roll(x, int(round(k * shift)), dims=axis) for k in range(1, n + 1)) / n
        return x + p["intensity"] * ghosts


@register
class CTIntensityShift(CTCorruption):
    """Global offset of magnitude in [0.05, 0.40], added or subtracted with equal probability."""

    name = "ct_intensity_shift"
    description = "global intensity offset (RAMP Table 2)"
    param_range = (0.05, 0.40)
    table = {"shift": range_table(0.05, 0.40)}

    def _apply(self, x, p, g):
        return x + rng.sign(g) * p["shift"]


@register
class CTContrastReduction(CTCorruption):
    """Blend toward the global mean: ``(1 - b) x + b mean(x)``, b in [0.10, 0.60]."""

    name = "ct_contrast_reduction"
    description = "blend toward the mean intensity (RAMP Table 2)"
    param_range = (0.10, 0.60)
    table = {"blend": range_table(0.10, 0.60)}

    def _apply(self, x, p, g):
        return torch.lerp(x, flt.spatial_mean(x).expand_as(x), p["blend"])


@register
class CTResolution(CTCorruption):
    """Resolution degradation: down- then upsample (area / (tri)linear), factor in [1.5, 3.0]."""

    name = "ct_resolution"
    description = "downsample + upsample (RAMP Table 2)"
    param_range = (1.5, 3.0)
    table = {"factor": range_table(1.5, 3.0, identity=1.0)}

    def _apply(self, x, p, g):
        return flt.down_up(x, p["factor"])


@register
class CTStripe(CTCorruption):
    """Stripe / banding: 15 % of the slices along a random axis get offsets ``+-strength * U(0.5, 1)``.

    ``strength`` in [0.10, 0.60] (scanner hardware failure).
    """

    name = "ct_stripe"
    description = "slice-wise intensity offsets along a random axis (RAMP Table 2)"
    param_range = (0.10, 0.60)
    STRIPE_FRACTION = 0.15
    table = {"strength": range_table(0.10, 0.60)}

    def _apply(self, x, p, g):
        axis = _random_axis(x, g)
        n = x.shape[axis]
        k = max(1, int(round(self.STRIPE_FRACTION * n)))
        idx = rng.choice(g, n, k)
        mags = rng.rand((k,), g, x) * 0.5 + 0.5
        signs = torch.where(rng.rand((k,), g, x) < 0.5, -1.0, 1.0).to(x.dtype)
        offsets = torch.zeros(n, device=x.device, dtype=x.dtype)
        offsets[torch.tensor(idx, device=x.device)] = p["strength"] * mags * signs
        shape = [1] * x.dim()
        shape[axis] = n
        return x + offsets.view(shape)


@register
class CTCompound(CTCorruption):
    """Compound: Gaussian noise (sigma = level), then blur (sigma = 5 level reference voxels = 7.5 level mm),
    then bias (strength = 3 level).

    ``level`` in [0.03, 0.15]. Because the blur follows the noise, the growing blur partly
    smooths the growing noise at the top levels: SSIM to the clean image is not monotonic
    there (RMSE is), so the contract test measures this operator's distortion by RMSE.
    """

    name = "ct_compound"
    description = "noise + blur + bias field in sequence (RAMP Table 2)"
    param_range = (0.03, 0.15)
    table = {"level": range_table(0.03, 0.15)}

    def _apply_spaced(self, x, p, g, spacing):
        lv = p["level"]
        out = (x + lv * rng.randn(x.shape, g, x)).clamp(0, 1)
        out = flt.gaussian_blur(out, mm_to_voxels(5.0 * lv * REFERENCE_SPACING_MM, spacing))
        return out * torch.exp(3.0 * lv * _bias_field(x, g))


#: our grouping of the 13 operators into families (for leave-one-family-out experiments)
FAMILIES: dict[str, tuple[str, ...]] = {
    "noise": ("ct_gaussian_noise", "ct_rician_noise", "ct_salt_pepper", "ct_speckle"),
    "blur": ("ct_isotropic_blur", "ct_motion_blur", "ct_resolution"),
    "intensity": ("ct_bias_field", "ct_intensity_shift", "ct_contrast_reduction"),
    "artifact": ("ct_ghosting", "ct_stripe"),
    "compound": ("ct_compound",),
}
