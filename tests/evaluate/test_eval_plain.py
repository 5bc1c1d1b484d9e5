"""Plain evaluation (``xraylab evaluate --model CKPT --data DATASET --out DIR``): a tiny trained checkpoint scored on
a tiny "real" dataset with imported-dataset columns; union lungs, --map, units, errors, and the pipeline step."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from typer.testing import CliRunner

from xraylab.data.manifest import write_manifest
from xraylab.errors import ConfigError, InputFileError
from xraylab.evaluate.metrics import hd95
from xraylab.evaluate.plain import PER_IMAGE_COLUMNS, Target, plan_structures, row_spacing
from xraylab.io.images import write_mask_png, write_png16

TRAIN_CLASSES = ["right_lung", "left_lung", "heart"]
REAL_SPACING = [0.2, np.nan, 0.0, 0.25]  # per test image: mm, unknown, stored as 0 (unknown), mm
REAL_SIZE = 48  # square, so the 48 -> 32 resize scales the spacing by 1.5 on both axes


def _chest(rng: np.random.Generator, h: int, w: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Two bright lung fields (the patient's right on the image's left) and a mid-grey heart."""
    yy, xx = np.mgrid[0:h, 0:w]
    dy, dx = rng.uniform(-1.5, 1.5, 2)
    top, bottom = 0.2 * h + dy, 0.8 * h + dy
    right = (yy >= top) & (yy <= bottom) & (np.abs(xx - (0.27 * w + dx)) <= 0.14 * w)
    left = (yy >= top) & (yy <= bottom) & (np.abs(xx - (0.73 * w + dx)) <= 0.14 * w)
    heart = (yy - (0.65 * h + dy)) ** 2 + (xx - (0.5 * w + dx)) ** 2 <= (0.16 * min(h, w)) ** 2
    img = 0.1 + 0.05 * rng.random((h, w))
    img[right | left] = 0.85
    img[heart] = 0.5
    return np.clip(img, 0, 1), {"right_lung": right, "left_lung": left, "heart": heart}


def make_train_dataset(folder: Path, n: int = 10, seed: int = 0) -> Path:
    """Synthetic-like training set: masks right_lung, left_lung, heart; 40 x 36 px; no spacing column."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        img, masks = _chest(rng, 40, 36)
        iid = f"syn{i:02d}"
        write_png16(folder / "images" / f"{iid}.png", img)
        split = "train" if i < n - 4 else ("val" if i < n - 2 else "test")
        row = {"image_id": iid, "subject_id": f"ct{i // 2}", "split": split, "image": f"images/{iid}.png"}
        for name, m in masks.items():
            write_mask_png(folder / "masks" / name / f"{iid}.png", m)
            row[f"mask:{name}"] = f"masks/{name}/{iid}.png"
        rows.append(row)
    write_manifest(folder, pd.DataFrame(rows))
    return folder


def make_real_dataset(folder: Path, seed: int = 5) -> Path:
    """An imported-real-like dataset: mask:left_lung/right_lung/lungs/cardiomediastinum, pixel_spacing_mm
    (NaN or 0 where unknown), subject_id, split, license. ``mask:lungs`` is the union of the sides plus a
    strip between them, so scoring against it differs from scoring against the union of the true sides."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(len(REAL_SPACING) + 1):
        img, masks = _chest(rng, REAL_SIZE, REAL_SIZE)
        lungs = masks["right_lung"] | masks["left_lung"]
        lungs[20:28, 18:30] = True
        named = {"right_lung": masks["right_lung"], "left_lung": masks["left_lung"], "lungs": lungs,
                 "cardiomediastinum": masks["heart"]}
        iid = f"real{i}"
        write_png16(folder / "images" / f"{iid}.png", img)
        row = {"image_id": iid, "subject_id": f"p{i}", "split": "test" if i < len(REAL_SPACING) else "train",
               "image": f"images/{iid}.png", "license": "CC BY 4.0",
               "pixel_spacing_mm": REAL_SPACING[i] if i < len(REAL_SPACING) else 0.2}
        for name, m in named.items():
            write_mask_png(folder / "masks" / name / f"{iid}.png", m)
            row[f"mask:{name}"] = f"masks/{name}/{iid}.png"
        rows.append(row)
    write_manifest(folder, pd.DataFrame(rows))
    return folder


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("plain")
    return {"train": make_train_dataset(root / "syn"), "real": make_real_dataset(root / "real"), "root": root}


