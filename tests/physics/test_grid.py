"""Anti-scatter grid validation (issue 3 item 7) against REFERENCES.md §6."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from pydantic import ValidationError

from xraylab.physics.attenuation import linear_attenuation
from xraylab.physics.geometry import Geometry
from xraylab.physics.grid import GridConfig, grid_cutoff, grid_line_pattern, grid_transmission


@pytest.fixture(scope="module")
def spectrum_behind_20cm():
    """100 kVp (2.5 mm Al + 0.1 mm Cu) photon spectrum behind 20 cm water: energies and weights."""
    import spekpy as sp

    s = sp.Spek(kvp=100, th=12, dk=2)
    s.multi_filter([("Al", 2.5), ("Cu", 0.1)])
    k, phi = s.get_spectrum()
    phi = phi * np.exp(-linear_attenuation("water", k) * 20.0)
    return k, phi / phi.sum()


# REFERENCES.md §6 [R]: Tp and Ts ranges at 100–120 kV for linear lead grids.
PUBLISHED = {8: ((0.70, 0.75), (0.15, 0.25)), 10: ((0.68, 0.72), (0.10, 0.15)),
             12: ((0.65, 0.70), (0.07, 0.12)), 15: ((0.60, 0.65), (0.05, 0.08))}


def test_tp_ts_in_published_ranges_and_ordered(spectrum_behind_20cm):
    k, w = spectrum_behind_20cm
    tps, tss = [], []
    for ratio, ((tp_lo, tp_hi), (ts_lo, ts_hi)) in PUBLISHED.items():
        tp, ts = grid_transmission(GridConfig(ratio=ratio), k)
        tp_m, ts_m = float((tp.numpy() * w).sum()), float((ts.numpy() * w).sum())
        assert tp_lo <= tp_m <= tp_hi, (ratio, tp_m)
        assert ts_lo <= ts_m <= ts_hi, (ratio, ts_m)
        tps.append(tp_m)
        tss.append(ts_m)
    assert all(a > b for a, b in zip(tps, tps[1:]))  # Tp falls with ratio
    assert all(a > b for a, b in zip(tss, tss[1:]))  # Ts falls faster
    sel = [a / b for a, b in zip(tps, tss)]
    assert all(a < b for a, b in zip(sel, sel[1:]))  # selectivity Σ = Tp/Ts rises


def test_no_grid_is_identity():
    geo = Geometry(rows=16, cols=24, pitch_mm=0.2)
    tp, ts = grid_transmission(None, [40.0, 80.0])
    assert torch.equal(tp, torch.ones(2)) and torch.equal(ts, torch.ones(2))
    tp, ts = grid_transmission(GridConfig(enabled=False), [40.0, 80.0])
    assert torch.equal(tp, torch.ones(2))
    for f in (grid_cutoff, grid_line_pattern):
        assert torch.equal(f(None, geo), torch.ones(1, 1, 16, 24))
        assert torch.equal(f(GridConfig(enabled=False), geo), torch.ones(1, 1, 16, 24))


def _profile_loss(cfg: GridConfig, geo: Geometry, c_mm: float) -> float:
    cut = grid_cutoff(cfg, geo)[0, 0, 0].numpy()
    u = (np.arange(geo.cols) - (geo.cols - 1) / 2) * geo.pitch_mm
    return 1.0 - float(np.interp(c_mm, u, cut))


def test_cutoff_matches_references():
    # Lateral decentering b = 2 cm, r 12, f0 = f1 = 180 cm → 13 % loss everywhere (REFERENCES.md §6).
    geo = Geometry(sid_mm=1800, sod_mm=1650, rows=4, cols=401, pitch_mm=1.0)
    cut = grid_cutoff(GridConfig(ratio=12, focus_mm=1800, lateral_decenter_mm=20.0), geo)
    assert abs(1 - float(cut.mean()) - 0.13) < 0.02
    assert float(cut.max() - cut.min()) < 1e-6
    # Off-distance at c = 20 cm: 27 % at f1 = 150 cm, 13 % at f1 = 200 cm; no loss at the centre.
    for sid, loss in ((1500.0, 0.27), (2000.0, 0.13)):
        g = Geometry(sid_mm=sid, sod_mm=sid - 150, rows=4, cols=401, pitch_mm=1.0)
        cfg = GridConfig(ratio=12, focus_mm=1800)
        assert abs(_profile_loss(cfg, g, 200.0) - loss) < 0.02
        assert abs(_profile_loss(cfg, g, -200.0) - loss) < 0.02
        assert _profile_loss(cfg, g, 0.0) < 0.005
    # Strips horizontal: the cut-off varies along rows instead.
    g = Geometry(sid_mm=1500, sod_mm=1350, rows=401, cols=4, pitch_mm=1.0)
    cut = grid_cutoff(GridConfig(ratio=12, focus_mm=1800, orientation="horizontal"), g)[0, 0, :, 0]
    assert abs(1 - float(cut[0]) - 12 * 200.5 * (1 / 1500 - 1 / 1800)) < 0.01
    assert float(grid_cutoff(GridConfig(ratio=12, focus_mm=1800, orientation="horizontal"), g).std(dim=-1).max()) == 0


def _alias_peak(lines_per_cm: float, pitch_mm: float, f_max: float, n: int = 2048) -> tuple[float, float]:
    """Frequency (cycles/mm) of the strongest image-spectrum peak below ``f_max`` and its height over the median."""
    geo = Geometry(rows=2, cols=n, pitch_mm=pitch_mm, sid_mm=1800, sod_mm=1650)
    row = grid_line_pattern(GridConfig(lines_per_cm=lines_per_cm, strip_thickness_mm=0.03), geo)[0, 0, 0].double()
    spec = torch.fft.rfft((row - row.mean()) * torch.hann_window(n, dtype=torch.float64)).abs()
    freqs = torch.fft.rfftfreq(n, d=pitch_mm)
    band = freqs < f_max
    i = int(spec[band].argmax())
    return float(freqs[band][i]), float(spec[band][i] / spec.median())


def test_grid_line_aliasing():
    # REFERENCES.md §6: 70 lines/cm on 139 µm → 0.19 cycles/mm (the strongest component of the whole
    # spectrum: Nyquist is 3.6 c/mm). 40 lines/cm on 200 µm → 1.00 cycles/mm; there the 2nd/3rd strip
    # harmonics (8, 12 /mm) alias to 2.0 c/mm as well, so the fundamental's alias is sought below 1.5 c/mm.
    f, height = _alias_peak(70.0, 0.139, f_max=10.0)
    assert abs(f - 0.194) < 0.01 and height > 100
    f, height = _alias_peak(40.0, 0.200, f_max=1.5)
    assert abs(f - 1.00) < 0.01 and height > 100


def test_grid_line_pattern_mean_and_moving():
    geo = Geometry(rows=8, cols=720, pitch_mm=0.139, sid_mm=1800, sod_mm=1650)
    pat = grid_line_pattern(GridConfig(lines_per_cm=70, strip_thickness_mm=0.03), geo)
    assert abs(float(pat.mean()) - 1.0) < 0.01          # Tp carries the mean loss
    assert float(pat.std()) > 0.005                     # stationary grid lines (moiré ≈ 1 %)
    assert torch.equal(pat[0, 0, 0], pat[0, 0, 5])      # vertical strips: constant down the columns
    moving = grid_line_pattern(GridConfig(lines_per_cm=70, moving=True), geo)
    assert torch.equal(moving, torch.ones_like(moving))


@pytest.mark.parametrize("field,value", [("ratio", 0.5), ("lines_per_cm", -3.0), ("strip_thickness_mm", 0.3)])
def test_invalid_parameters_name_the_field(field, value):
    with pytest.raises(ValidationError) as exc:
        GridConfig(**{field: value})
    assert field in str(exc.value)


def test_unknown_material_rejected():
    with pytest.raises(ValidationError) as exc:
        GridConfig(strip_material="unobtainium")
    assert "strip_material" in str(exc.value)
