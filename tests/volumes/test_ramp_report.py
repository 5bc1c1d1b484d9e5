"""docs/make_ramp_report.py: extra-seed models (``<strategy>_s<seed>``) fold into one row, mean ± SD."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pandas as pd
import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "docs" / "make_ramp_report.py"


@pytest.fixture(scope="module")
def rep():
    spec = importlib.util.spec_from_file_location("make_ramp_report", SCRIPT)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _table() -> pd.DataFrame:
    rows = [("none", 0.86, 0.84), ("none_s43", 0.88, 0.85), ("none_s44", 0.84, 0.83), ("ramp", 0.74, 0.71),
            ("ramp_k1", 0.80, 0.78)]
    return pd.DataFrame([{"model": m, "clean_dice": c, "mean_corrupted_dice": k, "robustness_gap": c - k,
                          "worst_case_dice": k - 0.1} for m, c, k in rows])


def test_base_model_strips_only_a_seed_suffix(rep):
    assert rep.base_model("ramp_s43") == "ramp"
    assert rep.base_model("none_s7") == "none"
    assert rep.base_model("ramp_k1") == "ramp_k1"
    assert rep.base_model("loco_ct_salt_pepper") == "loco_ct_salt_pepper"  # "_salt..." is not a seed


def test_seeds_grouped_mean_and_sample_sd(rep):
    g = rep.by_strategy(_table())
    assert list(g.index) == ["none", "ramp", "ramp_k1"]
    assert g.loc["none", "seeds"] == 3 and g.loc["ramp", "seeds"] == 1
    assert g.loc["none", "clean_dice"] == pytest.approx(0.86)
    assert g.loc["none", "clean_dice_sd"] == pytest.approx(0.02)  # sample SD of 0.86, 0.88, 0.84
    assert pd.isna(g.loc["ramp", "clean_dice_sd"])


def test_report_rows(rep, tmp_path):
    res = tmp_path / "results"
    res.mkdir()
    _table().to_csv(res / "ramp_table.csv", index=False)
    sizes = {"volumes": {"train": ["a"], "val": ["b"], "test": ["c"]}, "classes": ["lungs", "heart"],
             "voxel_mm": 6.0, "model": {}, "patch": [24, 24, 24], "batch_size": 2, "epochs": 60,
             "steps_per_epoch": 50, "degraded_volumes": 66, "total_s": 600}
    (res / "sizes.json").write_text(json.dumps(sizes))
    text = rep.report(tmp_path)
    row = next(line for line in text.splitlines() if "no augmentation" in line)
    assert "| 3 | 0.860 ± 0.020 |" in row
    assert "RAMP, k = 1 (ablation) | 1 | 0.800 |" in text
