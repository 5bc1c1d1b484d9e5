"""The compiled ray march sums each ray in one thread: its output does not depend on the thread count, which is
what lets dataset workers give it every core without breaking byte-identical datasets."""

from __future__ import annotations

import numpy as np
import pytest

from xraylab import phantoms
from xraylab.physics import raymarch
from xraylab.physics.geometry import Geometry
from xraylab.physics.projector import Projector


@pytest.mark.skipif(not raymarch.HAVE_NUMBA, reason="numba not installed")
def test_march_is_bitwise_identical_for_one_and_two_threads(monkeypatch):
    ct = phantoms.left_marker(n=41, spacing_mm=2.0)
    g = Geometry(sid_mm=1000.0, sod_mm=800.0, rows=33, cols=29, pitch_mm=3.0, rotation_deg=7.0)
    proj = Projector(ct, structures=["marker"], renderer="trilinear", n_points=97, backend="numba")
    outs = []
    for threads in (1, 2):
        monkeypatch.setattr(raymarch, "DEFAULT_THREADS", threads)
        p = proj.project(g)
        outs.append(np.concatenate([p.total_density().numpy().ravel(), p.paths["marker"].numpy().ravel()]))
    assert outs[0].max() > 0
    assert outs[0].tobytes() == outs[1].tobytes()
