"""Scatter by kernel superposition on water-equivalent thickness (REFERENCES.md §7).

Model (Ohnesorge et al. 1999, single-kernel case; Sun & Star-Lack 2010, Phys. Med. Biol. 55:6695,
amplitude form), evaluated on 2-D layers only:

1. Energy-integrated primary P(x) = Σ_E P_E(x) and open-field fluence I0(x) = Σ_E I0_E(x)·field(x).
2. Water-equivalent thickness τ(x) (cm): the water thickness whose *polychromatic* transmission under the
   field-mean flood spectrum φ_E equals P/I0 — the polychromatic form of τ = ln(I0/Ip)/μ_w
   (REFERENCES.md §7), so beam hardening does not bias τ. The water path in units of the mean free path at
   the spectrum's mean energy Ē is L = μ_w(Ē)·τ; this is where kVp enters (through μ_w(Ē) and the
   hardening curve).
3. Scatter source s(x) = P(x)·c(x), amplitude c = A · exp(−α·L) · L^β (= A·T^α·(ln 1/T)^β of Sun &
   Star-Lack with the monoenergetic-equivalent transmission T = e^{−L}). c is the scatter-to-primary ratio
   that an infinitely wide slab of that thickness would give with no air gap.
4. Kernel g(r) = exp(−r²/2σ1²) + B·exp(−r²/2σ2²), normalised to unit integral, in detector-plane mm.
   Air gap g_a (patient exit surface → detector): the scatter leaves the patient from an effective depth
   h (``source_height_mm``) above the exit surface, so the kernel widths scale by (h + g_a)/h while its
   integral is kept — photons spreading past the detector or outside the irradiated region are lost,
   which lowers the SPR with the air gap, most for small fields.
5. S(x) = (s ⊗ g)(x) by one zero-padded FFT convolution. Scatter comes only from irradiated pixels, so it
   rises with field size and saturates when the field exceeds the kernel's reach (≈ 30 × 30 cm).
6. S is distributed over the energy bins with the source-weighted primary spectrum shape w_E (one
   convolution for all bins; the Compton down-shift of a few keV is neglected).
7. Grid. With ``grid_Ts`` only, S_E is multiplied by Ts(E) (the isotropic-field average of
   :func:`~xraylab.physics.grid.grid_transmission`). With ``grid`` (a :class:`~xraylab.physics.grid.GridConfig`),
   the grid's angular selectivity is folded into the kernel (REFERENCES.md §7): scatter landing at
   offset (x, y) from its origin arrives with slopes (x/H, y/H), H = ``source_height_mm`` + air gap, and is
   weighted by the grid's angular transmission T(x/H, y/H) (:func:`~xraylab.physics.grid.angular_transmission`,
   averaged over the scatter spectrum). Local, small-angle scatter thus passes the grid better than
   scatter from distant regions, as measured behind the lungs vs. the mediastinum. The spectral shape after
   the grid follows Ts(E).

The default parameters are the fit of :mod:`xraylab.physics.scatter_fit` (targets and sources documented
there); rerun ``python -m xraylab.physics.scatter_fit`` to reproduce them. Fitted values:
A = 0.7856, α = 0.0610, β = 1.446, σ1 = 8.45 mm, σ2 = 62.7 mm, B = 0.0437, h = 85.8 mm. Resulting SPR
(120 kVp, 30 × 30 cm, no gap, no grid): 0.08 / 0.21 / 0.75 / 1.93 / 4.62 / 7.33 for 1 / 2 / 5 / 10 / 20 / 30 cm
water; 20 cm slab: 2.49 / 4.03 / 4.62 / 4.73 for 10 / 20 / 30 / 40 cm fields, 3.18 / 2.32 / 1.94 for
100 / 200 / 300 mm air gaps, 5.35 at 80 kVp. Chest phantom (``chest_pa`` geometry): scatter fraction lungs 0.54,
mediastinum 0.89 without grid; 0.26 / 0.61 with the 12:1 grid and 0.30 / 0.67 with a 10:1 grid (angular
folding); the isotropic-Ts path gives 0.13 / 0.51 (12:1) — too low in the lungs, hence the folding.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field

from xraylab.physics.attenuation import linear_attenuation


class ScatterConfig(BaseModel):
    """Scatter-kernel-superposition parameters (fitted defaults; see :mod:`xraylab.physics.scatter_fit`)."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    amplitude_A: float = Field(0.785568, ge=0, description="amplitude A (SPR scale of an infinite slab)")
    alpha: float = Field(0.0609829, ge=-5, le=5, description="exponent α on the transmission T = e^{−L}")
    beta: float = Field(1.44572, ge=0, le=5, description="exponent β on the water path L = μ_w τ")
    sigma1_mm: float = Field(8.44728, gt=0, le=500, description="narrow kernel width σ1 at zero air gap, mm")
    sigma2_mm: float = Field(62.7212, gt=0, le=1000, description="wide kernel width σ2 at zero air gap, mm")
    weight_B: float = Field(
        0.043668, ge=0, description="peak amplitude B of the wide kernel relative to the narrow one"
    )
    source_height_mm: float = Field(
        85.8375, gt=0, description="effective height of the scatter origin above the patient exit surface, mm"
    )
    air_gap_mm: float | None = Field(
        None, ge=0, description="patient exit surface – detector distance, mm; None = OID − patient_half_thickness_mm"
    )
    patient_half_thickness_mm: float = Field(
        110.0, ge=0, description="isocenter – exit surface distance used when air_gap_mm is None, mm"
    )
    tau_max_cm: float = Field(60.0, gt=0, le=200, description="largest water-equivalent thickness tabulated, cm")


