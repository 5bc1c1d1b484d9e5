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


def test_contact_sheet_lays_out_tiles_with_images_outlines_and_captions(tmp_path):
    """Five tiles, 3 per row, at 100 px per inch: each image scaled into its tile, its mask outlined in the
    structure's colour, a caption strip above and a legend below."""
    from xraylab.viz import OUTLINE_COLOURS, contact_sheet

    images = [np.full((40, 20), v, dtype=np.float32) for v in (0.1, 0.3, 0.5, 0.7, 0.9)]  # portrait tiles
    mask = np.zeros((40, 20), dtype=bool)
    mask[10:30, 5:15] = True
    out = contact_sheet(tmp_path / "sheet.png", images, [[mask]] * 5, captions=[f"v{i}" for i in range(5)],
                        ncols=3, tile_inches=0.8, title="five", legend=["lungs"])
    rgb = np.asarray(Image.open(out).convert("RGB"))
    tile, pad, cap, title, legend = 80, 5, 16, 24, 22
    assert rgb.shape == (title + 2 * (tile + cap + 2 * pad) + legend, 3 * (tile + 2 * pad), 3)
    colour = tuple(int(c * 255.0 + 0.5) for c in OUTLINE_COLOURS[0])  # as overlay() rounds it
    for k, v in enumerate((0.1, 0.3, 0.5, 0.7, 0.9)):
        r, c = divmod(k, 3)
        y0, x0 = title + r * (tile + cap + 2 * pad) + pad + cap, c * (tile + 2 * pad) + pad
        cell = rgb[y0 : y0 + tile, x0 : x0 + tile]
        assert np.all(cell[2, tile // 2] == int(v * 255 + 0.5))  # the image fills the tile's height …
        assert np.all(cell[tile // 2, 2] == 255)  # … and is centred in its width (white beside it)
        assert (np.abs(cell.astype(int) - colour).sum(-1) == 0).sum() > 20  # the mask's outline
        strip = rgb[y0 - cap : y0, x0 : x0 + tile]
        assert (strip.min(-1) < 128).any()  # caption text
    assert (np.abs(rgb[-legend:].astype(int) - colour).sum(-1) == 0).sum() >= 50  # legend swatch
    assert (rgb[:title].min(-1) < 128).any()  # title text


def test_contact_sheet_keeps_two_line_captions_off_the_image_and_wraps_the_legend(tmp_path):
    from xraylab.viz import contact_sheet

    images = [np.full((30, 30), 1.0, dtype=np.float32)] * 2  # white images: any dark pixel in them is text
    legend = [f"structure_{i}" for i in range(6)]
    out = contact_sheet(tmp_path / "s.png", images, captions=["α = 10°\nkVp 110", "α = 20°\nkVp 95"], ncols=2,
                        tile_inches=0.6, legend=legend)
    rgb = np.asarray(Image.open(out).convert("RGB")).astype(int)
    tile, pad, cap = 60, 5, 2 * 13 + 3
    top = pad + cap  # the first row's images start below their two-line caption strip
    assert (rgb[pad:top].min(-1) < 128).sum() > 20  # both caption lines are drawn …
    assert (rgb[top : top + tile, pad : pad + tile].min(-1) == 255).all()  # … and none of them on the image
    legend_rows = (rgb.shape[0] - (tile + cap + 2 * pad) - 4) // 18
    assert legend_rows >= 2  # six names do not fit on one 140-pixel row
