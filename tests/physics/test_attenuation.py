"""Mass attenuation coefficients against REFERENCES.md §3."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from xraylab.physics.attenuation import MASS_FRACTIONS, linear_attenuation, mass_attenuation, mu_table
from xraylab.physics.materials import MATERIALS

# REFERENCES.md §3 [C, V]: μ/ρ (cm²/g) at 30, 60, 100 keV.
TABLE = {
    "water": (0.3756, 0.2059, 0.1707),
    "bone": (1.331, 0.3148, 0.1855),
    "lung": (0.3815, 0.2053, 0.1695),
    "soft_tissue": (0.3790, 0.2048, 0.1693),
}


@pytest.mark.parametrize("material", sorted(TABLE))
def test_mass_attenuation_matches_reference(material):
    mu = mass_attenuation(material, [30.0, 60.0, 100.0])
    np.testing.assert_allclose(mu, TABLE[material], rtol=0.003)


def test_every_projector_material_is_known_and_fractions_sum_to_one():
    from xraylab.physics.materials import METALS, MaterialConfig, material_names

    e = np.array([20.0, 50.0, 120.0])
    names = {n for metal in METALS for n in material_names(MaterialConfig(metal=metal), 12.5)}
    assert set(MATERIALS[:5]) <= names
    for m in sorted(names):
        mu = mass_attenuation(m, e)
        assert np.all(mu > 0) and np.all(np.diff(mu) < 0), m  # falls with energy above the K edges of tissue
    for m, fr in MASS_FRACTIONS.items():
        assert sum(fr.values()) == pytest.approx(1.0, abs=2e-3), m


def test_mass_fractions_not_molar_formula():
    # Bone built from mass fractions: calcium-rich → much larger μ/ρ than water at 30 keV (photoelectric).
    assert mass_attenuation("bone", [30.0])[0] / mass_attenuation("water", [30.0])[0] > 3.0


def test_compounds_and_k_edges():
    # CsI: iodine K edge at 33.17 keV and caesium at 35.98 keV make μ/ρ jump.
    below, above = mass_attenuation("CsI", [33.0, 34.0])
    assert above > 2.5 * below
    # Pb linear attenuation at 60 keV ≈ 5.0 cm²/g × 11.35 g/cm³
    assert linear_attenuation("Pb", [60.0])[0] == pytest.approx(5.02 * 11.35, rel=0.03)


def test_mu_table_shape_and_unknown_material():
    t = mu_table(["water", "bone"], torch.tensor([40.0, 80.0]))
    assert t.shape == (2, 2) and t.dtype == torch.float32
    assert float(t[1, 0]) > float(t[0, 0])
    with pytest.raises(ValueError, match="unknown material 'kryptonite'"):
        mass_attenuation("kryptonite", [60.0])