# ---------------------------------------------------------------------------------------------- helpers
def _mu_water_per_cm(energies_keV: torch.Tensor) -> torch.Tensor:
    e = energies_keV.detach().cpu().double().numpy()
    return torch.as_tensor(linear_attenuation("water", e), dtype=torch.float64)


def air_gap_mm(cfg: ScatterConfig, geometry) -> float:
    """Air gap between the patient exit surface and the detector, mm."""
    if cfg.air_gap_mm is not None:
        return cfg.air_gap_mm
    return max(0.0, geometry.oid_mm - cfg.patient_half_thickness_mm)


def kernel_widths_mm(cfg: ScatterConfig, geometry) -> tuple[float, float]:
    """Kernel widths (σ1, σ2) at the detector for the configured air gap, mm."""
    s = (cfg.source_height_mm + air_gap_mm(cfg, geometry)) / cfg.source_height_mm
    return cfg.sigma1_mm * s, cfg.sigma2_mm * s


def amplitude(cfg: ScatterConfig, water_path: torch.Tensor) -> torch.Tensor:
    """c(L) = A · exp(−α L) · L^β for the water path L = μ_w(Ē)·τ (dimensionless, ≥ 0)."""
    lw = water_path.clamp_min(0.0)
    return cfg.amplitude_A * torch.exp(-cfg.alpha * lw) * lw.pow(cfg.beta)


def scatter_kernel(cfg: ScatterConfig, geometry, shape: tuple[int, int], device=None) -> torch.Tensor:
    """Kernel on the FFT grid ``shape`` (wrap-around offsets), float32, pixel-area-weighted to unit integral."""
    s1, s2 = kernel_widths_mm(cfg, geometry)
    p = geometry.pitch_mm
    n0, n1 = shape
    o0 = torch.fft.fftfreq(n0, d=1.0 / n0, dtype=torch.float32, device=device) * p
    o1 = torch.fft.fftfreq(n1, d=1.0 / n1, dtype=torch.float32, device=device) * p
    r2 = o0.view(-1, 1) ** 2 + o1.view(1, -1) ** 2
    g = torch.exp(-r2 / (2 * s1**2)) + cfg.weight_B * torch.exp(-r2 / (2 * s2**2))
    g = g * (p * p) / (2 * math.pi * (s1**2 + cfg.weight_B * s2**2))
    return g


def water_equivalent_thickness_cm(
    transmission: torch.Tensor, spectrum: torch.Tensor, energies_keV: torch.Tensor, tau_max_cm: float = 60.0
) -> torch.Tensor:
    """Invert the polychromatic water transmission: τ (cm) with Σφ e^{−μ_w τ}/Σφ = ``transmission``.

    ``transmission`` any shape (values in (0, 1]); ``spectrum`` ``[E]`` fluence weights; returns τ, same shape.
    """
    mu = _mu_water_per_cm(energies_keV).to(transmission.device)
    phi = spectrum.double().to(transmission.device)
    phi = phi / phi.sum()
    tau_grid = torch.linspace(0.0, tau_max_cm, 961, dtype=torch.float64, device=transmission.device)
    logt = -torch.log((phi.view(1, -1) * torch.exp(-tau_grid.view(-1, 1) * mu.view(1, -1))).sum(1))
    lq = -torch.log(transmission.double().clamp(1e-30, 1.0))
    idx = torch.searchsorted(logt, lq.reshape(-1)).clamp(1, tau_grid.numel() - 1)
    x0, x1 = logt[idx - 1], logt[idx]
    t = ((lq.reshape(-1) - x0) / (x1 - x0)).clamp(0.0, 1.0)
    tau = tau_grid[idx - 1] + t * (tau_grid[idx] - tau_grid[idx - 1])
    return tau.reshape(transmission.shape).to(transmission.dtype)


