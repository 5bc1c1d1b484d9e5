"""Spectrum (spekpy) against REFERENCES.md §2, inverse square/obliquity, validation of tube settings."""

from __future__ import annotations

import math

import numpy as np
import pytest

from xraylab.errors import ConfigError
from xraylab.physics.config import make_physics_config
from xraylab.physics.geometry import make_geometry
from xraylab.physics.spectrum import (
    SpectrumConfig,
    air_kerma_ugy,
    detector_air_kerma_ugy,
    make_spectrum,
    make_spek,
    pixel_obliquity,
)

# REFERENCES.md §2 [C]: W anode 12°, 2.5 mm Al + 0.1 mm Cu; kerma at 1 m per mAs.
TABLE = {80: (47.90, 4.40, 39.2), 100: (54.43, 5.46, 65.8), 120: (59.81, 6.42, 97.4)}


@pytest.mark.parametrize("kvp", sorted(TABLE))
def test_mean_energy_hvl_kerma_match_reference_table(kvp):
    mean, hvl, kerma = TABLE[kvp]
    s = make_spectrum(SpectrumConfig(kvp=kvp, mas=1.0, bin_keV=1.0), distance_mm=1000.0)
    assert s.mean_keV == pytest.approx(mean, rel=0.01)
    assert s.hvl1_mm_al == pytest.approx(hvl, rel=0.01)
    assert s.air_kerma_ugy == pytest.approx(kerma, rel=0.01)
    # our own fluence → kerma conversion agrees with spekpy's
    assert air_kerma_ugy(s.energies_keV, s.fluence_per_mm2) == pytest.approx(s.air_kerma_ugy, rel=1e-3)


def test_hvl_at_16_degrees_and_mas_scaling():
    s = make_spectrum(SpectrumConfig(kvp=100, anode_angle_deg=16, mas=1.0, bin_keV=1.0), 1000.0)
    assert s.hvl1_mm_al == pytest.approx(5.35, rel=0.01)  # REFERENCES.md §2 [C]
    s4 = make_spectrum(SpectrumConfig(kvp=100, anode_angle_deg=16, mas=4.0, bin_keV=1.0), 1000.0)
    assert s4.air_kerma_ugy == pytest.approx(4 * s.air_kerma_ugy, rel=1e-9)
    assert s4.fluence_per_mm2.sum() == pytest.approx(4 * s.fluence_per_mm2.sum(), rel=1e-9)


def test_inverse_square_and_kerma_at_180cm():
    cfg = SpectrumConfig(kvp=120, mas=1.0, bin_keV=1.0)
    k100 = make_spectrum(cfg, 1000.0).air_kerma_ugy
    k180 = make_spectrum(cfg, 1800.0).air_kerma_ugy
    assert k180 == pytest.approx(30.05, rel=0.01)  # REFERENCES.md §2
    assert k180 / k100 == pytest.approx((1000 / 1800) ** 2, rel=0.005)
    g = make_geometry(sid_mm=1800.0, sod_mm=1500.0, rows=4, cols=4, pitch_mm=10.0)
    assert detector_air_kerma_ugy(cfg, g) == pytest.approx(k180)


def test_spectra_are_cached():
    cfg = SpectrumConfig(kvp=90, mas=1.0)
    from xraylab.physics.spectrum import spectrum_cached

    make_spectrum(cfg, 1234.0)
    built = make_spek.cache_info().misses
    before = spectrum_cached.cache_info().hits
    three = make_spectrum(cfg.model_copy(update={"mas": 3.0}), 1234.0)  # mAs is applied after the cache
    one = make_spectrum(cfg, 1234.0)
    assert make_spek.cache_info().misses == built  # no spekpy object rebuilt
    assert spectrum_cached.cache_info().hits == before + 2
    assert three.air_kerma_ugy == pytest.approx(3 * one.air_kerma_ugy)


def test_pixel_obliquity_is_cos_cubed():
    g = make_geometry(sid_mm=1000.0, sod_mm=900.0, rows=3, cols=3, pitch_mm=500.0)
    ob = pixel_obliquity(g)
    assert ob.shape == (1, 1, 3, 3)
    assert float(ob[0, 0, 1, 1]) == pytest.approx(1.0)
    cos_edge = 1000.0 / math.hypot(1000.0, 500.0)
    assert float(ob[0, 0, 1, 0]) == pytest.approx(cos_edge**3, rel=1e-6)
    cos_corner = 1000.0 / math.sqrt(1000.0**2 + 2 * 500.0**2)
    assert float(ob[0, 0, 0, 0]) == pytest.approx(cos_corner**3, rel=1e-6)


