"""Physics-based dermoscopy corruptions (Ward & Imran, §3.2, eq. 9-12), RGB ``[B, 3, H, W]``.

Four severity levels each; level 0 is the identity. Pixel-valued parameters are
for a 256 x 256 image and scale with the image size. Random structure (motion
direction, colour-shift directions, focal-field noise, focus spot) is drawn in
the same order at every severity, so one seed gives a coupled series of levels.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from xraylab.degrade import filters as flt
from xraylab.degrade import rng
from xraylab.degrade.base import Corruption, size_scale
from xraylab.degrade.color import hsv_to_rgb, mean_delta_e2000, rgb_to_hsv
from xraylab.degrade.registry import register

_TAGS = ("dermoscopy",)


def _blur_stack(x: torch.Tensor, sigma_map: torch.Tensor, sigma_max: float, n: int = 6) -> torch.Tensor:
    """Spatially varying Gaussian blur ``(I * h_sigma(x, y))(x, y)`` (eq. 11).

    ``sigma_map`` ``[B, 1, H, W]`` in px, at most ``sigma_max``; the image is blurred at
    ``n`` sigmas spanning [0, sigma_max] and every pixel interpolates linearly between
    the two nearest members of the stack.
    """
    sigmas = torch.linspace(0.0, sigma_max, n).tolist()
    stack = torch.stack([flt.gaussian_blur(x, s) for s in sigmas], 0)  # [n, B, C, H, W]
    pos = (sigma_map.clamp(0.0, sigma_max) / max(sigma_max, 1e-6)) * (n - 1)
    lo = pos.floor().clamp(0, n - 2)
    frac = pos - lo
    lo_i = lo.long().expand_as(x)
    lower = torch.gather(stack, 0, lo_i.unsqueeze(0)).squeeze(0)
    upper = torch.gather(stack, 0, (lo_i + 1).unsqueeze(0)).squeeze(0)
    return lower * (1.0 - frac) + upper * frac


@register
class DermBlur(Corruption):
    """Defocus and motion blur, eq. 9: ``I_c = alpha (I * h_sigma) + (1 - alpha)(I * M_{theta,L})``.

    ``h_sigma`` is the out-of-focus Gaussian, ``M_{theta,L}`` a line kernel of ``L`` px at
    a random angle (dermatoscope or skin motion), ``alpha`` = 0.6. At levels 3-4 a radial
    weight ``w(x, y) = d^2`` (``d``: normalised distance from the centre) blends in an extra
    blur of 1.5 sigma towards the periphery with strength ``radial`` (focal-plane curvature).

    =====  ========  ===  ======
    level  sigma_px  L    radial
    =====  ========  ===  ======
    1      0.8       3    0
    2      1.4       5    0
    3      2.0       7    0.6
    4      2.8       9    1.0
    =====  ========  ===  ======
    """

    name = "derm_blur"
    modalities = _TAGS
    description = "defocus + motion blur mix, radial blur field at high levels (W&I eq. 9)"
    table = {
        "sigma_px": (0.0, 0.8, 1.4, 2.0, 2.8),
        "motion_px": (1.0, 3.0, 5.0, 7.0, 9.0),
        "alpha": (0.6, 0.6, 0.6, 0.6, 0.6),
        "radial": (0.0, 0.0, 0.0, 0.6, 1.0),
    }

    def _apply(self, x, p, g):
        k = size_scale(x)
        theta = rng.uniform(g, 0.0, math.pi)
        sigma = p["sigma_px"] * k
        out = p["alpha"] * flt.gaussian_blur(x, sigma) + (1 - p["alpha"]) * flt.motion_blur(
            x, 1.0 + (p["motion_px"] - 1.0) * k, theta
        )
        if p["radial"] > 0:
            w = p["radial"] * flt.radial_distance(x) ** 2
            out = (1 - w) * out + w * flt.gaussian_blur(out, 1.5 * sigma)
        return out


@register
class ColorReproduction(Corruption):
    """Colour reproduction error, eq. 10: ``I_c = T_HSV(M I_RGB)``.

    ``M = (1 - m) Id + m P`` mixes the RGB channels with a random row-stochastic ``P``
    (grey stays grey); ``T_HSV`` rotates hue by ``+-hue_turns``, warps saturation
    nonlinearly ``s -> s^(exp(+-sat_log))`` and scales lightness ``v -> v (1 +- light)``;
    the signs and ``P`` are random. Mean CIEDE2000 colour difference per level (scikit-image,
    D65) on the synthetic lesion photo of the tests, mean [min, max] over 8 seeds;
    :func:`delta_e_by_level` recomputes it for any image and ``xraylab degrade`` records it
    per image (column ``delta_e2000``):

    =====  ====  =========  =======  =====  ===================
    level  m     hue_turns  sat_log  light  mean dE2000
    =====  ====  =========  =======  =====  ===================
    1      0.08  0.015      0.10     0.03   4.1  [2.8, 6.2]
    2      0.16  0.030      0.20     0.06   7.7  [5.5, 11.8]
    3      0.24  0.050      0.30     0.09   11.3 [9.0, 17.3]
    4      0.32  0.070      0.40     0.12   14.1 [11.4, 21.2]
    =====  ====  =========  =======  =====  ===================
    """

    name = "color_reproduction"
    modalities = _TAGS
    channels = 3
    description = "channel mixing + nonlinear hue/saturation/lightness shifts (W&I eq. 10), reports dE2000"
    table = {
        "mix": (0.0, 0.08, 0.16, 0.24, 0.32),
        "hue_turns": (0.0, 0.015, 0.030, 0.050, 0.070),
        "sat_log": (0.0, 0.10, 0.20, 0.30, 0.40),
        "light": (0.0, 0.03, 0.06, 0.09, 0.12),
    }

    def _apply(self, x, p, g):
        logits = 2.0 * rng.randn((3, 3), g, x)
        mixing = torch.softmax(logits, dim=1)
        s_h, s_s, s_v = rng.sign(g), rng.sign(g), rng.sign(g)
        eye = torch.eye(3, device=x.device, dtype=x.dtype)
        m = (1 - p["mix"]) * eye + p["mix"] * mixing
        mixed = torch.einsum("ij,bjhw->bihw", m, x).clamp(0, 1)
        hsv = rgb_to_hsv(mixed)
        h = (hsv[:, 0] + s_h * p["hue_turns"]) % 1.0
        s = hsv[:, 1].clamp(0, 1) ** math.exp(s_s * p["sat_log"])
        v = (hsv[:, 2] * (1.0 + s_v * p["light"])).clamp(0, 1)
        return hsv_to_rgb(torch.stack([h, s, v], 1))


def delta_e_by_level(image: torch.Tensor, seed: int = 0) -> dict[int, float]:
    """Mean CIEDE2000 dE of :class:`ColorReproduction` at each level for an RGB ``[B, 3, H, W]`` image."""
    op = ColorReproduction()
    out = {}
    for level in op.levels:
        corrupted = op.apply(image, level, rng.make_generator(seed))
        out[level] = float(sum(mean_delta_e2000(image, corrupted)) / image.shape[0])
    return out


@register
class FocalPlaneFlatness(Corruption):
    """Uneven focal plane, eq. 11: ``I_c(x, y) = (I * h_sigma(x, y))(x, y)``.

    ``sigma(x, y) = sigma_max [(1 - beta) d^2 + beta n(x, y)] (1 - f b(x, y))``: a radial
    profile in the normalised centre distance ``d`` (sharp centre, curved focal plane); at
    levels 3-4 a smooth random field ``n`` in [0, 1] (6 x 6 noise, bicubic upsampling) is
    blended in with weight ``beta``, and a Gaussian focus spot ``b`` (standard deviation 0.25
    in normalised [-1, 1] image coordinates, i.e. 1/8 of the side; random centre in [-0.6, 0.6]^2)
    reduces the blur by ``f`` (uneven lens-to-skin distance).

    =====  =========  ====  ====
    level  sigma_max  beta  f
    =====  =========  ====  ====
    1      1.5        0     0
    2      2.5        0     0
    3      3.5        0.4   0.7
    4      4.5        0.6   0.8
    =====  =========  ====  ====
    """

    name = "focal_plane"
    modalities = _TAGS
    description = "radially varying defocus, stochastic focal zones and local focus at high levels (W&I eq. 11)"
    table = {
        "sigma_max_px": (0.0, 1.5, 2.5, 3.5, 4.5),
        "beta": (0.0, 0.0, 0.0, 0.4, 0.6),
        "focus": (0.0, 0.0, 0.0, 0.7, 0.8),
    }
    FOCUS_RADIUS = 0.25

    def _apply(self, x, p, g):
        b = x.shape[0]
        h, w = x.shape[-2:]
        noise = rng.randn((b, 1, 6, 6), g, x)
        centre = rng.rand((b, 2), g, x) * 1.2 - 0.6  # focus centre in [-0.6, 0.6]^2 (normalised coords)
        field = F.interpolate(noise, size=(h, w), mode="bicubic", align_corners=True)
        lo = field.amin(dim=(2, 3), keepdim=True)
        hi = field.amax(dim=(2, 3), keepdim=True)
        field = (field - lo) / (hi - lo).clamp_min(1e-6)
        d2 = flt.radial_distance(x) ** 2
        base = (1 - p["beta"]) * d2 + p["beta"] * field
        yy = torch.linspace(-1, 1, h, device=x.device, dtype=x.dtype).view(1, h, 1)
        xx = torch.linspace(-1, 1, w, device=x.device, dtype=x.dtype).view(1, 1, w)
        r2 = (xx - centre[:, 0].view(b, 1, 1)) ** 2 + (yy - centre[:, 1].view(b, 1, 1)) ** 2
        spot = torch.exp(-r2 / (2 * self.FOCUS_RADIUS**2)).unsqueeze(1)
        sigma_max = p["sigma_max_px"] * size_scale(x)
        sigma_map = sigma_max * base * (1 - p["focus"] * spot)
        return _blur_stack(x, sigma_map, sigma_max)


@register
class Resolution(Corruption):
    """Reduced resolution, eq. 12: ``I_c = U(D_r(I))``, down by ``r`` (anti-aliased) and back up bilinearly.

    ``r`` = 1.5, 2, 3, 4 at levels 1-4 (sensor pixel density / optical resolving power).
    """

    name = "resolution"
    modalities = _TAGS
    description = "downsample by r and bilinear upsample (W&I eq. 12)"
    table = {"factor": (1.0, 1.5, 2.0, 3.0, 4.0)}

    def _apply(self, x, p, g):
        return flt.down_up(x, p["factor"])
