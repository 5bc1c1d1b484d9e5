"""Gradients through the physics chain (issue 15): gradcheck of the parameter paths, finite differences of chest_pa."""

from __future__ import annotations

import pytest
import torch

from xraylab.physics.detector import _filter
from xraylab.physics.differentiable import poisson_reparam, spectrum_tensor
from xraylab.physics.focal_spot import apply_focal_spot
from xraylab.physics.geometry import preset_geometry
from xraylab.physics.presets import preset_config
from xraylab.physics.scatter import ScatterConfig, scatter_estimate
from xraylab.physics.scatter_fit import polychromatic_layers, reference_geometry
from xraylab.physics.simulator import XRaySimulator

CHEST = preset_config("chest_pa")
D = torch.float64


def _kerma_like(e, phi):
    return (phi * e / 60.0).sum() / 1e6  # any smooth functional of the spectrum


@pytest.mark.parametrize("key,value", [("mas", torch.tensor(2.0, dtype=D)),
                                       ("filtration", torch.tensor([2.5, 0.1], dtype=D)),
                                       ("kvp", torch.tensor(118.7, dtype=D))])
def test_gradcheck_spectrum_parameters(key, value):
    def f(v):
        e, phi = spectrum_tensor(CHEST.spectrum, 1800.0, {key: v})
        return _kerma_like(e, phi)

    assert torch.autograd.gradcheck(f, (value.clone().requires_grad_(),), eps=1e-4, atol=1e-6, rtol=1e-4)


def test_gradcheck_detector_blur():
    x = torch.rand(1, 1, 8, 8, dtype=D)
    a = torch.tensor(0.6, dtype=D, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a_: _filter(x, 0.2, a_, False), (a,), eps=1e-5, atol=1e-7)


def test_gradcheck_focal_spot_size():
    g = preset_geometry("chest_pa", rows=10, cols=10, pitch_mm=0.1)
    x = torch.rand(1, 1, 10, 10, dtype=D)
    f = torch.tensor(1.2, dtype=D, requires_grad=True)
    assert torch.autograd.gradcheck(lambda f_: apply_focal_spot(x, CHEST.focal_spot, g, f_), (f,), eps=1e-5,
                                    atol=1e-7)


def test_gradcheck_scatter_amplitude():
    geo = reference_geometry(n=8)
    primary, flood, energies = polychromatic_layers(torch.full((8, 8), 15.0))
    primary, flood = primary.double(), flood.double()
    s = torch.tensor(1.0, dtype=D, requires_grad=True)
    fn = lambda s_: scatter_estimate(primary, flood, energies, geo, ScatterConfig(), amplitude_scale=s_)  # noqa: E731
    assert torch.autograd.gradcheck(fn, (s,), eps=1e-4, atol=1e-8)


def test_poisson_reparam_value_is_the_sample_and_gradient_flows():
    lam = torch.full((1000,), 50.0, requires_grad=True)
    k = poisson_reparam(lam, torch.Generator().manual_seed(1))
    ref = torch.poisson(lam.detach(), generator=torch.Generator().manual_seed(1))
    assert torch.equal(k.detach(), ref)
    k.sum().backward()
    assert lam.grad is not None and abs(float(lam.grad.mean()) - 1.0) < 0.05


PARAMS = {"mas": 2.0, "filtration": [2.5, 0.1], "kvp": 118.9, "scatter_amplitude": 1.0, "focal_spot": 1.2,
          "blur_mm": 0.494}
STEPS = {"mas": 0.05, "filtration": 0.02, "kvp": 0.3, "scatter_amplitude": 0.05, "focal_spot": 0.2, "blur_mm": 0.2}


@pytest.mark.slow
def test_finite_differences_through_the_chest_pa_chain():
    g = preset_geometry("chest_pa", rows=24, cols=24, pitch_mm=2.0)
    sim = XRaySimulator(CHEST)
    yy, xx = torch.meshgrid(torch.arange(24.0), torch.arange(24.0), indexing="ij")
    mats = {"soft_tissue": 12.0 + 6.0 * torch.exp(-((xx - 12) ** 2 + (yy - 12) ** 2) / 40.0).view(1, 1, 24, 24),
            "bone": (((xx - 8).abs() < 2) & ((yy - 10).abs() < 6)).float().view(1, 1, 24, 24) * 1.5,
            "lung": torch.full((1, 1, 24, 24), 3.0)}
    w = torch.rand(1, 1, 24, 24, generator=torch.Generator().manual_seed(0))

    def loss(p, layer):
        out = sim.simulate(mats, g, params=p, generator=torch.Generator().manual_seed(0))
        return (out[layer].double() * w.double()).sum()

    for key, layer in [("mas", "signal"), ("filtration", "noise_free"), ("kvp", "noise_free"),
                       ("scatter_amplitude", "noise_free"), ("focal_spot", "noise_free"), ("blur_mm", "noise_free")]:
        p = {k: torch.tensor(v, dtype=torch.float32, requires_grad=(k == key)) for k, v in PARAMS.items()}
        (grad,) = torch.autograd.grad(loss(p, layer), [p[key]])
        h = STEPS[key]
        idx = -1 if key == "filtration" else None  # the Cu layer
        def shifted(d, p=p, key=key, idx=idx, layer=layer):
            q = {k: v.detach().clone() for k, v in p.items()}
            if idx is None:
                q[key] = q[key] + d
            else:
                q[key][idx] += d
            return float(loss(q, layer))

        fd = (shifted(h) - shifted(-h)) / (2 * h)
        g_ = float(grad.reshape(-1)[idx if idx is not None else 0])
        assert abs(g_ - fd) <= 0.05 * abs(fd) + 1e-6, (key, g_, fd)
