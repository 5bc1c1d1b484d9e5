"""For-presentation processing (issue 12, item 5): multi-scale equalisation, edge enhancement, sigmoid LUT."""

from __future__ import annotations

import torch

from xraylab.physics.postprocess import PostProcessConfig, clinical_process, postprocess
from xraylab.physics.presets import preset_config


def _scene(n: int = 128) -> torch.Tensor:
    """A log image: a large smooth ramp 1 … 4 (dense vs lucent regions) plus a faint small square (detail)."""
    y = torch.linspace(1.0, 4.0, n).view(n, 1).expand(n, n).clone()
    y[62:66, 62:66] += 0.05
    return y.view(1, 1, n, n)


def test_equalisation_compresses_large_scale_and_keeps_detail():
    x = _scene()
    cfg = PostProcessConfig(enhancement="clinical", multiscale_levels=4, enhancement_sigma_mm=1.0,
                            enhancement_amount=1.0, equalization=0.8, detail_power=1.0)
    y = clinical_process(x, cfg, pitch_mm=1.0)
    ramp_in = float(x[0, 0, 100, 10] - x[0, 0, 20, 10])
    ramp_out = float(y[0, 0, 100, 10] - y[0, 0, 20, 10])
    assert ramp_out < 0.5 * ramp_in  # the dense/lucent difference is equalised
    detail_in = float(x[0, 0, 64, 64] - x[0, 0, 64, 40])
    detail_out = float(y[0, 0, 64, 64] - y[0, 0, 64, 40])
    assert detail_out > 1.5 * detail_in  # the local detail gains contrast


def test_outside_the_field_leaves_no_halo():
    x = _scene()
    mask = torch.zeros_like(x)
    mask[..., 16:112, :] = 1.0
    cfg = PostProcessConfig(enhancement="clinical", equalization=0.5, enhancement_sigma_mm=2.0)
    top = float(x[0, 0, 111, 0])  # the field's highest value: what an unexposed pixel is clamped to
    x_ref = x.clone()
    x_ref[..., :16, :] = top
    x_ref[..., 112:, :] = top
    ref = clinical_process(x_ref, cfg, 1.0, mask)
    x2 = x.clone()
    x2[..., :16, :] = 13.8  # no primary: −ln(1e-6)
    x2[..., 112:, :] = 13.8
    y = clinical_process(x2, cfg, 1.0, mask)
    inner = (slice(None), slice(None), slice(40, 88), slice(None))
    assert torch.allclose(y[inner], ref[inner], atol=0.02)
    assert float(y[inner].max()) < 6.0  # nothing of the 13.8 spills into the field


def test_chest_pa_is_clinically_processed_and_ideal_is_not():
    cfg = preset_config("chest_pa").postprocess
    assert cfg.enhancement == "clinical" and cfg.lut == "sigmoid" and cfg.equalization > 0
    assert preset_config("ideal").postprocess.enhancement == "none"
    n = torch.exp(-_scene())
    y = postprocess(n, cfg, pitch_mm=1.0)
    assert float(y.min()) >= 0.0 and float(y.max()) <= 1.0 and float(y.std()) > 0.1
