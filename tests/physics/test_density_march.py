"""The compiled differentiable density march (:mod:`xraylab.physics.density_march`) against the torch march."""

from __future__ import annotations

import pytest
import torch

from xraylab import phantoms
from xraylab.physics import raymarch
from xraylab.physics.geometry import Geometry
from xraylab.physics.projector import Projector

pytestmark = pytest.mark.skipif(not raymarch.HAVE_NUMBA, reason="numba is not installed")


def _pair(ct, **kw):
    torch_march = Projector(ct, renderer="trilinear", backend="torch", **kw)
    compiled = Projector(ct, renderer="trilinear", backend="auto", volumes=torch_march.volumes, **kw)
    return torch_march, compiled


def _render(proj, g, pose_values, keys):
    return proj.project(g, pose=dict(zip(keys, pose_values)), density_only=True).total_density()


@pytest.mark.parametrize("sampling", [{"n_points": 40}, {"step_mm": 1.3}])
def test_values_and_pose_gradients_equal_the_torch_march(sampling):
    """float64 poses: the same image and the same gradient for every pose parameter (rotation, tilt, translation,
    source and detector shifts), rays partly outside the volume included."""
    ct = phantoms.sphere(radius_mm=9.0, n=15, spacing_mm=1.5)
    ct.hu[3:8, 5:11, 6:9] = 900.0  # an off-centre bone block: the image depends on every pose direction
    g = Geometry(sid_mm=300.0, sod_mm=220.0, rows=9, cols=7, pitch_mm=4.5)
    ref, fast = _pair(ct, **sampling)
    pose = {
        "rotation_deg": 9.0, "tilt_deg": -6.0, "translation_mm": [1.5, 2.0, -2.5],
        "source_shift_mm": [0.7, 0.0, -0.4], "detector_shift_mm": [-0.5, 0.0, 0.8],
    }
    keys = list(pose)
    grads = []
    for proj in (ref, fast):
        vals = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in pose.values()]
        img = _render(proj, g, vals, keys)
        (img * torch.linspace(0.5, 1.5, img.numel(), dtype=img.dtype).view_as(img)).sum().backward()
        grads.append((img.detach(), [v.grad for v in vals]))
    (img_r, g_r), (img_f, g_f) = grads
    assert img_f.dtype == torch.float64 and float(img_r.max()) > 0
    assert (img_r == 0).any()  # some rays miss the volume
    torch.testing.assert_close(img_f, img_r, rtol=1e-9, atol=1e-12)
    for k, a, b in zip(keys, g_r, g_f):
        assert a is not None and b is not None and float(a.abs().sum()) > 0, k
        torch.testing.assert_close(b, a, rtol=1e-6, atol=1e-8, msg=k)  # small components cancel: atol


def test_gradcheck_of_the_compiled_march():
    ct = phantoms.sphere(radius_mm=6.0, n=9, spacing_mm=2.0)
    ct.hu[2:5, 3:7, 4:6] = 700.0
    g = Geometry(sid_mm=200.0, sod_mm=150.0, rows=3, cols=3, pitch_mm=4.0)
    _, fast = _pair(ct, n_points=24)
    keys = ["rotation_deg", "translation_mm"]
    vals = (torch.tensor(7.0, dtype=torch.float64, requires_grad=True),
            torch.tensor([1.0, 2.0, -1.5], dtype=torch.float64, requires_grad=True))
    assert torch.autograd.gradcheck(lambda *v: _render(fast, g, v, keys), vals, eps=1e-4, atol=1e-4, rtol=1e-3)


def test_registration_scale_agreement_in_float32():
    """The registration set-up (default CT ÷ 8, float32 pose): image and gradients within float32 rounding (the
    values come from the compiled march, clipped in float64 with empty-space skipping, as
    test_projector_kernels compares the two marches)."""
    from xraylab.io.ct import load_default_ct

    ref, fast = _pair(load_default_ct(8), n_points=96)
    g = Geometry(sid_mm=1800.0, sod_mm=1650.0, rows=24, cols=24, pitch_mm=16.0)
    out = []
    for proj in (ref, fast):
        rot = torch.tensor(3.0, requires_grad=True)
        shift = torch.tensor([4.0, 0.0, -6.0], requires_grad=True)
        img = _render(proj, g, (rot, shift), ["rotation_deg", "translation_mm"])
        (img**2).mean().backward()
        out.append((img.detach(), rot.grad, shift.grad))
    (i_r, r_r, s_r), (i_f, r_f, s_f) = out
    torch.testing.assert_close(i_f, i_r, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(r_f, r_r, rtol=2e-3, atol=1e-7)
    torch.testing.assert_close(s_f, s_r, rtol=2e-3, atol=1e-6)
