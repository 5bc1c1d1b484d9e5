"""Linear filters and resampling on torch tensors ``[B, C, *spatial]`` (2 or 3 spatial dims).

All functions keep shape, dtype and device. Lengths are in pixels/voxels.
Convolutions pad by reflection (replication where the image is smaller than
the kernel), so flat regions stay flat at the border, and run through real FFTs
(exactly equal to direct convolution after the crop, and much faster on CPU).
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F


def gaussian_kernel1d(sigma: float, like: torch.Tensor, truncate: float = 3.0) -> torch.Tensor:
    """Normalised 1D Gaussian of standard deviation ``sigma`` px, radius ``ceil(truncate * sigma)``."""
    radius = max(1, int(math.ceil(truncate * sigma)))
    t = torch.arange(-radius, radius + 1, device=like.device, dtype=torch.float32)
    k = torch.exp(-0.5 * (t / sigma) ** 2)
    return (k / k.sum()).to(like.dtype)


def fast_length(m: int) -> int:
    """Smallest ``n >= m`` of the form 2^a 3^b 5^c (FFT-friendly length)."""
    n = max(1, int(m))
    while True:
        k = n
        for p in (2, 3, 5):
            while k % p == 0:
                k //= p
        if k == 1:
            return n
        n += 1


def separable_conv(x: torch.Tensor, kernels: dict[int, torch.Tensor]) -> torch.Tensor:
    """Convolve ``x [B, C, *spatial]`` with odd-length, symmetric 1D kernels along the given axes.

    Kernels must be symmetric: the direct path below correlates and the FFT path convolves,
    which agree only then (every caller passes Gaussians).

    ``kernels`` maps an axis (2, 3[, 4]) to its kernel. The image is padded by each
    kernel's radius ``r`` (reflection; replication when an axis is shorter than its
    radius), transformed with one real N-d FFT, multiplied by the product of the
    zero-padded kernels' spectra, transformed back and cropped. After the crop this
    equals direct convolution exactly (no wrap-around reaches it) and is much faster
    than ``conv1d``/``conv2d`` on CPU. Short kernels (<= ``DIRECT_MAX_TAPS`` taps) are
    applied directly as shifted multiply-adds, which is faster still.
    """
    kernels = {a % x.dim(): k for a, k in kernels.items()}
    if not kernels:
        return x
    if all(k.numel() <= DIRECT_MAX_TAPS for k in kernels.values()):
        out = x
        for a, k in kernels.items():
            out = _direct_axis(out, k.to(x.dtype), a)
        return out
    b, c = x.shape[:2]
    spatial = list(x.shape[2:])
    radii = [kernels[a].numel() // 2 if a in kernels else 0 for a in range(2, x.dim())]
    mode = "reflect" if all(r < n for r, n in zip(radii, spatial)) else "replicate"
    pad: list[int] = []
    for r in reversed(radii):
        pad += [r, r]
    xp = F.pad(x.reshape(b * c, 1, *spatial).float(), pad, mode=mode)
    dims = sorted(kernels)
    # zero-padding to an FFT-friendly length does not reach the cropped window either
    lengths = [fast_length(xp.shape[a]) for a in dims]
    spec = torch.fft.rfftn(xp, s=lengths, dim=dims)
    for i, (a, length) in enumerate(zip(dims, lengths)):
        k = kernels[a].float()
        kpad = torch.zeros(length, device=x.device, dtype=torch.float32)
        kpad[: k.numel()] = k
        kf = torch.fft.rfft(kpad) if i == len(dims) - 1 else torch.fft.fft(kpad)
        shape = [1] * xp.dim()
        shape[a] = kf.numel()
        spec = spec * kf.view(shape)
    out = torch.fft.irfftn(spec, s=lengths, dim=dims)
    for a in dims:
        r = radii[a - 2]
        out = out.narrow(a, 2 * r, spatial[a - 2])
    return out.reshape(b, c, *spatial).to(x.dtype)


#: kernels up to this many taps are applied directly (shifted multiply-adds); longer ones by FFT
DIRECT_MAX_TAPS = 13


def _direct_axis(x: torch.Tensor, kernel: torch.Tensor, axis: int) -> torch.Tensor:
    """Direct 1D convolution along ``axis``: pad by the radius, sum the shifted, weighted copies."""
    n = x.shape[axis]
    r = kernel.numel() // 2
    moved = x.movedim(axis, -1)
    shape = moved.shape
    xp = F.pad(moved.reshape(-1, 1, n), (r, r), mode="reflect" if r < n else "replicate")
    weights = kernel.detach().cpu().tolist()
    out = xp[..., 0:n] * weights[0]
    for i in range(1, len(weights)):
        out.add_(xp[..., i : i + n], alpha=weights[i])
    return out.reshape(shape).movedim(-1, axis)


def gaussian_blur(x: torch.Tensor, sigma: float | Sequence[float], axes: Sequence[int] | None = None) -> torch.Tensor:
    """Separable Gaussian blur of ``x`` over its spatial ``axes`` (default: all dims after channel).

    ``sigma`` is in px, one value or one per axis; ``sigma <= 0`` leaves that axis alone.
    """
    axes = list(range(2, x.dim())) if axes is None else list(axes)
    sigmas = [float(sigma)] * len(axes) if not isinstance(sigma, Sequence) else [float(s) for s in sigma]
    kernels = {ax: gaussian_kernel1d(s, x) for ax, s in zip(axes, sigmas) if s > 1e-3}
    return separable_conv(x, kernels)


def line_kernel(length: float, angle_rad: float, like: torch.Tensor) -> torch.Tensor:
    """2D motion-blur kernel ``M_{theta,L}``: a line of ``length`` px at angle ``angle_rad``.

    Points sampled densely along the centred segment are splatted bilinearly onto
    an odd-sized grid and normalised to unit sum; ``length <= 1`` gives a delta.
    Angle 0 is horizontal (along W), increasing counter-clockwise on screen.
    """
    half = max(0.0, (float(length) - 1.0) / 2.0)
    r = int(math.ceil(half)) + 1
    size = 2 * r + 1
    n = max(2, int(math.ceil(length * 8)))
    t = torch.linspace(-half, half, n, dtype=torch.float64)
    xs = r + t * math.cos(angle_rad)
    ys = r - t * math.sin(angle_rad)
    k = torch.zeros(size, size, dtype=torch.float64)
    x0, y0 = xs.floor(), ys.floor()
    fx, fy = xs - x0, ys - y0
    for dx, dy, w in ((0, 0, (1 - fx) * (1 - fy)), (1, 0, fx * (1 - fy)), (0, 1, (1 - fx) * fy), (1, 1, fx * fy)):
        xi = (x0 + dx).long().clamp(0, size - 1)
        yi = (y0 + dy).long().clamp(0, size - 1)
        k.index_put_((yi, xi), w, accumulate=True)
    k = k / k.sum()
    return k.to(device=like.device, dtype=like.dtype)


def conv2d_same(x: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Convolve every channel of ``x [B, C, H, W]`` with one odd-sized 2D ``kernel`` (symmetric pad).

    FFT-based like :func:`separable_conv`: reflect-pad by the kernel radius, circular
    convolution with the zero-padded kernel, crop.
    """
    b, c, h, w = x.shape
    kh, kw = kernel.shape
    ph, pw = kh // 2, kw // 2
    mode = "reflect" if (ph < h and pw < w) else "replicate"
    flat = F.pad(x.reshape(b * c, 1, h, w).float(), (pw, pw, ph, ph), mode=mode)
    hh, ww = fast_length(h + 2 * ph), fast_length(w + 2 * pw)
    kpad = torch.zeros(hh, ww, device=x.device, dtype=torch.float32)
    kpad[:kh, :kw] = kernel.float()
    spec = torch.fft.rfft2(flat, s=(hh, ww)) * torch.fft.rfft2(kpad)
    out = torch.fft.irfft2(spec, s=(hh, ww))[..., 2 * ph : 2 * ph + h, 2 * pw : 2 * pw + w]
    return out.reshape(b, c, h, w).to(x.dtype)


