"""Several rays per detector pixel (``Projector(supersample=...)``): detail finer than a pixel is integrated,
not aliased; uniform regions and mask sizes stay as they were."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from xraylab import phantoms
from xraylab.io.ct import CTVolume
from xraylab.physics.geometry import Geometry
from xraylab.physics.materials import hu_to_density
from xraylab.physics.projector import Projector, auto_supersample

WATER_RHO = float(hu_to_density(torch.tensor(0.0)))


def _stripes(n: int = 81, thickness_mm: float = 40.0) -> CTVolume:
    """A slab (A–P thickness ``thickness_mm``) of 1 mm water bars along S–I alternating with 1 mm air bars."""
    ax = torch.arange(n, dtype=torch.float64) - (n - 1) / 2
    x, y, _ = torch.meshgrid(ax, ax, ax, indexing="ij")
    bars = (torch.remainder(x, 2) == 0) & (y.abs() <= thickness_mm / 2)
    origin = (-(n - 1) / 2,) * 3
    return CTVolume(hu=torch.where(bars, 0.0, -1000.0).float(), spacing=(1.0, 1.0, 1.0), origin=origin,
                    direction=np.eye(3), labels=bars.to(torch.int16), structures={1: "bars"}, name="stripes",
                    source="phantom:stripes")


def test_bars_finer_than_a_pixel_are_averaged_not_aliased():
    ct = _stripes()
    # 4.4 mm pixels → 4 mm at the isocenter: two bar periods per pixel, sampled at drifting phases.
    g = Geometry(sid_mm=1000.0, sod_mm=909.09, rows=9, cols=15, pitch_mm=4.4)
    # Total density: at a bar edge the material *label* is the nearest voxel's, so the split between the water
    # and air channels depends on where samples fall; their sum is the trilinear line integral.
    one = Projector(ct, renderer="trilinear", n_points=400).project(g).total_density()[0, 0, 4, 2:13]
    four = Projector(ct, renderer="trilinear", n_points=400, supersample=4).project(g).total_density()[0, 0, 4, 2:13]
    half = 0.5 * 40.0 * (WATER_RHO + 0.0012) / 10.0  # g/cm²: half of the slab is water, half air
    assert float(four.mean()) == pytest.approx(half, rel=0.05)
    assert float((four - half).abs().max()) < 0.35 * float((one - half).abs().max())


def test_uniform_slab_and_sphere_mask_are_unchanged():
    slab = phantoms.slab(thickness_mm=41.0, n=61)
    g = Geometry(sid_mm=1000.0, sod_mm=800.0, rows=21, cols=21, pitch_mm=2.5)
    a = Projector(slab, renderer="trilinear", n_points=300).project(g).materials["soft_tissue"][0, 0, 5:16, 5:16]
    b = Projector(slab, renderer="trilinear", n_points=300, supersample=3).project(g).materials["soft_tissue"]
    assert torch.allclose(b[0, 0, 5:16, 5:16], a, rtol=1e-4)
    r = 25.5
    sph = phantoms.sphere(radius_mm=r, n=61)
    g = Geometry(sid_mm=1000.0, sod_mm=800.0, rows=41, cols=41, pitch_mm=2.0)
    mask = Projector(sph, structures=["sphere"], renderer="trilinear", supersample=4).project(g).masks()["sphere"]
    radius_px = np.sqrt(mask[0, 0].sum().item() / np.pi)
    assert abs(radius_px - r * g.sid_mm / g.sod_mm / g.pitch_mm) <= 0.35  # majority-covered pixels: no dilation


def test_auto_factor_follows_pitch_at_the_isocenter_and_bad_values_are_refused():
    ct = CTVolume(hu=torch.zeros(4, 4, 4), spacing=(0.7, 0.7, 2.5), origin=(0.0, 0.0, 0.0), direction=np.eye(3),
                  labels=None, structures={}, name="h", source="h")
    chest = dict(sid_mm=1800.0, sod_mm=1650.0)
    assert auto_supersample(ct, Geometry(**chest, rows=256, cols=256, pitch_mm=430 / 256)) == 3
    assert auto_supersample(ct, Geometry(**chest, rows=512, cols=512, pitch_mm=430 / 512)) == 2
    assert auto_supersample(ct, Geometry(**chest, rows=1024, cols=1024, pitch_mm=430 / 1024)) == 1
    assert auto_supersample(ct, Geometry(**chest, rows=32, cols=32, pitch_mm=30.0)) == 4  # capped
    sph = phantoms.sphere(n=21, spacing_mm=2.0)
    g = Geometry(sid_mm=1000.0, sod_mm=800.0, rows=16, cols=16, pitch_mm=6.0)  # 4.8 mm at the isocenter
    assert Projector(sph, supersample="auto").supersample_factor(g) == 3
    with pytest.raises(ValueError, match="supersample"):
        Projector(sph, supersample=0)


def test_render_spec_supersample_keeps_old_fingerprints_and_validates():
    from pydantic import ValidationError

    from xraylab.data.spec import RenderSpec

    assert "supersample" not in RenderSpec().model_dump()  # default 1: the dump (and fingerprint) as before
    assert RenderSpec(supersample="auto").model_dump()["supersample"] == "auto"
    with pytest.raises(ValidationError, match="supersample"):
        RenderSpec(supersample=5)
