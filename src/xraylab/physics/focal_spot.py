"""Finite focal spot: geometric unsharpness.

A point of the object at distance OID from the detector, imaged from a focal spot
of size F at distance SOD, is smeared over Ug = F · OID / SOD = F · (M − 1) at the
detector (REFERENCES.md §5; Bushberg, *The Essential Physics of Medical Imaging*,
ch. 6). Two models:

* ``mode='kernel'`` (fast): the image rendered from the spot centre is convolved
  with the focal-spot distribution scaled by (M − 1) for the isocenter plane
  (:func:`focal_spot_psf`, :func:`apply_focal_spot`). Exact for objects at the
  isocenter plane, approximate elsewhere.
* ``mode='exact'``: the caller renders once per source point of
  :func:`source_offsets_mm` (setting ``Geometry.source_offset_mm``) and averages
  the renders with the returned weights. Depth-correct.

Focal-spot coordinates follow the detector axes of :class:`~xraylab.physics.geometry.Geometry`:
u along the columns (image x), v along the rows (image y, towards the feet). The
spot *length* lies along the anode–cathode axis (``length_axis``), its *width*
across it.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field

# IEC 60336 tolerance of the actual focal-spot dimensions relative to the nominal
# value f, as quoted in REFERENCES.md §1 for f = 1.2 mm: width 1.2–1.7 mm
# (×1.00–1.42), length 1.7–2.4 mm (×1.42–2.00) [R]. The same factors are applied
# to other nominal sizes (IEC 60336 Table 3 is close to these ratios for 0.6–1.5 mm).
_IEC_WIDTH = (1.0, 1.7 / 1.2)
_IEC_LENGTH = (1.7 / 1.2, 2.4 / 1.2)


class FocalSpotConfig(BaseModel):
    """Focal-spot model. Lengths in mm (in the focal-spot plane).

    ``size_mm`` is the nominal IEC 60336 size f. The actual width and length are
    ``width_mm``/``length_mm`` when given, else derived from f by ``iec60336``:
    ``'nominal'`` → f × f; ``'min'`` / ``'mid'`` / ``'max'`` → lower bound, midpoint
    or upper bound of the IEC 60336 tolerance (width f…1.42 f, length 1.42 f…2 f).
    For ``shape='gaussian'`` the dimensions are FWHMs; for ``'uniform'`` full widths.
    """

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    enabled: bool = True
    size_mm: float = Field(1.2, ge=0, le=5, description="nominal focal-spot size f (IEC 60336), mm")
    width_mm: float | None = Field(None, ge=0, le=10, description="actual width across the anode–cathode axis, mm")
    length_mm: float | None = Field(None, ge=0, le=10, description="actual length along the anode–cathode axis, mm")
    iec60336: Literal["nominal", "min", "mid", "max"] = "nominal"
    length_axis: Literal["vertical", "horizontal"] = Field(
        "vertical", description="image axis of the anode–cathode direction (vertical = along rows, v)"
    )
    shape: Literal["gaussian", "uniform"] = "gaussian"
    mode: Literal["kernel", "exact"] = "kernel"
    n_sources: int = Field(9, ge=1, le=400, description="source points for mode='exact'")

    def dimensions_mm(self) -> tuple[float, float]:
        """Actual (width, length) of the spot in mm."""
        f = self.size_mm
        pick = {"min": 0, "max": 1}
        if self.iec60336 == "nominal":
            w0, l0 = f, f
        elif self.iec60336 == "mid":
            w0, l0 = f * sum(_IEC_WIDTH) / 2, f * sum(_IEC_LENGTH) / 2
        else:
            i = pick[self.iec60336]
            w0, l0 = f * _IEC_WIDTH[i], f * _IEC_LENGTH[i]
        return (self.width_mm if self.width_mm is not None else w0,
                self.length_mm if self.length_mm is not None else l0)

    def extent_uv_mm(self) -> tuple[float, float]:
        """Spot size along the detector axes (u = columns, v = rows), mm."""
        w, ln = self.dimensions_mm()
        return (w, ln) if self.length_axis == "vertical" else (ln, w)


_FWHM_TO_SIGMA = 1.0 / (2.0 * math.sqrt(2.0 * math.log(2.0)))


def spot_cdf(x: torch.Tensor, size: float, shape: str) -> torch.Tensor:
    """CDF of the 1-D spot distribution (centred, full width / FWHM ``size``) at ``x``."""
    if size <= 0:
        return (x >= 0).to(x.dtype)
    if shape == "uniform":
        return ((x + size / 2) / size).clamp(0.0, 1.0)
    sigma = size * _FWHM_TO_SIGMA
    return 0.5 * (1.0 + torch.erf(x / (sigma * math.sqrt(2.0))))


def _kernel_1d(blur_mm: float, pitch_mm: float, shape: str) -> torch.Tensor:
    """Pixel-bin-integrated 1-D blur kernel (odd length, sums to 1), float64."""
    half_extent = blur_mm / 2 if shape == "uniform" else 3.5 * blur_mm * _FWHM_TO_SIGMA
    k = max(0, math.ceil(half_extent / pitch_mm - 0.5))
    j = torch.arange(-k, k + 1, dtype=torch.float64)
    w = spot_cdf((j + 0.5) * pitch_mm, blur_mm, shape) - spot_cdf((j - 0.5) * pitch_mm, blur_mm, shape)
    return w / w.sum()


def blur_extent_mm(cfg: FocalSpotConfig, geometry) -> tuple[float, float]:
    """Geometric unsharpness Ug = F · OID / SOD along (u, v) at the detector, mm (REFERENCES.md §5)."""
    s = geometry.oid_mm / geometry.sod_mm
    fu, fv = cfg.extent_uv_mm()
    return fu * s, fv * s


def focal_spot_kernels(cfg: FocalSpotConfig, geometry, device=None) -> tuple[torch.Tensor, torch.Tensor]:
    """Separable detector-plane kernels (along rows/v ``[kv]``, along columns/u ``[ku]``), float32, each sums to 1."""
    ug_u, ug_v = blur_extent_mm(cfg, geometry)
    kv = _kernel_1d(ug_v, geometry.pitch_mm, cfg.shape)
    ku = _kernel_1d(ug_u, geometry.pitch_mm, cfg.shape)
    return kv.to(device=device, dtype=torch.float32), ku.to(device=device, dtype=torch.float32)


def focal_spot_psf(cfg: FocalSpotConfig, geometry, device=None) -> torch.Tensor:
    """Detector-plane PSF ``[k, k]`` (float32, sums to 1) of the focal spot for an object at the isocenter.

    The spot distribution is scaled by OID/SOD (blur width Ug = F·OID/SOD, REFERENCES.md §5),
    integrated over pixel-sized bins of ``geometry.pitch_mm`` and padded to a square odd size k.
    Rows of the kernel run along v (image rows), columns along u. Point-symmetric, so the
    image inversion of the spot (a source shift s moves the shadow by −s·OID/SOD) does not matter.
    """
    kv, ku = focal_spot_kernels(cfg, geometry, device)
    k = max(kv.numel(), ku.numel())
    kv = F.pad(kv, ((k - kv.numel()) // 2, (k - kv.numel()) // 2))
    ku = F.pad(ku, ((k - ku.numel()) // 2, (k - ku.numel()) // 2))
    return torch.outer(kv, ku)


def _kernel_1d_tensor(blur_mm: torch.Tensor, pitch_mm: float, shape: str) -> torch.Tensor:
    """:func:`_kernel_1d` for a tensor blur width (differentiable; support from its detached value)."""
    b = float(blur_mm.detach())
    half_extent = b / 2 if shape == "uniform" else 3.5 * b * _FWHM_TO_SIGMA
    k = max(1, math.ceil(half_extent / pitch_mm - 0.5) + 1)
    j = torch.arange(-k, k + 1, dtype=blur_mm.dtype, device=blur_mm.device)
    size = blur_mm.clamp_min(1e-9)
    hi, lo = (j + 0.5) * pitch_mm, (j - 0.5) * pitch_mm
    if shape == "uniform":
        w = torch.minimum(hi, size / 2) - torch.maximum(lo, -size / 2)
        w = w.clamp_min(0.0)
    else:
        sig = size * _FWHM_TO_SIGMA * math.sqrt(2.0)
        w = 0.5 * (torch.erf(hi / sig) - torch.erf(lo / sig))
    return w / w.sum()


def apply_focal_spot(image: torch.Tensor, cfg: FocalSpotConfig, geometry, size_mm: torch.Tensor | None = None
                     ) -> torch.Tensor:
    """Blur ``image`` ``[B, C, H, W]`` with the focal-spot PSF (``mode='kernel'``); returns the same shape.

    Separable depthwise convolution with replicate padding at the borders. A no-op when
    ``cfg.enabled`` is false, the spot has zero size, or ``cfg.mode == 'exact'`` (the caller
    then averages renders from :func:`source_offsets_mm` instead). ``size_mm``: a tensor nominal size
    replacing ``cfg.size_mm`` (the spot dimensions scale with it; differentiable).
    """
    if not cfg.enabled or cfg.mode == "exact":
        return image
    if size_mm is not None:
        ug_u, ug_v = blur_extent_mm(cfg, geometry)
        scale = size_mm.to(image) / cfg.size_mm if cfg.size_mm > 0 else size_mm.to(image)
        kv = _kernel_1d_tensor(scale * ug_v, geometry.pitch_mm, cfg.shape)
        ku = _kernel_1d_tensor(scale * ug_u, geometry.pitch_mm, cfg.shape)
    else:
        kv, ku = focal_spot_kernels(cfg, geometry, image.device)
        if kv.numel() == 1 and ku.numel() == 1:
            return image
    b, c, h, w = image.shape
    x = image.reshape(b * c, 1, h, w)
    kv = kv.to(image.dtype)
    ku = ku.to(image.dtype)
    if kv.numel() > 1:
        p = kv.numel() // 2
        x = F.conv2d(F.pad(x, (0, 0, p, p), mode="replicate"), kv.view(1, 1, -1, 1))
    if ku.numel() > 1:
        p = ku.numel() // 2
        x = F.conv2d(F.pad(x, (p, p, 0, 0), mode="replicate"), ku.view(1, 1, 1, -1))
    return x.reshape(b, c, h, w)


def _quantile_points(size: float, shape: str, n: int) -> torch.Tensor:
    """``n`` equal-probability points of the 1-D spot distribution (midpoints of n strata), mm, float64."""
    if n == 1 or size <= 0:
        return torch.zeros(n, dtype=torch.float64)
    q = (torch.arange(n, dtype=torch.float64) + 0.5) / n
    if shape == "uniform":
        return (q - 0.5) * size
    # Mean of each stratum of a Gaussian (not the quantile midpoint) so that the
    # discrete set keeps the variance close to σ²: E[x | stratum] = σ²·(φ(a) − φ(b)) / (Φ(b) − Φ(a)).
    sigma = size * _FWHM_TO_SIGMA
    edges = torch.special.ndtri(torch.linspace(0, 1, n + 1, dtype=torch.float64))
    pdf = torch.exp(-0.5 * edges**2) / math.sqrt(2 * math.pi)
    pdf = torch.nan_to_num(pdf, nan=0.0)
    return sigma * (pdf[:-1] - pdf[1:]) * n


def _factor(n: int, aspect: float) -> tuple[int, int]:
    """Split n = nu · nv with nv / nu closest to ``aspect`` (length/width)."""
    best = (n, 1)
    best_err = float("inf")
    for nu in range(1, n + 1):
        if n % nu:
            continue
        nv = n // nu
        err = abs(math.log(max(nv, 1) / nu) - math.log(max(aspect, 1e-6)))
        if err < best_err:
            best, best_err = (nu, nv), err
    return best


def source_offsets_mm(cfg: FocalSpotConfig, n: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Source points across the focal spot for ``mode='exact'``.

    Returns ``(offsets [n, 2], weights [n])``: offsets (du, dv) in mm in the focal-spot plane along
    the detector axes (add them to ``Geometry.source_offset_mm``), float32; weights sum to 1
    (equal weights: the points are the conditional means of equal-probability strata of the spot
    distribution, laid out as an nu × nv grid with nu·nv = n, nv/nu as close as possible to the
    spot's aspect ratio along v/u; prefer n with a good factorisation, e.g. 9, 16, 25).
    ``n`` defaults to ``cfg.n_sources``. The caller renders once per offset and averages.
    """
    n = cfg.n_sources if n is None else int(n)
    if n < 1:
        raise ValueError("n must be ≥ 1")
    fu, fv = cfg.extent_uv_mm()
    nu, nv = _factor(n, fv / fu if fu > 0 else float(n))
    pu = _quantile_points(fu, cfg.shape, nu)
    pv = _quantile_points(fv, cfg.shape, nv)
    vv, uu = torch.meshgrid(pv, pu, indexing="ij")
    offsets = torch.stack([uu.reshape(-1), vv.reshape(-1)], dim=-1).to(torch.float32)
    weights = torch.full((n,), 1.0 / n, dtype=torch.float32)
    return offsets, weights
