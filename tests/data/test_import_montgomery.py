"""``xraylab import montgomery``: CXR_png/ + ManualMask/leftMask, rightMask + ClinicalReadings/ (synthetic fixture)."""

from __future__ import annotations

import numpy as np
import pytest

from xraylab.data.importers import import_dataset
from xraylab.data.manifest import read_dataset_json, read_manifest
from xraylab.errors import InputFileError
from xraylab.io.images import read_mask

from .import_helpers import phantom, save_mask, save_png16


def write_montgomery(base, names=("MCUCXR_0001_0", "MCUCXR_0002_1"), hw=(61, 50)):
    """MontgomerySet/ as unzipped: portrait 4892:4020-like images, one mask folder per lung."""
    for k, stem in enumerate(names):
        img, masks = phantom(*hw, seed=k)
        save_png16(base / "CXR_png" / f"{stem}.png", img)
        save_mask(base / "ManualMask" / "leftMask" / f"{stem}.png", masks["left_lung"])
        save_mask(base / "ManualMask" / "rightMask" / f"{stem}.png", masks["right_lung"])
        (base / "ClinicalReadings").mkdir(parents=True, exist_ok=True)
        (base / "ClinicalReadings" / f"{stem}.txt").write_text(
            f"Patient's Sex: {'MF'[k % 2]}\nPatient's Age: 0{40 + k}Y\n{'normal' if stem.endswith('0') else 'TB'}\n",
            encoding="utf-8")
    return base


def test_montgomery_layout(tmp_path):
    base = write_montgomery(tmp_path / "NLM" / "MontgomerySet")
    res = import_dataset("montgomery", tmp_path / "NLM", tmp_path / "out", size=32, progress=False)
    df = read_manifest(tmp_path / "out").set_index("image_id")
    assert list(df.index) == ["MCUCXR_0001_0", "MCUCXR_0002_1"]
    assert res.structures == ["left_lung", "right_lung", "lungs"]
    assert df.loc["MCUCXR_0001_0", "label"] == "normal" and df.loc["MCUCXR_0002_1", "label"] == "tuberculosis"
    assert df.loc["MCUCXR_0001_0", "subject_id"] == "MCUCXR_0001"
    assert df.loc["MCUCXR_0001_0", "sex"] == "M" and df.loc["MCUCXR_0002_1", "age"] == "41"
    assert df.loc["MCUCXR_0002_1", "reading"] == "TB" and (df["view"] == "PA").all()
    # 61×50 keeps the 4892:4020 aspect → spacing 0.0875 mm × 4020/50 at the source, × 61/32 after resizing
    src = 0.0875 * 4020 / 50
    assert df.loc["MCUCXR_0001_0", "source_pixel_spacing_mm"] == pytest.approx(src)
    assert df.loc["MCUCXR_0001_0", "pixel_spacing_mm"] == pytest.approx(src * 61 / 32)
    out = tmp_path / "out"
    for i in df.index:
        lungs = read_mask(out / df.loc[i, "mask:lungs"])
        assert np.array_equal(lungs, read_mask(out / df.loc[i, "mask:left_lung"]) |
                              read_mask(out / df.loc[i, "mask:right_lung"]))
    assert read_dataset_json(out)["side_check"]["ok"] == 2
    (base / "ManualMask" / "rightMask" / "MCUCXR_0002_1.png").unlink()
    with pytest.raises(InputFileError, match=r"MCUCXR_0002_1\.png: no 'right_lung' mask .*rightMask"):
        import_dataset("montgomery", base, tmp_path / "o2", size=32, progress=False)


def test_montgomery_missing_folder_is_a_clear_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputFileError, match="no CXR_png/ folder found"):
        import_dataset("montgomery", tmp_path / "empty", tmp_path / "o", progress=False)
