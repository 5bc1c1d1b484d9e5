"""Post-processing chain: −log, windows, LUTs, enhancement, bit depth."""

from __future__ import annotations

import pytest
import torch

from xraylab.errors import ConfigError
from xraylab.physics.config import make_physics_config
from xraylab.physics.postprocess import PostProcessConfig, multiscale_enhance, postprocess, unsharp_mask


def _ramp():
    mu_l = torch.linspace(0.5, 4.0, 64).view(1, 1, 1, 64).expand(2, 1, 16, 64).contiguous()
    return mu_l, torch.exp(-mu_l)


def test_minus_log_minmax_window_is_linear_in_line_integral():
    mu_l, norm = _ramp()
    cfg = PostProcessConfig(window="minmax", enhancement="none", output_bits=0)
    out = postprocess(norm, cfg, pitch_mm=1.0)
    expected = (mu_l - 0.5) / 3.5
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=0)
    # polarity: more attenuation → brighter
    assert float(out[0, 0, 0, -1]) == pytest.approx(1.0) and float(out[0, 0, 0, 0]) == pytest.approx(0.0)


def test_without_log_keeps_polarity():
    _, norm = _ramp()
    out = postprocess(norm, PostProcessConfig(log=False, window="minmax", output_bits=0), 1.0)
    assert float(out[0, 0, 0, -1]) > float(out[0, 0, 0, 0])


def test_fixed_window_clips_and_bits_quantise():
    mu_l, norm = _ramp()
    out = postprocess(norm, PostProcessConfig(window="fixed", window_range=(1.0, 3.0), output_bits=8), 1.0)
    assert float(out.min()) == 0.0 and float(out.max()) == 1.0
    levels = out * 255
    torch.testing.assert_close(levels, torch.round(levels), atol=1e-4, rtol=0)
    inside = (mu_l > 1.2) & (mu_l < 2.8)
    torch.testing.assert_close(out[inside], ((mu_l[inside] - 1.0) / 2.0), atol=1 / 255, rtol=0)


def test_auto_window_uses_percentiles_inside_mask():
    mu_l, norm = _ramp()
    mask = torch.zeros(1, 1, 16, 64)
    mask[..., :32] = 1.0  # only the lower half of the line integrals
    out = postprocess(norm, PostProcessConfig(window="auto", window_percentiles=(0.0, 100.0), output_bits=0), 1.0,
                      mask=mask)
    assert float(out[0, 0, 0, 31]) == pytest.approx(1.0, abs=1e-5)
    assert float(out[0, 0, 0, 0]) == pytest.approx(0.0, abs=1e-5)
    assert torch.all(out[..., 32:] == 1.0)  # beyond the window: clipped


def test_luts_are_monotonic_and_bounded():
    _, norm = _ramp()
    for lut in ("gamma", "sigmoid"):
        out = postprocess(norm, PostProcessConfig(window="minmax", lut=lut, gamma=2.0, output_bits=0), 1.0)
        row = out[0, 0, 0]
        assert torch.all(row[1:] >= row[:-1]) and float(row.min()) >= 0 and float(row.max()) <= 1
    g = postprocess(norm, PostProcessConfig(window="minmax", lut="gamma", gamma=2.0, output_bits=0), 1.0)
    assert float(g[0, 0, 0, 32]) < 0.5 * 0.6  # γ = 2 darkens mid-tones


def test_unsharp_and_multiscale_boost_edges_keep_flat_regions():
    x = torch.zeros(1, 1, 64, 64)
    x[..., 32:] = 1.0
    for y in (unsharp_mask(x, 3.0, 1.0), multiscale_enhance(x, 3, 1.0)):
        assert float(y[0, 0, 32, 32]) > 1.05 and float(y[0, 0, 32, 31]) < -0.05  # overshoot both sides
        assert float(y[0, 0, 32, 2]) == pytest.approx(0.0, abs=1e-6)
        assert float(y[0, 0, 32, 61]) == pytest.approx(1.0, abs=1e-6)


def test_invalid_postprocess_settings_name_the_field():
    with pytest.raises(ConfigError, match=r"postprocess\.window_range"):
        make_physics_config({"postprocess": {"window_range": [3, 1]}})
    with pytest.raises(ConfigError, match=r"postprocess\.output_bits"):
        make_physics_config({"postprocess": {"output_bits": 12}})
