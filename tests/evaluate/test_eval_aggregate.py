"""Robustness tables on small hand-computed result tables."""

import numpy as np
import pandas as pd
import pytest

from xraylab.evaluate import aggregate
from xraylab.evaluate.engine import ROW_COLUMNS

# (model, subject, corruption, severity, dice)
SEG = [
    ("A", "s1", "none", 0, 0.9), ("A", "s2", "none", 0, 0.8),
    ("A", "s1", "noise", 1, 0.9), ("A", "s2", "noise", 1, 0.8),
    ("A", "s1", "noise", 2, 0.5), ("A", "s2", "noise", 2, 0.65),
    ("A", "s1", "dark", 1, 0.6), ("A", "s2", "dark", 1, 0.2),
    ("B", "s1", "none", 0, 0.8), ("B", "s2", "none", 0, 0.8),
    ("B", "s1", "noise", 1, 0.7), ("B", "s2", "noise", 1, 0.7),
    ("B", "s1", "noise", 2, 0.7), ("B", "s2", "noise", 2, 0.7),
    ("B", "s1", "dark", 1, 0.7), ("B", "s2", "dark", 1, 0.6),
]


def frame(records, metric="dice", cls="mean"):
    df = pd.DataFrame(records, columns=["model", "subject", "corruption", "severity", "value"])
    df["image"] = df["subject"] + "_" + df["corruption"] + df["severity"].astype(str)
    df["class"], df["metric"], df["suite"] = cls, metric, "corruption"
    df["severity"] = df["severity"].astype(float)
    for c in ROW_COLUMNS:
        if c not in df.columns:
            df[c] = None
    return df[ROW_COLUMNS]


def test_clean_corrupted_gap_worst_case():
    t = aggregate.corruption_overall(frame(SEG))
    assert t.loc["A", "clean_dice"] == pytest.approx(0.85)
    assert t.loc["A", "mean_corrupted_dice"] == pytest.approx(3.65 / 6)
    assert t.loc["A", "robustness_gap"] == pytest.approx(0.85 - 3.65 / 6)
    # per-subject minimum (0.5 and 0.2), then the mean -- not the worst setting mean (0.4)
    assert t.loc["A", "worst_case_dice"] == pytest.approx(0.35)
    assert t.loc["B", "mean_corrupted_dice"] == pytest.approx(4.1 / 6)
    assert t.loc["B", "robustness_gap"] == pytest.approx(0.8 - 4.1 / 6)
    assert t.loc["B", "worst_case_dice"] == pytest.approx(0.65)


def test_worst_case_averages_images_within_a_setting():
    recs = SEG + [("A", "s1", "dark", 1, 1.0)]  # second image of s1 in the dark-1 setting: mean 0.8
    assert aggregate.worst_case(frame(recs))["A"] == pytest.approx((0.5 + 0.2) / 2)
    recs = SEG + [("A", "s1", "noise", 2, 0.9)]  # noise-2 mean for s1 becomes 0.7 -> min is dark 0.6
    assert aggregate.worst_case(frame(recs))["A"] == pytest.approx((0.6 + 0.2) / 2)


def test_per_corruption_per_severity_and_wins():
    df = frame(SEG)
    pc = aggregate.per_corruption(df)
    assert pc.loc["noise", "A"] == pytest.approx((0.85 + 0.575) / 2)
    assert pc.loc["dark", "B"] == pytest.approx(0.65)
    ps = aggregate.per_severity(df)
    assert list(ps.index) == [0.0, 1.0, 2.0]
    assert ps.loc[1.0, "A"] == pytest.approx((0.85 + 0.4) / 2)
    w1 = aggregate.high_severity_wins(df, 1)
    assert (w1.loc["wins", "A"], w1.loc["wins", "B"], w1.loc["wins", "settings"]) == (1, 2, 3)
    w2 = aggregate.high_severity_wins(df, 2)
    assert (w2.loc["wins", "A"], w2.loc["wins", "B"], w2.loc["wins", "settings"]) == (0, 1, 1)