def motion_blur(x: torch.Tensor, length: float, angle_rad: float) -> torch.Tensor:
    """Blur ``[B, C, H, W]`` with the line kernel ``M_{theta,L}`` (``length`` px, identity for <= 1)."""
    if length <= 1.0 + 1e-6:
        return x
    return conv2d_same(x, line_kernel(length, angle_rad, x))


def laplacian(x: torch.Tensor) -> torch.Tensor:
    """Five-point discrete Laplacian of ``[B, C, H, W]`` (replicated border), units of intensity/px^2."""
    p = F.pad(x, (1, 1, 1, 1), mode="replicate")
    return p[..., :-2, 1:-1] + p[..., 2:, 1:-1] + p[..., 1:-1, :-2] + p[..., 1:-1, 2:] - 4.0 * x


def _mode(nd: int) -> str:
    return "bilinear" if nd == 2 else "trilinear"


def down_up(x: torch.Tensor, factor: float) -> torch.Tensor:
    """Downsample the spatial dims by ``factor`` and upsample back (bi/trilinear).

    Downsampling is anti-aliased bilinear for 2D images and area averaging for 3D volumes.

    This is the resolution operator ``U(D_r(I))`` (Ward & Imran eq. 12) and RAMP's
    resolution degradation; ``factor <= 1`` is the identity.
    """
    if factor <= 1.0 + 1e-6:
        return x
    spatial = x.shape[2:]
    small = [max(1, int(round(n / factor))) for n in spatial]
    nd = len(spatial)
    if nd == 2:
        low = F.interpolate(x, size=small, mode="bilinear", align_corners=False, antialias=True)
    else:
        low = F.interpolate(x, size=small, mode="area")
    return F.interpolate(low, size=list(spatial), mode=_mode(nd), align_corners=False)


