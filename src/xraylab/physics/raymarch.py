"""Fused trilinear ray march: every material channel and every structure's path length in one pass.

Both kernels below compute the same quantity, for rays from ``src`` to ``tgt`` given in voxel index
coordinates (voxel centres at integers, the volume spans ``[-0.5, n - 0.5]`` along each axis):

1. the ray is clipped to the volume box (entry α₀, exit α₁ as fractions of the source→target segment);
2. ``n`` samples sit at the midpoints of ``n`` equal steps between entry and exit (midpoint rule: the steps
   add up to the exact chord, so a uniform structure's path length is exact); ``n = n_points`` for every
   ray, or, with ``step_mm`` > 0, ``n = ⌈chord / step_mm⌉`` per ray (a fixed sampling density in mm);
3. at each sample the density is interpolated trilinearly (coordinates clamped to ``[0, n − 1]``: edge
   voxels extend to the volume boundary) and the packed material × structure *code* is looked up at the
   nearest voxel;
4. ``mat[material] += ρ · step`` and ``path[channel] += step`` (step in mm).

:func:`march_numba` is a compiled CPU kernel (one ray per iteration of a parallel loop, no per-sample
temporaries: memory is the output only). Given the uniform-block grid of :mod:`xraylab.physics.occupancy` it
steps over empty space: a run of samples inside a block whose voxels (and high-side halo) all hold one density and
one code adds ``count × ρ`` and ``count`` at once instead of interpolating each sample — the same midpoint sum,
exact in real arithmetic; in floating point the run's sum differs from the sample-by-sample sum in the last bits of
the float64 accumulator (≲ 1e-15 relative), below the float32 outputs' resolution. :func:`march_torch` is the
same march in torch operations — it runs on any device and is differentiable with respect to the ray end
points (pose gradients), chunked by a memory budget. The two agree to float32 rounding
(tests/physics/test_projector_kernels.py).
"""

from __future__ import annotations

import contextlib
import math
from typing import Iterator

import numpy as np
import torch
import torch.nn.functional as F

try:  # numba is a runtime dependency; the torch march covers a platform without it.
    import numba

    HAVE_NUMBA = True
except ImportError:  # pragma: no cover - exercised only where numba is missing
    numba = None  # type: ignore[assignment]
    HAVE_NUMBA = False

_TINY = 1e-12


def _clip_numpy_kernel():  # pragma: no cover - compiled
    """Build the numba kernel lazily so that importing this module does not compile anything."""

    @numba.njit(parallel=True, fastmath=True, cache=True, nogil=True)
    def _march(density, code, mat_of, chan_of, src, tgt, length, n_points, step_mm, blocks, shift, skip,
               order, reorder, out_mat, out_path):
        ni, nj, nk = density.shape
        fi, fj, fk = ni - 1.0, nj - 1.0, nk - 1.0
        li, lj, lk = (ni - 1) >> shift, (nj - 1) >> shift, (nk - 1) >> shift  # last block on each axis
        for p in numba.prange(src.shape[0]):
            r = order[p] if reorder else np.int64(p)  # rays visited in `order`, read and written in place
            sx, sy, sz = src[r, 0], src[r, 1], src[r, 2]
            dx, dy, dz = tgt[r, 0] - sx, tgt[r, 1] - sy, tgt[r, 2] - sz
            a0, a1 = 0.0, 1.0
            # Slab clipping against [-0.5, n - 0.5] on each axis.
            for s, d, n in ((sx, dx, ni), (sy, dy, nj), (sz, dz, nk)):
                lo, hi = -0.5, n - 0.5
                if abs(d) < _TINY:
                    if s < lo or s > hi:
                        a1 = -1.0
                else:
                    t0, t1 = (lo - s) / d, (hi - s) / d
                    if t0 > t1:
                        t0, t1 = t1, t0
                    a0 = max(a0, t0)
                    a1 = min(a1, t1)
            if a1 <= a0:
                continue
            n = n_points
            if step_mm > 0:
                n = max(1, int(math.ceil((a1 - a0) * length[r] / step_mm)))
            step = (a1 - a0) / n
            inv_step = 1.0 / step
            q = 0
            while q < n:
                a = a0 + (q + 0.5) * step
                x = min(max(sx + a * dx, 0.0), fi)
                y = min(max(sy + a * dy, 0.0), fj)
                z = min(max(sz + a * dz, 0.0), fk)
                i0, j0, k0 = min(int(x), ni - 1), min(int(y), nj - 1), min(int(z), nk - 1)
                bi, bj, bk = i0 >> shift, j0 >> shift, k0 >> shift
                if skip and blocks[bi, bj, bk]:
                    # A uniform block (xraylab.physics.occupancy): every sample until the ray leaves it has the
                    # block's density and code. Find the last such sample from the ray parameter at which the
                    # (clamped) coordinates leave the block, minus a margin of 1e-3 steps for rounding.
                    exit_a = 2.0
                    for s, d, blk, last in ((sx, dx, bi, li), (sy, dy, bj, lj), (sz, dz, bk, lk)):
                        if d > _TINY and blk < last:
                            exit_a = min(exit_a, (((blk + 1) << shift) - s) / d)
                        elif d < -_TINY and blk > 0:
                            exit_a = min(exit_a, ((blk << shift) - s) / d)
                    q_end = n - 1
                    q_exit = (exit_a - a0) * inv_step - 0.5 - 1e-3
                    if q_exit < n - 1:
                        q_end = max(q, int(math.floor(q_exit)))
                    count = q_end - q + 1
                    cd = code[bi << shift, bj << shift, bk << shift]
                    out_mat[r, mat_of[cd]] += count * density[bi << shift, bj << shift, bk << shift]
                    ch = chan_of[cd]
                    if ch > 0:
                        out_path[r, ch] += count
                    q = q_end + 1
                    continue
                i1, j1, k1 = min(i0 + 1, ni - 1), min(j0 + 1, nj - 1), min(k0 + 1, nk - 1)
                u, v, w = x - i0, y - j0, z - k0
                c00 = density[i0, j0, k0] * (1 - w) + density[i0, j0, k1] * w
                c01 = density[i0, j1, k0] * (1 - w) + density[i0, j1, k1] * w
                c10 = density[i1, j0, k0] * (1 - w) + density[i1, j0, k1] * w
                c11 = density[i1, j1, k0] * (1 - w) + density[i1, j1, k1] * w
                rho = (c00 * (1 - v) + c01 * v) * (1 - u) + (c10 * (1 - v) + c11 * v) * u
                cd = code[min(int(x + 0.5), ni - 1), min(int(y + 0.5), nj - 1), min(int(z + 0.5), nk - 1)]
                out_mat[r, mat_of[cd]] += rho
                ch = chan_of[cd]
                if ch > 0:
                    out_path[r, ch] += 1.0
                q += 1
            mm = step * length[r]
            for c in range(out_mat.shape[1]):
                out_mat[r, c] *= mm
            for c in range(out_path.shape[1]):
                out_path[r, c] *= mm

    return _march


