"""The trainer end to end on a tiny learnable dataset: learning, run directory, resume, NaN, early stop."""

from __future__ import annotations

import pandas as pd
import pytest
import torch
from train_shapes import base_spec

from xraylab.data.datasets import ManifestDataset
from xraylab.errors import ConfigError, TrainingError
from xraylab.train import trainer as trainer_mod
from xraylab.train.checkpoint import load_model, read_checkpoint
from xraylab.train.metrics import DiceMeter
from xraylab.train.mixing import load_mixed_data
from xraylab.train.spec import parse_spec
from xraylab.train.trainer import fit

TIMING = ["epoch_time_s", "train_images_per_s"]


def _cls_spec(path, **over):
    kw = dict(task="classification", model={"name": "small_cnn"}, loss={"name": "ce"}, optimizer={"lr": 0.003})
    kw.update(over)
    return parse_spec(base_spec(path, **kw))


@pytest.fixture(scope="module")
def seg_run(shapes_dir, tmp_path_factory):
    spec = parse_spec(base_spec(shapes_dir, epochs=6, optimizer={"lr": 0.01}))
    run_dir = tmp_path_factory.mktemp("seg_run")
    return spec, run_dir, fit(spec, run_dir, progress=False)


def test_segmentation_dice_rises_above_threshold(seg_run):
    spec, run_dir, result = seg_run
    metrics = pd.read_csv(run_dir / "metrics.csv")
    assert len(metrics) == 6 and result.stopped == "completed"
    assert metrics["val_mean_dice"].max() > 0.75
    assert metrics["val_mean_dice"].iloc[0] < metrics["val_mean_dice"].max() - 0.1
    assert metrics["train_loss"].iloc[-1] < 0.6 * metrics["train_loss"].iloc[0]
    assert result.best_metric == pytest.approx(metrics["val_mean_dice"].max())


def test_run_directory_holds_everything_a_person_needs(seg_run):
    spec, run_dir, result = seg_run
    for name in ("spec.yaml", "versions.json", "seed.txt", "data.json", "metrics.csv", "curves.png",
                 "checkpoints/best.pt", "checkpoints/last.pt"):
        assert (run_dir / name).is_file(), name
    assert (run_dir / "seed.txt").read_text(encoding="utf-8").strip() == "3"
    assert not list(run_dir.rglob("*.tmp"))
    last = read_checkpoint(run_dir, "last.pt")
    assert {"optimizer", "scaler", "aug_generator", "adv_generator", "torch_rng", "state"} <= set(last["training"])
    assert last["epoch"] == 6


def test_best_checkpoint_reloads_to_the_recorded_validation_dice(seg_run, shapes_dir):
    spec, run_dir, result = seg_run
    model, info = load_model(run_dir)
    assert not model.training
    assert info["task"] == "segmentation" and info["classes"] == ["disc", "square"]
    assert info["image_size"] == 32 and info["in_channels"] == 1 and info["epoch"] == result.best_epoch
    assert info["model"] == {"name": "unet", "kwargs": {"depth": 3}}
    data = load_mixed_data(spec)
    ds = ManifestDataset(data.val, "segmentation", data.image_columns[1:], 32, 1)
    x = torch.stack([ds[i][0] for i in range(len(ds))])
    y = torch.stack([ds[i][1] for i in range(len(ds))])
    meter = DiceMeter(info["classes"])
    with torch.no_grad():
        logits = model(x)
    assert logits.shape == (len(ds), 2, 32, 32)
    meter.update(logits, y)
    assert meter.compute()["mean_dice"] == pytest.approx(info["best_metric"], abs=1e-6)


