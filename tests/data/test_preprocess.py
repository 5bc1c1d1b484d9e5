"""The one preprocessing (``xraylab.io.preprocess``): real and synthetic images of one array come out the same."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image

from xraylab.data.importers.readers import read_radiograph
from xraylab.io.images import png16_bytes, resize_pad, to_uint16
from xraylab.io.preprocess import (
    normalize_intensity,
    output_pixel_spacing,
    parse_size,
    prepare_image,
    prepare_mask,
    same_aspect,
)


def _quantised(h=30, w=50, seed=0) -> np.ndarray:
    """A float32 image in [0, 1] that a 16-bit PNG stores exactly."""
    rng = np.random.default_rng(seed)
    return (to_uint16(rng.random((h, w))).astype(np.float32) / np.float32(65535.0))


@pytest.mark.parametrize("normalize", ["none", "minmax", "percentile"])
def test_synthetic_tensor_and_real_png_of_the_same_array_are_identical(tmp_path, normalize):
    x = _quantised()
    synthetic = prepare_image(torch.from_numpy(x), 64, normalize)  # what generate hands over: a float tensor
    path = tmp_path / "real.png"
    path.write_bytes(png16_bytes(x))  # what a real dataset holds: a 16-bit PNG of the same pixels
    real = prepare_image(read_radiograph(path).pixels, 64, normalize)
    assert synthetic.dtype == real.dtype == torch.float32
    assert torch.equal(synthetic, real)
    assert synthetic.shape == (64, 64)


def test_integer_dicom_like_values_match_their_float_version_after_minmax():
    rng = np.random.default_rng(1)
    raw = rng.integers(100, 4096, (24, 40)).astype(np.uint16)  # e.g. 12-bit detector values
    as_float = (raw.astype(np.float64) - raw.min()) / (raw.max() - raw.min())
    a = prepare_image(raw, (32, 32), "minmax")
    b = prepare_image(torch.from_numpy(as_float.astype(np.float32)), (32, 32), "none")
    assert torch.allclose(a, b, atol=1e-6)


def test_invert_is_one_minus_normalised_and_padding_stays_dark():
    x = _quantised(20, 40)
    plain = prepare_image(x, 40, "minmax")
    inv = prepare_image(x, 40, "minmax", invert=True)
    # rows 0..9 and 30..39 are padding (20×40 → 20×40 centred in 40×40): 0 for both polarities
    assert float(plain[:10].abs().max()) == 0.0 and float(inv[:10].abs().max()) == 0.0
    assert torch.allclose(inv[10:30], 1.0 - plain[10:30], atol=1e-6)


def test_minmax_range_aspect_padding_and_none_matches_resize_pad():
    x = np.linspace(3.0, 7.0, 30 * 60).reshape(30, 60)
    out = prepare_image(x, 64, "minmax")
    assert out.shape == (64, 64) and float(out.min()) == 0.0 and float(out.max()) <= 1.0
    assert float(out[16:48].max()) > 0.99  # content rows (32 of 64) reach the top of the range
    assert torch.all(out[:16] == 0) and torch.all(out[48:] == 0)  # zero padding above and below
    y = torch.rand(30, 60)
    assert torch.equal(prepare_image(y, 64, "none"), resize_pad(y, 64).clamp(0, 1))


def test_percentile_ignores_a_burnt_in_label():
    x = np.full((50, 50), 0.3)
    x[:25] = 0.6
    x[0, 0] = 50.0  # a burnt-in marker far above the anatomy
    p = prepare_image(x, None, "percentile")
    m = prepare_image(x, None, "minmax")
    assert float(p[30, 30]) == pytest.approx(0.0, abs=1e-6) and float(p[10, 10]) == pytest.approx(1.0, abs=1e-6)
    assert float(m[10, 10]) < 0.01  # minmax squashes the anatomy under the marker


def test_constant_image_nan_and_colour_inputs():
    assert torch.all(prepare_image(np.full((8, 8), 7.0), 16) == 0)
    with pytest.raises(ValueError, match="NaN"):
        normalize_intensity(np.array([[0.0, np.nan]]))
    rgb = np.stack([_quantised(10, 12)] * 3, axis=-1)
    assert torch.allclose(prepare_image(rgb, None, "none"), torch.from_numpy(_quantised(10, 12)), atol=1e-6)


def test_masks_nearest_on_the_image_geometry_even_at_another_resolution():
    m = np.zeros((40, 80), bool)
    m[10:30, 20:60] = True
    half = m[::2, ::2]  # the same mask stored at half resolution (like SCR vs JSRT)
    a, b = prepare_mask(m, 64), prepare_mask(half, 64)
    assert a.dtype == torch.bool and a.shape == (64, 64)
    assert torch.equal(a, b)
    assert set(torch.unique(a.int()).tolist()) == {0, 1}
    assert torch.equal(prepare_mask(half, (40, 80)), torch.from_numpy(m))


def test_size_parsing_spacing_and_aspect_helpers():
    assert parse_size(256) == (256, 256) and parse_size("512x384") == (512, 384) and parse_size("0") is None
    assert parse_size(None) is None and parse_size((3, 4)) == (3, 4)
    with pytest.raises(ValueError):
        parse_size("big")
    assert output_pixel_spacing(0.175, (2048, 2048), 256) == pytest.approx(1.4)
    assert np.isnan(output_pixel_spacing(0.0, (10, 10), 5)) and np.isnan(output_pixel_spacing(None, (10, 10), 5))
    assert same_aspect((2048, 2048), (1024, 1024)) and same_aspect((4892, 4020), (2446, 2010))
    assert not same_aspect((100, 200), (100, 100))


def test_png_read_back_of_a_prepared_image_is_stable():
    out = prepare_image(_quantised(), 32, "minmax").numpy()
    img = np.asarray(Image.open(io.BytesIO(png16_bytes(out)))).astype(np.float32) / 65535
    again = prepare_image(img, 32, "none")
    assert np.abs(again.numpy() - out).max() <= 1 / 65535 + 1e-7
