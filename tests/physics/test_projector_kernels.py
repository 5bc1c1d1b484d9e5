"""The fused trilinear march: numba and torch kernels agree, match Siddon, build the same volumes, take gradients."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from xraylab import phantoms
from xraylab.physics import raymarch
from xraylab.physics.geometry import Geometry
from xraylab.physics.materials import CONTRAST, MATERIALS, METAL, MaterialConfig
from xraylab.physics.projector import Projector
from xraylab.physics.volumes import _build_numba, _build_torch, build_volumes, structure_channels

needs_numba = pytest.mark.skipif(not raymarch.HAVE_NUMBA, reason="numba is not installed")


def _geom(**kw) -> Geometry:
    base = dict(sid_mm=1000.0, sod_mm=800.0, rows=33, cols=33, pitch_mm=4.0)
    base.update(kw)
    return Geometry(**base)


@needs_numba
def test_numba_and_torch_marches_agree():
    ct = phantoms.left_marker(n=61, spacing_mm=1.5)
    g = [_geom(rotation_deg=12.0, tilt_deg=-5.0), _geom(view="AP", lao_deg=30.0)]
    fast = Projector(ct, structures=["marker", "head"], renderer="trilinear", n_points=200, backend="numba")
    ref = Projector(ct, structures=["marker", "head"], renderer="trilinear", n_points=200, backend="torch",
                    volumes=fast.volumes)
    a, b = fast.project(g), ref.project(g)
    assert torch.allclose(a.total_density(), b.total_density(), rtol=1e-4, atol=1e-4)
    # The nearest-voxel material/structure code may flip on a sample lying on a voxel boundary between float32
    # (torch) and float64 (numba) coordinates: a handful of pixels differ by one sample's share.
    for layers in ((a.materials, b.materials), (a.paths, b.paths)):
        for k, v in layers[0].items():
            diff = (v - layers[1][k]).abs()
            assert (diff > 1e-3).sum() <= 3 and diff.max() < 0.1 * max(v.abs().max().item(), 1.0), k


@needs_numba
def test_numba_volume_build_equals_the_torch_reference():
    ct = phantoms.left_marker(n=41, spacing_mm=2.0)
    ct.hu[0, :5, :5] = torch.linspace(-1100.0, 3200.0, 25).reshape(5, 5)  # every HU segment, both clamps
    for cfg in (MaterialConfig(), MaterialConfig(density_model="deepdrr")):
        vol = build_volumes(ct, ["marker"], cfg)
        _, needed = structure_channels(ct, ["marker"])
        lut = np.zeros(int(ct.labels.max()) + 1, dtype=np.int64)
        lut[needed] = np.arange(1, len(needed) + 1)
        density, code = _build_torch(ct, cfg, [], lut, vol.code.dtype, [])
        assert np.allclose(vol.density, density, rtol=1e-5, atol=1e-6)
        assert np.array_equal(vol.code, code)
        # with the marker as blood pool: iodinated blood between contrast_min_hu and metal_min_hu, metal above
        pool = dataclasses.replace(ct, labels=ct.labels.clone())
        pool.labels[0, :5, :5] = 1  # the HU ramp inside the label
        metal = cfg.model_copy(update={"metal_min_hu": 3000.0})
        d_n, c_n = _build_numba(pool, metal, [], lut, vol.code.dtype, [1])
        d_t, c_t = _build_torch(pool, metal, [], lut, vol.code.dtype, [1])
        assert np.allclose(d_n, d_t, rtol=1e-5, atol=1e-6) and np.array_equal(c_n, c_t)
        mats = set(np.unique(c_t % len(MATERIALS)).tolist())
        assert {METAL, CONTRAST} <= mats
        removed = metal.model_copy(update={"contrast": "remove"})
        d_n, c_n = _build_numba(pool, removed, [], lut, vol.code.dtype, [1])
        d_t, c_t = _build_torch(pool, removed, [], lut, vol.code.dtype, [1])
        assert np.allclose(d_n, d_t, rtol=1e-5, atol=1e-6) and np.array_equal(c_n, c_t)
        assert CONTRAST not in set(np.unique(c_t % len(MATERIALS)).tolist())


def test_trilinear_path_of_a_uniform_slab_is_exact():
    """Midpoint sampling: the steps add up to the chord, so a structure filling the ray gets its exact length."""
    ct = phantoms.slab(thickness_mm=41.0)
    proj = Projector(ct, structures=["slab"], renderer="trilinear", n_points=400).project(_geom(rows=17, cols=17))
    assert proj.paths["slab"][0, 0, 8, 8].item() == pytest.approx(41.0, abs=41.0 / 400 * 2)


@pytest.mark.slow
def test_trilinear_matches_siddon_inside_the_body_on_the_default_ct():
    from xraylab.io.ct import load_default_ct

    ct = load_default_ct()  # full resolution (the difference is interpolation at the voxel scale)
    g = Geometry(sid_mm=1800.0, sod_mm=1650.0, rows=32, cols=32, pitch_mm=430.0 / 32)
    tri = Projector(ct, renderer="trilinear", n_points=500).project(g).total_density()
    sid = Projector(ct, renderer="siddon").project(g).total_density()
    body = sid > 5.0  # g/cm²: rays through the patient, not just air and table
    rel = ((tri - sid).abs() / sid)[body]
    assert body.sum() > 300
    assert rel.mean().item() < 0.01


def test_pose_gradients_flow_and_pass_gradcheck():
    """Gradients of the torch march with respect to rotation, translation and source/detector shifts."""
    ct = phantoms.sphere(radius_mm=6.0, n=9, spacing_mm=2.0)
    ct.hu[2:5, 3:7, 4:6] = 700.0  # an off-centre bone block makes the image pose-dependent in every direction
    g = Geometry(sid_mm=200.0, sod_mm=150.0, rows=3, cols=3, pitch_mm=4.0)
    proj = Projector(ct, renderer="trilinear", n_points=24, backend="torch")
    pose = {
        "rotation_deg": torch.tensor(7.0, dtype=torch.float64, requires_grad=True),
        "tilt_deg": torch.tensor(-4.0, dtype=torch.float64, requires_grad=True),
        "translation_mm": torch.tensor([1.0, 2.0, -1.5], dtype=torch.float64, requires_grad=True),
        "source_shift_mm": torch.tensor([0.5, 0.0, 0.3], dtype=torch.float64, requires_grad=True),
        "detector_shift_mm": torch.tensor([-0.4, 0.0, 0.6], dtype=torch.float64, requires_grad=True),
    }
    keys = list(pose)

    def render(*vals):
        return proj.project(g, pose=dict(zip(keys, vals))).total_density()

    out = render(*pose.values())
    assert out.requires_grad and out.dtype == torch.float64
    out.sum().backward()
    for k, v in pose.items():
        assert v.grad is not None and torch.isfinite(v.grad).all() and v.grad.abs().sum() > 0, k
    assert torch.autograd.gradcheck(render, tuple(pose.values()), eps=1e-4, atol=1e-4, rtol=1e-3)


def test_projection_without_a_grad_pose_is_not_tracked():
    ct = phantoms.sphere(radius_mm=10.0, n=21)
    out = Projector(ct, renderer="trilinear", n_points=32).project(_geom(rows=5, cols=5))
    assert not out.materials["soft_tissue"].requires_grad


def test_siddon_refuses_gradients():
    ct = phantoms.sphere(radius_mm=10.0, n=21)
    pose = {"rotation_deg": torch.tensor(1.0, dtype=torch.float64, requires_grad=True)}
    with pytest.raises(ValueError, match="trilinear"):
        Projector(ct, renderer="siddon").project(_geom(rows=5, cols=5), pose=pose)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cpu_and_cuda_projections_agree():
    from xraylab.io.ct import load_default_ct

    ct = load_default_ct(downsample=4)
    g = Geometry(sid_mm=1800.0, sod_mm=1650.0, rows=64, cols=64, pitch_mm=430.0 / 64, rotation_deg=10.0)
    cpu = Projector(ct, structures=["lungs"], renderer="trilinear", n_points=300, backend="torch").project(g)
    gpu = Projector(ct, structures=["lungs"], renderer="trilinear", n_points=300, device="cuda").project(g)
    for k, v in cpu.materials.items():
        w = gpu.materials[k].cpu()
        scale = v.abs().max().clamp(min=1e-6)
        assert ((v - w).abs().max() / scale).item() < 1e-4, k
    assert (cpu.masks()["lungs"] != gpu.masks()["lungs"].cpu()).float().mean() < 1e-3


def test_density_only_march_equals_the_sum_of_materials_and_keeps_gradients():
    """Registration's one-channel march: the same ∫ρ dl as the full march summed over materials, differentiable."""
    from xraylab.io.ct import load_default_ct

    proj = Projector(load_default_ct(8), renderer="trilinear", n_points=64, backend="torch")
    g = _geom(rows=12, cols=10)
    full = proj.project(g).total_density()
    one = proj.project(g, density_only=True)
    assert list(one.materials) == ["density"] and not one.paths
    assert torch.allclose(one.total_density(), full, rtol=1e-5, atol=1e-5)
    rot = torch.tensor(3.0, requires_grad=True)
    img = proj.project(g, pose={"rotation_deg": rot}, density_only=True).total_density()
    img.sum().backward()
    assert rot.grad is not None and torch.isfinite(rot.grad) and float(rot.grad.abs()) > 0