_KERNEL = None
# Thread count of the march when the caller gives none (set by dataset workers, see xraylab.data.worker.run_chunk);
# None: torch's intra-op thread count. Each ray is summed by one thread, so the result does not depend on it.
DEFAULT_THREADS: int | None = None


def march_numba(
    density: np.ndarray,
    code: np.ndarray,
    mat_of: np.ndarray,
    chan_of: np.ndarray,
    src: np.ndarray,
    tgt: np.ndarray,
    length: np.ndarray,
    n_points: int,
    n_materials: int,
    n_channels: int,
    threads: int | None = None,
    step_mm: float = 0.0,
    blocks: np.ndarray | None = None,
    block_shift: int = 3,
    order: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Compiled CPU march (see the module docstring).

    Args:
        density: ``[I, J, K]`` float32 density, g/cm³.
        code: ``[I, J, K]`` uint8/uint16 packed code; ``mat_of[code]`` is the material id (< ``n_materials``),
            ``chan_of[code]`` the structure channel (0 = none, < ``n_channels``).
        src, tgt: ``[M, 3]`` float64 ray end points in voxel index coordinates.
        length: ``[M]`` float64 source→target distance, mm.
        threads: numba threads (default: :data:`DEFAULT_THREADS` if set, else torch's intra-op thread count).
        blocks: uint8 ``[⌈I/B⌉, ⌈J/B⌉, ⌈K/B⌉]`` uniform-block grid of ``density`` and ``code`` with blocks of
            ``B = 2**block_shift`` voxels (:func:`xraylab.physics.occupancy.uniform_blocks`); runs of samples in
            a uniform block are summed as ``count × density`` without reading voxels. None: every sample is read.
        order: ``[M]`` int64 permutation: the order in which the threads take the rays (each thread a contiguous
            run of it; a cache-friendly order keeps a thread's voxels close), each ray still read from and written
            to its own row — the same sums as row order, without permuted copies of inputs and outputs.

    Returns:
        ``mat [M, n_materials]`` ∫ρ dl in g/cm³·mm and ``path [M, n_channels]`` in mm, float64.
    """
    global _KERNEL
    if not HAVE_NUMBA:  # pragma: no cover
        raise RuntimeError("numba is not installed")
    if _KERNEL is None:
        _KERNEL = _clip_numpy_kernel()
    if blocks is not None and blocks.shape != tuple((n + (1 << block_shift) - 1) >> block_shift
                                                    for n in density.shape):
        raise ValueError(f"blocks {blocks.shape} do not fit a {density.shape} volume at 2**{block_shift}")
    grid = blocks if blocks is not None else np.zeros((1, 1, 1), dtype=np.uint8)
    m = src.shape[0]
    visit = np.zeros(1, dtype=np.int64)
    if order is not None:
        visit = np.ascontiguousarray(order, dtype=np.int64)
        # the kernel writes row order[p] without bounds checks: a repeated or missing row would be a wrong sum
        if visit.shape != (m,) or (m and (visit.min() < 0 or visit.max() >= m
                                          or not np.all(np.bincount(visit, minlength=m) == 1))):
            raise ValueError(f"order must be a permutation of range({m}) (got shape {visit.shape})")
    out_mat = np.zeros((m, n_materials), dtype=np.float64)
    out_path = np.zeros((m, n_channels), dtype=np.float64)
    with numba_threads(threads):
        _KERNEL(density, code, mat_of, chan_of, src, tgt, length, int(n_points), float(step_mm), grid,
                int(block_shift), blocks is not None, visit, order is not None, out_mat, out_path)
    return out_mat, out_path


@contextlib.contextmanager
def numba_threads(threads: int | None) -> Iterator[int]:
    """numba's thread count for the ``with`` block: ``threads``, else :data:`DEFAULT_THREADS`, else torch's intra-op
    thread count (capped at ``NUMBA_NUM_THREADS``); the previous count is restored afterwards."""
    limit = int(numba.config.NUMBA_NUM_THREADS)  # type: ignore[attr-defined]
    n_threads = max(1, min(int(threads or DEFAULT_THREADS or torch.get_num_threads()), limit))
    previous = numba.get_num_threads()
    numba.set_num_threads(n_threads)
    try:
        yield n_threads
    finally:
        numba.set_num_threads(previous)


def clip_to_box(src: torch.Tensor, tgt: torch.Tensor, dims: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Entry and exit fractions ``α₀ ≤ α₁`` in [0, 1] of rays ``[M, 3]`` through the box ``[-0.5, dims - 0.5]``.

    Rays that miss the box get ``α₀ = α₁``. Differentiable with respect to ``src`` and ``tgt``.
    """
    d = tgt - src
    safe = torch.where(d.abs() < _TINY, torch.full_like(d, _TINY), d)
    t0 = (-0.5 - src) / safe
    t1 = (dims - 0.5 - src) / safe
    lo, hi = torch.minimum(t0, t1), torch.maximum(t0, t1)
    # A ray parallel to a slab and outside it misses the volume.
    parallel_out = (d.abs() < _TINY) & ((src < -0.5) | (src > dims - 0.5))
    lo = torch.where(d.abs() < _TINY, torch.full_like(lo, -math.inf), lo)
    hi = torch.where(d.abs() < _TINY, torch.where(parallel_out, torch.full_like(hi, -math.inf),
                                                  torch.full_like(hi, math.inf)), hi)
    a0 = lo.amax(dim=-1).clamp(min=0.0)
    a1 = hi.amin(dim=-1).clamp(max=1.0)
    return a0, torch.maximum(a1, a0)


def march_torch(
    density_grid: torch.Tensor,
    code_flat: torch.Tensor,
    mat_of: torch.Tensor,
    chan_of: torch.Tensor,
    dims: tuple[int, int, int],
    src: torch.Tensor,
    tgt: torch.Tensor,
    length: torch.Tensor,
    n_points: int,
    n_materials: int,
    n_channels: int,
    memory_budget_mb: float = 512.0,
    step_mm: float = 0.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The same march in torch operations (any device, differentiable with respect to ``src``/``tgt``/``length``).

    Args:
        density_grid: ``[1, 1, K, J, I]`` density (grid_sample layout: W ↔ I, H ↔ J, D ↔ K), g/cm³.
        code_flat: ``[I·J·K]`` integer (uint8/int16/int64) packed code of voxel (i, j, k) at ``(i·J + j)·K + k``.
        mat_of, chan_of: int64 lookup tables code → material id / structure channel.
        src, tgt: ``[M, 3]`` ray end points in voxel index coordinates; ``length``: ``[M]`` mm.

    Returns:
        ``mat [M, n_materials]`` (g/cm³·mm) and ``path [M, n_channels]`` (mm), in ``density_grid``'s dtype.
    """
    dev, dtype = density_grid.device, density_grid.dtype
    ni, nj, nk = dims
    hi = torch.tensor([ni - 1, nj - 1, nk - 1], dtype=src.dtype, device=dev)
    mats, paths = [], []
    for s, xyz, rho, live, step in _samples(density_grid, dims, src, tgt, length, n_points, memory_budget_mb,
                                            step_mm, bytes_per_sample=4 * 24):
        with torch.no_grad():
            idx = torch.minimum(torch.floor(xyz.clamp(min=0.0) + 0.5), hi).to(torch.int64)
            cd = code_flat[(idx[..., 0] * nj + idx[..., 1]) * nk + idx[..., 2]].to(torch.int64)
            mat_idx, chan_idx = mat_of[cd], chan_of[cd]
        rows = s.shape[0]
        mats.append(torch.zeros(rows, n_materials, dtype=dtype, device=dev).scatter_add(1, mat_idx, rho) * step)
        p = torch.zeros(rows, n_channels, dtype=dtype, device=dev).scatter_add(1, chan_idx, live) * step
        paths.append(p)
    mat = torch.cat(mats) if mats else torch.zeros(0, n_materials, dtype=dtype, device=dev)
    path = torch.cat(paths) if paths else torch.zeros(0, n_channels, dtype=dtype, device=dev)
    path = path.clone()
    path[:, 0] = 0.0  # channel 0 = no structure (the numba kernel skips it)
    return mat, path



def _samples(density_grid: torch.Tensor, dims: tuple[int, int, int], src: torch.Tensor, tgt: torch.Tensor,
             length: torch.Tensor, n_points: int, memory_budget_mb: float, step_mm: float, bytes_per_sample: int,
             with_xyz: bool = True):
    """The torch march's samples, chunk by chunk: ``(src, xyz [n, P, 3] voxel coordinates, rho [n, P] trilinear
    density × live, live [n, P] (samples past a ray's count weigh 0), step [n, 1] mm)``.

    ``with_xyz=False`` (density only): ``xyz`` is None and the sampling grid is made in one fused multiply-add
    from the rays' normalised end points — the same positions up to rounding, a third fewer full-size tensor
    operations in the forward pass and its gradient."""
    dev = density_grid.device
    dims_t = torch.tensor(list(dims), dtype=src.dtype, device=dev)
    n_max = n_points
    if step_mm > 0:  # the longest chord through the box bounds the samples of any ray
        with torch.no_grad():
            a0, a1 = clip_to_box(src, tgt, dims_t)
            n_ray = torch.ceil((a1 - a0) * length / step_mm).clamp(min=1)
            n_max = int(n_ray.max().item()) if n_ray.numel() else 1
    q = torch.arange(n_max, device=dev, dtype=src.dtype) + 0.5
    chunk = max(64, int(memory_budget_mb * 2**20 / (n_max * bytes_per_sample)))
    for a in range(0, src.shape[0], chunk):
        s, t, ln = src[a : a + chunk], tgt[a : a + chunk], length[a : a + chunk]
        a0, a1 = clip_to_box(s, t, dims_t)
        if step_mm > 0:
            n = torch.ceil(((a1 - a0) * ln / step_mm).detach()).clamp(min=1)  # [n] samples of each ray
        else:
            n = torch.full_like(a0, float(n_points))
        live = (q[None, :] < n[:, None]).to(density_grid.dtype)  # [n, P]
        alpha = a0[:, None] + ((a1 - a0) / n)[:, None] * q  # [n, P]
        if with_xyz:
            xyz = s[:, None, :] + alpha[..., None] * (t - s)[:, None, :]  # [n, P, 3] voxel coordinates
            grid = (xyz + 0.5) * (2.0 / dims_t) - 1.0
        else:  # (s + α (t − s) + 0.5) · 2 / dims − 1, as one multiply-add over [n, P, 3]
            xyz, scale = None, 2.0 / dims_t
            grid = torch.addcmul(((s + 0.5) * scale - 1.0)[:, None, :], alpha[..., None], ((t - s) * scale)[:, None, :])
        rho = F.grid_sample(density_grid, grid[None, None].to(density_grid.dtype), mode="bilinear",
                            padding_mode="border", align_corners=False)[0, 0, 0]  # [n, P]
        if step_mm > 0 or with_xyz:  # a fixed count has no dead samples
            rho = rho * live
        step = ((a1 - a0) / n * ln).to(density_grid.dtype)[:, None]  # [n, 1] step length, mm
        yield s, xyz, rho, live, step


def march_torch_density(
    density_grid: torch.Tensor,
    dims: tuple[int, int, int],
    src: torch.Tensor,
    tgt: torch.Tensor,
    length: torch.Tensor,
    n_points: int,
    memory_budget_mb: float = 512.0,
    step_mm: float = 0.0,
) -> torch.Tensor:
    """:func:`march_torch` with one output channel: ∫ρ dl ``[M]`` (g/cm³·mm) over every material — the same
    samples and steps, without the material and structure code lookups (registration needs only this)."""
    out = [rho.sum(1) * step[:, 0] for _, _, rho, _, step in _samples(
        density_grid, dims, src, tgt, length, n_points, memory_budget_mb, step_mm, bytes_per_sample=4 * 16,
        with_xyz=False)]
    return torch.cat(out) if out else torch.zeros(0, dtype=density_grid.dtype, device=density_grid.device)
