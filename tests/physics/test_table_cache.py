"""The on-disk memo of the physics tables (:mod:`xraylab.physics.table_cache`)."""

from __future__ import annotations

import numpy as np
import pytest

from xraylab.physics import table_cache
from xraylab.physics.spectrum import spectrum_cached


def _counting(namespace: str):
    calls: list = []

    @table_cache.disk_memo(namespace)
    def f(x: float, n: int):
        calls.append((x, n))
        return np.arange(n) * x, float(x) / 3.0

    return f, calls


def test_disk_memo_stores_and_reloads_without_recomputing(tmp_path, monkeypatch):
    monkeypatch.setenv("XRAYLAB_CACHE", str(tmp_path))
    f, calls = _counting("t_reload")
    a, b = f(1.5, 4)
    f.cache_clear()  # a new process: only the disk is left
    a2, b2 = f(1.5, 4)
    assert calls == [(1.5, 4)]
    np.testing.assert_array_equal(a2, a)
    assert b2 == b and isinstance(b2, float)
    assert len(list((tmp_path / "tables" / "t_reload").glob("*.npz"))) == 1
    f(2.5, 4)  # other arguments: another entry
    assert calls[-1] == (2.5, 4)
    assert not list((tmp_path / "tables" / "t_reload").glob(".*tmp"))


def test_damaged_entry_is_recomputed_and_off_disables(tmp_path, monkeypatch):
    monkeypatch.setenv("XRAYLAB_CACHE", str(tmp_path))
    f, calls = _counting("t_damaged")
    f(1.0, 3)
    (entry,) = (tmp_path / "tables" / "t_damaged").glob("*.npz")
    entry.write_bytes(b"not an npz")
    f.cache_clear()
    a, _ = f(1.0, 3)
    assert len(calls) == 2
    np.testing.assert_array_equal(a, [0.0, 1.0, 2.0])
    monkeypatch.setenv("XRAYLAB_CACHE", "off")
    g, gcalls = _counting("t_off")
    g(1.0, 2)
    g.cache_clear()
    g(1.0, 2)
    assert len(gcalls) == 2
    assert not (tmp_path / "tables" / "t_off").exists()


def test_cached_spectrum_equals_spekpy(tmp_path, monkeypatch):
    monkeypatch.setenv("XRAYLAB_CACHE", str(tmp_path))
    args = (90.0, "W", 12.0, (("Al", 2.5),), 1.0, 100.0, 0.0)
    fresh = spectrum_cached.__wrapped__(*args)
    spectrum_cached.cache_clear()
    spectrum_cached(*args)  # computed and stored
    spectrum_cached.cache_clear()
    loaded = spectrum_cached(*args)  # from disk
    for x, y in zip(fresh, loaded):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def _seed_manifest() -> dict:
    import json

    path = table_cache.SEED_DIR / "manifest.json"
    assert path.is_file(), "the seed tables are missing: run python scripts/make_seed_tables.py"
    manifest = json.loads(path.read_text())
    made, here = manifest["libraries"], table_cache._library_versions()

    def libraries(text: str) -> list[str]:
        return [part for part in text.split(";") if not part.startswith("xraylab=")]

    if made != here and libraries(made) == libraries(here):  # only xraylab's own version moved: our job
        pytest.fail(f"seed tables were made for {made}, the package is {here}: rerun scripts/make_seed_tables.py")
    if made != here:  # another spekpy / xraydb: the seeds are simply not found here
        pytest.skip(f"seed tables were made with {made}, this environment has {here} (they are not used here); "
                    "rerun scripts/make_seed_tables.py to ship tables for these versions")
    return manifest


def _memoised() -> dict:
    # every module that defines a memoised table, so that MEMOISED knows each namespace
    import xraylab.physics.attenuation
    import xraylab.physics.grid
    import xraylab.physics.heel
    import xraylab.physics.spectrum  # noqa: F401

    return table_cache.MEMOISED


def test_seed_tables_equal_a_fresh_computation():
    """Every shipped entry sits under the key its arguments give and holds what the function computes now."""
    import ast

    manifest = _seed_manifest()
    memoised = _memoised()
    namespaces = set()
    for name, args_text in manifest["entries"].items():
        namespace = name.split("/")[0]
        fn, version = memoised[namespace]
        args = ast.literal_eval(args_text)
        assert table_cache.entry_name(namespace, version, args) == name
        seed = table_cache._decode((table_cache.SEED_DIR / name).read_bytes())
        fresh = fn.__wrapped__(*args)
        for s, f in zip(seed if isinstance(seed, tuple) else (seed,), fresh if isinstance(fresh, tuple) else (fresh,)):
            np.testing.assert_allclose(np.asarray(s), np.asarray(f), rtol=1e-12, atol=0,
                                       err_msg=f"{name}: rerun python scripts/make_seed_tables.py")
        namespaces.add(namespace)
    assert {"spectrum", "spectrum_y", "mu_over_rho", "grid_transmission"} <= namespaces


def test_seed_tables_are_used_when_the_cache_is_empty(tmp_path, monkeypatch):
    """A fresh cache finds each shipped entry without computing or storing it; a cache entry wins over a seed."""
    import ast

    monkeypatch.setenv("XRAYLAB_CACHE", str(tmp_path))
    manifest = _seed_manifest()
    memoised = _memoised()
    name, args_text = next(iter(sorted(manifest["entries"].items())))
    fn, _ = memoised[name.split("/")[0]]
    fn.cache_clear()
    seed = fn(*ast.literal_eval(args_text))
    assert not (tmp_path / "tables").exists()  # came from the seed, nothing computed or written
    np.testing.assert_array_equal(np.asarray(seed[0] if isinstance(seed, tuple) else seed),
                                  np.asarray(table_cache._decode((table_cache.SEED_DIR / name).read_bytes())[0]
                                             if isinstance(seed, tuple) else
                                             table_cache._decode((table_cache.SEED_DIR / name).read_bytes())))
    (tmp_path / "tables" / name).parent.mkdir(parents=True)
    (tmp_path / "tables" / name).write_bytes(table_cache._encode(np.array([42.0])))
    fn.cache_clear()
    np.testing.assert_array_equal(fn(*ast.literal_eval(args_text)), [42.0])  # the user's cache first
    fn.cache_clear()
