"""The RAMP augmentation stages (Kang et al., §2.3, Table 1, eq. 1-2).

``x~ = c_jk o ... o c_j1 o A_i o A_s(x)`` and ``y~ = A_s(y)``: a spatial stage ``A_s``
that moves image and label together, an intensity stage ``A_i`` of independently
triggered CT appearance transforms, and a multi-corruption sampler that with
probability ``p_RAMP`` applies ``k ~ U{2, 3, 4}`` operators of the Table 2 pool
(:mod:`xraylab.degrade.ct`) without replacement, at severities drawn uniformly over
each operator's range. All operations work on one sample ``[1, C, *spatial]`` (2D or
3D) in normalised [0, 1] intensity space and clip to [0, 1] after each step; labels
are only touched by the spatial stage (nearest-neighbour).

Each function returns the new tensors and a record ``{"stage", "op", "params"}``
(``None`` when the operation was not triggered).

Lengths. Table 1's elastic (alpha, sigma) and sharpening sigma, like Table 2's blur widths, are voxels
of the paper's 1.5 mm grid (:data:`xraylab.degrade.ct.REFERENCE_SPACING_MM`). ``RampConfig.spacing_mm``
(mm per voxel, one value per spatial axis; ``None`` = the reference grid) converts them, so the same
physical deformation and blur are applied to volumes of any voxel size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Sequence, cast

import torch
import torch.nn.functional as F

from xraylab.degrade import filters as flt
from xraylab.degrade import registry, rng
from xraylab.degrade.ct import FAMILIES, REFERENCE_SPACING_MM, CTCorruption, voxel_spacing

Record = dict[str, Any]
CT_POOL: tuple[str, ...] = tuple(n for fam in FAMILIES.values() for n in fam)


@dataclass
class RampConfig:
    """Table 1 defaults; every field can be overridden (k-ablation, p-sensitivity, leave-one-family-out)."""

    spatial: bool = True
    intensity: bool = True
    p_flip: float = 0.50
    p_elastic: float = 0.15
    elastic_alpha: float = 80.0
    elastic_sigma: float = 10.0
    p_gamma: float = 0.45
    gamma1: tuple[float, float] = (0.60, 1.60)
    gamma2: tuple[float, float] = (0.70, 1.30)
    p_window: float = 0.45
    window_center_shift: tuple[float, float] = (-0.15, 0.15)
    window_width_scale: tuple[float, float] = (0.70, 1.30)
    p_histogram: float = 0.40
    histogram_degree: int = 3
    histogram_coef_std: float = 0.20
    p_local_contrast: float = 0.35
    local_contrast_grid: int = 4
    local_contrast_max_blend: float = 0.35
    p_sharpen: float = 0.30
    sharpen_sigma: tuple[float, float] = (0.5, 2.5)
    sharpen_strength: tuple[float, float] = (0.2, 1.5)
    p_ramp: float = 0.85
    k: tuple[int, ...] = (2, 3, 4)
    pool: tuple[str, ...] = CT_POOL
    exclude: tuple[str, ...] = ()
    #: mm per voxel along each spatial axis (None = the paper's 1.5 mm reference grid)
    spacing_mm: tuple[float, ...] | None = None

    def corruption_pool(self) -> list[str]:
        """The pool after removing ``exclude`` (operator names or :data:`FAMILIES` keys)."""
        drop: set[str] = set()
        for e in self.exclude:
            drop.update(FAMILIES.get(e, (e,)))
        return [n for n in self.pool if n not in drop]


# ---------------------------------------------------------------- spatial stage
def random_flip(x, mask, g, p: float):
    """Flip each spatial axis independently with probability ``p`` (image and mask alike)."""
    axes = [ax for ax in range(2, x.dim()) if rng.bernoulli(g, p)]
    if not axes:
        return x, mask, None
    x = x.flip(axes)
    mask = mask.flip(axes) if mask is not None else None
    return x, mask, {"stage": "spatial", "op": "flip", "params": {"axes": [a - 2 for a in axes]}}


def random_affine(x, mask, g, rotation_deg: float = 10.0, scale: tuple[float, float] = (0.85, 1.15),
                  shift: float = 0.08):
    """A random 2D affine (rotation ±``rotation_deg``, isotropic ``scale``, shift ±``shift`` of the size: crop and
    zoom; no flip, so left and right stay left and right). Image bilinear (border values), mask nearest."""
    if x.dim() != 4:
        raise ValueError("random_affine is 2D: [1, C, H, W]")
    a = math.radians(rng.uniform(g, -rotation_deg, rotation_deg))
    s = rng.uniform(g, *scale)
    tx, ty = rng.uniform(g, -shift, shift) * 2, rng.uniform(g, -shift, shift) * 2  # normalised units
    theta = torch.tensor([[math.cos(a) / s, -math.sin(a) / s, tx], [math.sin(a) / s, math.cos(a) / s, ty]],
                         dtype=torch.float32, device=x.device)[None]
    grid = F.affine_grid(theta, list(x.shape), align_corners=False).to(x.dtype)
    out = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    if mask is not None:
        mask = F.grid_sample(mask.to(x.dtype), grid, mode="nearest", padding_mode="zeros",
                             align_corners=False).to(mask.dtype)
    return out, mask, {"stage": "spatial", "op": "affine",
                       "params": {"rotation_deg": math.degrees(a), "scale": s, "shift": (tx / 2, ty / 2)}}


def elastic(x, mask, g, alpha: float, sigma: float, spacing_mm: Sequence[float] | None = None):
    """Elastic deformation: displacement ``alpha * G_sigma(U[-1, 1])`` reference voxels per axis (Simard-style).

    ``alpha`` and ``sigma`` are in voxels of the 1.5 mm reference grid; with ``spacing_mm`` the field is
    smoothed over ``sigma`` x 1.5 mm, rescaled to the amplitude it has on the reference grid (smoothed
    white noise has std proportional to ``prod(sigma_vox) ** -0.5``) and turned into voxels of this grid.
    The image is resampled linearly, the mask with nearest neighbour (labels stay discrete).
    """
    nd = x.dim() - 2
    spatial = x.shape[2:]
    sp = voxel_spacing(x, spacing_mm)
    sig_vox = [sigma * REFERENCE_SPACING_MM / s for s in sp]
    amp = 1.0
    for sv in sig_vox:
        amp *= (sv / sigma) ** 0.5 if sigma > 0 else 1.0
    disp = rng.rand((1, nd) + tuple(spatial), g, x) * 2 - 1
    disp = flt.gaussian_blur(disp, sig_vox) * (alpha * amp)  # reference voxels
    disp = disp * torch.tensor([REFERENCE_SPACING_MM / s for s in sp], dtype=x.dtype,
                               device=x.device).view(1, nd, *([1] * nd))  # voxels of this grid, channel i = axis i
    theta = torch.zeros(1, nd, nd + 1, device=x.device, dtype=torch.float32)
    theta[:, :, :nd] = torch.eye(nd, device=x.device)
    base = F.affine_grid(theta, [1, 1, *spatial], align_corners=False).to(x.dtype)
    # grid's last dim is ordered (W, H[, D]) = reversed spatial axes; 1 px = 2 / n in normalised units
    offs = [disp[:, i] * (2.0 / spatial[i]) for i in range(nd)]
    grid = base + torch.stack(offs[::-1], dim=-1)
    out = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    if mask is not None:
        m = F.grid_sample(mask.float(), grid.float(), mode="nearest", padding_mode="border", align_corners=False)
        mask = m.to(mask.dtype)
    rec = {"stage": "spatial", "op": "elastic", "params": {"alpha": alpha, "sigma": sigma}}
    return out, mask, rec


# ---------------------------------------------------------------- intensity stage
def multi_gamma(x, g, gamma1: Sequence[float], gamma2: Sequence[float]):
    """Two sequential gamma transforms ``(x^g1)^g2``."""
    g1, g2 = rng.uniform(g, *gamma1), rng.uniform(g, *gamma2)
    out = x.clamp(0, 1) ** g1
    out = out.clamp(0, 1) ** g2
    return out, {"stage": "intensity", "op": "gamma", "params": {"gamma1": g1, "gamma2": g2}}


def window_shift(x, g, center: Sequence[float], width: Sequence[float]):
    """Window-level shift: ``(x - 0.5 - c) / w + 0.5`` (centre moved by c, width scaled by w)."""
    c, w = rng.uniform(g, *center), rng.uniform(g, *width)
    out = ((x - 0.5 - c) / w + 0.5).clamp(0, 1)
    return out, {"stage": "intensity", "op": "window", "params": {"center_shift": c, "width_scale": w}}


def histogram_warp(x, g, degree: int, coef_std: float):
    """Monotonic polynomial remap ``f(x) = sum_k a_k x^k / sum_k a_k``, ``a = |e_1 + N(0, std^2)|``.

    Positive coefficients make ``f`` increasing on [0, 1] with ``f(0) = 0`` and ``f(1) = 1``.
    """
    noise = torch.randn(degree, generator=g, device=g.device).cpu()
    coefs = (torch.eye(degree)[0] + coef_std * noise).abs().clamp_min(1e-4)
    coefs = coefs / coefs.sum()
    out = sum(float(a) * x.clamp(0, 1) ** (i + 1) for i, a in enumerate(coefs))
    return out.clamp(0, 1), {"stage": "intensity", "op": "histogram_warp", "params": {"coefs": coefs.tolist()}}


def local_contrast(x, g, grid: int, max_blend: float):
    """Adaptive local contrast: patch-wise normalisation on a ``grid^nd`` grid, blended by ``b ~ U(0, max)``.

    Each patch is standardised and rescaled to the global mean and std; the result is
    mixed with the original as ``(1 - b) x + b local``.
    """
    b = rng.uniform(g, 0.0, max_blend)
    nd = x.dim() - 2
    # torch's stubs want a fixed-length tuple per dimensionality; both pools take a list of nd sizes
    pool = cast(
        "Callable[[torch.Tensor, list[int]], torch.Tensor]",
        F.adaptive_avg_pool2d if nd == 2 else F.adaptive_avg_pool3d,
    )
    size = [min(grid, n) for n in x.shape[2:]]
    mu = F.interpolate(pool(x, size), size=list(x.shape[2:]), mode="nearest")
    sq = F.interpolate(pool(x * x, size), size=list(x.shape[2:]), mode="nearest")
    sd = (sq - mu * mu).clamp_min(0).sqrt()
    gm, gs = flt.spatial_mean(x), x.flatten(2).std(dim=2).view(*x.shape[:2], *([1] * nd))
    local = ((x - mu) / (sd + 1e-3) * gs + gm).clamp(0, 1)
    out = (1 - b) * x + b * local
    return out, {"stage": "intensity", "op": "local_contrast", "params": {"blend": b, "grid": grid}}


def sharpen(x, g, sigma: Sequence[float], strength: Sequence[float], spacing_mm: Sequence[float] | None = None):
    """Unsharp masking ``x + a (x - G_sigma x)``; ``sigma`` in reference voxels (x 1.5 mm, see module doc)."""
    s, a = rng.uniform(g, *sigma), rng.uniform(g, *strength)
    sig = [s * REFERENCE_SPACING_MM / v for v in voxel_spacing(x, spacing_mm)]
    out = (x + a * (x - flt.gaussian_blur(x, sig))).clamp(0, 1)
    return out, {"stage": "intensity", "op": "sharpen", "params": {"sigma": s, "strength": a}}


def intensity_stage(x, g, cfg: RampConfig) -> tuple[torch.Tensor, list[Record]]:
    """Apply each Table 1 intensity transform independently with its probability (fixed order)."""
    recs: list[Record] = []
    steps = (
        (cfg.p_gamma, lambda t: multi_gamma(t, g, cfg.gamma1, cfg.gamma2)),
        (cfg.p_window, lambda t: window_shift(t, g, cfg.window_center_shift, cfg.window_width_scale)),
        (cfg.p_histogram, lambda t: histogram_warp(t, g, cfg.histogram_degree, cfg.histogram_coef_std)),
        (cfg.p_local_contrast, lambda t: local_contrast(t, g, cfg.local_contrast_grid, cfg.local_contrast_max_blend)),
        (cfg.p_sharpen, lambda t: sharpen(t, g, cfg.sharpen_sigma, cfg.sharpen_strength, cfg.spacing_mm)),
    )
    for p, fn in steps:
        if rng.bernoulli(g, p):
            x, rec = fn(x)
            recs.append(rec)
    return x, recs


def spatial_stage(x, mask, g, cfg: RampConfig):
    """Random flips (per axis) then, with ``p_elastic``, an elastic deformation."""
    recs: list[Record] = []
    x, mask, rec = random_flip(x, mask, g, cfg.p_flip)
    if rec:
        recs.append(rec)
    if rng.bernoulli(g, cfg.p_elastic):
        x, mask, rec = elastic(x, mask, g, cfg.elastic_alpha, cfg.elastic_sigma, cfg.spacing_mm)
        recs.append(rec)
    return x, mask, recs


# ---------------------------------------------------------------- corruption sampler
def sample_corruptions(
    g: torch.Generator, p_ramp: float, k_choices: Sequence[int], pool: Sequence[str]
) -> list[tuple[str, float]]:
    """Draw ``b ~ Bernoulli(p_ramp)``; if 1, ``k ~ U(k_choices)`` operators without replacement.

    Each operator gets a severity uniform over [1, N] (its Table 2 range). Returns
    ``[(name, severity), ...]`` in application order (empty when ``b = 0``).
    """
    if not pool or not rng.bernoulli(g, p_ramp):
        return []
    k = int(k_choices[rng.randint(g, 0, len(k_choices) - 1)])
    k = min(k, len(pool))
    picked = [pool[i] for i in rng.choice(g, len(pool), k)]
    out = []
    for name in picked:
        n_levels = registry.get(name).n_levels
        out.append((name, rng.uniform(g, 1.0, float(n_levels))))
    return out


def apply_corruptions(
    x, mask, plan: Sequence[tuple[str, float]], g, spacing_mm: Sequence[float] | None = None
) -> tuple[torch.Tensor, Any, list[Record]]:
    """Apply ``plan`` sequentially (clipping after each) and record every operator and its parameters.

    ``spacing_mm`` (mm per voxel per spatial axis) reaches the CT operators' lengths; others ignore it.
    """
    recs: list[Record] = []
    for name, sev in plan:
        op = registry.get(name)
        if isinstance(op, CTCorruption):
            x, mask = op.apply_with_mask(x, mask, sev, g, spacing_mm=spacing_mm)
        else:
            x, mask = op.apply_with_mask(x, mask, sev, g)
        recs.append({"stage": "corruption", "op": name, "severity": sev, "params": op.params(sev)})
    return x, mask, recs


def ramp_sample(x, mask, g, cfg: RampConfig, pool: Sequence[str]) -> tuple[torch.Tensor, Any, list[Record]]:
    """One sample through the whole RAMP chain: spatial stage, intensity stage (each when ``cfg`` enables it),
    then ``k`` corruptions drawn from ``pool`` with probability ``cfg.p_ramp`` (lengths in mm through
    ``cfg.spacing_mm``). Returns the image, the mask (moved with it) and the records of every step."""
    recs: list[Record] = []
    if cfg.spatial:
        x, mask, r = spatial_stage(x, mask, g, cfg)
        recs += r
    if cfg.intensity:
        x, r = intensity_stage(x, g, cfg)
        recs += r
    plan = sample_corruptions(g, cfg.p_ramp, cfg.k, pool)
    x, mask, r = apply_corruptions(x, mask, plan, g, spacing_mm=cfg.spacing_mm)
    return x, mask, recs + r
