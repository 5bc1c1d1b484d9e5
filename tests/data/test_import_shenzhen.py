"""``xraylab import shenzhen``: CXR_png/ + mask/<stem>_mask.png (both lungs in one mask), some images unmasked."""

from __future__ import annotations

import numpy as np
import pytest

from xraylab.data.importers import import_dataset
from xraylab.data.manifest import read_dataset_json, read_manifest
from xraylab.errors import InputFileError
from xraylab.io.images import read_mask
from xraylab.io.preprocess import prepare_mask

from .import_helpers import phantom, save_mask, save_png8


def write_shenzhen(root, names=("CHNCXR_0001_0", "CHNCXR_0002_1", "CHNCXR_0003_0"), masked=2):
    base = root / "ChinaSet_AllFiles"
    for k, stem in enumerate(names):
        img, masks = phantom(36, 36, seed=k)
        save_png8(base / "CXR_png" / f"{stem}.png", img)
        (base / "ClinicalReadings").mkdir(parents=True, exist_ok=True)
        (base / "ClinicalReadings" / f"{stem}.txt").write_text(f"male 3{k}yrs\nnormal\n", encoding="utf-8")
        if k < masked:
            save_mask(root / "shcxr-lung-mask" / "mask" / f"{stem}_mask.png", masks["left_lung"] | masks["right_lung"])
    return root


def test_shenzhen_layout_finds_masks_and_handles_unmasked_images(tmp_path):
    root = write_shenzhen(tmp_path / "sz")
    with pytest.raises(InputFileError, match=r"CHNCXR_0003_0\.png: no 'lungs' mask.*--allow-missing-masks"):
        import_dataset("shenzhen", root, tmp_path / "o1", size=24, progress=False)
    res = import_dataset("shenzhen", root, tmp_path / "o2", size=24, skip_unmasked=True, progress=False)
    df = read_manifest(tmp_path / "o2").set_index("image_id")
    assert list(df.index) == ["CHNCXR_0001_0", "CHNCXR_0002_1"] and res.structures == ["lungs"]
    assert df.loc["CHNCXR_0002_1", "label"] == "tuberculosis" and df.loc["CHNCXR_0002_1", "sex"] == "M"
    assert df.loc["CHNCXR_0002_1", "age"] == "31" and df["pixel_spacing_mm"].isna().all()
    _, masks = phantom(36, 36, seed=0)
    assert np.array_equal(read_mask(tmp_path / "o2" / df.loc["CHNCXR_0001_0", "mask:lungs"]),
                          prepare_mask(masks["left_lung"] | masks["right_lung"], 24).numpy())  # 36² → 24², nearest
    info = read_dataset_json(tmp_path / "o2")
    assert info["skipped_unmasked"] == {"count": 1, "ids": ["CHNCXR_0003_0"]}
    assert "CC BY-NC-SA" in df.loc["CHNCXR_0001_0", "licence"]


def test_shenzhen_explicit_mask_folder(tmp_path):
    root = write_shenzhen(tmp_path / "sz", masked=3)
    res = import_dataset("shenzhen", root / "ChinaSet_AllFiles", tmp_path / "o", size=24, progress=False,
                         layout_options={"masks": str(root / "shcxr-lung-mask" / "mask")}, contact_sheet=0)
    assert res.n_items == 3
    with pytest.raises(InputFileError, match="Shenzhen mask folder not found"):
        import_dataset("shenzhen", root, tmp_path / "o3", layout_options={"masks": str(tmp_path / "none")},
                       progress=False)
