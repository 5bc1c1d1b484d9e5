"""``xraylab import folder``: the generic images/ + masks/<structure>/ layout on a tiny synthetic fixture."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from xraylab.data.importers import LAYOUTS, import_dataset
from xraylab.data.manifest import read_dataset_json, read_manifest
from xraylab.errors import ConfigError, InputFileError
from xraylab.io.images import read_image, read_mask

from .import_helpers import centroid_x, phantom, save_mask, save_png8, write_folder_set

REPO = Path(__file__).resolve().parents[2]


def _manifest_dataset():
    from xraylab.data.datasets import ManifestDataset

    return ManifestDataset


@pytest.fixture()
def folder_set(tmp_path):
    root = tmp_path / "src"
    write_folder_set(root, n=6, patients=["a", "a", "b", "c", "c", "d"])
    return root


def test_folder_import_writes_a_dataset_in_generate_conventions(folder_set, tmp_path):
    out = tmp_path / "out"
    res = import_dataset("folder", folder_set, out, size=32, rename=["heart=cardiomediastinum"], progress=False)
    assert res.n_items == 6 and res.n_written == 6
    df = read_manifest(out)
    assert len(df) == 6 and df["subject_id"].nunique() == 4
    assert set(df["split"]) == {"test"}  # default: a real set is a test set
    assert {"mask:left_lung", "mask:right_lung", "mask:lungs", "mask:cardiomediastinum"} <= set(df.columns)
    assert "mask:heart" not in df.columns
    assert {"sha256:image", "sha256:mask:lungs", "licence", "view", "pixel_spacing_mm"} <= set(df.columns)
    assert "sha256:source_file" not in df.columns
    assert df["pixel_spacing_mm"].isna().all()  # PNGs carry no spacing
    assert df.set_index("image_id").loc["case_01", "licence"] == "CC BY"
    assert df["finding"].notna().all() and df["original_size"].iloc[0].startswith("[")
    row = df.iloc[0]
    img = read_image(out / row["image"])
    assert img.shape == (32, 32) and img.dtype == np.float32 and 0.0 <= img.min() and img.max() <= 1.0
    assert np.asarray(__import__("PIL.Image", fromlist=["Image"]).open(out / row["image"])).dtype == np.uint16
    # 40×48 source → 27×32 content, zero padding above and below
    assert img[:2].max() == 0.0 and img[-2:].max() == 0.0
    for _, r in df.iterrows():
        left, right, lungs = (read_mask(out / r[f"mask:{s}"]) for s in ("left_lung", "right_lung", "lungs"))
        assert np.array_equal(lungs, left | right)
        assert centroid_x(right) < centroid_x(left)  # patient's right on the image's left
    info = read_dataset_json(out)
    assert info["kind"] == "real_xray" and info["stage"] == "import" and info["complete"] is True
    assert info["structure_definitions"]["cardiomediastinum"].startswith("cardiomediastinal silhouette")
    assert info["renamed"] == {"heart": "cardiomediastinum"}
    assert info["counts"]["subjects"] == 4 and info["side_check"]["ok"] == 6
    assert info["preprocessing"]["function"] == "xraylab.io.preprocess.prepare_image"
    assert (out / "contact_sheet.png").is_file()


def test_trainer_dataset_loads_the_import_unchanged(folder_set, tmp_path):
    out = tmp_path / "out"
    import_dataset("folder", folder_set, out, size=32, split="train=0.5,val=0.5", seed=3, progress=False)
    df = read_manifest(out)
    df["_root"] = str(out)
    ds = _manifest_dataset()(df, "segmentation", ["mask:left_lung", "mask:right_lung", "mask:heart"], 32, 1)
    img, target, i = ds[0]
    assert img.shape == (1, 32, 32) and target.shape == (3, 32, 32) and i == 0
    assert set(torch.unique(target).tolist()) == {0.0, 1.0}
    assert torch.equal(img[0], torch.from_numpy(read_image(out / df.iloc[0]["image"])))


def test_subject_level_seeded_splits(folder_set, tmp_path):
    a = import_dataset("folder", folder_set, tmp_path / "a", size=16, split="train=0.5,val=0.5", seed=7,
                       progress=False, contact_sheet=0)
    b = import_dataset("folder", folder_set, tmp_path / "b", size=16, split="train=0.5,val=0.5", seed=7,
                       progress=False, contact_sheet=0)
    da, db = read_manifest(tmp_path / "a"), read_manifest(tmp_path / "b")
    assert (da.groupby("subject_id")["split"].nunique() == 1).all()  # patient a and c never straddle splits
    assert set(da["split"]) == {"train", "val"}
    assert da["split"].tolist() == db["split"].tolist()
    assert a.info["splits"] == b.info["splits"]
    assert (da["sha256:image"] == db["sha256:image"]).all()  # deterministic bytes


def test_missing_mask_is_an_error_naming_the_file_unless_allowed(folder_set, tmp_path):
    (folder_set / "masks" / "heart" / "case_03.png").unlink()
    with pytest.raises(InputFileError, match=r"case_03\.png: no 'heart' mask.*--allow-missing-masks"):
        import_dataset("folder", folder_set, tmp_path / "o1", size=16, progress=False)
    assert not (tmp_path / "o1").exists()
    res = import_dataset("folder", folder_set, tmp_path / "o2", size=16, allow_missing_masks=True, progress=False,
                         contact_sheet=0)
    df = read_manifest(tmp_path / "o2").set_index("image_id")
    assert pd.isna(df.loc["case_03", "mask:heart"]) and df.loc["case_02", "mask:heart"] == "masks/heart/case_02.png"
    assert res.info["missing_masks"] == {"heart": ["case_03"]}
    res = import_dataset("folder", folder_set, tmp_path / "o3", size=16, skip_unmasked=True, progress=False,
                         contact_sheet=0)
    assert res.n_items == 5 and res.info["skipped_unmasked"]["ids"] == ["case_03"]


def test_masks_by_stem_other_format_and_metadata_csv(tmp_path):
    root = tmp_path / "src"
    img, masks = phantom(20, 20)
    save_png8(root / "images" / "x1.jpg", img)  # JPEG image, GIF and PNG masks: matched by stem
    save_mask(root / "masks" / "Left Lung" / "x1.gif", masks["left_lung"], value=1, fmt="GIF")
    save_mask(root / "masks" / "Right Lung" / "x1.png", masks["right_lung"], value=1)
    (root / "meta.csv").write_text("file_name,patient_id,licence,age\nx1.png,P7,CC0,44\n", encoding="utf-8")  # by stem
    res = import_dataset("folder", root, tmp_path / "out", size=None, metadata=root / "meta.csv", progress=False,
                         contact_sheet=0)
    df = read_manifest(tmp_path / "out")
    assert res.structures == ["left_lung", "right_lung", "lungs"]
    assert df.loc[0, "subject_id"] == "P7" and df.loc[0, "licence"] == "CC0" and df.loc[0, "age"] == "44"
    assert df.loc[0, "height"] == 20 and df.loc[0, "width"] == 20  # size=None keeps the source grid
    assert np.array_equal(read_mask(tmp_path / "out" / df.loc[0, "mask:left_lung"]), masks["left_lung"])


def test_resume_after_interruption_and_settings_change_needs_overwrite(folder_set, tmp_path, monkeypatch):
    from xraylab.data.importers import engine

    out = tmp_path / "out"
    real = engine._process_item
    calls = {"n": 0}

    def dying(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(engine, "_process_item", dying)
    with pytest.raises(KeyboardInterrupt):
        import_dataset("folder", folder_set, out, size=16, progress=False)
    assert not (out / "manifest.parquet").exists() and not (out / "dataset.json").exists()
    monkeypatch.setattr(engine, "_process_item", real)
    res = import_dataset("folder", folder_set, out, size=16, progress=False)
    assert res.n_skipped == 3 and res.n_written == 3 and len(read_manifest(out)) == 6
    with pytest.raises(ConfigError, match="--overwrite"):
        import_dataset("folder", folder_set, out, size=24, progress=False)
    res = import_dataset("folder", folder_set, out, size=24, progress=False, overwrite=True)
    assert res.n_written == 6 and read_manifest(out)["height"].eq(24).all()


def test_bad_inputs_are_one_line_errors(folder_set, tmp_path):
    with pytest.raises(InputFileError, match="not found"):
        import_dataset("folder", tmp_path / "nope", tmp_path / "o", progress=False)
    with pytest.raises(ConfigError, match="unknown import layout 'foo'; choose one of: folder, jsrt"):
        import_dataset("foo", folder_set, tmp_path / "o", progress=False)
    with pytest.raises(ConfigError, match="--rename: no structure spleen"):
        import_dataset("folder", folder_set, tmp_path / "o", rename=["spleen=x"], progress=False)
    with pytest.raises(ConfigError, match="--split"):
        import_dataset("folder", folder_set, tmp_path / "o", split="train=abc", progress=False)
    with pytest.raises(ConfigError, match="--split source"):
        import_dataset("folder", folder_set, tmp_path / "o", split="source", progress=False)
    with pytest.raises(ConfigError, match="--structures: ribs not available"):
        import_dataset("folder", folder_set, tmp_path / "o", structures=["ribs"], progress=False)
    (folder_set / "images" / "case_02.png").write_bytes(b"not a png")
    with pytest.raises(InputFileError, match=r"case_02\.png: cannot read image"):
        import_dataset("folder", folder_set, tmp_path / "o2", size=16, progress=False)
    bad = np.zeros((10, 10), bool)
    save_mask(folder_set / "masks" / "heart" / "case_04.png", bad)
    (folder_set / "images" / "case_02.png").unlink()
    for orphan in (folder_set / "masks").glob("*/case_02.png"):  # a mask without its image is refused first
        orphan.unlink()
    with pytest.raises(InputFileError, match=r"items\.json: lists 1 image\(s\) not in .* \(first: case_02\.png\)"):
        import_dataset("folder", folder_set, tmp_path / "o3", size=16, progress=False)
    import json

    rows = json.loads((folder_set / "items.json").read_text(encoding="utf-8"))
    (folder_set / "items.json").write_text(json.dumps([r for r in rows if "case_02" not in json.dumps(r)]),
                                           encoding="utf-8")
    with pytest.raises(InputFileError, match=r"heart/case_04\.png: mask is 10×10 pixels but its image"):
        import_dataset("folder", folder_set, tmp_path / "o3", size=16, progress=False)


def test_structure_selection_swap_sides_and_define(folder_set, tmp_path):
    res = import_dataset("folder", folder_set, tmp_path / "o", size=16, structures=["lungs"], swap_sides=True,
                         define=["lungs=both lung fields, retrocardiac included"], progress=False, contact_sheet=0)
    df = read_manifest(tmp_path / "o")
    assert res.structures == ["lungs"] and [c for c in df.columns if c.startswith("mask:")] == ["mask:lungs"]
    assert res.info["structure_definitions"] == {"lungs": "both lung fields, retrocardiac included"}
    res = import_dataset("folder", folder_set, tmp_path / "s", size=16, swap_sides=True, progress=False,
                         contact_sheet=0)
    assert res.info["side_check"]["reversed"] == 6 and len(res.side_reversed) == 6


def test_registry_lists_every_layout():
    assert LAYOUTS.names() == ["folder", "jsrt", "montgomery", "shenzhen", "chestx_det", "isic2016", "ph2", "ham10000"]
    for name, cls in LAYOUTS.items():
        assert cls.name == name and cls.summary and cls.description
        assert cls.manifest and (REPO / "data_manifests" / cls.manifest).is_file(), cls.manifest