def test_training_can_start_from_local_weights(seg_run, shapes_dir, tmp_path):
    spec, run_dir, result = seg_run
    warm = parse_spec(base_spec(shapes_dir, epochs=1, steps_per_epoch=1, optimizer={"lr": 1e-6},
                                model={"name": "unet", "kwargs": {"depth": 3},
                                       "weights": str(run_dir / "checkpoints" / "best.pt")}))
    cold = warm.model_copy(update={"model": warm.model.model_copy(update={"weights": None})})
    dice = {}
    for name, s in (("warm", warm), ("cold", cold)):
        fit(s, tmp_path / name, progress=False)
        dice[name] = pd.read_csv(tmp_path / name / "metrics.csv")["val_mean_dice"].iloc[0]
    assert dice["warm"] > result.best_metric - 0.15 and dice["warm"] > dice["cold"] + 0.3


def test_existing_run_needs_resume_and_the_same_spec(seg_run):
    spec, run_dir, _ = seg_run
    with pytest.raises(ConfigError, match="--resume"):
        fit(spec, run_dir, progress=False)
    changed = spec.model_copy(update={"batch_size": 4})
    with pytest.raises(ConfigError, match="batch_size"):
        fit(changed, run_dir, resume=True, progress=False)
    assert fit(spec, run_dir, resume=True, progress=False).epochs_done == 6  # finished: nothing to do


def test_classification_accuracy_rises_above_threshold(shapes_dir, tmp_path):
    result = fit(_cls_spec(shapes_dir, epochs=10), tmp_path / "cls", progress=False)
    metrics = pd.read_csv(tmp_path / "cls" / "metrics.csv")
    assert metrics["val_balanced_accuracy"].max() >= 0.85
    assert result.monitor == "balanced_accuracy"


