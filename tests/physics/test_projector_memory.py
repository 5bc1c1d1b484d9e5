"""An 1800 × 1800 render (the Fok et al. detector) stays within the 8 GB CPU memory bound."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent(
    """
    import resource, torch
    from xraylab.io.ct import load_default_ct
    from xraylab.physics.geometry import preset_geometry
    from xraylab.physics.projector import Projector
    ct = load_default_ct(downsample=4)
    g = preset_geometry("fok2024")
    assert (g.rows, g.cols) == (1800, 1800)
    p = Projector(ct, structures=["clavicles", "lungs"], renderer="trilinear", n_points=64).project(g)
    lungs = p.masks()["lungs"]
    print(tuple(lungs.shape), int(lungs.sum()), float(p.total_density().max()),
          resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20)
    """
)


@pytest.mark.slow
def test_fok_detector_renders_within_8_gb():
    r = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, encoding="utf-8", timeout=900)
    assert r.returncode == 0, r.stderr[-2000:]
    shape, lung_px, max_density, peak_gb = r.stdout.strip().splitlines()[-1].rsplit(" ", 3)
    assert shape == "(1, 1, 1800, 1800)"
    assert int(lung_px) > 100_000  # the lungs cover a large part of the chest field
    assert 5.0 < float(max_density) < 100.0  # g/cm²: tens of centimetres of tissue at most
    assert float(peak_gb) < 8.0