def butterworth_lowpass(x: torch.Tensor, inv_cutoff: float, order: int = 2) -> torch.Tensor:
    """Multiply the 2D spectrum of ``x [B, C, H, W]`` by a Butterworth MTF (Ward & Imran eq. 6).

    ``MTF(f) = 1 / (1 + (f * inv_cutoff / f_N)^(2 order))`` with ``f`` the radial spatial
    frequency in cycles/px and ``f_N = 0.5`` the Nyquist frequency, i.e. the cutoff is
    ``f_N / inv_cutoff``; ``inv_cutoff = 0`` is the identity.
    """
    if inv_cutoff <= 0:
        return x
    h, w = x.shape[-2:]
    fy = torch.fft.fftfreq(h, device=x.device, dtype=torch.float32)
    fx = torch.fft.rfftfreq(w, device=x.device, dtype=torch.float32)
    f = torch.sqrt(fy[:, None] ** 2 + fx[None, :] ** 2) / 0.5
    mtf = 1.0 / (1.0 + (f * inv_cutoff) ** (2 * order))
    spec = torch.fft.rfft2(x.float())
    return torch.fft.irfft2(spec * mtf, s=(h, w)).to(x.dtype)


def magnify(x: torch.Tensor, scale: float, mode: str = "bilinear") -> torch.Tensor:
    """Isotropic magnification of ``x [B, C, H, W]`` by ``scale`` about the image centre, cropped to the
    original size (border values fill in where ``scale < 1``).

    ``M_s`` of Ward & Imran eq. 1 (geometric magnification M = SID/SOD, eq. 14).
    ``mode="nearest"`` is used for masks so labels stay discrete.
    """
    if abs(scale - 1.0) < 1e-6:
        return x
    b = x.shape[0]
    theta = torch.zeros(b, 2, 3, device=x.device, dtype=torch.float32)
    theta[:, 0, 0] = 1.0 / scale
    theta[:, 1, 1] = 1.0 / scale
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    src = x if x.is_floating_point() else x.float()
    out = F.grid_sample(src, grid.to(src.dtype), mode=mode, padding_mode="border", align_corners=False)
    return out.to(x.dtype)


def spatial_mean(x: torch.Tensor) -> torch.Tensor:
    """Mean over the spatial dims, kept for broadcasting (one value per sample and channel)."""
    return x.mean(dim=tuple(range(2, x.dim())), keepdim=True)


def scale_contrast(x: torch.Tensor, alpha: float) -> torch.Tensor:
    """``(x - mean) * alpha + mean`` per sample and channel (alpha < 1 compresses contrast)."""
    m = spatial_mean(x)
    return (x - m) * alpha + m


def radial_distance(x: torch.Tensor) -> torch.Tensor:
    """``[1, 1, H, W]`` normalised distance from the image centre: 0 at the centre, 1 at the corners."""
    h, w = x.shape[-2:]
    yy = torch.linspace(-1.0, 1.0, h, device=x.device, dtype=x.dtype)[:, None]
    xx = torch.linspace(-1.0, 1.0, w, device=x.device, dtype=x.dtype)[None, :]
    return (torch.sqrt(yy**2 + xx**2) / math.sqrt(2.0)).view(1, 1, h, w)
