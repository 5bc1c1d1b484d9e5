"""Coarse grid of *uniform* blocks: where the fused ray march may step over samples without reading voxels.

The volume is cut into blocks of ``B = 2**BLOCK_SHIFT`` voxels a side (block ``(bi, bj, bk)`` holds voxel indices
``bi·B … bi·B + B − 1`` on each axis). A block is uniform when every voxel of it **and of a one-voxel halo on its
high side** (indices up to ``bi·B + B``, clipped to the volume) has the same density value and the same packed
material × structure code. A march sample whose lower trilinear corner ``(⌊x⌋, ⌊y⌋, ⌊z⌋)`` lies in a uniform
block reads eight equal densities and a nearest-voxel code equal to that value: its density is the block's
value whatever the position inside the block, so a run of such samples sums to ``count × value`` (the midpoint
rule over a constant is exact). In a chest CT these are the air blocks outside the scanner's reconstruction
circle and around the body where the CT clamps to −1000 HU (about a fifth of the samples of a PA view); noisy
air, whose density varies voxel to voxel, is not uniform and is sampled as before.

:func:`uniform_blocks` builds the grid (uint8 ``[⌈I/B⌉, ⌈J/B⌉, ⌈K/B⌉]``, 1 = uniform); it is built once with the
volumes and stored beside them in the volume cache (:mod:`xraylab.physics.volume_cache`).
"""

from __future__ import annotations

import numpy as np

from xraylab.physics.raymarch import HAVE_NUMBA, numba

BLOCK_SHIFT = 3  # blocks of 8 × 8 × 8 voxels


def grid_shape(shape: tuple[int, ...], shift: int = BLOCK_SHIFT) -> tuple[int, int, int]:
    """Blocks along each axis of a volume of ``shape`` voxels."""
    b = 1 << shift
    return tuple((int(n) + b - 1) // b for n in shape)  # type: ignore[return-value]


def _make_kernel():  # pragma: no cover - compiled
    @numba.njit(parallel=True, cache=True, nogil=True)
    def _uniform(density, code, shift, out):
        ni, nj, nk = density.shape
        b = 1 << shift
        for bi in numba.prange(out.shape[0]):
            for bj in range(out.shape[1]):
                for bk in range(out.shape[2]):
                    i0, j0, k0 = bi * b, bj * b, bk * b
                    d0, c0 = density[i0, j0, k0], code[i0, j0, k0]
                    same = True
                    for i in range(i0, min(i0 + b + 1, ni)):
                        for j in range(j0, min(j0 + b + 1, nj)):
                            for k in range(k0, min(k0 + b + 1, nk)):
                                if density[i, j, k] != d0 or code[i, j, k] != c0:
                                    same = False
                                    break
                            if not same:
                                break
                        if not same:
                            break
                    out[bi, bj, bk] = 1 if same else 0

    return _uniform


_KERNEL = None


def uniform_blocks(density: np.ndarray, code: np.ndarray, shift: int = BLOCK_SHIFT) -> np.ndarray:
    """uint8 ``[⌈I/B⌉, ⌈J/B⌉, ⌈K/B⌉]``: 1 where a block and its high-side halo hold one density and one code.

    Args:
        density: float32 ``[I, J, K]`` g/cm³; code: ``[I, J, K]`` packed material × structure code.
        shift: block side ``B = 2**shift`` voxels.

    Without numba every block is reported non-uniform (all zeros: the march then reads every sample).
    """
    global _KERNEL
    out = np.zeros(grid_shape(density.shape, shift), dtype=np.uint8)
    if not HAVE_NUMBA:  # pragma: no cover - the compiled march is the only reader
        return out
    if _KERNEL is None:
        _KERNEL = _make_kernel()
    _KERNEL(density, code, int(shift), out)
    return out

