"""Empty-space skipping in the compiled march: the uniform-block grid is right, and stepping over uniform blocks
gives the sums of reading every sample (to float64 rounding; path lengths exactly)."""

from __future__ import annotations

import numpy as np
import pytest

from xraylab import phantoms
from xraylab.physics import raymarch
from xraylab.physics.occupancy import BLOCK_SHIFT, grid_shape, uniform_blocks
from xraylab.physics.volume_cache import load_or_build
from xraylab.physics.volumes import build_volumes

pytestmark = pytest.mark.skipif(not raymarch.HAVE_NUMBA, reason="numba not installed")


def _reference(density: np.ndarray, code: np.ndarray, shift: int) -> np.ndarray:
    """The grid by slicing: a block and its one-voxel high-side halo hold one density and one code."""
    b = 1 << shift
    out = np.zeros(grid_shape(density.shape, shift), dtype=np.uint8)
    for bi, bj, bk in np.ndindex(*out.shape):
        sl = (slice(bi * b, bi * b + b + 1), slice(bj * b, bj * b + b + 1), slice(bk * b, bk * b + b + 1))
        out[bi, bj, bk] = (density[sl] == density[sl].flat[0]).all() and (code[sl] == code[sl].flat[0]).all()
    return out


def _body(shape=(37, 29, 43), seed=0):
    """Air (one density, code 0) around a noisy box with a two-material, two-channel inside and a lone voxel."""
    rng = np.random.default_rng(seed)
    density = np.full(shape, np.float32(0.00121), dtype=np.float32)
    code = np.zeros(shape, dtype=np.uint8)
    inner = (slice(9, 26), slice(8, 21), slice(12, 30))
    density[inner] = rng.uniform(0.2, 1.9, density[inner].shape).astype(np.float32)
    code[inner] = rng.choice(np.array([3, 4, 10, 11], dtype=np.uint8), code[inner].shape)  # 2 materials × 2 channels
    density[30, 3, 5], code[30, 3, 5] = 1.0, 3  # one dense voxel in the air: its block and its halo's owners
    return density, code


