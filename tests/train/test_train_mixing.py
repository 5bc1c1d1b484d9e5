"""Data mixing: splits, subject-level separation, ratios, filters, classes and up-front checks."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest
from train_shapes import base_spec

from xraylab.data.manifest import read_manifest, write_manifest
from xraylab.errors import ConfigError, InputFileError
from xraylab.train.mixing import epoch_indices, load_mixed_data
from xraylab.train.spec import parse_spec


def _mixed(real, syn, **over):
    data = [{"name": "real", "path": str(real)}, {"name": "syn_all", "path": str(syn), "val": False}]
    return parse_spec(base_spec(real, data=data, **over))


def test_splits_come_from_the_manifest_and_test_rows_are_never_read(shapes_dir):
    data = load_mixed_data(parse_spec(base_spec(shapes_dir)))
    manifest = read_manifest(shapes_dir)
    assert set(data.train["split"]) == {"train"} and set(data.val["split"]) == {"val"}
    assert len(data.train) == (manifest["split"] == "train").sum()
    test_ids = set(manifest.loc[manifest["split"] == "test", "image_id"])
    assert test_ids and not test_ids & (set(data.train["image_id"]) | set(data.val["image_id"]))
    assert not set(data.train["subject_id"]) & set(data.val["subject_id"])
    assert data.classes == ["disc", "square"] and data.image_columns == ["image", "mask:disc", "mask:square"]


def test_val_fraction_carves_subject_level_validation(shapes_dir, synthetic_dir):
    spec = _mixed(shapes_dir, synthetic_dir)
    spec.data[1].val = True
    spec.data[1].val_fraction = 0.25
    data = load_mixed_data(spec)
    syn_train = data.train[data.train["_dataset"] == "syn_all"]
    syn_val = data.val[data.val["_dataset"] == "syn_all"]
    assert len(syn_val) > 0 and len(syn_train) > 0
    assert not set(syn_train["subject_id"]) & set(syn_val["subject_id"])
    assert load_mixed_data(spec).val["image_id"].tolist() == data.val["image_id"].tolist()  # seeded


@pytest.mark.parametrize("group", ["source", "subject"])
def test_val_group_holds_out_whole_sources_or_single_anatomies(shapes_dir, tmp_path, group):
    folder = tmp_path / "syn"
    shutil.copytree(shapes_dir, folder)
    df = read_manifest(folder)
    df["split"] = "train"
    subjects = sorted(df["subject_id"].unique())
    df["source_subject_id"] = df["subject_id"].map({s: f"ct{k % 2}" for k, s in enumerate(subjects)})
    write_manifest(folder, df)
    spec = parse_spec(base_spec(folder, data=[{"name": "syn", "path": str(folder), "val_fraction": 0.3,
                                               "val_group": group}]))
    data = load_mixed_data(spec)
    train_src, val_src = set(data.train["source_subject_id"]), set(data.val["source_subject_id"])
    assert len(data.val) and not set(data.train["subject_id"]) & set(data.val["subject_id"])
    if group == "source":  # nothing of a held-out CT trains
        assert not train_src & val_src
    else:  # every CT keeps training anatomies; validation anatomies come from the same CTs
        assert train_src == {"ct0", "ct1"} and val_src <= train_src


def test_ratios_set_each_datasets_share_of_an_epoch(shapes_dir, synthetic_dir):
    spec = _mixed(shapes_dir, synthetic_dir)
    spec.data[0].ratio, spec.data[1].ratio = 3.0, 1.0
    data = load_mixed_data(spec)
    n = len(data.train)
    for epoch in (1, 2):
        idx = epoch_indices(data.train, spec, epoch)
        sources = data.train["_dataset"].to_numpy()[idx]
        assert len(idx) == n
        assert (sources == "real").sum() == round(n * 3 / 4) and (sources == "syn_all").sum() == round(n / 4)
        assert set(data.train["split"].iloc[idx]) == {"train"}
    assert not np.array_equal(epoch_indices(data.train, spec, 1), epoch_indices(data.train, spec, 2))
    assert np.array_equal(epoch_indices(data.train, spec, 1), epoch_indices(data.train, spec, 1))


def test_without_ratios_every_row_appears_once(shapes_dir, synthetic_dir):
    spec = _mixed(shapes_dir, synthetic_dir, steps_per_epoch=None)
    data = load_mixed_data(spec)
    idx = epoch_indices(data.train, spec, 1)
    assert sorted(idx.tolist()) == list(range(len(data.train)))
    assert set(data.val["_dataset"]) == {"real"}  # syn_all has val: false
    spec.steps_per_epoch = 2
    assert len(epoch_indices(data.train, spec, 1)) == 2 * spec.batch_size


def test_where_selects_fok_syn_cen(shapes_dir, synthetic_dir):
    spec = _mixed(shapes_dir, synthetic_dir)
    spec.data[1].where = {"angle_group": ["center"]}
    data = load_mixed_data(spec)
    syn = data.train[data.train["_dataset"] == "syn_all"]
    assert len(syn) > 0 and set(syn["angle_group"]) == {"center"}


@pytest.mark.parametrize(
    "task, classes", [("type", ["none", "dark", "noise"]), ("severity", ["0", "1", "2", "3", "4"])]
)
def test_auxiliary_task_classes(shapes_dir, task, classes):
    spec = parse_spec(base_spec(shapes_dir, task=task, model={"name": "small_cnn"}, loss={"name": "ce"}))
    data = load_mixed_data(spec)
    assert data.classes == classes
    col = "corruption" if task == "type" else "severity"
    assert [classes[t] for t in data.train["_target"]] == data.train[col].astype(str).tolist()


def test_balance_classes_draws_rare_classes_as_often_as_common_ones(shapes_dir):
    spec = parse_spec(base_spec(shapes_dir, task="severity", model={"name": "small_cnn"}, loss={"name": "ce"},
                                steps_per_epoch=None))
    data = load_mixed_data(spec)
    target = data.train["_target"].to_numpy()
    plain = np.bincount(target[epoch_indices(data.train, spec, 1)], minlength=5)
    assert plain.min() * 2 < plain.max()  # the shapes set has few clean rows: unbalanced without the option
    spec.balance_classes = True
    draws = np.concatenate([epoch_indices(data.train, spec, e) for e in range(1, 41)])
    share = np.bincount(target[draws], minlength=5) / len(draws)
    assert np.allclose(share, 0.2, atol=0.03)
    assert np.array_equal(epoch_indices(data.train, spec, 3), epoch_indices(data.train, spec, 3))  # seeded


def test_balance_classes_is_refused_for_segmentation_and_with_ratios(shapes_dir, synthetic_dir):
    with pytest.raises(ConfigError, match="balance_classes applies to classification"):
        parse_spec(base_spec(shapes_dir, balance_classes=True))
    data = [{"name": "real", "path": str(shapes_dir), "ratio": 1.0}]
    with pytest.raises(ConfigError, match="use one of them"):
        parse_spec(base_spec(shapes_dir, task="severity", model={"name": "small_cnn"}, loss={"name": "ce"},
                             data=data, balance_classes=True))


def test_subject_crossing_splits_is_rejected(shapes_dir, tmp_path):
    df = read_manifest(shapes_dir)
    df.loc[df.index[0], "split"] = "test" if df.loc[df.index[0], "split"] != "test" else "train"
    folder = tmp_path / "bad"
    shutil.copytree(shapes_dir, folder)
    write_manifest(folder, df)
    with pytest.raises(InputFileError, match="more than one split"):
        load_mixed_data(parse_spec(base_spec(folder)))


@pytest.mark.parametrize(
    "over, error, needle",
    [
        ({"structures": ["heart"]}, ConfigError, "mask:heart"),
        ({"task": "classification", "label_column": "diagnosis", "model": {"name": "small_cnn"},
          "loss": {"name": "ce"}},
         ConfigError, "'diagnosis'"),
        ({"data": [{"name": "real", "path": None}]}, ConfigError, "--data real=DIR"),
        ({"data": [{"name": "real", "path": "/nonexistent/ds"}]}, InputFileError, "manifest not found"),
        ({"data": [{"name": "real", "path": "SHAPES", "where": {"scanner": ["x"]}}]}, ConfigError, "'scanner'"),
        ({"task": "classification", "classes": ["disc"], "model": {"name": "small_cnn"}, "loss": {"name": "ce"}},
         ConfigError, "not in classes"),
    ],
)
def test_bad_data_is_one_clear_error(shapes_dir, over, error, needle):
    raw = base_spec(shapes_dir, **over)
    for d in raw["data"]:
        if d.get("path") == "SHAPES":
            d["path"] = str(shapes_dir)
    with pytest.raises(error) as info:
        load_mixed_data(parse_spec(raw))
    assert needle in str(info.value) and "\n" not in str(info.value)


def test_missing_file_is_reported_before_training(shapes_dir, tmp_path):
    folder = tmp_path / "holes"
    shutil.copytree(shapes_dir, folder)
    df = pd.read_parquet(folder / "manifest.parquet")
    victim = df.loc[df["split"] == "train", "mask:square"].iloc[0]
    (folder / victim).unlink()
    with pytest.raises(InputFileError, match="1 file"):
        load_mixed_data(parse_spec(base_spec(folder)))


def _one_subject(src, dst, with_angles: bool):
    """A copy of ``src`` where every row is one subject's train view (like one CT rendered at many angles)."""
    shutil.copytree(src, dst)
    df = read_manifest(dst)
    df["subject_id"] = "ct0"
    df["split"] = "train"
    if with_angles:
        df["angle_deg"] = (np.arange(len(df)) % 5) * 2.0 - 4.0
    write_manifest(dst, df)
    return dst


