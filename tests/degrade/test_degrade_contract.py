"""The shared corruption contract, run for every registered corruption (issue 5)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from skimage.metrics import structural_similarity

from xraylab.degrade import filters, registry
from xraylab.degrade.base import Corruption
from xraylab.degrade.rng import make_generator
from xraylab.errors import ConfigError

ALL = registry.names()
XRAY = registry.names("xray")
# Distortion measure per corruption: SSIM against the clean image must strictly fall with the level.
# ct_compound is the exception: RAMP defines it as noise *then* blur (sigma = 5 x level), so at the
# top levels the growing blur smooths the growing noise and SSIM is not monotonic; its RMSE is.
RMSE_MEASURED = {"ct_compound"}

EXPECTED = {
    "xray": {"acquisition_geometry", "anti_scatter_grid", "beam_energy", "collimation",
             "detector_performance", "focal_spot", "tube_current"},
    "traditional": {"gaussian_blur", "gaussian_noise", "high_brightness", "low_brightness"},
    "dermoscopy": {"derm_blur", "color_reproduction", "focal_plane", "resolution"},
    "ct": {"ct_gaussian_noise", "ct_isotropic_blur", "ct_rician_noise", "ct_motion_blur", "ct_salt_pepper",
           "ct_speckle", "ct_bias_field", "ct_ghosting", "ct_intensity_shift", "ct_contrast_reduction",
           "ct_resolution", "ct_stripe", "ct_compound"},
    "annotations": {"burnt_in"},
}


def _primary(name: str) -> str:
    return registry.get(name).modalities[0]


def _small(name: str, modality_images) -> torch.Tensor:
    """A 2-sample 96 x 96 batch of the corruption's modality (second sample flipped)."""
    x = torch.nn.functional.interpolate(modality_images[_primary(name)], size=(96, 96), mode="area")
    return torch.cat([x, x.flip(-1)], 0)


def _ssim(a: torch.Tensor, b: torch.Tensor) -> float:
    a = a[0].permute(1, 2, 0).double().numpy()
    b = b[0].permute(1, 2, 0).double().numpy()
    return float(structural_similarity(a, b, data_range=1.0, channel_axis=2))


def _distortions(op, x: torch.Tensor, seed: int = 0) -> list[float]:
    out = []
    for level in op.levels:
        y = op.apply(x, level, make_generator(seed))
        if op.name in RMSE_MEASURED:
            out.append(float(((y - x) ** 2).mean().sqrt()))
        else:
            out.append(1.0 - _ssim(x, y))
    return out


def test_registry_lists_every_corruption_of_the_issue():
    names = set(ALL)
    for group, expected in EXPECTED.items():
        assert expected <= names, f"{group}: missing {expected - names}"
    assert set(registry.names("ct")) == EXPECTED["ct"]
    assert set(registry.names("xray")) == EXPECTED["xray"] | EXPECTED["traditional"] | EXPECTED["annotations"]
    assert set(registry.names("dermoscopy")) == EXPECTED["dermoscopy"] | EXPECTED["traditional"]
    assert all(len(registry.get(n).levels) == 4 for n in names - EXPECTED["ct"])
    assert all(registry.get(n).levels == [1, 2, 3, 4, 5] for n in EXPECTED["ct"])


def test_registry_errors_name_the_choices():
    with pytest.raises(ConfigError, match="acquisition_geometry"):
        registry.get("no_such_corruption")
    with pytest.raises(ConfigError, match="modality"):
        registry.names("mri")


def test_corruptions_live_in_one_registry_and_bad_registrations_are_refused():
    assert registry.names() == registry.CORRUPTIONS.names()
    assert all(registry.get(n) is registry.CORRUPTIONS.get(n) and registry.get(n).name == n for n in ALL)

    class Duplicate(Corruption):
        name = "gaussian_blur"
        modalities = ("xray",)

    class BadTag(Corruption):
        name = "bad_tag_corruption"
        modalities = ("mri",)

    with pytest.raises(ValueError, match="registered twice"):
        registry.register(Duplicate)
    with pytest.raises(ValueError, match="modality"):
        registry.register(BadTag)
    assert type(registry.get("gaussian_blur")) is not Duplicate and "bad_tag_corruption" not in registry.CORRUPTIONS


@pytest.mark.parametrize("name", ALL)
def test_shape_dtype_range_kept(name, modality_images):
    op = registry.get(name)
    x = _small(name, modality_images)
    for sev in [*op.levels, 0.4, op.n_levels - 0.5]:
        y = op.apply(x, sev, make_generator(1))
        assert y.shape == x.shape and y.dtype == x.dtype and y.device == x.device
        assert torch.isfinite(y).all()
        assert float(y.min()) >= 0.0 and float(y.max()) <= 1.0
    y64 = op.apply(x.double(), op.levels[-1], make_generator(1))
    assert y64.dtype == torch.float64


@pytest.mark.parametrize("name", ALL)
def test_severity_zero_is_identity_and_top_level_changes_the_image(name, modality_images):
    op = registry.get(name)
    x = _small(name, modality_images)
    y0 = op.apply(x, 0, make_generator(2))
    assert torch.equal(y0, x) and y0.data_ptr() != x.data_ptr()
    assert (op.apply(x, op.levels[-1], make_generator(2)) - x).abs().max() > 0.02


@pytest.mark.parametrize("name", ALL)
def test_deterministic_under_seed(name, modality_images):
    op = registry.get(name)
    x = _small(name, modality_images)
    a = op.apply(x, op.levels[1], make_generator(7))
    b = op.apply(x, op.levels[1], make_generator(7))
    assert torch.equal(a, b)


