"""Physics-based radiograph corruptions (Ward & Imran, §3.1, eq. 1-8; physics in Appendix B).

Each class follows its equation term by term on ``[B, C, H, W]`` tensors in [0, 1]
(display convention: bright = attenuating). Four severity levels each; level 0
is the identity. Pixel-valued parameters (``*_px``) are given for a 256 x 256
image and scaled with the image size (:func:`xraylab.degrade.base.size_scale`),
so a level looks the same at any resolution, as in the paper's Figure 6.

Random structure (grid orientation and period, motion direction) is drawn once
per call and shared by the batch; noise fields are independent per pixel and
sample. Draws happen in the same order at every severity, so one seed gives a
coupled series of levels.
"""

from __future__ import annotations

import math

import torch

from xraylab.degrade import filters as flt
from xraylab.degrade import rng
from xraylab.degrade.base import Corruption, size_scale
from xraylab.degrade.registry import register


def _noise(x: torch.Tensor, sigma: float, g: torch.Generator) -> torch.Tensor:
    """Additive ``N(0, sigma^2)`` noise field (always drawn, so the stream is severity-independent)."""
    n = rng.randn(x.shape, g, x)
    return x + sigma * n


@register
class AcquisitionGeometry(Corruption):
    """Suboptimal acquisition geometry, eq. 1: ``E_lambda[alpha M_s(I * h_sigma) + (1 - alpha) I]``.

    * ``h_sigma``: Gaussian focal-spot PSF, ``sigma_px`` grows with the geometric
      unsharpness ``U_g = F * OID / SOD`` (eq. 15);
    * ``M_s``: magnification about the centre and crop back to size; ``scale`` is
      ``M = SID / SOD`` (eq. 14) for SID = 1500 mm and OID = 60, 120, 180, 240 mm
      (M = 1.042, 1.087, 1.136, 1.190);
    * ``alpha``: weight of the magnified, blurred primary image against the original
      (global contrast / detector-response modulation);
    * ``E_lambda``: mild unsharp-mask edge enhancement ``I + lambda (I - I * h_1)``,
      the automatic sharpness correction, strongest at the mildest level.

    Spatial: the magnified component dominates (alpha > 0.5), so masks are magnified
    with the same ``M_s`` (nearest neighbour).

    =====  ========  ========  =====  ======
    level  scale     sigma_px  alpha  lambda
    =====  ========  ========  =====  ======
    0      1.000     0.0       0.00   0.00
    1      1.042     0.8       0.55   0.30
    2      1.087     1.6       0.65   0.20
    3      1.136     2.4       0.75   0.10
    4      1.190     3.2       0.85   0.00
    =====  ========  ========  =====  ======
    """

    name = "acquisition_geometry"
    modalities = ("xray",)
    spatial = True
    description = "focal-spot PSF, magnification + crop, contrast mix, mild edge enhancement (W&I eq. 1)"
    SID_MM = 1500.0
    table = {
        "oid_mm": (0.0, 60.0, 120.0, 180.0, 240.0),
        "scale": (1.0, 1500 / 1440, 1500 / 1380, 1500 / 1320, 1500 / 1260),
        "sigma_px": (0.0, 0.8, 1.6, 2.4, 3.2),
        "alpha": (0.0, 0.55, 0.65, 0.75, 0.85),
        "edge_lambda": (0.0, 0.30, 0.20, 0.10, 0.0),
    }

    def _apply(self, x, p, g):
        k = size_scale(x)
        primary = flt.magnify(flt.gaussian_blur(x, p["sigma_px"] * k), p["scale"])
        mixed = p["alpha"] * primary + (1.0 - p["alpha"]) * x
        if p["edge_lambda"] > 0:
            mixed = mixed + p["edge_lambda"] * (mixed - flt.gaussian_blur(mixed, 1.0 * k))
        return mixed

    def transform_mask(self, mask, p):
        # The mask follows whichever image dominates the α-mix: the magnified one once α ≥ 0.5 (every
        # discrete level), the original one at the small fractional severities used in augmentation.
        if p["alpha"] < 0.5:
            return mask
        return flt.magnify(mask, p["scale"], mode="nearest")