def test_gain_and_loco_tables():
    df = frame(SEG)
    ov = aggregate.corruption_overall(df)
    g = aggregate.gain_table(ov, "A").set_index("model")
    assert g.loc["B", "mean_corrupted_dice_gain"] == pytest.approx(4.1 / 6 - 3.65 / 6)
    assert g.loc["B", "gap_reduction"] == pytest.approx(ov.loc["A", "robustness_gap"] - ov.loc["B", "robustness_gap"])
    loco = aggregate.loco_table(df, {"dark": "B"}, compare=["A"])
    assert loco.loc["dark", "loco_dice"] == pytest.approx(0.65)
    assert loco.loc["dark", "A"] == pytest.approx(0.4)


def test_rotation_table_percent_change():
    recs = [("R", "s1", 0.8), ("R", "s2", 0.6), ("M", "s1", 0.77), ("M", "s2", 0.77)]
    df = pd.DataFrame(recs, columns=["model", "subject", "value"])
    df["angle_group"], df["metric"], df["class"] = "Center", "dice", "mean"
    t = aggregate.rotation_table(df, ["dice"], "R").set_index("model")
    assert t.loc["R", "mean"] == pytest.approx(0.7)
    assert t.loc["R", "sd"] == pytest.approx(np.std([0.8, 0.6], ddof=1))
    assert np.isnan(t.loc["R", "pct_change"])
    assert t.loc["M", "pct_change"] == pytest.approx(10.0)


def cls_frame(records):
    rows = []
    for model, corruption, severity, targets, preds in records:
        for i, (t, p) in enumerate(zip(targets, preds)):
            rows.append((model, f"s{i}", corruption, severity, float(t == p), t, p))
    df = pd.DataFrame(rows, columns=["model", "subject", "corruption", "severity", "value", "target", "prediction"])
    df["image"] = df["subject"] + df["corruption"] + df["severity"].astype(str)
    df["class"], df["metric"] = "label", "correct"
    for c in ROW_COLUMNS:
        if c not in df.columns:
            df[c] = None
    return df[ROW_COLUMNS]


CLS = [
    ("R", "none", 0, "aabb", "abbb"), ("R", "noise", 1, "aabb", "bbbb"), ("R", "noise", 2, "aabb", "bbaa"),
    ("M", "none", 0, "aabb", "aabb"), ("M", "noise", 1, "aabb", "abbb"), ("M", "noise", 2, "aabb", "aaba"),
]


def test_medmnistc_balanced_error_and_relative():
    df = cls_frame(CLS)
    per, summ = aggregate.medmnistc_table(df, "R")
    assert summ.loc["R", "clean_BE"] == pytest.approx(0.25)
    assert summ.loc["M", "clean_BE"] == pytest.approx(0.0)
    assert per.loc["noise", "M BE"] == pytest.approx(0.5 / 1.5)
    assert per.loc["noise", "M rBE"] == pytest.approx(0.5 / 1.0)
    assert summ.loc["R", "mBE"] == pytest.approx(1.0) and summ.loc["R", "mrBE"] == pytest.approx(1.0)


def test_accuracy_tables_in_ward_layout():
    df = cls_frame(CLS)
    by_sev = aggregate.accuracy_by(df, "severity")
    assert list(by_sev.columns) == ["R", "M"]
    assert by_sev.loc[0.0, "R"] == pytest.approx(0.75)
    assert by_sev.loc[2.0, "M"] == pytest.approx(0.75)
    assert by_sev.loc["Overall", "M"] == pytest.approx(10 / 12)
    s = aggregate.classification_summary(df)
    assert s.loc["M", "clean_accuracy"] == 1.0
    assert s.loc["R", "balanced_accuracy"] == pytest.approx(((1 / 6) + (4 / 6)) / 2)
    cm = aggregate.confusion(df, "R")
    assert cm.loc["a", "b"] == 5 and cm.loc["b", "b"] == 4 and cm.loc["b", "a"] == 2
