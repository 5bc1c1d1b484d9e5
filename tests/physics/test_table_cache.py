"""The on-disk memo of the physics tables (:mod:`xraylab.physics.table_cache`)."""

from __future__ import annotations

import numpy as np

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