@register
class AntiScatterGrid(Corruption):
    """Misconfigured anti-scatter grid, eq. 2-3.

    ``I_c = eta [(1 - gamma) I + gamma (I * h_sigma)] [1 - delta G_theta] + N(0, sigma_n^2)``,
    ``G_theta(x, y) = sin^2(2 pi / Delta (x cos theta - y sin theta))``.

    ``gamma`` is the scatter fraction reaching the detector, ``SPR / (1 + SPR)``;
    ``h_sigma`` a broad Gaussian (``scatter_sigma_px`` = 24) for the low-frequency
    scatter field; ``eta`` the primary transmission of the grid; ``delta`` the
    grid-line amplitude; the orientation ``theta ~ U[0, pi)`` and period
    ``Delta ~ U[4, 10]`` px are random; ``sigma_n`` the dose-related noise.

    =====  =====  =====  =====  =======
    level  gamma  eta    delta  sigma_n
    =====  =====  =====  =====  =======
    1      0.15   0.95   0.05   0.005
    2      0.25   0.90   0.10   0.010
    3      0.35   0.85   0.15   0.015
    4      0.45   0.80   0.20   0.020
    =====  =====  =====  =====  =======
    """

    name = "anti_scatter_grid"
    modalities = ("xray",)
    description = "scatter mix, grid attenuation, sin^2 grid lines of random orientation/period, noise (W&I eq. 2-3)"
    PERIOD_RANGE_PX = (4.0, 10.0)
    table = {
        "gamma": (0.0, 0.15, 0.25, 0.35, 0.45),
        "scatter_sigma_px": (24.0, 24.0, 24.0, 24.0, 24.0),
        "eta": (1.0, 0.95, 0.90, 0.85, 0.80),
        "delta": (0.0, 0.05, 0.10, 0.15, 0.20),
        "noise_sigma": (0.0, 0.005, 0.010, 0.015, 0.020),
    }

    def _apply(self, x, p, g):
        k = size_scale(x)
        theta = rng.uniform(g, 0.0, math.pi)
        period = rng.uniform(g, *self.PERIOD_RANGE_PX) * k
        scatter = flt.gaussian_blur(x, p["scatter_sigma_px"] * k)
        mixed = (1.0 - p["gamma"]) * x + p["gamma"] * scatter
        h, w = x.shape[-2:]
        yy = torch.arange(h, device=x.device, dtype=x.dtype)[:, None]
        xx = torch.arange(w, device=x.device, dtype=x.dtype)[None, :]
        grid = torch.sin(2 * math.pi / period * (xx * math.cos(theta) - yy * math.sin(theta))) ** 2  # eq. 3
        out = p["eta"] * mixed * (1.0 - p["delta"] * grid)
        return _noise(out, p["noise_sigma"], g)


@register
class BeamEnergy(Corruption):
    """Excessive beam energy (kVp), eq. 4: ``I_c = beta ((I - mean(I)) alpha + mean(I)) * h_sigma``.

    Subject contrast falls as attenuation coefficients converge at high energy; we take
    ``alpha = (70 kVp / kVp)^1.5`` for a 70 kVp reference technique pushed to 80, 90,
    105 and 120 kVp. ``h_sigma`` is the scatter-induced blur and ``beta`` the brightness
    scaling (washed-out look of an over-penetrated film).

    =====  ===  =====  ====  ========
    level  kVp  alpha  beta  sigma_px
    =====  ===  =====  ====  ========
    1      80   0.818  1.04  0.6
    2      90   0.686  1.08  1.0
    3      105  0.544  1.12  1.4
    4      120  0.446  1.16  1.8
    =====  ===  =====  ====  ========
    """

    name = "beam_energy"
    modalities = ("xray",)
    description = "contrast compression about the mean, scatter blur, brightness (W&I eq. 4)"
    table = {
        "kvp": (70.0, 80.0, 90.0, 105.0, 120.0),
        "alpha": tuple((70.0 / v) ** 1.5 for v in (70.0, 80.0, 90.0, 105.0, 120.0)),
        "beta": (1.0, 1.04, 1.08, 1.12, 1.16),
        "sigma_px": (0.0, 0.6, 1.0, 1.4, 1.8),
    }

    def _apply(self, x, p, g):
        out = p["beta"] * flt.scale_contrast(x, p["alpha"])
        return flt.gaussian_blur(out, p["sigma_px"] * size_scale(x))