@pytest.mark.parametrize("shift", [1, 2, BLOCK_SHIFT])
def test_grid_matches_the_definition(shift):
    density, code = _body()
    grid = uniform_blocks(density, code, shift)
    assert grid.shape == grid_shape(density.shape, shift)
    assert np.array_equal(grid, _reference(density, code, shift))
    assert 0 < grid.mean() < 1
    b = 1 << shift
    # The lone voxel makes its own block and the blocks whose halo reaches it non-uniform.
    assert grid[30 // b, 3 // b, 5 // b] == 0
    if 30 % b == 0:
        assert grid[30 // b - 1, 3 // b, 5 // b] == 0


def _march(density, code, src, tgt, n_points=0, step_mm=0.0, blocks=None, shift=BLOCK_SHIFT):
    length = np.linalg.norm(tgt - src, axis=1) * 0.7  # 0.7 mm voxels
    mat_of = (np.arange(14) % 7).astype(np.int64)
    chan_of = (np.arange(14) // 7).astype(np.int64)
    return raymarch.march_numba(density, code, mat_of, chan_of, src, tgt, length, n_points, 7, 2, threads=2,
                                step_mm=step_mm, blocks=blocks, block_shift=shift)


def _rays(shape, m=3000, seed=1):
    """Oblique rays from outside, rays from inside the box, and rays along the axes on block boundaries."""
    rng = np.random.default_rng(seed)
    n = np.array(shape, dtype=np.float64)
    src = rng.uniform(-0.8 * n, 1.8 * n, (m, 3))
    tgt = rng.uniform(-0.8 * n, 1.8 * n, (m, 3))
    src[: m // 10] = rng.uniform(0, n - 1, (m // 10, 3))  # sources inside the volume
    axis = []
    for ax in range(3):
        for c1 in (0.0, 8.0, 16.0, 7.5, 24.0):
            for c2 in (0.0, 8.0, 12.25):
                s, t = np.full(3, c1), np.full(3, c1)
                s[(ax + 2) % 3] = t[(ax + 2) % 3] = c2
                s[ax], t[ax] = -5.0, n[ax] + 5.0
                axis += [(s, t), (t, s)]
    src = np.concatenate([src, np.array([a for a, _ in axis])])
    tgt = np.concatenate([tgt, np.array([b for _, b in axis])])
    return src, tgt


@pytest.mark.parametrize("shift", [2, BLOCK_SHIFT])
@pytest.mark.parametrize("sampling", [{"n_points": 157}, {"step_mm": 0.45}])
def test_skipping_gives_the_sample_by_sample_sums(shift, sampling):
    density, code = _body()
    grid = uniform_blocks(density, code, shift)
    src, tgt = _rays(density.shape)
    mat, path = _march(density, code, src, tgt, **sampling)
    mat_s, path_s = _march(density, code, src, tgt, blocks=grid, shift=shift, **sampling)
    assert mat[:, 0].max() > 0 and mat[:, 3].max() > 0 and path[:, 1].max() > 0  # air, tissue, a structure
    np.testing.assert_allclose(mat_s, mat, rtol=1e-12, atol=0)
    np.testing.assert_array_equal(path_s, path)
    assert np.array_equal(mat_s.astype(np.float32), mat.astype(np.float32))


def test_skipping_leaves_a_phantom_projection_unchanged():
    """Through the projector's own volumes: the float32 outputs of the default (skipping) march are those of the
    sample-by-sample march."""
    ct = phantoms.left_marker(n=61, spacing_mm=2.0)
    vol = build_volumes(ct, ["marker"])
    grid = vol.uniform_blocks()
    assert grid.any()
    mat_of, chan_of = vol.tables()
    src, tgt = _rays(ct.shape, m=2000, seed=3)
    length = np.linalg.norm(tgt - src, axis=1) * 2.0
    args = (vol.density, vol.code, mat_of, chan_of, src, tgt, length, 301, 7, vol.n_channels)
    mat, path = raymarch.march_numba(*args)
    mat_s, path_s = raymarch.march_numba(*args, blocks=grid, block_shift=BLOCK_SHIFT)
    np.testing.assert_allclose(mat_s, mat, rtol=1e-12, atol=0)
    assert np.array_equal(path_s, path) and path[:, 1].max() > 0


def test_a_visiting_order_leaves_every_ray_its_own_sums():
    """``order`` changes which thread takes which ray, not the result: the same rows, bit for bit."""
    density, code = _body()
    grid = uniform_blocks(density, code, BLOCK_SHIFT)
    src, tgt = _rays(density.shape, m=1500, seed=5)
    length = np.linalg.norm(tgt - src, axis=1) * 0.7
    mat_of = (np.arange(14) % 7).astype(np.int64)
    chan_of = (np.arange(14) // 7).astype(np.int64)
    args = (density, code, mat_of, chan_of, src, tgt, length, 97, 7, 2)
    mat, path = raymarch.march_numba(*args, threads=2, blocks=grid)
    order = np.random.default_rng(0).permutation(src.shape[0])
    mat_o, path_o = raymarch.march_numba(*args, threads=2, blocks=grid, order=order)
    assert mat[:, 3].max() > 0 and path[:, 1].max() > 0
    assert np.array_equal(mat_o, mat) and np.array_equal(path_o, path)
    for bad in (order[:-1], np.where(order == 0, 1, order), np.where(order == 0, src.shape[0], order)):
        with pytest.raises(ValueError, match="permutation"):  # short, a repeated row, a row out of range
            raymarch.march_numba(*args, order=bad)


def test_a_grid_of_another_shape_is_refused():
    density, code = _body()
    src, tgt = _rays(density.shape, m=10)
    with pytest.raises(ValueError, match="do not fit"):
        _march(density, code, src, tgt, n_points=10, blocks=np.zeros((2, 2, 2), np.uint8))


def test_volume_cache_stores_the_grid_and_adds_it_to_older_entries(tmp_path, monkeypatch):
    monkeypatch.setenv("XRAYLAB_CACHE", str(tmp_path / "cache"))
    ct_file = tmp_path / "ct.bin"
    ct_file.write_bytes(b"pretend CT bytes")
    ct = phantoms.sphere(n=41, spacing_mm=2.0)
    _, vol = load_or_build([ct_file], {}, lambda: ct)
    (entry,) = (tmp_path / "cache" / "volumes").iterdir()
    stored = np.load(entry / "blocks.npy")
    assert np.array_equal(stored, uniform_blocks(vol.density, vol.code)) and stored.any()
    (entry / "blocks.npy").unlink()  # an entry written before the grid existed
    _, vol2 = load_or_build([ct_file], {}, lambda: ct)
    assert np.array_equal(vol2.blocks, stored) and np.array_equal(np.load(entry / "blocks.npy"), stored)
