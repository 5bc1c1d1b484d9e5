"""Import the real shared set ../shared/data/radiographs/cxr_lungs_heart (skips when the shared data is absent)."""

from __future__ import annotations

import numpy as np
import pytest

from xraylab.data.importers import import_dataset
from xraylab.data.manifest import read_dataset_json, read_manifest
from xraylab.io.images import read_image, read_mask


@pytest.mark.shared_data
def test_import_real_cxr_lungs_heart(shared_data, tmp_path):
    root = shared_data / "radiographs" / "cxr_lungs_heart"
    if not root.is_dir():
        pytest.skip(f"{root} not found")
    out = tmp_path / "real"
    res = import_dataset("folder", root, out, size=128, rename=["heart=cardiomediastinum"], progress=False,
                         contact_sheet=6)
    df = read_manifest(out)
    assert len(df) == 42 and df["subject_id"].nunique() == 35
    assert res.structures == ["left_lung", "right_lung", "lungs", "cardiomediastinum"]
    assert set(df["split"]) == {"test"} and df["licence"].value_counts().to_dict() == {
        "CC BY-NC-SA": 39, "CC BY": 2, "CC BY-SA": 1}
    for _, r in df.iterrows():
        left, right = read_mask(out / r["mask:left_lung"]), read_mask(out / r["mask:right_lung"])
        assert np.array_equal(read_mask(out / r["mask:lungs"]), left | right), r["image_id"]
        img = read_image(out / r["image"])
        assert img.shape == (128, 128) and img.min() >= 0.0 and img.max() <= 1.0
    info = read_dataset_json(out)
    assert info["counts"]["subjects"] == 35 and info["side_check"]["reversed"] == 0
    assert "cardiomediastin" in info["structure_definitions"]["cardiomediastinum"]
    # splits asked for later stay subject-level on the real patients
    res = import_dataset("folder", root, tmp_path / "split", size=32, split="train=0.6,val=0.2,test=0.2", seed=0,
                         structures=["lungs"], progress=False, contact_sheet=0)
    d2 = read_manifest(tmp_path / "split")
    assert (d2.groupby("subject_id")["split"].nunique() == 1).all() and set(d2["split"]) == {"train", "val", "test"}