@register
class Collimation(Corruption):
    """Poor collimation, eq. 5: ``I_c = [(1 - gamma) I + gamma (I * h_sigma)]_alpha + N(0, sigma_n^2)``.

    Scatter scales with the irradiated volume: an open field raises the
    scatter-to-primary ratio SPR to 0.25, 0.43, 0.67, 1.0, i.e. scatter fraction
    ``gamma = SPR / (1 + SPR)`` = 0.2 ... 0.5, carried by a broad Gaussian
    (``scatter_sigma_px`` = 32). ``[.]_alpha`` scales contrast about the mean by
    ``alpha`` (the CNR loss of eq. 18); ``sigma_n`` is additive noise.

    =====  =====  =====  =======
    level  gamma  alpha  sigma_n
    =====  =====  =====  =======
    1      0.20   0.90   0.005
    2      0.30   0.80   0.010
    3      0.40   0.70   0.015
    4      0.50   0.60   0.020
    =====  =====  =====  =======
    """

    name = "collimation"
    modalities = ("xray",)
    description = "low-frequency scatter, contrast loss, noise (W&I eq. 5)"
    table = {
        "gamma": (0.0, 0.20, 0.30, 0.40, 0.50),
        "scatter_sigma_px": (32.0, 32.0, 32.0, 32.0, 32.0),
        "alpha": (1.0, 0.90, 0.80, 0.70, 0.60),
        "noise_sigma": (0.0, 0.005, 0.010, 0.015, 0.020),
    }

    def _apply(self, x, p, g):
        scatter = flt.gaussian_blur(x, p["scatter_sigma_px"] * size_scale(x))
        mixed = (1.0 - p["gamma"]) * x + p["gamma"] * scatter
        return _noise(flt.scale_contrast(mixed, p["alpha"]), p["noise_sigma"], g)


@register
class DetectorPerformance(Corruption):
    """Declining detector, eq. 6: ``I_c = F^-1[F(R_p[I]) MTF_lambda(u, v)] + N(0, sigma_n^2)``.

    ``R_p`` resamples through a detector element ``p`` times larger (down by ``p``,
    anti-aliased, and back up bilinearly); ``MTF_lambda`` is a 2nd-order Butterworth
    low-pass with cutoff ``f_N / inv_cutoff`` (``f_N`` = Nyquist); ``sigma_n`` the
    additive noise of the poorer detector.

    =====  ===  ==============  =======
    level  p    cutoff / f_N    sigma_n
    =====  ===  ==============  =======
    1      1.25 0.71            0.004
    2      1.5  0.50            0.008
    3      2.0  0.36            0.012
    4      2.5  0.25            0.016
    =====  ===  ==============  =======
    """

    name = "detector_performance"
    modalities = ("xray",)
    description = "pixel-pitch resampling, Butterworth MTF in Fourier space, noise (W&I eq. 6)"
    ORDER = 2
    table = {
        "pitch_factor": (1.0, 1.25, 1.5, 2.0, 2.5),
        "inv_cutoff": (0.0, 1.4, 2.0, 2.8, 4.0),
        "noise_sigma": (0.0, 0.004, 0.008, 0.012, 0.016),
    }

    def _apply(self, x, p, g):
        out = flt.down_up(x, p["pitch_factor"])
        out = flt.butterworth_lowpass(out, p["inv_cutoff"], self.ORDER)
        return _noise(out, p["noise_sigma"], g)


