"""Indirect flat-panel detector: scintillator absorption, quantum noise, MTF, electronics.

Order of operations (per pixel, energy bins E):
1. absorbed quanta q(E) = Φ(E)·η(E), η(E) = 1 − exp(−(μ/ρ)(E)·ρ·t·f) from xraydb (REFERENCES.md §8);
2. detector signal weight: absorbed energy E (energy integrating) or 1 above a threshold (photon counting);
3. pixel aperture applied to the expected signal (it is point-sampled by the projector): sinc(p·fx)·sinc(p·fy);
4. Poisson quantum noise in absorbed quanta, *before* the scintillator blur, so the NPS falls with the MTF²;
   the energy-weighted sum of Poisson counts is drawn as a scaled Poisson with exact mean and variance
   (s·Poisson(m/s), s = Σq E² / Σq E: mean m, variance Σq E²), times 1/A for the optical Swank factor A;
5. scintillator blur exp(−a·f) (REFERENCES.md §8: MTF = sinc(p f)·exp(−a f), a = 0.494 mm for CsI 139 µm);
6. per-pixel gain, electronic noise (Gaussian; given as its noise-equivalent air kerma, calibrated against the
   quantum noise as it is in the image, i.e. after the blur and with the Swank factor), offset, saturation,
   quantisation to the bit depth, optional dead pixels and lines.
Outputs: raw signal (ADU) and the flat-field-normalised image (raw − offset) / (flood − offset).
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field

from xraylab.physics.attenuation import DENSITIES, mass_attenuation


class DetectorConfig(BaseModel):
    """Flat-panel detector. Defaults: CsI:Tl 600 µm, packing 0.8, 16 bit, saturation 64 µGy (REFERENCES.md §1, §8)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    scintillator: Literal["CsI", "Gd2O2S", "ideal"] = Field(
        "CsI", description="CsI (CsI:Tl), Gd2O2S, or ideal (every photon absorbed)"
    )
    thickness_um: float = Field(600.0, gt=0, le=3000, description="scintillator thickness, µm")
    packing_fraction: float = Field(0.8, gt=0, le=1, description="fill factor of the scintillator layer")
    areal_density_mg_cm2: float | None = Field(
        None, gt=0, le=1000, description="scintillator coating weight, mg/cm²; overrides thickness × packing"
    )
    mode: Literal["energy_integrating", "photon_counting"] = "energy_integrating"
    threshold_keV: float = Field(20.0, ge=0, le=150, description="photon-counting energy threshold, keV")
    quantum_noise: bool = True
    optical_swank: float = Field(
        0.85, gt=0, le=1,
        description="optical Swank factor of the scintillator (light-yield spread): quantum noise variance × 1/A. "
                    "0.85 puts DQE(0) of CsI 600 µm at RQA5 at ≈ 0.73 (REFERENCES.md §8: 0.6–0.75)",
    )
    mtf_a_mm: float = Field(0.494, ge=0, le=10, description="scintillator blur: MTF factor exp(−a·f), a in mm")
    aperture: bool = Field(True, description="pixel-aperture MTF sinc(p·f) on the expected signal")
    pixel_pitch_mm: float = Field(
        0.139, gt=0, le=5,
        description="native detector pixel pitch, mm; renders at a coarser pitch are binned native pixels",
    )
    electronic_noise_ugy: float = Field(
        0.02, ge=0, le=10,
        description="electronic-noise-equivalent air kerma, µGy: the kerma at which the quantum noise variance "
                    "of a pixel equals the electronic noise variance",
    )
    gain_nonuniformity: float = Field(0.0, ge=0, le=0.5, description="std of per-pixel relative gain (flat-fielded)")
    saturation_ugy: float = Field(64.0, gt=0, le=1e4, description="air kerma that fills the ADC range, µGy")
    offset_adu: float = Field(100.0, ge=0, le=1e6, description="dark offset, ADU")
    bit_depth: int = Field(16, ge=0, le=32, description="ADC bits; 0 = no quantisation (float)")
    dead_pixel_fraction: float = Field(0.0, ge=0, le=0.1, description="fraction of dead (zero) pixels")
    dead_lines: int = Field(0, ge=0, le=64, description="number of dead rows/columns")

    def areal_density_g_cm2(self) -> float:
        """Effective scintillator mass thickness ρ·t·f in g/cm²."""
        if self.areal_density_mg_cm2 is not None:
            return self.areal_density_mg_cm2 / 1000.0
        rho = DENSITIES.get(self.scintillator, 1.0)
        return rho * self.thickness_um * 1e-4 * self.packing_fraction