@pytest.mark.parametrize("with_angles", [True, False])
def test_one_subject_validates_on_held_out_views_with_a_note(shapes_dir, tmp_path, with_angles):
    root = _one_subject(shapes_dir, tmp_path / "one", with_angles)
    data = load_mixed_data(parse_spec(base_spec(root)))
    assert len(data.val) > 0 and len(data.train) > 0
    assert not set(data.train["image_id"]) & set(data.val["image_id"])
    assert len(data.notes) == 1 and "one subject" in data.notes[0] and "held-out views" in data.notes[0]
    if with_angles:  # whole angles are held out: no angle is on both sides
        assert not set(data.train["angle_deg"]) & set(data.val["angle_deg"])
        assert "angle_deg" in data.notes[0]
    again = load_mixed_data(parse_spec(base_spec(root)))
    assert again.val["image_id"].tolist() == data.val["image_id"].tolist()  # seeded


def test_no_val_rows_and_several_subjects_fall_back_to_held_out_subjects(shapes_dir, tmp_path):
    root = tmp_path / "noval"
    shutil.copytree(shapes_dir, root)
    df = read_manifest(root)
    df["split"] = "train"
    write_manifest(root, df)
    data = load_mixed_data(parse_spec(base_spec(root)))
    assert len(data.val) > 0 and not set(data.train["subject_id"]) & set(data.val["subject_id"])
    assert any("held-out subjects" in n for n in data.notes)


def test_steps_per_epoch_can_lengthen_an_epoch_with_fresh_shuffles(shapes_dir):
    spec = parse_spec(base_spec(shapes_dir))
    data = load_mixed_data(spec)
    n = len(data.train)
    spec.steps_per_epoch = 3 * n  # three times the set, batch_size samples each step
    idx = epoch_indices(data.train, spec, 1)
    assert len(idx) == 3 * n * spec.batch_size
    counts = np.bincount(idx, minlength=n)
    assert counts.min() == counts.max() == 3 * spec.batch_size  # every row equally often
    spec.steps_per_epoch = 1
    assert len(epoch_indices(data.train, spec, 1)) == spec.batch_size
