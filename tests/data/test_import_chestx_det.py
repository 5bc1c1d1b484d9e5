"""``xraylab import chestx_det``: per-image polygons + category names in ChestX_Det_{train,test}.json."""

from __future__ import annotations

import json

import numpy as np
import pytest

from xraylab.data.importers import import_dataset
from xraylab.data.manifest import read_dataset_json, read_manifest
from xraylab.errors import InputFileError
from xraylab.io.images import read_mask

from .import_helpers import phantom, save_png8


def write_chestx_det(root):
    """Two annotation files in the repository's format and the images in train/ and test/ folders."""
    train = [
        {"file_name": "100.png", "syms": ["Effusion", "Nodule", "Effusion"],
         "boxes": [[2, 20, 10, 30], [20, 5, 24, 9], [30, 20, 38, 30]],
         "polygons": [[[2, 20], [10, 20], [10, 30], [2, 30]], [[20, 5], [24, 5], [24, 9], [20, 9]],
                      [[30, 20], [38, 20], [38, 30], [30, 30]]]},
        {"file_name": "101.png", "syms": [], "boxes": [], "polygons": []},
    ]
    test = [{"file_name": "200.png", "syms": ["Pleural Thickening"], "boxes": [[5, 5, 15, 12]], "polygons": []}]
    for name, folder in (("100.png", "train"), ("101.png", "train"), ("200.png", "test")):
        save_png8(root / folder / name, phantom(40, 40, seed=int(name[:3]))[0])
    (root / "ChestX_Det_train.json").write_text(json.dumps(train), encoding="utf-8")
    (root / "ChestX_Det_test.json").write_text(json.dumps(test), encoding="utf-8")
    return root


def test_chestx_det_polygons_become_category_masks(tmp_path):
    root = write_chestx_det(tmp_path / "cxd")
    res = import_dataset("chestx_det", root, tmp_path / "out", size=None, split="source", progress=False)
    assert res.structures == ["effusion", "nodule", "pleural_thickening"]
    df = read_manifest(tmp_path / "out").set_index("image_id")
    assert df.loc["100", "split"] == "train" and df.loc["200", "split"] == "test"
    eff = read_mask(tmp_path / "out" / df.loc["100", "mask:effusion"])
    assert eff[25, 5] and eff[25, 34] and not eff[5, 22] and eff.sum() == 2 * 9 * 11  # both instances, filled
    assert read_mask(tmp_path / "out" / df.loc["100", "mask:nodule"])[7, 22]
    assert not read_mask(tmp_path / "out" / df.loc["101", "mask:effusion"]).any()  # negative = empty, not missing
    pt = read_mask(tmp_path / "out" / df.loc["200", "mask:pleural_thickening"])
    assert pt[8, 10] and pt.sum() == 11 * 8  # no polygon: the box is used
    assert df.loc["200", "masks_from_boxes"] == 1 and df.loc["100", "findings"] == "Effusion;Nodule"
    assert df.loc["101", "findings"] == "none" and df["subject_id"].tolist() == ["100", "101", "200"]
    info = read_dataset_json(tmp_path / "out")
    assert "Effusion" in info["structure_definitions"]["effusion"] and info["missing_masks"] == {}


def test_chestx_det_missing_image_and_explicit_annotations(tmp_path):
    root = write_chestx_det(tmp_path / "cxd")
    (root / "test" / "200.png").unlink()
    with pytest.raises(InputFileError, match=r"image '200\.png' \(listed in ChestX_Det_test\.json\) not found"):
        import_dataset("chestx_det", root, tmp_path / "o", progress=False)
    res = import_dataset("chestx_det", root, tmp_path / "o2", size=16, progress=False, contact_sheet=0,
                         layout_options={"annotations": [str(root / "ChestX_Det_train.json")]})
    assert res.n_items == 2 and "pleural_thickening" not in res.structures
    assert np.isnan(read_manifest(tmp_path / "o2")["pixel_spacing_mm"]).all()