@pytest.mark.parametrize("name", ALL)
def test_params_interpolate_the_table(name):
    op = registry.get(name)
    p1, p2, mid = op.params(1), op.params(2), op.params(1.5)
    for k in op.table:
        assert p1[k] == pytest.approx(op.table[k][1])
        assert mid[k] == pytest.approx(0.5 * (p1[k] + p2[k]))
    with pytest.raises(ConfigError, match=name):
        op.params(op.n_levels + 1)
    with pytest.raises(ConfigError):
        op.params(-0.5)


@pytest.mark.parametrize("name", ALL)
def test_masks_untouched_or_moved_exactly(name, modality_images):
    op = registry.get(name)
    x = _small(name, modality_images)
    mask = (x[:, :1] > 0.5).to(torch.uint8) * 3  # label value 3
    mask[:, :, 10:30, 20:50] = 1
    for sev in (op.levels[0], op.levels[-1], 1.7):
        y, m = op.apply_with_mask(x, mask, sev, make_generator(3))
        assert m.dtype == mask.dtype and m.shape == mask.shape
        if op.spatial:
            expected = filters.magnify(mask, op.params(sev)["scale"], mode="nearest")
            assert torch.equal(m, expected)
            assert set(m.unique().tolist()) <= set(mask.unique().tolist())
        else:
            assert torch.equal(m, mask)
    assert op.apply_with_mask(x, None, 1, make_generator(3))[1] is None


def test_spatial_mask_follows_the_magnified_image():
    """A bright square and its mask stay aligned under acquisition_geometry (label moves with anatomy)."""
    op = registry.get("acquisition_geometry")
    x = torch.zeros(1, 1, 128, 128)
    x[..., 70:100, 80:110] = 1.0
    mask = (x > 0.5).to(torch.uint8)
    y, m = op.apply_with_mask(x, mask, 4, make_generator(0))
    s = op.params(4)["scale"]
    area = float(m.sum())
    assert area == pytest.approx(30 * 30 * s * s, rel=0.1)
    # centroid of the mask = centroid of the magnified (dominant) square in the image
    yy, xx = torch.meshgrid(torch.arange(128.0), torch.arange(128.0), indexing="ij")
    w = (y[0, 0] > 0.6).float()
    cm = (yy * m[0, 0]).sum() / m.sum(), (xx * m[0, 0]).sum() / m.sum()
    ci = (yy * w).sum() / w.sum(), (xx * w).sum() / w.sum()
    assert abs(float(cm[0] - ci[0])) < 1.5 and abs(float(cm[1] - ci[1])) < 1.5
    # and it really moved away from the original position (magnification about the centre)
    assert float(cm[1]) > 94.5 + 2


@pytest.mark.parametrize("name", ALL)
def test_distortion_grows_with_severity_on_fixture(name, modality_images):
    op = registry.get(name)
    d = _distortions(op, modality_images[_primary(name)])
    assert all(a < b for a, b in zip(d, d[1:])), f"{name}: distortion per level {np.round(d, 4)}"


@pytest.mark.shared_data
@pytest.mark.parametrize("name", XRAY)
def test_distortion_grows_with_severity_on_real_radiograph(name, real_xray):
    d = _distortions(registry.get(name), real_xray)
    assert all(a < b for a, b in zip(d, d[1:])), f"{name}: 1 - SSIM per level {np.round(d, 4)}"


@pytest.mark.parametrize("name", registry.names("ct"))
def test_ct_operators_work_on_volumes(name, ct_volume):
    op = registry.get(name)
    assert op.volumetric
    x = torch.cat([ct_volume, ct_volume.flip(2)], 0)
    assert torch.equal(op.apply(x, 0, make_generator(0)), x)
    a = op.apply(x, 3, make_generator(5))
    b = op.apply(x, 3, make_generator(5))
    assert a.shape == x.shape and torch.equal(a, b)
    assert 0.0 <= float(a.min()) and float(a.max()) <= 1.0
    assert (a - x).abs().mean() > 1e-3


def test_2d_operators_reject_volumes_and_colour_needs_rgb(ct_volume, xray_image):
    with pytest.raises(ConfigError, match="H, W"):
        registry.get("beam_energy").apply(ct_volume, 1)
    with pytest.raises(ConfigError, match="3 channels"):
        registry.get("color_reproduction").apply(xray_image, 1)
    with pytest.raises(ConfigError, match="float"):
        registry.get("gaussian_noise").apply((xray_image * 255).to(torch.uint8), 1)


def test_generator_none_still_valid(xray_image):
    y = registry.get("tube_current").apply(xray_image, 2, None)
    assert y.shape == xray_image.shape and 0 <= float(y.min()) <= float(y.max()) <= 1


@pytest.mark.gpu
@pytest.mark.parametrize("name", ALL)
def test_cpu_and_cuda_agree(name, modality_images):
    if not torch.cuda.is_available():
        pytest.skip("CUDA not available")
    op = registry.get(name)
    x = _small(name, modality_images)
    cpu = op.apply(x, op.levels[-1], make_generator(11))
    gpu = op.apply(x.cuda(), op.levels[-1], make_generator(11))
    assert gpu.device.type == "cuda"
    # salt-and-pepper and Poisson are exact draws from the same CPU stream; compare with a tolerance
    # that allows float differences of the filters (TF32 convolutions on recent GPUs)
    assert torch.allclose(cpu, gpu.cpu(), atol=2e-3), float((cpu - gpu.cpu()).abs().max())
