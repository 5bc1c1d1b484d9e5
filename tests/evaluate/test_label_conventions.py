"""Label statistics of lung conventions (xraylab.evaluate.label_conventions) and the generate spec's lung_convention."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml

from xraylab.evaluate.label_conventions import (
    LABEL_STATISTICS,
    available_conventions,
    compare_conventions,
    label_statistics,
)


def _masks(lung_rows=(10, 70), heart_rows=(40, 66), heart_cols=(35, 65)):
    lungs = np.zeros((100, 100), bool)
    lungs[lung_rows[0]:lung_rows[1], 10:90] = True
    heart = np.zeros((100, 100), bool)
    heart[heart_rows[0]:heart_rows[1], heart_cols[0]:heart_cols[1]] = True
    return lungs, heart


def test_label_statistics_on_boxes():
    lungs, heart = _masks()
    st = label_statistics(lungs, heart)
    assert st["heart_in_lungs"] == pytest.approx(1.0)
    assert st["lungs_over_heart"] == pytest.approx(26 * 30 / (60 * 80))
    assert st["heart_bottom"] == pytest.approx((65 - 10 + 1) / 60)
    assert st["lung_height_width"] == pytest.approx(60 / 80)
    assert st["cardiothoracic_ratio"] == pytest.approx(30 / 80)
    assert st["lung_width_image"] == pytest.approx(80 / 100)
    assert label_statistics(lungs, heart, content_width=90)["lung_width_image"] == pytest.approx(80 / 90)
    # Lungs running 20 rows further down (below the diaphragm) lower the heart's relative bottom.
    longer = label_statistics(*_masks(lung_rows=(10, 90)))
    assert longer["heart_bottom"] < st["heart_bottom"] - 0.2
    # A lung field that leaves the heart out.
    lungs2 = lungs & ~heart
    assert label_statistics(lungs2, heart)["heart_in_lungs"] == 0.0
    assert np.isnan(label_statistics(np.zeros((4, 4), bool), heart[:4, :4])["heart_bottom"])


def test_compare_conventions_picks_the_one_closest_to_the_real_masks():
    rng = np.random.default_rng(0)

    def table(lung_bottom):
        return pd.DataFrame([label_statistics(*_masks(lung_rows=(10, lung_bottom + int(rng.integers(-2, 3)))))
                             for _ in range(12)])

    real = table(70)
    t, best = compare_conventions(real, {"projected": table(92), "field": table(71)})
    assert best == "field"
    assert list(t["statistic"]) == [*LABEL_STATISTICS, "score"]
    score = t.set_index("statistic").loc["score"]
    assert score["field"] < score["projected"]


def test_generate_lung_convention_field_draws_lungs_as_the_lung_field(tmp_path):
    from xraylab.data.generate import generate
    from xraylab.data.manifest import read_manifest
    from xraylab.io.images import read_mask

    base = {"name": "c", "seed": 3, "cts": ["default"], "preset": "ideal", "geometry": {"rows": 48, "cols": 48},
            "sweep": {"grid": {"geometry.rotation_deg": [0]}}, "render": {"downsample": 4, "n_points": 96},
            "output": {"size": 48, "contact_sheet": 0}}
    (tmp_path / "a.yaml").write_text(yaml.safe_dump({**base, "structures": ["lungs", "lung_field", "left_lung",
                                                                           "left_lung_field", "heart"]}))
    (tmp_path / "b.yaml").write_text(yaml.safe_dump({**base, "structures": ["lungs", "left_lung", "heart"],
                                                     "lung_convention": "field"}))
    generate(tmp_path / "a.yaml", tmp_path / "a", workers=1, progress=False)
    generate(tmp_path / "b.yaml", tmp_path / "b", workers=1, progress=False)
    ra, rb = (read_manifest(tmp_path / x).iloc[0] for x in "ab")

    def m(root, row, s):
        return read_mask(root / row[f"mask:{s}"]) > 0.5

    a, b = tmp_path / "a", tmp_path / "b"
    assert np.array_equal(m(b, rb, "lungs"), m(a, ra, "lung_field"))
    assert np.array_equal(m(b, rb, "left_lung"), m(a, ra, "left_lung_field"))
    assert np.array_equal(m(b, rb, "heart"), m(a, ra, "heart"))
    assert m(a, ra, "lung_field").sum() < 0.9 * m(a, ra, "lungs").sum()  # the CT's posterior recesses are gone
    info = json.loads((b / "dataset.json").read_text())
    assert info["lung_convention"] == "field" and "visible diaphragm" in info["structure_definitions"]["lungs"]
    assert "lung_convention" not in json.loads((a / "dataset.json").read_text())["spec"]  # default: not dumped
    assert available_conventions(a) == {"projected": "lungs", "field": "lung_field"}
    assert available_conventions(b) == {"field": "lungs"}


def test_lung_halves_are_found_by_convention():
    from xraylab.evaluate.label_conventions import _mask_columns

    df = pd.DataFrame(columns=["mask:left_lung", "mask:right_lung", "mask:left_lung_field", "mask:right_lung_field"])
    assert _mask_columns(df, "lungs") == ["mask:left_lung", "mask:right_lung"]
    assert _mask_columns(df, "lung_field") == ["mask:left_lung_field", "mask:right_lung_field"]
    assert _mask_columns(df, "lung_field_scr") is None and _mask_columns(df, "heart") is None
