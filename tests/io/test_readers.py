"""The one image reader and the one mask reader (xraylab.io.images), used by importers and datasets alike."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from xraylab.data.importers.readers import read_raster
from xraylab.errors import InputFileError
from xraylab.io.images import read_image, read_mask


def test_bit_depths_scale_to_unit_range(tmp_path):
    a16 = np.array([[0, 32768, 65535]], dtype=np.uint16)
    Image.fromarray(a16).save(tmp_path / "a16.png")
    a8 = np.array([[0, 128, 255]], dtype=np.uint8)
    Image.fromarray(a8).save(tmp_path / "a8.png")
    np.testing.assert_allclose(read_image(tmp_path / "a16.png"), a16 / 65535.0, atol=1e-6)
    np.testing.assert_allclose(read_image(tmp_path / "a8.png"), a8 / 255.0, atol=1e-6)


def test_importer_and_dataset_read_the_same_pixels(tmp_path):
    rgb = np.zeros((4, 5, 3), dtype=np.uint8)
    rgb[..., 0], rgb[..., 1], rgb[..., 2] = 30, 60, 90
    Image.fromarray(rgb).save(tmp_path / "c.png")
    colour = read_image(tmp_path / "c.png")
    assert colour.shape == (4, 5, 3)
    grey = read_image(tmp_path / "c.png", grey=True)
    np.testing.assert_allclose(grey, colour.mean(axis=2), atol=1e-6)
    np.testing.assert_array_equal(read_raster(tmp_path / "c.png").pixels, grey)


def test_grey_with_alpha_is_2d(tmp_path):
    la = np.stack([np.full((3, 3), 200, np.uint8), np.full((3, 3), 255, np.uint8)], axis=2)
    Image.fromarray(la, mode="LA").save(tmp_path / "la.png")
    out = read_image(tmp_path / "la.png")
    assert out.shape == (3, 3)
    np.testing.assert_allclose(out, 200 / 255.0, atol=1e-6)


@pytest.mark.parametrize("fg,bg,dtype", [(1, 0, np.uint8), (255, 0, np.uint8), (65535, 0, np.uint16),
                                         (250, 6, np.uint8)])  # the last: a lossy JPEG-like mask
def test_mask_foreground_is_above_half_the_maximum(tmp_path, fg, bg, dtype):
    m = np.full((6, 6), bg, dtype=dtype)
    m[1:4, 2:5] = fg
    Image.fromarray(m).save(tmp_path / "m.png")
    out = read_mask(tmp_path / "m.png")
    assert out.dtype == np.bool_ and out.sum() == 9 and out[1:4, 2:5].all()


def test_empty_and_missing_masks(tmp_path):
    Image.fromarray(np.zeros((3, 4), np.uint8)).save(tmp_path / "z.png")
    assert not read_mask(tmp_path / "z.png").any()
    with pytest.raises(InputFileError, match="nope.png: mask file not found"):
        read_mask(tmp_path / "nope.png")
