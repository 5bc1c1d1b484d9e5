"""Scatter by kernel superposition on water-equivalent thickness (REFERENCES.md §7).

Model (Ohnesorge et al. 1999, single-kernel case; Sun & Star-Lack 2010, Phys. Med. Biol. 55:6695,
amplitude form), evaluated on 2-D layers only:

1. Energy-integrated primary P(x) = Σ_E P_E(x) and open-field fluence I0(x) = Σ_E I0_E(x)·field(x).
2. Water-equivalent thickness τ(x) (cm): the water thickness whose *polychromatic* transmission under the
   field-mean flood spectrum φ_E equals P/I0 — the polychromatic form of τ = ln(I0/Ip)/μ_w
   (REFERENCES.md §7), so beam hardening does not bias τ. The water path in units of the mean free path at
   the spectrum's mean energy Ē is L = μ_w(Ē)·τ; this is where kVp enters (through μ_w(Ē) and the
   hardening curve).
3. Scatter source s(x) = P(x)·c(x), amplitude c(L) = A · L^β / (1 + (L/L_s)^β): c is the scatter-to-primary
   ratio an infinitely wide slab of that thickness would give with no air gap. It rises as A·L^β for thin parts
   (β ≈ 1: single scatter) and saturates at A·L_s^β for thick ones — the Sun & Star-Lack form
   A·T^α·(ln 1/T)^β (T = e^{−L}) kept rising through the mediastinum and put its SPR far above the
   published ≈ 9 (Niklason et al. 1981, REFERENCES §7).
4. Kernel g(r) = exp(−r²/2σ1²) + B·exp(−r²/2σ2²), normalised to unit integral, in detector-plane mm.
   Air gap g_a (patient exit surface → detector): the scatter leaves the patient from an effective depth
   h (``source_height_mm``) above the exit surface, so the kernel widths scale by (h + g_a)/h while its
   integral is kept — photons spreading past the detector or outside the irradiated region are lost,
   which lowers the SPR with the air gap, most for small fields.
5. S(x) = (s ⊗ g)(x) by one zero-padded FFT convolution. Scatter comes only from irradiated pixels, so it
   rises with field size and saturates when the field exceeds the kernel's reach (≈ 30 × 30 cm).
6. Spectrum: S is distributed over the energy bins with the source-weighted primary spectrum shape w_E,
   moved down in energy by the Compton formula E' = E / (1 + (E/m_ec²)(1 − cos θ)) at an effective
   scattering angle θ (``compton_angle_deg``, 60°: 60 → 56.7 keV, 100 → 91 keV; :func:`compton_matrix`).
   One angle stands for the spread of angles of the scatter that reaches the detector (multiple scatter
   lowers the energy further, the patient's self-filtration of the soft scatter raises it again); photon
   number is kept.
7. Grid: the scatter spectrum is multiplied by the grid's Ts(E) (``grid_Ts`` or ``grid``;
   :func:`~xraylab.physics.grid.grid_transmission`, the isotropic-radiance average behind published Ts
   values), so the scatter transmission the image gets is the grid model's Ts weighted by the scatter
   spectrum, and the contrast improvement factor of a slab is Tp/Tt of the same model
   (REFERENCES.md §6; tests/physics/test_physics_numbers.py). An earlier angular folding of the grid into
   the kernel let through 0.18–0.20 instead of the model's 0.09 (12:1) and was removed.

The default parameters are the fit of :mod:`xraylab.physics.scatter_fit` (targets, sources and the resulting
numbers are documented there); rerun ``python -m xraylab.physics.scatter_fit`` to reproduce them.
"""

from __future__ import annotations

import math

import torch
from pydantic import BaseModel, ConfigDict, Field

from xraylab.physics.attenuation import linear_attenuation