def _fft_convolve(src: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Linear convolution of ``src`` ``[N, 1, H, W]`` with a wrap-around kernel on the padded grid ``[2H, 2W]``."""
    h, w = src.shape[-2:]
    kf = torch.fft.rfft2(kernel)
    sf = torch.fft.rfft2(src, s=kernel.shape)
    out = torch.fft.irfft2(sf * kf, s=kernel.shape)
    return out[..., :h, :w]


# ---------------------------------------------------------------------------------------------- main entry
def scatter_estimate(
    primary: torch.Tensor,
    flood: torch.Tensor,
    energies_keV: torch.Tensor,
    geometry,
    cfg: ScatterConfig,
    field: torch.Tensor | None = None,
    grid_Ts: float | torch.Tensor | None = None,
    grid=None,
) -> torch.Tensor:
    """Scatter reaching the detector, ``[B, E, H, W]``, in the units of ``primary``.

    Args:
        primary: primary fluence per energy bin at the detector entrance (patient exit, collimation applied,
            before any grid), ``[B, E, H, W]``; any unit additive over bins (photons/pixel, photons/mm², ...).
        flood: unattenuated open-field fluence in the same units, broadcastable to ``primary``
            (e.g. ``[E]``, ``[1, E, 1, 1]`` or ``[1, E, H, W]``).
        energies_keV: bin energies ``[E]`` (keV).
        geometry: :class:`~xraylab.physics.geometry.Geometry` (pitch, OID for the air gap).
        cfg: :class:`ScatterConfig`; a disabled config returns zeros.
        field: collimated field ``[1, 1, H, W]`` in [0, 1] (:func:`~xraylab.physics.collimation.collimation_field`)
            or None (open field). Pixels outside it emit no scatter.
        grid_Ts: scatter transmission of the grid, a float or ``[E]`` (:func:`~xraylab.physics.grid.grid_transmission`);
            None = no grid.
        grid: optional :class:`~xraylab.physics.grid.GridConfig`; when given (and enabled) it replaces
            ``grid_Ts`` and folds the grid's angular selectivity into the kernel (module docstring, step 7).
            This is the physically preferred path; ``grid_Ts`` alone applies the isotropic average.

    Returns:
        Scatter per energy bin after the grid (if any), same shape, dtype and device as ``primary``.
    """
    if primary.dim() != 4:
        raise ValueError(f"primary must be [B, E, H, W], got shape {tuple(primary.shape)}")
    if not cfg.enabled:
        return torch.zeros_like(primary)
    b, e, h, w = primary.shape
    dev = primary.device
    energies = torch.as_tensor(energies_keV).detach().to("cpu", torch.float64).reshape(-1)
    fl = torch.as_tensor(flood, dtype=primary.dtype, device=dev)
    fl = fl.reshape(1, e, 1, 1) if fl.dim() == 1 else fl
    if fl.dim() != 4 or fl.shape[1] != e:
        raise ValueError(
            f"flood must be [E] or broadcastable [*, E, *, *] to {tuple(primary.shape)}, got {tuple(fl.shape)}"
        )
    # ---- energy-integrated layers (flood reduced before broadcasting: [E] floods cost nothing per pixel)
    p_sum = primary.sum(dim=1, keepdim=True)  # [B,1,H,W]
    i0 = fl.sum(dim=1, keepdim=True)
    i0_field = i0 * field.to(device=dev, dtype=primary.dtype) if field is not None else i0
    lit = i0_field > 1e-6 * i0.amax(dim=(-2, -1), keepdim=True).clamp_min(1e-30)
    trans = torch.where(lit, p_sum / i0_field.clamp_min(1e-30), torch.ones_like(p_sum)).clamp(1e-30, 1.0)
    # ---- water-equivalent thickness under the field-mean flood spectrum
    spec = fl.mean(dim=(0, 2, 3)).double()
    tau = water_equivalent_thickness_cm(trans, spec, energies, cfg.tau_max_cm)
    e_mean = float((spec.cpu() * energies).sum() / spec.cpu().sum())
    mu_eff = float(linear_attenuation("water", np.array([e_mean]))[0])
    water_path = (tau.double() * mu_eff).to(primary.dtype)
    lit = lit & (tau > 1e-3)  # < 10 µm water: rounding of P/I0 in air, no scatter
    src = torch.where(lit, p_sum * amplitude(cfg, water_path), torch.zeros_like(p_sum))  # [B,1,H,W]
    # ---- scatter spectrum before the grid: source-weighted primary spectrum shape w_E
    weight = torch.where(p_sum > 0, src / p_sum.clamp_min(1e-30), torch.zeros_like(src))
    w_e = torch.bmm(primary.reshape(b, e, h * w), weight.reshape(b, h * w, 1)).view(b, e)  # [B,E], no [B,E,H,W] temp
    w_e = w_e / w_e.sum(dim=1, keepdim=True).clamp_min(1e-30)
    # ---- one FFT convolution for all energy bins
    kern = scatter_kernel(cfg, geometry, (2 * h, 2 * w), device=dev).to(primary.dtype)
    use_grid = grid is not None and grid.enabled
    if use_grid:
        from xraylab.physics.grid import grid_transmission

        t_ang = _angular_table(grid, energies)  # [E, nx, ny]
        w_mean = w_e.mean(0).double().cpu().numpy()
        kern = kern * _fold_weights(grid, t_ang, w_mean, cfg, geometry, kern.shape).to(kern)
        ts = grid_transmission(grid, energies)[1].to(device=dev, dtype=primary.dtype)
        w_after = w_e * ts.view(1, e)
        w_e = w_after / w_after.sum(dim=1, keepdim=True).clamp_min(1e-30)
    s_total = _fft_convolve(src, kern).clamp_min(0.0)  # [B,1,H,W]
    if not use_grid and grid_Ts is not None:
        ts = torch.as_tensor(grid_Ts, dtype=primary.dtype, device=dev).reshape(-1)
        ts = ts.expand(e) if ts.numel() == 1 else ts
        w_e = w_e * ts.view(1, e)
    return s_total * w_e.view(b, e, 1, 1)


_TAN_MAX = 8.0
_NX, _NY = 160, 48


@functools.lru_cache(maxsize=16)
def _angular_table_cached(grid_json: str, energies: tuple[float, ...]) -> np.ndarray:
    from xraylab.physics.grid import GridConfig, angular_transmission

    grid = GridConfig.model_validate_json(grid_json)
    tx = _TAN_MAX * (np.arange(_NX) / (_NX - 1)) ** 2
    ty = _TAN_MAX * (np.arange(_NY) / (_NY - 1)) ** 2
    txx, tyy = np.meshgrid(tx, ty, indexing="ij")
    t = angular_transmission(grid, np.asarray(energies), txx.ravel(), tyy.ravel(), n_positions=128)
    return t.reshape(len(energies), _NX, _NY)


def _angular_table(grid, energies: torch.Tensor) -> np.ndarray:
    """Grid transmission ``[E, NX, NY]`` on slopes tan_x, tan_y = 8·(i/(N−1))² (across, along the strips)."""
    return _angular_table_cached(grid.model_dump_json(), tuple(float(x) for x in energies.tolist()))


def _interp_index(t: torch.Tensor, n: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Lower index, upper index and fraction of slopes ``t`` on the quadratic table axis of ``n`` points."""
    q = torch.sqrt((t.abs() / _TAN_MAX).clamp(0.0, 1.0)) * (n - 1)
    i0 = q.floor().long().clamp(0, n - 2)
    return i0, i0 + 1, (q - i0).clamp(0.0, 1.0)


def _fold_weights(grid, table: np.ndarray, w_e: np.ndarray, cfg: ScatterConfig, geometry, shape) -> torch.Tensor:
    """Grid transmission of each kernel offset, ``[2H, 2W]`` float32 (slopes offset / H, spectrum-averaged)."""
    t = torch.as_tensor(np.tensordot(w_e / max(w_e.sum(), 1e-30), table, axes=1), dtype=torch.float32)  # [NX, NY]
    height = cfg.source_height_mm + air_gap_mm(cfg, geometry)
    p = geometry.pitch_mm
    n0, n1 = shape
    o_v = torch.fft.fftfreq(n0, d=1.0 / n0, dtype=torch.float32) * p / height  # rows (v)
    o_u = torch.fft.fftfreq(n1, d=1.0 / n1, dtype=torch.float32) * p / height  # cols (u)
    vv, uu = torch.meshgrid(o_v, o_u, indexing="ij")
    across, along = (uu, vv) if grid.orientation == "vertical" else (vv, uu)
    i0, i1, fx = _interp_index(across, _NX)
    j0, j1, fy = _interp_index(along, _NY)
    return ((1 - fx) * (1 - fy) * t[i0, j0] + fx * (1 - fy) * t[i1, j0]
            + (1 - fx) * fy * t[i0, j1] + fx * fy * t[i1, j1])
