"""On-disk cache of the projector volumes: a hit skips loading the CT and renders the same image."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from xraylab import phantoms
from xraylab.physics.geometry import Geometry
from xraylab.physics.projector import Projector
from xraylab.physics.volume_cache import cache_root, load_or_build


@pytest.fixture
def ct_file(tmp_path):
    f = tmp_path / "ct.bin"
    f.write_bytes(b"pretend CT bytes")
    return f


def test_second_call_is_a_hit_without_loading_the_ct(tmp_path, monkeypatch, ct_file):
    monkeypatch.setenv("XRAYLAB_CACHE", str(tmp_path / "cache"))
    ct = phantoms.left_marker(n=41, spacing_mm=2.0)
    calls = []

    def load():
        calls.append(1)
        return ct

    ct1, vol1 = load_or_build([ct_file, None], {"downsample": 1}, load, structures=["marker"])
    ct2, vol2 = load_or_build([ct_file, None], {"downsample": 1}, load, structures=["marker"])
    assert len(calls) == 1
    assert np.array_equal(vol1.density, vol2.density) and np.array_equal(vol1.code, vol2.code)
    assert vol2.members == vol1.members and vol2.channel_of == vol1.channel_of
    assert ct2.shape == ct.shape and torch.allclose(ct2.affine, ct.affine) and ct2.structures == ct.structures
    assert ct2.hu.untyped_storage().nbytes() <= 4  # header only: no voxels held
    g = Geometry(sid_mm=1000.0, sod_mm=800.0, rows=17, cols=17, pitch_mm=5.0, rotation_deg=20.0)
    a = Projector(ct, structures=["marker"], renderer="trilinear", n_points=100).project(g)
    b = Projector(ct2, structures=["marker"], renderer="trilinear", n_points=100, volumes=vol2).project(g)
    assert torch.equal(a.total_density(), b.total_density()) and torch.equal(a.paths["marker"], b.paths["marker"])
    # Other settings, structures or file bytes are other entries.
    load_or_build([ct_file, None], {"downsample": 2}, load, structures=["marker"])
    load_or_build([ct_file, None], {"downsample": 1}, load, structures=[])
    ct_file.write_bytes(b"another CT")
    load_or_build([ct_file, None], {"downsample": 1}, load, structures=["marker"])
    assert len(calls) == 4
    assert len(list((tmp_path / "cache" / "volumes").iterdir())) == 4  # no temporary folders left behind


def test_cache_can_be_switched_off(tmp_path, monkeypatch, ct_file):
    monkeypatch.setenv("XRAYLAB_CACHE", "off")
    assert cache_root() is None
    calls = []
    ct = phantoms.sphere(n=21)
    for _ in range(2):
        load_or_build([ct_file], {}, lambda: calls.append(1) or ct)
    assert len(calls) == 2
