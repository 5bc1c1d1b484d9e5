"""``xraylab import jsrt``: raw 2048² big-endian 12-bit .IMG (inverted) + SCR masks at 1024² in fold1/fold2."""

from __future__ import annotations

import numpy as np
import pytest

from xraylab.data.importers import import_dataset
from xraylab.data.manifest import read_dataset_json, read_manifest
from xraylab.errors import InputFileError
from xraylab.io.images import read_image, read_mask

from .import_helpers import centroid_x, phantom, save_mask

SCR_DIRS = {"heart": "heart", "left clavicle": "left_clavicle", "left lung": "left_lung",
            "right clavicle": "right_clavicle", "right lung": "right_lung"}


def write_jsrt(root, cases=(("JPCLN001", "fold1"), ("JPCNN002", "fold2"))):
    """JSRT as distributed: All247images/*.IMG and the SCR zip's scratch/fold*/masks/<structure>/*.gif."""
    for k, (case, fold) in enumerate(cases):
        img, masks = phantom(64, 64, seed=k)
        disp = np.kron(np.round(img * 4095), np.ones((32, 32))).astype(np.uint16)  # 2048², air dark
        raw = (4095 - disp).astype(">u2")  # JSRT stores high values for dark
        (root / "All247images").mkdir(parents=True, exist_ok=True)
        raw.tofile(root / "All247images" / f"{case}.IMG")
        for scr, s in SCR_DIRS.items():
            m = np.kron(masks[s], np.ones((16, 16), bool))  # 1024², half the image resolution
            save_mask(root / "scr" / "scratch" / fold / "masks" / scr / f"{case}.gif", m, fmt="GIF")
    return root


def test_jsrt_raw_images_are_inverted_and_scr_masks_align(tmp_path):
    root = write_jsrt(tmp_path / "jsrt")
    res = import_dataset("jsrt", root, tmp_path / "out", size=64, split="source", progress=False)
    df = read_manifest(tmp_path / "out").set_index("image_id")
    assert list(df.index) == ["JPCLN001", "JPCNN002"]
    assert res.structures == ["left_lung", "right_lung", "lungs", "heart", "left_clavicle", "right_clavicle",
                              "clavicles"]
    assert df.loc["JPCLN001", "split"] == "train" and df.loc["JPCNN002", "split"] == "test"  # SCR folds
    assert df.loc["JPCLN001", "label"] == "nodule" and df.loc["JPCNN002", "label"] == "non-nodule"
    assert df.loc["JPCLN001", "fold"] == "fold1"
    # 2048 px at 0.175 mm → 64 px at 5.6 mm
    assert df.loc["JPCLN001", "source_pixel_spacing_mm"] == pytest.approx(0.175)
    assert df.loc["JPCLN001", "pixel_spacing_mm"] == pytest.approx(5.6)
    assert bool(df.loc["JPCLN001", "inverted"]) and df.loc["JPCLN001", "source_format"] == "jsrt_raw"
    out = tmp_path / "out"
    img = read_image(out / df.loc["JPCLN001", "image"])
    ref, masks = phantom(64, 64, seed=0)
    assert np.corrcoef(img.ravel(), ref.ravel())[0, 1] > 0.99  # inverted back to air dark, bone bright
    for s in ("left_lung", "right_lung", "heart", "left_clavicle"):
        assert np.array_equal(read_mask(out / df.loc["JPCLN001", f"mask:{s}"]), masks[s]), s
    assert np.array_equal(read_mask(out / df.loc["JPCLN001", "mask:clavicles"]),
                          masks["left_clavicle"] | masks["right_clavicle"])
    assert centroid_x(masks["right_lung"]) < centroid_x(masks["left_lung"])
    info = read_dataset_json(out)
    assert "retrocardiac lung excluded" in info["structure_definitions"]["left_lung"]
    assert info["side_check"]["ok"] == 2 and info["split"]["mode"] == "source"
    assert info["licences"] == {"JSRT/SCR terms: research and education only, no redistribution": 2}


def test_jsrt_scr_elsewhere_and_bad_raw_file(tmp_path):
    root = write_jsrt(tmp_path / "jsrt", cases=(("JPCLN003", "fold1"),))
    with pytest.raises(InputFileError, match="SCR folder not found"):
        import_dataset("jsrt", root / "All247images", tmp_path / "o", layout_options={"scr": str(tmp_path / "x")},
                       progress=False)
    res = import_dataset("jsrt", root / "All247images", tmp_path / "o", size=16, progress=False, contact_sheet=0,
                         layout_options={"scr": str(root / "scr")})
    assert res.n_items == 1
    (root / "All247images" / "JPCNN009.IMG").write_bytes(b"\0" * 1000)
    with pytest.raises(InputFileError, match=r"JPCNN009\.IMG: no 'heart' mask"):
        import_dataset("jsrt", root, tmp_path / "o2", size=16, progress=False)
    with pytest.raises(InputFileError, match=r"JPCNN009\.IMG: 1000 bytes, a JSRT \.IMG holds 8388608"):
        import_dataset("jsrt", root, tmp_path / "o3", size=16, progress=False, allow_missing_masks=True)