class ScatterConfig(BaseModel):
    """Scatter-kernel-superposition parameters (fitted defaults; see :mod:`xraylab.physics.scatter_fit`)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    enabled: bool = True
    amplitude_A: float = Field(0.775715, ge=0, description="amplitude A (SPR scale of an infinite slab)")
    beta: float = Field(1.45607, ge=0, le=5, description="exponent β on the water path L = μ_w τ (thin-part rise)")
    saturation_path: float = Field(
        8.0, gt=0, le=100, description="water path L_s (mean free paths) where the amplitude bends over to its "
                                       "plateau A·L_s^β"
    )
    compton_angle_deg: float = Field(
        60.0, ge=0, le=180, description="effective scattering angle of the Compton down-shift of the scatter spectrum"
    )
    sigma1_mm: float = Field(4.27497, gt=0, le=500, description="narrow kernel width σ1 at zero air gap, mm")
    sigma2_mm: float = Field(83.2057, gt=0, le=1000, description="wide kernel width σ2 at zero air gap, mm")
    weight_B: float = Field(
        0.00247875, ge=0, description="peak amplitude B of the wide kernel relative to the narrow one"
    )
    source_height_mm: float = Field(
        69.9709, gt=0, description="effective height of the scatter origin above the patient exit surface, mm"
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


def amplitude(cfg: ScatterConfig, water_path: torch.Tensor, scale: torch.Tensor | float | None = None) -> torch.Tensor:
    """c(L) = A · L^β / (1 + (L/L_s)^β) for the water path L = μ_w(Ē)·τ (dimensionless, ≥ 0).

    Rises as A·L^β for thin parts and saturates at A·L_s^β for thick ones. ``scale``: optional factor on A
    (a tensor for gradients w.r.t. the scatter amplitude).
    """
    lw = water_path.clamp_min(1e-12)
    lb = lw.pow(cfg.beta)
    a = cfg.amplitude_A if scale is None else cfg.amplitude_A * scale
    return a * lb / (1.0 + lb / cfg.saturation_path**cfg.beta)


def compton_matrix(energies_keV: torch.Tensor, angle_deg: float) -> torch.Tensor:
    """``[E, E]`` matrix moving photons of bin i to the Compton-scattered energy E' = E / (1 + (E/511)(1 − cos θ)).

    E' is split linearly between its two neighbouring bins (photon number kept); below the lowest bin it is put
    in the lowest bin. One bin (monoenergetic) → identity. Row i: where bin i's photons go.
    """
    e = torch.as_tensor(energies_keV, dtype=torch.float64).reshape(-1).cpu()
    n = e.numel()
    if n < 2 or angle_deg <= 0:
        return torch.eye(n, dtype=torch.float64)
    ep = e / (1.0 + (e / 510.99895) * (1.0 - math.cos(math.radians(angle_deg))))
    j = torch.searchsorted(e, ep).clamp(1, n - 1)
    t = ((ep - e[j - 1]) / (e[j] - e[j - 1])).clamp(0.0, 1.0)
    m = torch.zeros(n, n, dtype=torch.float64)
    rows = torch.arange(n)
    m[rows, j - 1] += 1.0 - t
    m[rows, j] += t
    return m


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
    amplitude_scale: torch.Tensor | float | None = None,
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
        grid: optional :class:`~xraylab.physics.grid.GridConfig`; when given (and enabled) its Ts(E) replaces
            ``grid_Ts``.
        amplitude_scale: optional factor on the amplitude A (float or 0-d tensor; differentiable).

    Returns:
        Scatter per energy bin after the grid (if any), same shape, dtype and device as ``primary``.
        Differentiable w.r.t. ``primary``, ``flood`` and ``amplitude_scale`` (the water-equivalent thickness is
        a piecewise-linear table inversion).
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
    lit = i0_field > 1e-6 * i0.detach().amax(dim=(-2, -1), keepdim=True).clamp_min(1e-30)
    trans = torch.where(lit, p_sum / i0_field.clamp_min(1e-30), torch.ones_like(p_sum)).clamp(1e-30, 1.0)
    # ---- water-equivalent thickness under the field-mean flood spectrum
    spec = fl.mean(dim=(0, 2, 3)).double()
    tau = water_equivalent_thickness_cm(trans, spec, energies, cfg.tau_max_cm)
    sp = spec.to(dev)
    e_mean = (sp * energies.to(dev)).sum() / sp.sum()
    mu_eff = _mu_water_interp(e_mean, energies.to(dev))
    water_path = (tau.double() * mu_eff).to(primary.dtype)
    lit = lit & (tau > 1e-3)  # < 10 µm water: rounding of P/I0 in air, no scatter
    c = amplitude(cfg, water_path, amplitude_scale)
    src = torch.where(lit, p_sum * c, torch.zeros_like(p_sum))  # [B,1,H,W]
    # ---- scatter spectrum: source-weighted primary spectrum shape w_E, Compton-shifted to lower energy
    weight = torch.where(lit, c, torch.zeros_like(c))
    w_e = torch.bmm(primary.reshape(b, e, h * w), weight.reshape(b, h * w, 1)).view(b, e)  # [B,E], no [B,E,H,W] temp
    w_e = w_e @ compton_matrix(energies, cfg.compton_angle_deg).to(device=dev, dtype=primary.dtype)
    w_e = w_e / w_e.sum(dim=1, keepdim=True).clamp_min(1e-30)
    # ---- one FFT convolution for all energy bins
    kern = scatter_kernel(cfg, geometry, (2 * h, 2 * w), device=dev).to(primary.dtype)
    s_total = _fft_convolve(src, kern).clamp_min(0.0)  # [B,1,H,W]
    if grid is not None and grid.enabled:
        from xraylab.physics.grid import grid_transmission

        grid_Ts = grid_transmission(grid, energies)[1]
    if grid_Ts is not None:
        ts = torch.as_tensor(grid_Ts, dtype=primary.dtype, device=dev).reshape(-1)
        ts = ts.expand(e) if ts.numel() == 1 else ts
        w_e = w_e * ts.view(1, e)
    return s_total * w_e.view(b, e, 1, 1)


def _mu_water_interp(e_keV: torch.Tensor, energies: torch.Tensor) -> torch.Tensor:
    """μ_water (1/cm) at ``e_keV`` (0-d tensor) by log-log interpolation on the bin energies (differentiable)."""
    mu = _mu_water_per_cm(energies).to(energies)
    if mu.numel() == 1:
        return mu[0]
    le, lm = torch.log(energies), torch.log(mu)
    x = torch.log(e_keV.clamp(float(energies.min()), float(energies.max())))
    j = torch.searchsorted(le, x.detach().reshape(1)).clamp(1, le.numel() - 1)[0]
    t = (x - le[j - 1]) / (le[j] - le[j - 1])
    return torch.exp(lm[j - 1] + t * (lm[j] - lm[j - 1]))