@register
class FocalSpot(Corruption):
    """Large focal spot, eq. 7: ``I_c = [(I * h_sigma) - eta lap(I)] * M_{theta,L}``.

    ``h_sigma`` is the geometric unsharpness of a larger focal spot (sigma grows with
    ``U_g = F * OID / SOD``, eq. 15); the Laplacian term models the loss of edge
    definition, so we apply it with the sign that *removes* edge contrast — one explicit
    diffusion step ``+ eta lap(I * h_sigma)``, stable for eta <= 0.25 (with the
    literal minus sign it would sharpen, contradicting the paper's stated purpose);
    ``M_{theta,L}`` is a line motion-blur kernel of length ``L`` px at a random
    angle theta (the longer exposure a large-spot, low-loading technique needs).

    =====  ========  ====  ===
    level  sigma_px  eta   L
    =====  ========  ====  ===
    1      0.7       0.05  2
    2      1.2       0.10  3
    3      1.8       0.15  5
    4      2.5       0.20  7
    =====  ========  ====  ===
    """

    name = "focal_spot"
    modalities = ("xray",)
    description = "geometric unsharpness, Laplacian edge loss, motion blur (W&I eq. 7)"
    table = {
        "sigma_px": (0.0, 0.7, 1.2, 1.8, 2.5),
        "eta": (0.0, 0.05, 0.10, 0.15, 0.20),
        "motion_px": (1.0, 2.0, 3.0, 5.0, 7.0),
    }

    def _apply(self, x, p, g):
        k = size_scale(x)
        theta = rng.uniform(g, 0.0, math.pi)
        blurred = flt.gaussian_blur(x, p["sigma_px"] * k)
        edge_loss = blurred + p["eta"] * flt.laplacian(blurred)
        return flt.motion_blur(edge_loss, 1.0 + (p["motion_px"] - 1.0) * k, theta)


@register
class TubeCurrent(Corruption):
    """Low tube current (mAs), eq. 8: ``I_c = [P(s I) / s + N(0, sigma^2)] * M_L``.

    ``s`` is the number of detected photons per pixel for a fully transmitted ray;
    photon noise is Poisson (variance = mean, Appendix B). With 2000 photons/px at the
    reference technique, levels 1-4 are 50 %, 25 %, 10 % and 5 % of the reference mAs
    (``s`` = 1000, 500, 200, 100; the table stores ``inv_photons = 1/s`` so it
    interpolates to the noise-free identity). ``sigma`` is electronic noise and
    ``M_L`` a horizontal motion blur of ``L`` px (exposure time ~ 1/mA).

    =====  =====  ====  =====  ===
    level  mAs %  s     sigma  L
    =====  =====  ====  =====  ===
    1      50     1000  0.002  2
    2      25     500   0.004  3
    3      10     200   0.006  4
    4      5      100   0.008  6
    =====  =====  ====  =====  ===
    """

    name = "tube_current"
    modalities = ("xray",)
    description = "Poisson photon noise at reduced flux, Gaussian noise, horizontal motion (W&I eq. 8)"
    REFERENCE_PHOTONS = 2000.0
    table = {
        "inv_photons": (0.0, 1 / 1000, 1 / 500, 1 / 200, 1 / 100),
        "noise_sigma": (0.0, 0.002, 0.004, 0.006, 0.008),
        "motion_px": (1.0, 2.0, 3.0, 4.0, 6.0),
    }

    def _apply(self, x, p, g):
        inv = p["inv_photons"]
        if inv > 1e-7:
            s = 1.0 / inv
            counts = rng.poisson(x.clamp(0.0, 1.0) * s, g)
            out = counts / s
        else:
            out = x
        out = _noise(out, p["noise_sigma"], g)
        return flt.motion_blur(out, 1.0 + (p["motion_px"] - 1.0) * size_scale(x), 0.0)
