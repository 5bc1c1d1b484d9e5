"""xraylab realism: statistics, the classifier two-sample test and the report, on tiny synthetic datasets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import ndimage

from xraylab.data.manifest import write_manifest
from xraylab.evaluate.realism import classifier_auc, load_set, run_realism
from xraylab.evaluate.realism_stats import image_statistics
from xraylab.io.images import write_mask_png, write_png16

S = 64


def _phantom(rng: np.random.Generator, noise: float, blur: float, lung_level: float):
    """A toy chest: two dark lung ellipses, a bright heart disc, noise and blur; returns image, lungs, heart."""
    yy, xx = np.mgrid[:S, :S] / S
    cy = 0.5 + rng.normal(0, 0.02)
    left = ((xx - 0.32) / 0.14) ** 2 + ((yy - cy) / 0.3) ** 2 < 1
    right = ((xx - 0.68) / 0.14) ** 2 + ((yy - cy) / 0.3) ** 2 < 1
    heart = ((xx - 0.55) / 0.12) ** 2 + ((yy - 0.62) / 0.12) ** 2 < 1
    img = np.full((S, S), 0.6) + rng.normal(0, 0.03)
    img[left | right] = lung_level + rng.normal(0, 0.03)
    img[heart] = 0.8
    img = ndimage.gaussian_filter(img, blur) + rng.normal(0, noise, (S, S))
    return np.clip(img, 0.01, 1.0), left | right, heart


def _dataset(folder: Path, n: int, seed: int, noise=0.01, blur=1.0, lung_level=0.3) -> Path:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        img, lungs, heart = _phantom(rng, noise, blur, lung_level)
        iid = f"im{i:03d}"
        write_png16(folder / "images" / f"{iid}.png", img)
        write_mask_png(folder / "masks" / "lungs" / f"{iid}.png", lungs)
        write_mask_png(folder / "masks" / "heart" / f"{iid}.png", heart)
        rows.append({"image_id": iid, "subject_id": iid, "split": "test", "image": f"images/{iid}.png",
                     "mask:lungs": f"masks/lungs/{iid}.png", "mask:heart": f"masks/heart/{iid}.png"})
    write_manifest(folder, pd.DataFrame(rows))
    return folder


def test_statistics_follow_the_image():
    rng = np.random.default_rng(0)
    img, lungs, heart = _phantom(rng, 0.01, 1.0, 0.3)
    st = image_statistics(img, lungs, heart)
    assert st["lung_mean"] == pytest.approx(0.3, abs=0.08)
    assert st["heart_mean"] == pytest.approx(0.8, abs=0.05)
    assert st["lung_heart_contrast"] > 0.35
    noisy = image_statistics(np.clip(img + rng.normal(0, 0.05, img.shape), 0, 1), lungs, heart)
    assert noisy["lung_noise"] > 3 * st["lung_noise"]
    blurred = image_statistics(ndimage.gaussian_filter(img, 3.0), lungs, heart)
    assert blurred["lung_boundary_sharpness"] < 0.7 * st["lung_boundary_sharpness"]


def test_classifier_auc_same_vs_different():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(60, 20)), rng.normal(size=(60, 20))
    same, _ = classifier_auc(a, b)
    assert abs(same - 0.5) < 0.15
    diff, _ = classifier_auc(a, b + 1.0)
    assert diff > 0.95


@pytest.mark.slow
def test_realism_report_identical_and_different_sets(tmp_path):
    real = _dataset(tmp_path / "real", 30, seed=1)
    same = _dataset(tmp_path / "same", 30, seed=2)
    other = _dataset(tmp_path / "other", 30, seed=3, noise=0.002, blur=2.5, lung_level=0.55)
    t_same = run_realism(same, real, tmp_path / "r_same", size=S)
    t_other = run_realism(other, real, tmp_path / "r_other", size=S)
    auc_same = t_same.set_index("statistic").loc["classifier_auc", "same_median"]
    auc_other = t_other.set_index("statistic").loc["classifier_auc", "other_median"]
    assert abs(auc_same - 0.5) < 0.2
    assert auc_other > 0.9
    assert t_same.set_index("statistic").loc["lung_mean", "same_in_range"]
    assert not t_other.set_index("statistic").loc["lung_noise", "other_in_range"]
    for f in ("realism.csv", "realism.md", "realism.png", "realism.json"):
        assert (tmp_path / "r_same" / f).is_file()
    assert "classifier AUC" in (tmp_path / "r_other" / "realism.md").read_text()


def test_missing_masks_is_a_clear_error(tmp_path):
    folder = _dataset(tmp_path / "d", 3, seed=0)
    df = pd.read_parquet(folder / "manifest.parquet").drop(columns=["mask:heart"])
    write_manifest(folder, df)
    from xraylab.errors import InputFileError

    with pytest.raises(InputFileError, match="heart"):
        load_set(folder, size=S)


def test_cli_realism(tmp_path):
    from typer.testing import CliRunner

    from xraylab.cli import app

    a = _dataset(tmp_path / "a", 6, seed=0)
    b = _dataset(tmp_path / "b", 6, seed=1)
    res = CliRunner().invoke(app, ["realism", str(a), str(b), "--out", str(tmp_path / "rep"), "--size", "64"])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "rep" / "realism.png").is_file()