@pytest.fixture(scope="module")
def ckpt(data):
    """A real trainer run folder: U-Net depth 3 at 32 x 32, three epochs on the synthetic set."""
    from xraylab.train.spec import parse_spec
    from xraylab.train.trainer import fit

    spec = parse_spec({
        "name": "tiny", "seed": 0, "task": "segmentation", "structures": TRAIN_CLASSES,
        "data": [{"name": "syn", "path": str(data["train"])}], "image_size": 32,
        "model": {"name": "unet", "kwargs": {"depth": 3}}, "loss": {"name": "dice_bce"},
        "optimizer": {"name": "adam", "lr": 0.01}, "epochs": 3, "batch_size": 4, "device": "cpu",
    })
    run = data["root"] / "run"
    fit(spec, run, progress=False)
    return run


def _cli(*args: str):
    from xraylab.cli import app

    return CliRunner().invoke(app, ["evaluate", *map(str, args)])


def _by_hand(run: Path, folder: Path, split: str | None, true_col: str):
    """Per image: predicted lungs (union of the model's left and right channels) and mask ``true_col``, through
    the trainer's own dataset class (the preprocessing the evaluator must reproduce)."""
    from xraylab.data.datasets import ManifestDataset
    from xraylab.data.manifest import read_manifest
    from xraylab.train.checkpoint import load_model

    model, info = load_model(run)
    df = read_manifest(folder).sort_values("image_id").reset_index(drop=True)
    if split is not None:
        df = df[df["split"] == split].reset_index(drop=True)
    ds = ManifestDataset(df.assign(_root=str(folder)), "segmentation", [true_col], info["image_size"],
                         info["in_channels"])
    out = {}
    for i in range(len(ds)):
        x, y, _ = ds[i]
        with torch.no_grad():
            p = torch.sigmoid(model(x[None]))[0] > 0.5
        c = info["classes"]
        pred = (p[c.index("left_lung")] | p[c.index("right_lung")]).numpy()
        spacing = float(df["pixel_spacing_mm"][i]) if "pixel_spacing_mm" in df else np.nan
        out[df["image_id"][i]] = (pred, y[0].numpy() > 0.5, spacing)
    return out


def _dice(p: np.ndarray, t: np.ndarray) -> float:
    s = p.sum() + t.sum()
    return 1.0 if s == 0 else 2.0 * (p & t).sum() / s


# --------------------------------------------------------------------------- the CLI, end to end
def test_cli_scores_a_checkpoint_on_a_real_like_dataset(ckpt, data, tmp_path):
    out = tmp_path / "eval"
    r = _cli("--model", ckpt, "--data", data["real"], "--out", out, "--split", "test", "--sheet-images", "3")
    assert r.exit_code == 0, r.output
    df = pd.read_csv(out / "per_image.csv")
    assert list(df.columns) == PER_IMAGE_COLUMNS
    # heart has no mask of that name here, so: both lungs and their union, one row per image x structure
    assert len(df) == len(REAL_SPACING) * 3
    assert sorted(df.groupby("image_id").size().unique()) == [3]
    assert list(dict.fromkeys(df["structure"])) == ["right_lung", "left_lung", "lungs"]
    assert set(df[df["structure"] == "lungs"]["target"]) == {"lungs"}
    assert set(df["split"]) == {"test"} and set(df["subject_id"]) == {f"p{i}" for i in range(len(REAL_SPACING))}
    pd.testing.assert_frame_equal(pd.read_parquet(out / "per_image.parquet"), df, check_dtype=False)

    # the union row equals Dice and HD95 computed by hand from the union masks (against mask:lungs)
    hand = _by_hand(ckpt, data["real"], "test", "mask:lungs")
    lungs = df[df["structure"] == "lungs"].set_index("image_id")
    for iid, (pred, true, spacing) in hand.items():
        assert lungs.loc[iid, "dice"] == pytest.approx(_dice(pred, true), abs=1e-12)
        assert lungs.loc[iid, "pred_pixels"] == pred.sum() and lungs.loc[iid, "true_pixels"] == true.sum()
        if np.isfinite(spacing) and spacing > 0:
            assert lungs.loc[iid, "unit"] == "mm"
            grid = spacing * REAL_SIZE / 32
            assert lungs.loc[iid, "spacing_mm"] == pytest.approx(grid)
            expect = hd95(pred[None, None], true[None, None], spacing=grid)[0, 0]
        else:
            assert lungs.loc[iid, "unit"] == "px" and np.isnan(lungs.loc[iid, "spacing_mm"])
            expect = hd95(pred[None, None], true[None, None])[0, 0]
        assert lungs.loc[iid, "hd95"] == pytest.approx(expect, rel=1e-9)
    units = df.drop_duplicates("image_id").set_index("image_id")["unit"]
    assert list(units) == ["mm", "px", "px", "mm"]  # spacing 0.2, NaN, 0 (unknown), 0.25

    summary = pd.read_csv(out / "summary.csv")
    assert set(summary["unit"]) == {"mm", "px"} and summary["n"].sum() == len(df)
    mm = summary[(summary["structure"] == "lungs") & (summary["unit"] == "mm")].iloc[0]
    assert mm["n"] == 2 and mm["dice_mean"] == pytest.approx(lungs[lungs["unit"] == "mm"]["dice"].mean())
    md = (out / "summary.md").read_text(encoding="utf-8")
    assert "lungs" in md and "± " in md and "predictions.png" in md
    assert (out / "predictions.png").stat().st_size > 1000
    res = pd.read_parquet(out / "results.parquet")
    assert set(res["suite"]) == {"test"} and {"dice", "hd95_mm", "hd95_px"} <= set(res["metric"])
    meta = json.loads((out / "evaluate.json").read_text(encoding="utf-8"))
    assert meta["mode"] == "plain" and meta["model"]["image_size"] == 32


