"""A tiny end-to-end sim-to-real run on a handful of the shared real chest radiographs: import the real images,
generate framed synthetic views with the matching structure definitions, train on synthetic only (validating on
real images), score on the real test images. Sizes are toy-scale; the numbers are not asserted beyond sanity."""

from __future__ import annotations

import pandas as pd
import pytest

from xraylab.pipeline import parse_pipeline, run_pipeline

pytestmark = [pytest.mark.slow, pytest.mark.shared_data]


def test_synthetic_model_is_scored_on_real_radiographs(shared_data, tmp_path):
    root = shared_data / "radiographs" / "cxr_lungs_heart"
    if not root.is_dir():
        pytest.skip(f"{root} not found")
    raw = {
        "workdir": str(tmp_path / "w"),
        "steps": [
            {"name": "real", "import": {"layout": "folder", "root": str(root), "size": 64, "limit": 8, "seed": 1,
                                        "split": {"train": 0.0, "val": 0.4, "test": 0.6},
                                        "rename": {"heart": "cardiomediastinum"}}},
            {"name": "syn", "generate": {"workers": 1, "spec": {
                "name": "tiny_syn", "seed": 1, "cts": [{"default": True, "pseudo_subjects": 1}],
                "structures": ["left_lung", "right_lung", "lungs", "cardiomediastinum"], "preset": "chest_pa",
                "geometry": {"rows": 32, "cols": 32},
                "sweep": {"grid": {"geometry.rotation_deg": [-10, 0, 10]}},
                "render": {"n_points": 64, "downsample": 4},
                "output": {"size": 32, "normalize": "minmax", "contact_sheet": 0, "framing": {"structure": "lungs"}},
                "split": {"train": 1.0, "val": 0.0, "test": 0.0}}}},
            {"name": "train", "train": {
                "data": {"syn": "${syn.out}", "real": "${real.out}"},
                "spec": {"name": "tiny", "seed": 1, "task": "segmentation",
                         "structures": ["left_lung", "right_lung", "cardiomediastinum"],
                         "data": [{"name": "syn", "path": None, "val": False},
                                  {"name": "real", "path": None, "train": False, "val": True}],
                         "image_size": 32,
                         "model": {"name": "unet", "kwargs": {"depth": 3, "encoder_name": "resnet18"}},
                         "epochs": 2, "steps_per_epoch": 3, "batch_size": 2, "num_workers": 0, "device": "cpu"}}},
            {"name": "score", "evaluate": {"model": "${train.out}", "data": "${real.out}", "split": "test"}},
        ],
    }
    results = run_pipeline(parse_pipeline(raw, "tiny.yaml", base=tmp_path), log=lambda m: None)
    assert [r.status for r in results] == ["ran"] * 4
    syn = pd.read_parquet(tmp_path / "w" / "syn" / "manifest.parquet")
    assert syn["source_subject_id"].nunique() == 1 and syn["subject_id"].nunique() == 2
    assert syn["framing_box"].notna().all()
    per_image = pd.read_csv(tmp_path / "w" / "score" / "per_image.csv")
    real = pd.read_parquet(tmp_path / "w" / "real" / "manifest.parquet")
    test_ids = set(real.loc[real["split"] == "test", "image_id"])
    assert set(per_image["image_id"]) == test_ids
    assert set(per_image["structure"]) == {"left_lung", "right_lung", "cardiomediastinum", "lungs"}
    assert per_image["dice"].between(0, 1).all() and (per_image["unit"] == "px").all()
    assert (tmp_path / "w" / "score" / "predictions.png").is_file()