def test_monoenergetic_keeps_photon_count():
    poly = make_spectrum(SpectrumConfig(kvp=120, mas=2.0), 1800.0)
    mono = make_spectrum(SpectrumConfig(kvp=120, mas=2.0, monoenergetic_keV=60.0), 1800.0)
    assert mono.energies_keV.tolist() == [60.0]
    assert mono.fluence_per_mm2.sum() == pytest.approx(poly.fluence_per_mm2.sum(), rel=1e-9)
    assert mono.mean_keV == 60.0
    # HVL of a monoenergetic beam: ln 2 / μ_Al(60 keV) (μ/ρ 0.2778 cm²/g, ρ 2.699)
    assert mono.hvl1_mm_al == pytest.approx(10 * math.log(2) / (0.2778 * 2.699), rel=0.02)


@pytest.mark.parametrize(
    "spectrum, field",
    [
        ({"kvp": 500}, "spectrum.kvp"),
        ({"kvp": 30}, "spectrum.kvp"),
        ({"mas": -1}, "spectrum.mas"),
        ({"filtration": [{"material": "Unobtainium", "thickness_mm": 1.0}]}, "spectrum.filtration.0.material"),
        ({"filtration": [{"material": "Al", "thickness_mm": -1.0}]}, "spectrum.filtration.0.thickness_mm"),
        ({"anode": "Cu"}, "spectrum.anode"),
        ({"bin_keV": 0.0}, "spectrum.bin_keV"),
    ],
)
def test_out_of_range_tube_settings_name_the_field(spectrum, field):
    with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
        make_physics_config({"spectrum": spectrum})


def test_filter_aliases_and_spekpy_names_accepted():
    cfg = SpectrumConfig(
        filtration=[{"material": "water", "thickness_mm": 10.0}, {"material": "Sn", "thickness_mm": 0.1}]
    )
    s = make_spectrum(cfg.model_copy(update={"mas": 1.0}), 1000.0)
    base = make_spectrum(SpectrumConfig(filtration=[], mas=1.0), 1000.0)
    assert s.mean_keV > base.mean_keV  # filtration hardens
    assert np.all(s.fluence_per_mm2 <= base.fluence_per_mm2 + 1e-12)


@pytest.mark.parametrize("kvp", [97.3, 118.5])
def test_off_grid_kvp_interpolates_within_quarter_percent_of_spekpy(kvp):
    """A kVp that is not a whole number comes from spekpy spectra at the neighbouring multiples of 2 bins; against
    spekpy at that kVp itself: photon count, mean energy, air kerma and transmissions through 200 mm water (and
    10 mm bone, energy-weighted) within 0.25 %."""
    from xraylab.physics.attenuation import linear_attenuation
    from xraylab.physics.spectrum import filters_key, kvp_neighbours, spectrum_cached

    cfg = SpectrumConfig(kvp=kvp, mas=1.0)
    k0, k1, t = kvp_neighbours(kvp, cfg.bin_keV)
    assert k0 < kvp < k1 and k1 - k0 == 2 * cfg.bin_keV and 0 < t < 1
    s = make_spectrum(cfg, 1800.0)
    e_ref, n_ref, mean_ref, hvl_ref, kerma_ref = spectrum_cached(
        kvp, cfg.anode, cfg.anode_angle_deg, filters_key(cfg.filtration), cfg.bin_keV, 180.0, 0.0)
    # the interpolated spectrum lies on the upper grid voltage's bins
    assert s.energies_keV[-1] == pytest.approx(k1 - cfg.bin_keV / 2)

    def summary(e, n):
        mu_w = linear_attenuation("water", e) / 10.0
        mu_b = linear_attenuation("bone", e) / 10.0
        return np.array([n.sum(), (n * e).sum() / n.sum(), float(air_kerma_ugy(e, n)),
                         (n * np.exp(-mu_w * 200)).sum() / n.sum(),
                         (n * e * np.exp(-mu_w * 200 - mu_b * 10)).sum() / (n * e).sum()])

    ours, ref = summary(s.energies_keV, s.fluence_per_mm2), summary(e_ref, n_ref)
    np.testing.assert_allclose(ours, ref, rtol=2.5e-3)
    assert s.mean_keV == pytest.approx(mean_ref, rel=2.5e-3)
    assert s.hvl1_mm_al == pytest.approx(hvl_ref, rel=2.5e-3)
    assert s.air_kerma_ugy == pytest.approx(kerma_ref, rel=2.5e-3)


def test_whole_number_kvp_is_spekpys_own():
    from xraylab.physics.spectrum import filters_key, kvp_neighbours, spectrum_cached

    cfg = SpectrumConfig(kvp=125.0, mas=1.0)
    assert kvp_neighbours(125.0, cfg.bin_keV) is None
    assert kvp_neighbours(149.5, cfg.bin_keV) is None  # upper neighbour 152 kV: beyond spekpy's range
    s = make_spectrum(cfg, 1000.0)
    e, n, *_ = spectrum_cached(125.0, cfg.anode, cfg.anode_angle_deg, filters_key(cfg.filtration), cfg.bin_keV,
                               100.0, 0.0)
    np.testing.assert_array_equal(s.energies_keV, e)
    np.testing.assert_array_equal(s.fluence_per_mm2, n)