def test_lungs_falls_back_to_the_union_of_the_true_sides(ckpt, data, tmp_path):
    out = tmp_path / "eval"
    r = _cli("--model", Path(ckpt) / "checkpoints" / "best.pt", "--data", data["train"], "--out", out,
             "--max-images", "3")
    assert r.exit_code == 0, r.output
    df = pd.read_csv(out / "per_image.csv")
    assert len(df) == 3 * 4 and set(df["unit"]) == {"px"}
    assert list(dict.fromkeys(df["structure"])) == TRAIN_CLASSES + ["lungs"]
    lungs = df[df["structure"] == "lungs"].set_index("image_id")
    assert set(lungs["target"]) == {"left_lung+right_lung"}
    # truth = union of the true left and right masks
    from xraylab.data.manifest import read_manifest
    from xraylab.io.images import read_mask, resize_pad

    man = read_manifest(data["train"]).sort_values("image_id").head(3)
    hand = _by_hand(ckpt, data["train"], None, "mask:left_lung")
    for _, row in man.iterrows():
        t = sum(torch.from_numpy(read_mask(data["train"] / row[f"mask:{s}"]).astype(np.float32))
                for s in ("left_lung", "right_lung"))
        true = (resize_pad(t[None], 32, mode="nearest")[0] > 0.5).numpy()
        pred = hand[row["image_id"]][0]
        assert lungs.loc[row["image_id"], "dice"] == pytest.approx(_dice(pred, true), abs=1e-12)


def test_map_scores_a_class_against_a_differently_named_mask(ckpt, data, tmp_path):
    out = tmp_path / "eval"
    r = _cli("--model", ckpt, "--data", data["real"], "--out", out, "--split", "test",
             "--map", "heart=cardiomediastinum", "--structures", "heart,lungs")
    assert r.exit_code == 0, r.output
    df = pd.read_csv(out / "per_image.csv")
    assert list(dict.fromkeys(df["structure"])) == ["heart", "lungs"] and len(df) == 2 * len(REAL_SPACING)
    assert set(df[df["structure"] == "heart"]["target"]) == {"cardiomediastinum"}
    assert df["dice"].between(0, 1).all()
    # without --structures, the mapped class joins the default set
    r = _cli("--model", ckpt, "--data", data["real"], "--out", tmp_path / "all", "--split", "test",
             "--map", "heart=cardiomediastinum", "--sheet-images", "0")
    assert r.exit_code == 0, r.output
    df = pd.read_csv(tmp_path / "all" / "per_image.csv")
    assert set(df["structure"]) == {"right_lung", "left_lung", "heart", "lungs"}
    assert not (tmp_path / "all" / "predictions.png").exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--data", "{root}/nowhere"], "dataset manifest not found"),
        (["--structures", "spleen"], "unknown structure 'spleen'"),
        (["--structures", "heart"], "no mask:heart"),
        (["--map", "liver=lungs"], "no class 'liver'"),
        (["--map", "heart=aorta"], "no mask:aorta"),
        (["--map", "heart"], "must look like CLASS=STRUCTURE"),
        (["--split", "holdout"], "no rows with split 'holdout'"),
    ],
)
def test_bad_input_is_a_one_line_error(ckpt, data, tmp_path, args, message):
    base = {"--model": str(ckpt), "--data": str(data["real"]), "--out": str(tmp_path / "o")}
    args = [a.format(root=tmp_path) for a in args]
    for k in list(base):
        if k in args:
            base.pop(k)
    r = _cli(*[x for kv in base.items() for x in kv], *args)
    assert r.exit_code == 2, r.output
    text = r.output.strip()
    assert text.startswith("xraylab: error:") and "\n" not in text and message in text
    assert not (tmp_path / "o" / "per_image.csv").exists()