def absorption_efficiency(cfg: DetectorConfig, energies_keV) -> np.ndarray:
    """Quantum absorption efficiency η(E) = 1 − exp(−(μ/ρ)·ρ·t·f), ``[E]`` (REFERENCES.md §8)."""
    e = np.asarray(energies_keV.detach().cpu() if isinstance(energies_keV, torch.Tensor) else energies_keV,
                   dtype=np.float64)
    if cfg.scintillator == "ideal":
        return np.ones_like(e)
    return 1.0 - np.exp(-mass_attenuation(cfg.scintillator, e) * cfg.areal_density_g_cm2())


def signal_weights(cfg: DetectorConfig, energies_keV: torch.Tensor) -> torch.Tensor:
    """Expected signal per incident photon in each bin, ``[E]`` float32.

    Energy integrating: η(E)·E (keV absorbed); photon counting: η(E)·[E ≥ threshold] (counts).
    """
    return moment_weights(cfg, energies_keV)[0]


def _freqs(h: int, w: int, pitch_mm: float, device) -> tuple[torch.Tensor, torch.Tensor]:
    fy = torch.fft.fftfreq(h, d=pitch_mm, device=device).view(-1, 1)
    fx = torch.fft.rfftfreq(w, d=pitch_mm, device=device).view(1, -1)
    return fy, fx


def mtf(cfg: DetectorConfig, f_cycles_mm, pitch_mm: float, aperture: bool | None = None):
    """Configured 1-D MTF(f) = sinc(p f)·exp(−a f) at ``f`` cycles/mm for a render at ``pitch_mm``.

    p = max(pitch_mm, native pitch); the aperture term only if enabled (REFERENCES.md §8).
    """
    f = torch.as_tensor(f_cycles_mm, dtype=torch.float64)
    out = torch.exp(-cfg.mtf_a_mm * f.abs())
    if cfg.aperture if aperture is None else aperture:
        out = out * torch.sinc(max(pitch_mm, cfg.pixel_pitch_mm) * f)
    return out


def _filter(x: torch.Tensor, pitch_mm: float, a_mm: float | torch.Tensor, aperture: bool,
            aperture_mm: float | None = None) -> torch.Tensor:
    """Apply exp(−a|f|) (radial) and optionally sinc(w fx)·sinc(w fy) (w = ``aperture_mm``, default the pitch)
    to ``x [B, C, H, W]`` sampled at ``pitch_mm`` (reflect-padded FFT). ``a_mm`` may be a tensor (differentiable)."""
    w_ap = pitch_mm if aperture_mm is None else aperture_mm
    a_val = float(a_mm.detach()) if isinstance(a_mm, torch.Tensor) else a_mm
    if a_val <= 0 and not aperture and not isinstance(a_mm, torch.Tensor):
        return x
    b, c, h, w = x.shape
    pad = min(max(8, int(math.ceil(8 * max(a_val, 0.0) / pitch_mm))), h - 1, w - 1)
    xp = torch.nn.functional.pad(x.reshape(b * c, 1, h, w), (pad, pad, pad, pad), mode="reflect") if pad > 0 \
        else x.reshape(b * c, 1, h, w)
    hp, wp = xp.shape[-2:]
    fy, fx = _freqs(hp, wp, pitch_mm, x.device)
    fy, fx = fy.to(xp.dtype), fx.to(xp.dtype)
    fr = torch.sqrt(fx**2 + fy**2)
    tf = torch.exp(-a_mm.to(fr) * fr) if isinstance(a_mm, torch.Tensor) else torch.exp(-a_mm * fr)
    if aperture:
        tf = tf * torch.sinc(w_ap * fx) * torch.sinc(w_ap * fy)
    y = torch.fft.irfft2(torch.fft.rfft2(xp) * tf.to(xp.dtype), s=(hp, wp))
    if pad > 0:
        y = y[..., pad:pad + h, pad:pad + w]
    return y.reshape(b, c, h, w)


def blur_variance_factor(a_mm: float | torch.Tensor, pitch_mm: float, shape: tuple[int, int]
                         ) -> float | torch.Tensor:
    """Variance of white noise after the scintillator blur exp(−a|f|) relative to before, on an ``shape`` grid
    sampled at ``pitch_mm``: the mean of |MTF|² over the grid's discrete frequencies (≤ 1; 1 for a = 0).
    A tensor ``a_mm`` gives a (differentiable) tensor."""
    h, w = shape
    fy = torch.fft.fftfreq(h, d=pitch_mm, dtype=torch.float64).view(-1, 1)
    fx = torch.fft.fftfreq(w, d=pitch_mm, dtype=torch.float64).view(1, -1)
    fr = torch.sqrt(fx**2 + fy**2)
    if isinstance(a_mm, torch.Tensor):
        return torch.exp(-2.0 * a_mm.to(device="cpu", dtype=torch.float64) * fr).mean().to(a_mm)
    if a_mm <= 0:
        return 1.0
    return float(torch.exp(-2.0 * a_mm * fr).mean())