def test_resume_reproduces_the_uninterrupted_run(shapes_dir, tmp_path):
    spec = parse_spec(base_spec(
        shapes_dir, epochs=3, steps_per_epoch=2, scheduler={"name": "cosine"},
        adversarial={"attack": "pgd", "eps": 0.03, "steps": 2, "ratio": 0.5, "consistency_weight": 0.5},
    ))
    fit(spec, tmp_path / "whole", progress=False)
    first = fit(spec, tmp_path / "cut", progress=False, stop_after=1)
    assert first.stopped == "interrupted" and first.epochs_done == 1
    fit(spec, tmp_path / "cut", resume=True, progress=False)
    whole = pd.read_csv(tmp_path / "whole" / "metrics.csv").drop(columns=TIMING)
    cut = pd.read_csv(tmp_path / "cut" / "metrics.csv").drop(columns=TIMING)
    assert len(whole) == 3 and whole["lr"].nunique() == 3
    pd.testing.assert_frame_equal(whole, cut, check_exact=True)
    a = read_checkpoint(tmp_path / "whole", "last.pt")["model_state"]
    b = read_checkpoint(tmp_path / "cut", "last.pt")["model_state"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_nan_loss_stops_with_a_clear_message_and_keeps_the_last_good_checkpoint(shapes_dir, tmp_path, monkeypatch):
    real_build = trainer_mod.build_loss
    calls = {"n": 0}

    def poisoned(*args, **kwargs):
        fn = real_build(*args, **kwargs)

        def loss(logits, target):
            calls["n"] += 1
            out = fn(logits, target)
            return out * float("nan") if calls["n"] > 6 else out  # epoch 1: 4 train + 1 val batch

        return loss

    monkeypatch.setattr(trainer_mod, "build_loss", poisoned)
    state = torch.get_rng_state()
    with pytest.raises(TrainingError, match="epoch 2, step 1: loss is nan") as info:
        fit(_cls_spec(shapes_dir, epochs=3), tmp_path / "nan", progress=False)
    assert "last.pt (epoch 1, resumable with --resume)" in str(info.value)
    assert "metrics.csv lists epochs 1–1" in str(info.value)
    assert read_checkpoint(tmp_path / "nan", "last.pt")["epoch"] == 1
    assert len(pd.read_csv(tmp_path / "nan" / "metrics.csv")) == 1
    assert torch.equal(torch.get_rng_state(), state)  # the global RNG is forked, not consumed


def test_early_stopping_after_patience_epochs(shapes_dir, tmp_path):
    spec = _cls_spec(shapes_dir, epochs=8, steps_per_epoch=1, optimizer={"lr": 1e-9},
                     early_stopping={"patience": 2})
    result = fit(spec, tmp_path / "es", progress=False)
    assert result.stopped == "early_stopping" and result.epochs_done < 8
    assert result.epochs_done == result.best_epoch + 2


@pytest.mark.parametrize("task, model, classes", [
    ("severity", "small_cnn", ["0", "1", "2", "3", "4"]),
    ("type", "small_cnn", ["none", "dark", "noise"]),
    ("classification", "resnet18", ["disc", "square"]),
])
def test_every_classification_task_trains_and_reloads(shapes_dir, tmp_path, task, model, classes):
    spec = _cls_spec(shapes_dir, task=task, model={"name": model}, epochs=1, steps_per_epoch=1)
    fit(spec, tmp_path / task, progress=False)
    net, info = load_model(tmp_path / task / "checkpoints" / "best.pt")
    assert info["task"] == task and info["classes"] == classes
    assert net(torch.rand(2, 1, 32, 32)).shape == (2, len(classes))


def test_bad_data_fails_before_anything_is_written(shapes_dir, tmp_path):
    spec = parse_spec(base_spec(shapes_dir, structures=["heart"]))
    with pytest.raises(ConfigError, match="mask:heart"):
        fit(spec, tmp_path / "bad", progress=False)
    assert not (tmp_path / "bad" / "checkpoints").exists() and not (tmp_path / "bad" / "metrics.csv").exists()


@pytest.mark.parametrize("strategy", ["traditional", "ramp"])
def test_augmented_training_changes_the_batches_and_resumes_exactly(shapes_dir, tmp_path, strategy):
    over = dict(epochs=2, steps_per_epoch=1)
    spec = parse_spec(base_spec(shapes_dir, augmentation={"strategy": strategy, "p_clean": 0.0}, **over))
    plain = parse_spec(base_spec(shapes_dir, **over))
    fit(spec, tmp_path / "whole", progress=False)
    fit(spec, tmp_path / "cut", progress=False, stop_after=1)
    fit(spec, tmp_path / "cut", resume=True, progress=False)
    fit(plain, tmp_path / "plain", progress=False)
    whole, cut, ref = (
        pd.read_csv(tmp_path / d / "metrics.csv").drop(columns=TIMING) for d in ("whole", "cut", "plain")
    )
    pd.testing.assert_frame_equal(whole, cut, check_exact=True)
    assert whole["train_loss"].iloc[0] != ref["train_loss"].iloc[0]


def test_worker_processes_read_the_same_batches(shapes_dir, tmp_path):
    results = []
    for workers in (0, 1):
        spec = _cls_spec(shapes_dir, epochs=1, steps_per_epoch=2, num_workers=workers)
        fit(spec, tmp_path / f"w{workers}", progress=False)
        results.append(pd.read_csv(tmp_path / f"w{workers}" / "metrics.csv").drop(columns=TIMING))
    pd.testing.assert_frame_equal(results[0], results[1], check_exact=True)


@pytest.mark.gpu
def test_cuda_mixed_precision_run(shapes_dir, tmp_path):
    if not torch.cuda.is_available():
        pytest.skip("CUDA not available")
    spec = parse_spec(base_spec(shapes_dir, epochs=2, steps_per_epoch=2, device="cuda", amp=True,
                                adversarial={"attack": "fgsm", "eps": 0.02, "ratio": 1.0}))
    result = fit(spec, tmp_path / "cuda", progress=False)
    assert result.epochs_done == 2
    model, info = load_model(tmp_path / "cuda", device="cuda")
    assert next(model.parameters()).is_cuda and info["task"] == "segmentation"