def test_plain_and_spec_forms_do_not_mix(ckpt, data, tmp_path):
    r = _cli("--data", data["real"], "--out", tmp_path / "o")
    assert r.exit_code == 2 and "--model" in r.output
    spec = tmp_path / "s.yaml"
    spec.write_text("output: o\nmodels: [{name: m, path: x}]\nrotation: {dataset: d}\n", encoding="utf-8")
    r = _cli(spec, "--model", ckpt)
    assert r.exit_code == 2 and "plain form" in r.output


# --------------------------------------------------------------------------- building blocks
def test_plan_structures_union_map_and_defaults():
    classes = ["right_lung", "left_lung", "heart"]
    plan = plan_structures(classes, ["left_lung", "right_lung", "lungs"])
    assert plan == [Target("right_lung", ("right_lung",), ("right_lung",)),
                    Target("left_lung", ("left_lung",), ("left_lung",)),
                    Target("lungs", ("left_lung", "right_lung"), ("lungs",))]
    plan = plan_structures(classes, ["l", "r", "cm"], mapping={"left_lung": "l", "right_lung": "r", "heart": "cm"})
    assert plan[-1] == Target("lungs", ("left_lung", "right_lung"), ("l", "r"))
    # a model that predicts lungs itself scores that class, no union
    own = plan_structures(["lungs", "left_lung", "right_lung"], ["lungs", "left_lung"])
    assert [t.structure for t in own] == ["lungs", "left_lung"]
    assert plan_structures(["lungs"], ["left_lung", "right_lung"]) == [
        Target("lungs", ("lungs",), ("left_lung", "right_lung"))]
    # one side only: no union
    assert [t.structure for t in plan_structures(["left_lung", "heart"], ["left_lung", "lungs"])] == ["left_lung"]
    with pytest.raises(InputFileError, match="masks for none of the model's classes"):
        plan_structures(classes, ["clavicle"])
    with pytest.raises(ConfigError, match="unknown structure 'lungs'"):
        plan_structures(["left_lung", "heart"], ["lungs"], structures=["lungs"])
    with pytest.raises(InputFileError, match="no mask:lungs or the union"):
        plan_structures(classes, ["left_lung"], structures=["lungs"])


def test_short_captions_keep_both_ends():
    from xraylab.viz import short_caption

    assert short_caption("real0") == "real0"
    cut = short_caption("covid_patient_0123_view_pa_2020", 16)
    assert len(cut) == 16 and cut.startswith("covid_pa") and cut.endswith("pa_2020") and "…" in cut


def test_row_spacing_takes_the_first_positive_finite_value():
    df = pd.DataFrame({"spacing_mm": [np.nan, 0.3, np.nan, -1.0], "pixel_spacing_mm": [0.2, 0.5, 0.0, np.nan]})
    out = row_spacing(df)
    assert out[0] == 0.2 and out[1] == 0.3 and np.isnan(out[2]) and np.isnan(out[3])
    assert np.isnan(row_spacing(pd.DataFrame({"x": [1]}))).all()


# --------------------------------------------------------------------------- --set and the shared run options
def test_apply_run_options_sets_only_given_options_on_enabled_suites():
    from xraylab.evaluate.spec import apply_run_options

    raw = {"output": "o", "models": [{"name": "m", "path": "x"}], "rotation": {"dataset": "d"}, "corruption": None}
    out = apply_run_options(raw, output="/abs/o", batch_size=4, max_images=2)
    assert out["output"] == "/abs/o" and out["batch_size"] == 4 and "device" not in out
    assert out["rotation"]["max_images"] == 2 and out["corruption"] is None
    assert raw["rotation"] == {"dataset": "d"}  # a copy
    assert apply_run_options(raw) == raw


