"""Detector model against REFERENCES.md §8: absorption table, quantum-limited noise, NPS and MTF."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from xraylab.physics.detector import (
    DetectorConfig,
    absorption_efficiency,
    detect,
    expected_signal,
    mtf,
)
from xraylab.physics.primary import primary_fluence
from xraylab.physics.spectrum import SpectrumConfig, make_spectrum

KEV = [30, 33, 34, 40, 50, 60, 80, 100, 120]
# REFERENCES.md §8 [C]
CSI_500 = [0.80, 0.72, 0.97, 0.98, 0.90, 0.76, 0.49, 0.31, 0.21]
CSI_600 = [0.86, 0.78, 0.99, 0.99, 0.94, 0.82, 0.55, 0.36, 0.24]
GOS_133 = [0.81, 0.73, 0.70, 0.54, 0.35, 0.73, 0.46, 0.29, 0.20]


@pytest.mark.parametrize(
    "cfg, table",
    [
        (DetectorConfig(scintillator="CsI", thickness_um=500, packing_fraction=0.8), CSI_500),
        (DetectorConfig(scintillator="CsI", thickness_um=600, packing_fraction=0.8), CSI_600),
        (DetectorConfig(scintillator="Gd2O2S", areal_density_mg_cm2=133), GOS_133),
    ],
)
def test_absorption_efficiency_table(cfg, table):
    np.testing.assert_allclose(absorption_efficiency(cfg, np.array(KEV, float)), table, atol=0.011)


@pytest.mark.parametrize("water_cm, quantum, energy", [(0.0, 0.78, 0.72), (20.0, 0.67, 0.62)])
def test_spectrum_weighted_absorption(water_cm, quantum, energy):
    spec = make_spectrum(SpectrumConfig(kvp=120, mas=1.0, bin_keV=1.0), 1800.0)
    e, phi = spec.tensor()
    p = primary_fluence(phi.view(1, -1, 1, 1), {"water": torch.full((1, 1, 1, 1), water_cm)}, e)[0, :, 0, 0]
    eta = torch.as_tensor(absorption_efficiency(DetectorConfig(), e), dtype=torch.float32)
    assert float((p * eta).sum() / p.sum()) == pytest.approx(quantum, abs=0.015)
    assert float((p * eta * e).sum() / (p * e).sum()) == pytest.approx(energy, abs=0.015)


# ---------------------------------------------------------------------------------------------- noise
def _flat(n_photons, shape=(1, 1, 64, 64), energies=(40.0, 60.0, 80.0)):
    e = torch.tensor(energies)
    w = torch.tensor([0.3, 0.5, 0.2]).view(1, -1, 1, 1)
    return e, (n_photons * w).expand(shape[0], -1, shape[2], shape[3]).contiguous()


_QUIET = dict(electronic_noise_ugy=0.0, bit_depth=0, offset_adu=0.0, optical_swank=1.0)


def _run(fluence, e, cfg, seed=1, pitch=0.139, flood_scale=None):
    flood = expected_signal(fluence[:1] if flood_scale is None else fluence[:1] * flood_scale, e, cfg)
    g = torch.Generator().manual_seed(seed)
    return detect(fluence, e, flood, cfg, pitch, ugy_per_signal=1e-4, generator=g)


def test_flat_field_variance_proportional_to_mean_and_inverse_mas():
    cfg = DetectorConfig(**_QUIET)
    e, _ = _flat(1.0)
    means, variances, norm_var = [], [], []
    for mas in (1.0, 2.0, 4.0, 8.0):
        _, f = _flat(1000.0 * mas, shape=(4, 1, 64, 64))
        out = _run(f, e, cfg)
        raw = out["signal"][..., 8:-8, 8:-8]
        means.append(float(raw.mean()))
        variances.append(float(raw.var()))
        norm_var.append(float(out["normalized"][..., 8:-8, 8:-8].var()))
    ratio = np.array(variances) / np.array(means)
    assert np.ptp(ratio) / ratio.mean() < 0.08, ratio  # quantum limited: var ∝ mean
    scaled = np.array(norm_var) * np.array([1.0, 2.0, 4.0, 8.0])
    assert np.ptp(scaled) / scaled.mean() < 0.08, scaled  # var of I/I0 ∝ 1/mAs
    assert norm_var[0] > 6 * norm_var[-1]


def test_photon_counting_is_poisson():
    cfg = DetectorConfig(mode="photon_counting", threshold_keV=45.0, mtf_a_mm=0.0, aperture=False, **_QUIET)
    e, f = _flat(2000.0, shape=(4, 1, 64, 64))
    eta = torch.as_tensor(absorption_efficiency(cfg, e), dtype=torch.float32)
    expected = float((f[0, :, 0, 0] * eta * (e >= 45.0)).sum())
    counts = _run(f, e, cfg)["normalized"] * expected  # flat field of the same fluence → counts
    assert float(counts.mean()) == pytest.approx(expected, rel=0.01)
    assert float(counts.var()) == pytest.approx(expected, rel=0.06)  # Poisson: variance = mean


def test_noise_power_spectrum_follows_mtf_squared():
    # Quantum noise enters before the scintillator blur: NPS(f) ∝ exp(−2 a f) (REFERENCES.md §8).
    cfg = DetectorConfig(**_QUIET)
    e, f = _flat(5000.0, shape=(8, 1, 128, 128))
    out = _run(f, e, cfg)
    img = out["normalized"][:, 0].double()
    img = img - img.mean(dim=(-2, -1), keepdim=True)
    nps = (torch.fft.fft2(img).abs() ** 2).mean(0)
    fy = torch.fft.fftfreq(128, d=0.139).view(-1, 1)
    fx = torch.fft.fftfreq(128, d=0.139).view(1, -1)
    fr = torch.sqrt(fx**2 + fy**2)

    def band(f0):
        m = (fr - f0).abs() < 0.15
        return float(nps[m].mean())

    ref = band(0.3)
    for f0 in (1.0, 2.0, 3.0):
        expected = math.exp(-2 * cfg.mtf_a_mm * (f0 - 0.3))
        assert band(f0) / ref == pytest.approx(expected, rel=0.2), f0
    assert band(3.0) / ref < 0.1  # strongly coloured, not white


def _slanted_edge(n=128, angle_deg=4.0):
    yy, xx = torch.meshgrid(torch.arange(n, dtype=torch.float64), torch.arange(n, dtype=torch.float64), indexing="ij")
    t = math.tan(math.radians(angle_deg))
    dist = (xx - n / 2) - t * (yy - n / 2)  # signed distance (px, along x) to a near-vertical edge
    return dist


def _measure_mtf(img, dist, pitch, freqs, oversample=4):
    d = dist.reshape(-1).numpy()
    v = img.reshape(-1).double().numpy()
    sel = np.abs(d) < 24
    bins = np.floor(d[sel] * oversample).astype(int)
    bins -= bins.min()
    esf = np.bincount(bins, weights=v[sel]) / np.maximum(np.bincount(bins), 1)
    lsf = np.diff(esf)
    lsf = lsf * np.hanning(lsf.size)
    spec = np.abs(np.fft.rfft(lsf))
    spec /= spec[0]
    f = np.fft.rfftfreq(lsf.size, d=pitch / oversample)
    box = np.sinc(f * pitch / oversample)  # the ESF bin width
    return np.interp(freqs, f, spec / box)


def test_slanted_edge_mtf_matches_configured_mtf():
    pitch = 0.139
    cfg = DetectorConfig(quantum_noise=False, **_QUIET)
    dist = _slanted_edge()
    e = torch.tensor([60.0])
    fluence = torch.where(dist >= 0, 1000.0, 400.0).float().view(1, 1, 128, 128)
    flood = expected_signal(torch.full_like(fluence, 1000.0), e, cfg)
    out = detect(fluence, e, flood, cfg, pitch, 1e-4, torch.Generator().manual_seed(0))
    freqs = np.array([1.0, 2.0, 3.0])
    measured = _measure_mtf(out["noise_free"][0, 0], dist, pitch, freqs)
    configured = mtf(cfg, torch.tensor(freqs), pitch).numpy()
    np.testing.assert_allclose(configured, [0.59, 0.33, 0.17], atol=0.01)  # REFERENCES.md §8 fit
    np.testing.assert_allclose(measured, configured, atol=0.05)


# ---------------------------------------------------------------------------------------------- electronics
def test_quantisation_saturation_offset_and_generator():
    cfg = DetectorConfig(bit_depth=12, offset_adu=50.0, saturation_ugy=10.0)
    e, f = _flat(1000.0)
    flood = expected_signal(f, e, cfg)
    ugy = 5.0 / float(flood[0, 0, 0, 0])  # the flood is 5 µGy: half of saturation
    out = detect(f, e, flood, cfg, 0.139, ugy, torch.Generator().manual_seed(3))
    raw = out["signal"]
    assert torch.all(raw == torch.round(raw)) and float(raw.max()) <= 4095
    assert float(raw.mean()) == pytest.approx(50 + 0.5 * (4095 - 50), rel=0.01)
    hot = detect(f * 4, e, flood, cfg, 0.139, ugy, torch.Generator().manual_seed(3))["signal"]
    assert float(hot.max()) == 4095 and float(hot.min()) == 4095  # saturated
    again = detect(f, e, flood, cfg, 0.139, ugy, torch.Generator().manual_seed(3))["signal"]
    other = detect(f, e, flood, cfg, 0.139, ugy, torch.Generator().manual_seed(4))["signal"]
    assert torch.equal(raw, again) and not torch.equal(raw, other)
    assert float(out["normalized"].mean()) == pytest.approx(1.0, abs=0.01)


def test_electronic_noise_equivalent_kerma():
    # electronic_noise_ugy is the kerma at which electronic and (unblurred) quantum variances are equal:
    # with the flood at K, the variance grows by the factor 1 + K_e / K.
    sharp = dict(mtf_a_mm=0.0, aperture=False, bit_depth=0, offset_adu=0.0, optical_swank=1.0)
    e, f = _flat(200.0, shape=(4, 1, 64, 64))
    flood = expected_signal(f[:1], e, DetectorConfig(**sharp))
    ugy_per_signal = 1.0 / float(flood[0, 0, 0, 0])  # the flood is 1 µGy

    def var(k_e):
        cfg = DetectorConfig(electronic_noise_ugy=k_e, **sharp)
        out = detect(f, e, flood, cfg, 0.139, ugy_per_signal, torch.Generator().manual_seed(5))
        return float(out["normalized"].var())

    assert var(0.5) / var(0.0) == pytest.approx(1.5, rel=0.06)
    assert var(0.1) / var(0.0) == pytest.approx(1.1, rel=0.05)


def test_dead_pixels_and_lines():
    cfg = DetectorConfig(dead_pixel_fraction=0.02, dead_lines=2, **_QUIET)
    e, f = _flat(1000.0, shape=(1, 1, 100, 100))
    raw = _run(f, e, cfg)["signal"][0, 0]
    zero = raw == 0
    assert 0.015 < float(zero.float().mean()) < 0.06
    assert int(zero.all(dim=0).sum() + zero.all(dim=1).sum()) >= 1  # at least one dead line (two may coincide)


def test_ideal_detector_absorbs_everything():
    cfg = DetectorConfig(scintillator="ideal")
    np.testing.assert_array_equal(absorption_efficiency(cfg, np.array([20.0, 150.0])), [1.0, 1.0])


def test_dqe0_at_rqa5():
    # REFERENCES.md §8: DQE(0) ≈ 0.6–0.75 at RQA5 [R] (74 kV + 21 mm Al) for CsI; measured from simulated flat
    # fields as SNR²_out / SNR²_in on 16 × 16 blocks. The blur is switched off: MTF(0) = 1 so it does not enter
    # DQE(0), but its long tails would leak variance out of finite blocks.
    spec = make_spectrum(SpectrumConfig(kvp=74, mas=1.0, filtration=[{"material": "Al", "thickness_mm": 21.0}]), 1000.0)
    e, phi = spec.tensor()
    per_pixel = phi * 0.139**2 * (2.5 / spec.air_kerma_ugy)  # 2.5 µGy
    assert float(per_pixel.sum()) == pytest.approx(1450, rel=0.05)  # ≈ 1,500 quanta per 139 µm pixel [C]
    f = per_pixel.view(1, -1, 1, 1).expand(16, -1, 128, 128).contiguous()
    cfg = DetectorConfig(electronic_noise_ugy=0.0, bit_depth=0, offset_adu=0.0, mtf_a_mm=0.0, aperture=False)
    out = _run(f, e, cfg)["normalized"][:, 0]
    blocks = out.reshape(16, 8, 16, 8, 16).sum(dim=(2, 4)).reshape(-1).double()
    snr2_out = float(blocks.mean() ** 2 / blocks.var())
    snr2_in = float(per_pixel.sum()) * 256
    dqe0 = snr2_out / snr2_in
    assert 0.6 <= dqe0 <= 0.75, dqe0