def expected_signal(fluence: torch.Tensor, energies_keV: torch.Tensor, cfg: DetectorConfig) -> torch.Tensor:
    """Expected (noise-free, unblurred) detector signal ``[B, 1, H, W]`` from photons ``[B, E, H, W]``."""
    w = signal_weights(cfg, energies_keV).to(fluence.device)
    return torch.einsum("behw,e->bhw", fluence, w).unsqueeze(1)


def moment_weights(cfg: DetectorConfig, energies_keV: torch.Tensor) -> torch.Tensor:
    """Per-bin weights ``[2, E]`` of the two signal moments the detector needs.

    Row 0: expected signal per incident photon, η(E)·c(E); row 1: η(E)·c(E)² (variance of the signal per incident
    photon for Poisson absorption), with c the signal per absorbed photon (E, or 1 above the counting threshold).
    Both are linear in the fluence, so anything linear and energy-independent (focal-spot blur, collimation,
    grid cut-off) can be applied to the two moment maps instead of to every energy bin.
    """
    eta = torch.as_tensor(absorption_efficiency(cfg, energies_keV), dtype=torch.float32, device=energies_keV.device)
    if cfg.mode == "photon_counting":
        c = (energies_keV >= cfg.threshold_keV).to(torch.float32)
    else:
        c = energies_keV.to(torch.float32)
    return torch.stack([eta * c, eta * c * c])


def signal_moments(fluence: torch.Tensor, energies_keV: torch.Tensor, cfg: DetectorConfig,
                   bin_factor: torch.Tensor | None = None) -> torch.Tensor:
    """Moment maps ``[B, 2, H, W]`` (see :func:`moment_weights`) of photons ``[B, E, H, W]``.

    ``bin_factor``: optional ``[E]`` factor folded into the weights (e.g. the grid's Tp(E)).
    """
    w = moment_weights(cfg, energies_keV).to(fluence.device)
    if bin_factor is not None:
        w = w * bin_factor.to(w).view(1, -1)
    return torch.einsum("behw,ke->bkhw", fluence, w)


class DetectorOutput(dict):
    """Dict of detector layers: ``signal`` (raw ADU, noisy), ``normalized`` (flat-field corrected, noisy),
    ``noise_free`` (flat-field corrected, blurred, no noise), ``uncorrected`` (offset-corrected, divided by the
    flood maximum only), all ``[B, 1, H, W]`` float32."""


def detect(
    fluence: torch.Tensor,
    energies_keV: torch.Tensor,
    flood: torch.Tensor,
    cfg: DetectorConfig,
    pitch_mm: float,
    ugy_per_signal: float | torch.Tensor,
    generator: torch.Generator | None = None,
) -> DetectorOutput:
    """Turn photons per pixel and bin into detector images.

    fluence: ``[B, E, H, W]`` photons reaching the scintillator (primary + scatter, after grid);
    flood: the expected unblurred signal of the open field (``[1 or B, 1, H, W]``, from :func:`expected_signal`
    of the unattenuated fluence), used for the gain calibration (flat field); ugy_per_signal: air kerma (µGy)
    per unit of expected signal on the central ray of the flood, for electronic noise and saturation.
    ``generator``: explicit ``torch.Generator`` for the noise (a fixed-seed one is made if None).
    """
    return detect_moments(signal_moments(fluence, energies_keV, cfg), flood, cfg, pitch_mm, ugy_per_signal, generator)


