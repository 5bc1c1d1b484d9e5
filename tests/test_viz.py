"""The single-image preview written by ``xraylab render`` (:func:`xraylab.viz.overlay_png`)."""

from __future__ import annotations

import numpy as np
from PIL import Image

from xraylab.viz import OUTLINE_COLOURS, overlay_png


def test_overlay_png_draws_outlines_in_structure_colours_and_a_legend_strip(tmp_path):
    img = np.full((40, 50), 0.5, dtype=np.float32)
    m1 = np.zeros((40, 50), bool)
    m1[5:15, 5:15] = True
    m2 = np.zeros((40, 50), bool)
    m2[20:35, 20:45] = True
    path = overlay_png(tmp_path / "p.png", img, [m1, m2], legend=["lungs", "heart"], caption="α=10°")
    rgb = np.asarray(Image.open(path).convert("RGB"))
    assert rgb.shape[1] == 50 and rgb.shape[0] > 40  # caption + legend strip below the image
    c1 = np.round(np.array(OUTLINE_COLOURS[0]) * 255)
    c2 = np.round(np.array(OUTLINE_COLOURS[1]) * 255)
    assert np.abs(rgb[5, 10].astype(float) - c1).max() <= 1  # top edge of mask 1
    assert np.abs(rgb[34, 30].astype(float) - c2).max() <= 1  # bottom edge of mask 2
    assert tuple(rgb[10, 10]) == (128, 128, 128)  # inside: the gray image, untouched
