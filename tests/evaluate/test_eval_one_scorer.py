"""One scorer: plain evaluation, the suites and trainer validation give the same scores for the same model and rows,
and every scorer keeps a row without a mask file as NaN."""

import shutil

import numpy as np
import pandas as pd
import pytest
import torch

from xraylab.data.manifest import read_manifest, write_manifest
from xraylab.evaluate import parse_spec, run_evaluation
from xraylab.evaluate.data import load_rows
from xraylab.evaluate.engine import segmentation_rows
from xraylab.evaluate.plain import PlainSpec, run_plain

from .helpers import ThresholdNet, make_corruption_dataset, seg_model


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("one_scorer") / "data"
    make_corruption_dataset(folder)
    return folder


@pytest.fixture(scope="module")
def model():
    # a loose threshold: imperfect masks, so Dice and HD95 vary from image to image
    return seg_model("loose", ThresholdNet(w=10.0, b=-3.0))


def test_plain_evaluation_and_corruption_suite_give_the_same_scores(data, model, tmp_path):
    spec = parse_spec({"output": str(tmp_path / "suite"), "models": [{"name": "loose", "path": "unused"}],
                       "corruption": {"dataset": str(data), "distances": True}})
    suite = pd.read_parquet(run_evaluation(spec, models={"loose": model}, log=lambda m: None) / "results.parquet")
    suite = suite[(suite["suite"] == "corruption") & (suite["class"] == "clavicle")]
    out = run_plain(PlainSpec(model="unused", data=str(data), output=str(tmp_path / "plain"), sheet_images=0),
                    model=model, log=lambda m: None)
    plain = pd.read_csv(out / "per_image.csv").set_index("image_id")
    for metric, column in (("dice", "dice"), ("hd95_px", "hd95"), ("hd_px", "hd")):
        s = suite[suite["metric"] == metric].set_index("image")["value"]
        assert len(s) == len(plain) == 15
        np.testing.assert_allclose(s.loc[plain.index].to_numpy(), plain[column].to_numpy(), rtol=0, atol=1e-12)
    assert plain["dice"].std() > 0.01  # the scores differ between images, so the comparison can fail


def test_trainer_validation_dice_equals_evaluation_dice(data, model):
    from torch.utils.data import DataLoader

    from xraylab.data.datasets import ManifestDataset
    from xraylab.train.loop import validate

    table = read_manifest(data).assign(_root=str(data))
    ds = ManifestDataset(table, "segmentation", ["mask:clavicle"], image_size=24, in_channels=1)  # resized grid
    val = validate(model.module, DataLoader(ds, batch_size=4), lambda logits, y: torch.zeros(()), "segmentation",
                   ["clavicle"], torch.device("cpu"))
    small = seg_model("loose", model.module, size=24)
    rows = segmentation_rows(small, load_rows(data, None), data, "x", batch_size=5, distances=False)
    d = rows[(rows["metric"] == "dice") & (rows["class"] == "clavicle")]["value"]
    assert len(d) == len(ds)
    assert val["dice:clavicle"] == pytest.approx(d.mean(), abs=1e-12)
    assert val["mean_dice"] == pytest.approx(d.mean(), abs=1e-12)


def test_a_row_without_a_mask_is_nan_in_every_scorer(data, model, tmp_path):
    table = read_manifest(data)
    gap = tmp_path / "gap"
    for sub in ("images", "masks"):
        shutil.copytree(data / sub, gap / sub)
    holed = table.copy()
    holed.loc[2, "mask:clavicle"] = ""  # a structure the source did not annotate for this image
    write_manifest(gap, holed)
    missing = holed.loc[2, "image_id"]

    full = segmentation_rows(model, load_rows(data, None), data, "x")
    part = segmentation_rows(model, load_rows(gap, None), gap, "x")
    assert part.loc[part["image"] == missing, "value"].isna().all()  # every metric, the class and its mean
    keep_f, keep_p = full[full["image"] != missing], part[part["image"] != missing]
    np.testing.assert_array_equal(keep_f["value"].to_numpy(), keep_p["value"].to_numpy())

    out = run_plain(PlainSpec(model="unused", data=str(gap), output=str(tmp_path / "plain"), sheet_images=0),
                    model=model, log=lambda m: None)
    per = pd.read_csv(out / "per_image.csv")
    row = per[per["image_id"] == missing].iloc[0]
    assert np.isnan(row["dice"]) and np.isnan(row["hd95"]) and row["stray_components"] == -1
    summary = pd.read_csv(out / "summary.csv")
    assert summary.loc[0, "n"] == len(table) - 1
    d = keep_f[(keep_f["metric"] == "dice") & (keep_f["class"] == "clavicle")]["value"]
    assert summary.loc[0, "dice_mean"] == pytest.approx(d.mean(), abs=1e-12)
