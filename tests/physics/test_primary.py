"""Polychromatic primary: Beer–Lambert, beam hardening, kerma behind water (REFERENCES.md §2–3)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from xraylab.physics.attenuation import mass_attenuation
from xraylab.physics.geometry import make_geometry
from xraylab.physics.heel import HeelConfig
from xraylab.physics.primary import incident_fluence, primary_fluence, stack_materials
from xraylab.physics.spectrum import SpectrumConfig, air_kerma_ugy, make_spectrum


def _slabs(thicknesses_cm, material="water", density=1.0):
    """One pixel per thickness: ``{material: [1, 1, 1, N]}`` in g/cm²."""
    return {material: torch.tensor(thicknesses_cm, dtype=torch.float32).view(1, 1, 1, -1) * density}


def test_monoenergetic_beer_lambert_is_exact():
    spec = make_spectrum(SpectrumConfig(monoenergetic_keV=60.0, mas=1.0), 1000.0)
    e, phi = spec.tensor()
    n0 = phi.view(1, -1, 1, 1)
    t = [0.0, 1.0, 5.0, 10.0, 20.0]
    p = primary_fluence(n0, _slabs(t), e)
    mu = mass_attenuation("water", [60.0])[0]  # cm²/g, ρ = 1
    expected = float(phi[0]) * np.exp(-mu * np.array(t))
    np.testing.assert_allclose(p[0, 0, 0].double().numpy(), expected, rtol=1e-5)


def test_materials_add_in_the_exponent():
    spec = make_spectrum(SpectrumConfig(monoenergetic_keV=50.0, mas=1.0), 1000.0)
    e, phi = spec.tensor()
    n0 = phi.view(1, -1, 1, 1)
    mats = {"soft_tissue": torch.full((1, 1, 1, 1), 15.0), "bone": torch.full((1, 1, 1, 1), 2.0)}
    p = float(primary_fluence(n0, mats, e)[0, 0, 0, 0])
    mu_s, mu_b = mass_attenuation("soft_tissue", [50.0])[0], mass_attenuation("bone", [50.0])[0]
    assert p == pytest.approx(float(phi[0]) * math.exp(-15 * mu_s - 2 * mu_b), rel=1e-5)


def test_beam_hardening_effective_mu_falls_with_thickness():
    spec = make_spectrum(SpectrumConfig(kvp=120, mas=1.0), 1800.0)
    e, phi = spec.tensor()
    n0 = phi.view(1, -1, 1, 1)
    t = np.array([1.0, 5.0, 10.0, 20.0, 30.0])
    p = primary_fluence(n0, _slabs(list(t)), e)[0, :, 0, :]  # [E, N]
    trans = p.sum(0).double().numpy() / float(phi.sum())
    mu_eff = -np.log(trans) / t
    assert np.all(np.diff(mu_eff) < 0), mu_eff
    mean_e = (p * e.view(-1, 1)).sum(0) / p.sum(0)
    assert torch.all(mean_e[1:] > mean_e[:-1])  # transmitted spectrum hardens
    # and the effective μ lies between μ at the kVp and at the lowest energy
    assert mu_eff[-1] > mass_attenuation("water", [120.0])[0]


@pytest.mark.parametrize("thickness_cm, kerma", [(8.0, 4.79), (20.0, 0.401)])
def test_primary_air_kerma_behind_water_matches_reference(thickness_cm, kerma):
    # REFERENCES.md §2: 120 kVp, SID 180 cm, per mAs, primary only [C].
    spec = make_spectrum(SpectrumConfig(kvp=120, mas=1.0, bin_keV=1.0), 1800.0)
    e, phi = spec.tensor()
    p = primary_fluence(phi.view(1, -1, 1, 1), _slabs([thickness_cm]), e)
    k = air_kerma_ugy(spec.energies_keV, p[0, :, 0, 0].double().numpy())
    assert k == pytest.approx(kerma, rel=0.02)


def test_incident_fluence_per_pixel():
    g = make_geometry(sid_mm=1800.0, sod_mm=1600.0, rows=5, cols=7, pitch_mm=2.0)
    cfg = SpectrumConfig(kvp=100, mas=2.0)
    e, n0 = incident_fluence(cfg, HeelConfig(enabled=False), g)
    assert n0.shape == (1, e.numel(), 5, 7)
    spec = make_spectrum(cfg, 1800.0)
    # central pixel: fluence per mm² × pixel area (cos³θ = 1)
    assert float(n0[0, :, 2, 3].sum()) == pytest.approx(spec.fluence_per_mm2.sum() * 4.0, rel=1e-5)
    assert float(n0[0, :, 0, 0].sum()) < float(n0[0, :, 2, 3].sum())


def test_stack_materials_checks_shapes():
    names, li = stack_materials({"a": torch.zeros(2, 1, 3, 4), "b": torch.ones(2, 1, 3, 4)})
    assert names == ["a", "b"] and li.shape == (2, 2, 3, 4)
    with pytest.raises(ValueError, match="'b'"):
        stack_materials({"a": torch.zeros(2, 1, 3, 4), "b": torch.ones(2, 1, 3, 5)})
    with pytest.raises(ValueError):
        stack_materials({})
