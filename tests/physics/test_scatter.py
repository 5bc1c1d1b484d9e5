"""Scatter kernel superposition (issue 3 item 6) against REFERENCES.md §7 and the fit targets of scatter_fit."""

from __future__ import annotations

import pytest
import torch

from xraylab.physics.grid import GridConfig, grid_transmission
from xraylab.physics.scatter import ScatterConfig, scatter_estimate, water_equivalent_thickness_cm
from xraylab.physics.scatter_fit import (
    polychromatic_layers,
    reference_geometry,
    slab_spr,
)

CFG = ScatterConfig()  # the fitted defaults


def sf(spr: float) -> float:
    return spr / (1.0 + spr)


@pytest.mark.parametrize("kvp", [80.0, 120.0])
def test_water_equivalent_thickness_inverts_polychromatic_transmission(kvp):
    tau = torch.tensor([[0.0, 5.0, 20.0, 35.0]])
    primary, flood, energies = polychromatic_layers(tau, kvp)
    trans = primary.sum(1) / flood.sum()
    est = water_equivalent_thickness_cm(trans, flood, energies)
    assert torch.allclose(est.flatten(), tau.flatten(), atol=0.02, rtol=0.005)
    # A monoenergetic μ_w at the flood's mean energy misestimates thick parts (beam hardening); the
    # polychromatic inversion is several times closer.
    mean_e = float((flood * energies).sum() / flood.sum())
    from xraylab.physics.attenuation import linear_attenuation

    naive = -torch.log(trans) / float(linear_attenuation("water", [mean_e])[0])
    naive_err = abs(float(naive.flatten()[3]) - 35.0)
    assert naive_err > 0.01 * 35.0
    assert abs(float(est.flatten()[3]) - 35.0) < naive_err / 3


def test_slab_spr_rises_with_thickness_in_published_range():
    # Water slabs, 30 × 30 cm, no grid, no air gap, 120 kVp. Ranges [R] (scatter_fit docstring):
    # SF 0.55–0.68 at 10 cm, 0.75–0.85 at 20 cm, 0.85–0.92 at 30 cm.
    sprs = [slab_spr(CFG, t) for t in (10.0, 20.0, 30.0)]
    assert sprs[0] < sprs[1] < sprs[2]
    for s, (lo, hi) in zip(sprs, ((0.55, 0.68), (0.75, 0.85), (0.85, 0.92))):
        assert lo <= sf(s) <= hi, sprs


def test_slab_spr_rises_with_field_size_and_saturates():
    sprs = {f: slab_spr(CFG, 20.0, field_cm=f) for f in (5.0, 10.0, 20.0, 30.0, 40.0)}
    assert sprs[5.0] < sprs[10.0] < sprs[20.0] < sprs[30.0] <= sprs[40.0]
    assert sprs[10.0] < 0.7 * sprs[30.0]            # strong field-size dependence for small fields
    assert sprs[40.0] < 1.10 * sprs[30.0]           # saturation near 30 × 30 cm (REFERENCES.md §7)


def test_slab_spr_falls_with_air_gap():
    sprs = [slab_spr(CFG, 20.0, air_gap_mm=g) for g in (0.0, 100.0, 200.0, 300.0)]
    assert all(a > b for a, b in zip(sprs, sprs[1:])), sprs
    assert sprs[-1] < 0.7 * sprs[0]


def test_kvp_dependence_is_weak_but_present():
    s80, s120 = slab_spr(CFG, 20.0, kvp=80.0), slab_spr(CFG, 20.0, kvp=120.0)
    assert abs(s80 - s120) > 0.02 * s120            # enters through μ_w(Ē) and the hardening curve
    assert abs(sf(s80) - sf(s120)) < 0.05           # SF of a slab changes little with kVp [R]


def _layers(tau_value: float = 20.0, n: int = 64):
    geo = reference_geometry(n=n)
    tau = torch.full((n, n), tau_value)
    primary, flood, energies = polychromatic_layers(tau)
    return geo, primary, flood, energies


def test_shapes_units_and_switches():
    geo, primary, flood, energies = _layers()
    s = scatter_estimate(primary, flood, energies, geo, CFG)
    assert s.shape == primary.shape and s.dtype == primary.dtype and float(s.min()) >= 0
    # Scaling the fluence scales the scatter (same units as the primary).
    s2 = scatter_estimate(3.0 * primary, 3.0 * flood, energies, geo, CFG)
    assert torch.allclose(s2, 3.0 * s, rtol=1e-4)
    # Disabled → zeros; an empty field (no attenuation) emits no scatter.
    assert torch.equal(scatter_estimate(primary, flood, energies, geo, CFG.model_copy(update={"enabled": False})),
                       torch.zeros_like(primary))
    air = flood.view(1, -1, 1, 1).expand_as(primary).contiguous()
    assert float(scatter_estimate(air, flood, energies, geo, CFG).abs().max()) < 1e-6
    # A scalar grid_Ts scales the scatter uniformly; a per-energy one reshapes its spectrum.
    half = scatter_estimate(primary, flood, energies, geo, CFG, grid_Ts=0.5)
    assert torch.allclose(half, 0.5 * s, rtol=1e-5)
    # grid: none / disabled is a no-op.
    assert torch.equal(scatter_estimate(primary, flood, energies, geo, CFG, grid=GridConfig(enabled=False)), s)
    _, ts = grid_transmission(GridConfig(), energies)
    sg = scatter_estimate(primary, flood, energies, geo, CFG, grid_Ts=ts)
    assert torch.allclose(sg.sum(1), (s * ts.view(1, -1, 1, 1)).sum(1), rtol=1e-4)


def test_scatter_only_from_irradiated_field():
    from xraylab.physics.collimation import CollimationConfig, collimation_field

    geo, primary, flood, energies = _layers(n=128)
    half = collimation_field(CollimationConfig(width_mm=200.0, offset_u_mm=-110.0), geo)
    s_full = scatter_estimate(primary, flood, energies, geo, CFG).sum(1)
    s_half = scatter_estimate(primary * half, flood, energies, geo, CFG, field=half).sum(1)
    assert float(s_half.sum()) < 0.75 * float(s_full.sum())
    # Scatter spills past the field edge but decays away from it.
    row = s_half[0, 64]
    assert float(row[70]) > 0 and float(row[120]) < 0.5 * float(row[60])


def test_grid_applies_its_ts_to_the_scatter_spectrum():
    geo, primary, flood, energies = _layers()
    open_ = scatter_estimate(primary, flood, energies, geo, CFG)
    g12 = scatter_estimate(primary, flood, energies, geo, CFG, grid=GridConfig(ratio=12.0))
    g8 = scatter_estimate(primary, flood, energies, geo, CFG, grid=GridConfig(ratio=8.0))
    assert float(g12.sum()) < float(g8.sum()) < 0.3 * float(open_.sum())
    _, ts = grid_transmission(GridConfig(ratio=12.0), energies)
    assert torch.allclose(g12, open_ * ts.view(1, -1, 1, 1), rtol=1e-4, atol=1e-9)