def test_spec_form_takes_set_overrides(tmp_path, monkeypatch):
    from xraylab.evaluate import models as models_mod

    from .helpers import make_rotation_dataset, seg_model, train_threshold_net

    make_rotation_dataset(tmp_path / "data", subjects=1)
    net = train_threshold_net(tmp_path / "data", steps=30)
    monkeypatch.setattr(models_mod, "load_model_spec", lambda name, path, device: seg_model(name, net))
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump({"output": "run", "models": [{"name": "tiny", "path": "ckpt"}],
                                    "rotation": {"dataset": "data", "split": "test"}}), encoding="utf-8")
    r = _cli(spec, "--set", "name=renamed", "--set", "rotation.distances=false", "--max-images", "2",
             "--out", tmp_path / "other")
    assert r.exit_code == 0, r.output
    df = pd.read_parquet(tmp_path / "other" / "results.parquet")
    assert df["image"].nunique() == 2 and not df["metric"].str.startswith("hd").any()
    meta = json.loads((tmp_path / "other" / "evaluate.json").read_text(encoding="utf-8"))
    assert meta["spec"]["name"] == "renamed" and meta["spec"]["rotation"]["max_images"] == 2
    r = _cli(spec, "--set", "rotation.bogus=1")
    assert r.exit_code == 2 and "unknown field 'rotation.bogus'" in r.output


# --------------------------------------------------------------------------- xraylab run
def test_pipeline_plain_evaluate_step(ckpt, data, tmp_path):
    from xraylab.pipeline import EvaluateStep, parse_pipeline, run_pipeline

    raw = {"name": "p", "workdir": "work", "steps": [{"name": "sim2real", "evaluate": {
        "model": str(ckpt), "data": str(data["real"]), "split": "test", "map": {"heart": "cardiomediastinum"},
        "set": ["sheet_images=2", "hd_empty=nan"], "batch_size": 3}}]}
    pipe = parse_pipeline(raw, "p.yaml", base=tmp_path)
    res = run_pipeline(pipe, log=lambda m: None)
    out = tmp_path / "work" / "sim2real"
    assert [r.status for r in res] == ["ran"]
    df = pd.read_csv(out / "per_image.csv")
    assert len(df) == 4 * len(REAL_SPACING) and "cardiomediastinum" in set(df["target"])
    assert json.loads((out / "evaluate.json").read_text(encoding="utf-8"))["spec"]["hd_empty"] == "nan"
    assert [r.status for r in run_pipeline(pipe, log=lambda m: None)] == ["skipped"]
    with pytest.raises(ValueError, match="plain form"):
        EvaluateStep(spec="e.yaml", model="ckpt")
    with pytest.raises(ValueError, match="missing data"):
        EvaluateStep(model="ckpt")
    step = {"model": "m", "data": "d", "set": ["colour=red"]}
    bad = {"name": "p", "workdir": "w", "steps": [{"name": "e", "evaluate": step}]}
    with pytest.raises(ConfigError, match="unknown field 'colour'"):
        run_pipeline(parse_pipeline(bad, "p.yaml", base=tmp_path), log=lambda m: None)


def test_a_row_without_a_mask_file_is_listed_unscored(ckpt, data, tmp_path):
    """An empty mask cell (``import --allow-missing-masks``, generate's ``on_missing_structure: skip``) gives NaN
    scores for that image and structure only, and the summary counts the images actually scored."""
    import shutil

    from xraylab.data.manifest import read_manifest, write_manifest

    folder = tmp_path / "holes"
    shutil.copytree(data["real"], folder)
    man = read_manifest(folder)
    gone = man.loc[man["split"] == "test", "image_id"].iloc[0]
    man.loc[man["image_id"] == gone, "mask:cardiomediastinum"] = None
    write_manifest(folder, man)
    out = tmp_path / "eval"
    r = _cli("--model", ckpt, "--data", folder, "--out", out, "--split", "test", "--map", "heart=cardiomediastinum")
    assert r.exit_code == 0, r.output
    df = pd.read_csv(out / "per_image.csv")
    cm = df[df["target"] == "cardiomediastinum"].set_index("image_id")
    assert np.isnan(cm.loc[gone, "dice"]) and np.isnan(cm.loc[gone, "hd95"])
    assert cm.drop(index=gone)["dice"].notna().all()
    assert df[df["target"] != "cardiomediastinum"]["dice"].notna().all()
    summary = pd.read_csv(out / "summary.csv")  # one row per unit (this set mixes mm and px spacings)
    assert summary.loc[summary["target"] == "cardiomediastinum", "n"].sum() == len(cm) - 1