def detect_moments(
    moments: torch.Tensor,
    flood: torch.Tensor,
    cfg: DetectorConfig,
    pitch_mm: float,
    ugy_per_signal: float | torch.Tensor,
    generator: torch.Generator | None = None,
    mtf_a_mm: torch.Tensor | None = None,
) -> DetectorOutput:
    """:func:`detect` on precomputed moment maps ``[B, 2, H, W]`` (:func:`signal_moments`).

    Differentiable w.r.t. ``moments``, ``flood``, ``ugy_per_signal`` and ``mtf_a_mm`` (a tensor replacing
    ``cfg.mtf_a_mm``): Poisson noise through :func:`~xraylab.physics.differentiable.poisson_reparam`,
    quantisation straight-through.
    """
    from xraylab.physics.differentiable import poisson_reparam, straight_through_round

    dev = moments.device
    a_mm: float | torch.Tensor = cfg.mtf_a_mm if mtf_a_mm is None else mtf_a_mm
    if generator is None:
        generator = torch.Generator(device=dev).manual_seed(0)
    mean = moments[:, :1]
    # Aperture: the render pixel (a bin of native pixels) or the native pixel when rendering finer than it.
    ap_mm = max(pitch_mm, cfg.pixel_pitch_mm)
    mean_ap = _filter(mean, pitch_mm, 0.0, cfg.aperture, ap_mm)
    noise_free = _filter(mean_ap, pitch_mm, a_mm, False)
    ok = mean > 0
    s_map = torch.where(ok, moments[:, 1:] / mean.clamp_min(1e-30), torch.ones_like(mean))
    if cfg.quantum_noise:
        # Optical Swank factor: variance / A at the same mean → larger effective quanta.
        s = s_map / cfg.optical_swank
        lam = torch.where(ok, mean_ap.clamp_min(0) / s, torch.zeros_like(s))
        noisy = s * poisson_reparam(lam, generator)
        noisy = _filter(noisy, pitch_mm, a_mm, False)
    else:
        noisy = noise_free
    # Electronics: full scale (2^bits − 1 − offset) ↔ saturation air kerma.
    full = float(2**cfg.bit_depth - 1) if cfg.bit_depth > 0 else 65535.0
    gain = (full - cfg.offset_adu) / (cfg.saturation_ugy / ugy_per_signal)  # ADU per signal unit
    g_map = torch.ones_like(noisy[:1])
    if cfg.gain_nonuniformity > 0:
        g_map = 1.0 + cfg.gain_nonuniformity * torch.randn(noisy[:1].shape, generator=generator, device=dev)
    raw = gain * g_map * noisy + cfg.offset_adu
    if cfg.electronic_noise_ugy > 0:
        # Calibrated where it is added, after the scintillator blur: its variance equals the variance the quantum
        # noise has *in the image* at kerma K_e — (s/A)·K_e/ugy_per_signal in signal units² (Poisson in quanta of
        # size s, optical Swank factor A) times the white-noise variance reduction of the blur on this pixel grid
        # (blur_variance_factor). A render pixel summing n native pixels has n× the native variance of both.
        s_ref = s_map[ok].median() if bool(ok.any()) else torch.ones((), device=dev)
        s_ref = s_ref.clamp_min(0.0) / cfg.optical_swank
        vrf = blur_variance_factor(a_mm, pitch_mm, (raw.shape[-2], raw.shape[-1]))
        var = s_ref * vrf * cfg.electronic_noise_ugy / ugy_per_signal
        sigma_adu = gain * torch.sqrt(torch.as_tensor(var, dtype=raw.dtype, device=dev))
        raw = raw + sigma_adu * torch.randn(raw.shape, generator=generator, device=dev)
    if cfg.bit_depth > 0:
        raw = straight_through_round(raw).clamp(0.0, full)
    if cfg.dead_pixel_fraction > 0 or cfg.dead_lines > 0:
        raw = raw * defect_mask(raw.shape, cfg, generator, dev)
    flood_raw = gain * g_map * _filter(_filter(flood, pitch_mm, 0.0, cfg.aperture, ap_mm), pitch_mm, a_mm, False)
    denom = flood_raw.clamp_min(1e-12)
    out = DetectorOutput()
    out["signal"] = raw
    out["normalized"] = (raw - cfg.offset_adu) / denom
    out["noise_free"] = gain * g_map * noise_free / denom
    # Without flat-field correction: offset removed, divided by the flood's maximum only (heel, cut-off, gain
    # non-uniformity and obliquity stay visible).
    out["uncorrected"] = (raw - cfg.offset_adu) / flood_raw.amax(dim=(-2, -1), keepdim=True).clamp_min(1e-12)
    return out


def defect_mask(shape, cfg: DetectorConfig, generator: torch.Generator, device) -> torch.Tensor:
    """Multiplicative mask ``shape`` with zeros at dead pixels and dead lines (same for the whole batch)."""
    b, c, h, w = shape
    m = torch.ones(1, 1, h, w, device=device)
    if cfg.dead_pixel_fraction > 0:
        m = m * (torch.rand((1, 1, h, w), generator=generator, device=device) >= cfg.dead_pixel_fraction).float()
    for _ in range(cfg.dead_lines):
        which = int(torch.randint(0, 2, (1,), generator=generator, device=device))
        if which == 0:
            m[..., int(torch.randint(0, h, (1,), generator=generator, device=device)), :] = 0.0
        else:
            m[..., int(torch.randint(0, w, (1,), generator=generator, device=device))] = 0.0
    return m
