"""The rotation suite end to end on a generated 2-subject x 5-angle dataset and a tiny trained model."""

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from xraylab.data.angles import ANGLE_GROUPS
from xraylab.evaluate import parse_spec, run_evaluation

from .helpers import ThresholdNet, make_rotation_dataset, seg_model, train_threshold_net


@pytest.fixture(scope="module")
def rotation_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("rot")
    make_rotation_dataset(root / "data")
    trained = seg_model("trained", train_threshold_net(root / "data"))
    constant = seg_model("all-foreground", ThresholdNet(w=0.0, b=5.0))
    spec = parse_spec(
        {"name": "rot", "output": str(root / "run"), "batch_size": 4,
         "models": [{"name": "all-foreground", "path": "unused"}, {"name": "trained", "path": "unused"}],
         "rotation": {"dataset": str(root / "data"), "reference": "all-foreground", "spacing_mm": 0.5}}
    )
    out = run_evaluation(spec, models={"trained": trained, "all-foreground": constant}, log=lambda m: None)
    return out


def test_results_rows(rotation_run):
    df = pd.read_parquet(rotation_run / "results.parquet")
    assert set(df["suite"]) == {"rotation"}
    # 2 models x 10 images x (1 class + mean) x 6 metrics
    assert len(df) == 2 * 10 * 2 * 6
    assert set(df["metric"]) == {"dice", "iou", "hd_px", "hd95_px", "hd_mm", "hd95_mm"}
    assert set(df["angle_group"]) == set(ANGLE_GROUPS)
    d = df[(df["metric"] == "dice") & (df["class"] == "mean")]
    assert d.groupby("model")["image"].nunique().to_dict() == {"trained": 10, "all-foreground": 10}
    hd_px = df[(df["metric"] == "hd_px")].set_index(["model", "image", "class"])["value"]
    hd_mm = df[(df["metric"] == "hd_mm")].set_index(["model", "image", "class"])["value"]
    np.testing.assert_allclose(hd_mm.to_numpy(), 0.5 * hd_px.loc[hd_mm.index].to_numpy())


def test_trained_model_beats_constant(rotation_run):
    t = pd.read_csv(rotation_run / "tables" / "rotation_table2.csv")
    dice = t[t["metric"] == "dice"].set_index(["model", "angle_group"])
    assert (dice.loc["trained", "mean"] > 0.9).all()
    assert (dice.loc["all-foreground", "mean"] < 0.5).all()
    assert dice.loc["all-foreground", "pct_change"].isna().all()
    assert (dice.loc["trained", "pct_change"] > 50).all()


def test_table_layout_and_boxplot(rotation_run):
    t = pd.read_csv(rotation_run / "tables" / "rotation_table2.csv")
    # one row per model x metric (Dice, HD, HD95 in mm) x angle group
    assert len(t) == 2 * 3 * 5
    assert set(t["metric"]) == {"dice", "hd_mm", "hd95_mm"}
    assert (t["n"] == 2).all()
    md = (rotation_run / "summary.md").read_text(encoding="utf-8")
    header = next(line for line in md.splitlines() if line.startswith("| model | metric"))
    assert header == "| model | metric | " + " | ".join(ANGLE_GROUPS) + " |"
    assert "Best model per column" in md and "**trained**" in md
    png = rotation_run / "figures" / "rotation_dice_boxplot.png"
    with Image.open(png) as im:
        assert im.format == "PNG" and im.size[0] > 500 and im.size[1] > 300
    assert "figures/rotation_dice_boxplot.png" in md
    assert (rotation_run / "figures" / "rotation_dice_selected_angles.png").is_file()
    per_angle = pd.read_csv(rotation_run / "tables" / "rotation_dice_per_angle.csv", index_col="angle")
    assert list(per_angle.index) == [-20, -10, 0, 10, 20] and list(per_angle.columns) == ["all-foreground", "trained"]
