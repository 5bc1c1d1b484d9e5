"""Differentiable density-only ray march on CPU: the compiled march forward, a compiled gradient kernel backward.

Registration needs ∫ρ dl per ray and its gradient with respect to the ray end points (the pose). The torch march
(:func:`xraylab.physics.raymarch.march_torch_density`) gets both from ``grid_sample`` and autograd, holding every
sample's coordinates for the backward pass; here the compiled march (:func:`xraylab.physics.raymarch.march_numba`)
gives the values and one numba kernel the gradient, one ray per loop iteration with no per-sample memory. The
samples are those of the torch march: for a ray from ``s`` to ``t`` (voxel index coordinates) clipped to the
volume box at fractions ``α₀ ≤ α₁`` (:func:`xraylab.physics.raymarch.clip_to_box`, left to torch so that its
gradient comes from autograd), ``n`` midpoints ``α_q = α₀ + (q + ½)(α₁ − α₀)/n`` and

    I = h · Σ_q ρ(x_q),   x_q = s + α_q (t − s),   h = (α₁ − α₀) · L / n  (step in mm, L = source→target in mm),

with ρ the trilinear interpolant of the density, coordinates clamped to ``[0, N − 1]`` (``grid_sample``'s border
padding). Its partial derivatives, with ∇ρ the interpolant's gradient (0 along a clamped axis) and
``w_q = (q + ½)/n``:

    ∂I/∂s = h Σ (1 − α_q) ∇ρ(x_q)          ∂I/∂t = h Σ α_q ∇ρ(x_q)
    ∂I/∂α₀ = h Σ (1 − w_q) ∇ρ·(t − s) − (L/n) Σ ρ     ∂I/∂α₁ = h Σ w_q ∇ρ·(t − s) + (L/n) Σ ρ
    ∂I/∂L = (α₁ − α₀)/n · Σ ρ

``n`` is ``n_points`` or ⌈(α₁ − α₀) L / step_mm⌉ (piecewise constant: no gradient). Agreement with the torch march,
values and pose gradients: ``tests/physics/test_density_march.py``.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
import torch
from torch.autograd.function import once_differentiable

from xraylab.physics import raymarch

_KERNEL = None  # the compiled backward kernel, built on first use


def _build():  # pragma: no cover - compiled
    import numba

    @numba.njit(parallel=True, fastmath=False, cache=True, nogil=True)
    def backward(density, src, tgt, a0s, a1s, length, n_points, step_mm, grad, g_src, g_tgt, g_a0, g_a1, g_len):
        ni, nj, nk = density.shape
        fi, fj, fk = ni - 1.0, nj - 1.0, nk - 1.0
        for r in numba.prange(src.shape[0]):
            a0, a1, g = a0s[r], a1s[r], grad[r]
            if a1 <= a0 or g == 0.0:
                continue
            n = max(1, int(math.ceil((a1 - a0) * length[r] / step_mm))) if step_mm > 0 else n_points
            sx, sy, sz = src[r, 0], src[r, 1], src[r, 2]
            dx, dy, dz = tgt[r, 0] - sx, tgt[r, 1] - sy, tgt[r, 2] - sz
            s_rho = 0.0
            gx = gy = gz = 0.0  # Σ ∇ρ
            hx = hy = hz = 0.0  # Σ α_q ∇ρ
            u_d = w_d = 0.0  # Σ ∇ρ·d and Σ w_q ∇ρ·d
            for q in range(n):
                wq = (q + 0.5) / n
                a = a0 + wq * (a1 - a0)
                px, py, pz = sx + a * dx, sy + a * dy, sz + a * dz
                x, y, z = min(max(px, 0.0), fi), min(max(py, 0.0), fj), min(max(pz, 0.0), fk)
                i0, j0, k0 = min(int(x), ni - 1), min(int(y), nj - 1), min(int(z), nk - 1)
                i1, j1, k1 = min(i0 + 1, ni - 1), min(j0 + 1, nj - 1), min(k0 + 1, nk - 1)
                u, v, w = x - i0, y - j0, z - k0
                d000, d001 = density[i0, j0, k0], density[i0, j0, k1]
                d010, d011 = density[i0, j1, k0], density[i0, j1, k1]
                d100, d101 = density[i1, j0, k0], density[i1, j0, k1]
                d110, d111 = density[i1, j1, k0], density[i1, j1, k1]
                c00, c01 = d000 * (1 - w) + d001 * w, d010 * (1 - w) + d011 * w
                c10, c11 = d100 * (1 - w) + d101 * w, d110 * (1 - w) + d111 * w
                c0, c1 = c00 * (1 - v) + c01 * v, c10 * (1 - v) + c11 * v
                s_rho += c0 * (1 - u) + c1 * u
                # ∂ρ/∂x, ∂ρ/∂y, ∂ρ/∂z of the interpolant; 0 along an axis where the sample is clamped
                rx = (c1 - c0) if 0.0 < px < fi else 0.0
                ry = ((c01 - c00) * (1 - u) + (c11 - c10) * u) if 0.0 < py < fj else 0.0
                e0 = (d001 - d000) * (1 - v) + (d011 - d010) * v
                e1 = (d101 - d100) * (1 - v) + (d111 - d110) * v
                rz = (e0 * (1 - u) + e1 * u) if 0.0 < pz < fk else 0.0
                gx += rx
                gy += ry
                gz += rz
                hx += a * rx
                hy += a * ry
                hz += a * rz
                dd = rx * dx + ry * dy + rz * dz
                u_d += dd
                w_d += wq * dd
            h = (a1 - a0) / n * length[r]
            g_src[r, 0] = g * h * (gx - hx)
            g_src[r, 1] = g * h * (gy - hy)
            g_src[r, 2] = g * h * (gz - hz)
            g_tgt[r, 0] = g * h * hx
            g_tgt[r, 1] = g * h * hy
            g_tgt[r, 2] = g * h * hz
            g_a0[r] = g * (h * (u_d - w_d) - length[r] / n * s_rho)
            g_a1[r] = g * (h * w_d + length[r] / n * s_rho)
            g_len[r] = g * (a1 - a0) / n * s_rho

    return backward


def _kernel():
    global _KERNEL
    if _KERNEL is None:
        _KERNEL = _build()
    return _KERNEL


def _np(t: torch.Tensor) -> np.ndarray:
    return np.ascontiguousarray(t.detach().to(torch.float64).numpy())


Forward = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


class _DensityMarch(torch.autograd.Function):
    """``I [M]`` (g/cm³·mm) from ``src, tgt [M, 3]``, ``a0, a1, length [M]``; see the module docstring."""

    @staticmethod
    def forward(ctx, src, tgt, a0, a1, length, density, n_points, step_mm, march):  # type: ignore[override]
        out = march(_np(src), _np(tgt), _np(length))
        ctx.save_for_backward(src, tgt, a0, a1, length)
        ctx.density, ctx.n_points, ctx.step_mm = density, int(n_points), float(step_mm)
        return torch.from_numpy(np.asarray(out, dtype=np.float64)).to(src.dtype)

    @staticmethod
    @once_differentiable  # the kernel's gradient is not itself differentiable (no second derivatives)
    def backward(ctx, grad):  # type: ignore[override]
        src, tgt, a0, a1, length = ctx.saved_tensors
        m = src.shape[0]
        g_src, g_tgt = np.zeros((m, 3)), np.zeros((m, 3))
        g_a0, g_a1, g_len = np.zeros(m), np.zeros(m), np.zeros(m)
        with raymarch.numba_threads(None):
            _kernel()(ctx.density, _np(src), _np(tgt), _np(a0), _np(a1), _np(length), ctx.n_points, ctx.step_mm,
                      _np(grad), g_src, g_tgt, g_a0, g_a1, g_len)

        def back(g: np.ndarray, like: torch.Tensor) -> torch.Tensor:
            return torch.from_numpy(g).to(like.dtype)

        return (back(g_src, src), back(g_tgt, tgt), back(g_a0, a0), back(g_a1, a1), back(g_len, length),
                None, None, None, None)


def march_density_numba(march: Forward, density: np.ndarray, src: torch.Tensor, tgt: torch.Tensor,
                        length: torch.Tensor, n_points: int, step_mm: float = 0.0) -> torch.Tensor:
    """∫ρ dl ``[M]`` in g/cm³·mm of rays ``src → tgt`` (``[M, 3]`` voxel index coordinates, CPU tensors) through
    ``density`` (``[I, J, K]`` float32, g/cm³), differentiable with respect to ``src``, ``tgt`` and ``length``
    (``[M]`` mm) — the samples of :func:`xraylab.physics.raymarch.march_torch_density`.

    ``march(src, tgt, length) -> [M]`` (float64 arrays) computes the values: the projector's compiled march
    (:func:`xraylab.physics.raymarch.march_numba` summed over materials, empty-space skipping included) — one
    implementation of the forward sums; this module adds their gradient."""
    if not raymarch.HAVE_NUMBA:  # pragma: no cover
        raise RuntimeError("numba is not installed")
    dims = torch.tensor(density.shape, dtype=src.dtype)
    a0, a1 = raymarch.clip_to_box(src, tgt, dims)
    out = _DensityMarch.apply(src, tgt, a0, a1, length, density, n_points, step_mm, march)
    return out  # type: ignore[no-any-return]
