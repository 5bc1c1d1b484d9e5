"""3D RAMP operators and 3D train / degrade / evaluate on a downsampled REAL CT (../shared/data)."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import torch
import yaml

from xraylab.data.volume_import import Case, normalise, prepare_case
from xraylab.degrade import registry
from xraylab.degrade.ct import REFERENCE_SPACING_MM
from xraylab.degrade.rng import make_generator

pytestmark = pytest.mark.shared_data
CT_OPS = registry.names("ct")


@pytest.fixture(scope="module")
def abdomen_6mm(shared_data):
    """The real abdomen CT (TotalSegmentator example) resampled to 6 mm voxels, [1, 1, I, J, K] in [0, 1]."""
    root = shared_data / "ct"
    case = Case("abdomen", str(root / "abdomen/ct.nii.gz"), str(root / "abdomen/labels.nii.gz"),
                str(root / "totalsegmentator_v2_total_classes.csv"))
    vol, present = prepare_case(case, ["liver", "spleen", "kidney"], 6.0)
    assert all(present.values())
    return torch.from_numpy(normalise(vol.hu, (-250, 350)))[None, None]


def test_thirteen_operators(abdomen_6mm):
    assert len(CT_OPS) == 13


@pytest.mark.parametrize("name", CT_OPS)
def test_each_3d_operator_grows_with_severity_on_a_real_ct(name, abdomen_6mm):
    """RMSE to the clean volume rises strictly over levels 1..5 (same seed: same random structure per level)."""
    x = abdomen_6mm
    op = registry.get(name)
    rmse = []
    for level in range(0, 6):
        y = op.apply(x, float(level), make_generator(7), spacing_mm=(6.0, 6.0, 6.0))
        assert y.shape == x.shape and float(y.min()) >= 0.0 and float(y.max()) <= 1.0
        rmse.append(float((y - x).pow(2).mean().sqrt()))
    assert rmse[0] == 0.0
    assert all(b > a for a, b in zip(rmse, rmse[1:])), (name, rmse)


def test_blur_widths_are_millimetres(abdomen_6mm):
    """The same level blurs a 6 mm grid by 4x fewer voxels than the 1.5 mm reference grid (lengths in mm)."""
    from xraylab.data.volume_degrade import record_params

    op = registry.get("ct_isotropic_blur")
    p = record_params(op, 5, (6.0, 6.0, 6.0))  # type: ignore[arg-type]
    assert p["sigma_mm"] == pytest.approx(2.5 * REFERENCE_SPACING_MM)
    assert p["sigma_vox"] == pytest.approx([2.5 * REFERENCE_SPACING_MM / 6.0] * 3)
    x = abdomen_6mm
    on_grid = op.apply(x, 5.0, make_generator(0), spacing_mm=6.0)
    as_reference = op.apply(x, 5.0, make_generator(0))  # no spacing: the paper's 2.5 voxels
    assert float((on_grid - x).abs().mean()) < 0.6 * float((as_reference - x).abs().mean())


def test_3d_train_degrade_evaluate_smoke_through_the_cli(shared_data, tmp_path):
    """Import the real abdomen CT at 12 mm (+ 2 pseudo-subjects: train and val), train a tiny DynUNet 2 steps,
    degrade the val volume, evaluate: the Table 5 row."""
    from typer.testing import CliRunner

    from xraylab.cli import app
    from xraylab.data.volume_import import VolumeImport, import_volumes
    from xraylab.volumes.evaluate import ramp_table

    root = shared_data / "ct"
    kw = dict(ct=str(root / "abdomen/ct.nii.gz"), labels=str(root / "abdomen/labels.nii.gz"),
              structures=str(root / "totalsegmentator_v2_total_classes.csv"))
    cases = [Case("abd", split="train", pseudo_subjects=2, pseudo_val=1, **kw)]  # type: ignore[arg-type]
    vols = tmp_path / "vols"
    import_volumes(VolumeImport(cases, ["liver", "spleen", "kidney"], voxel_mm=12.0), vols)
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump({
        "name": "smoke3d", "task": "segmentation_3d", "model": {"name": "dynunet", "filters": [4, 8, 8]},
        "patch": [16, 16, 16], "sw_roi": [32, 32, 32], "batch_size": 1, "epochs": 1, "steps_per_epoch": 2,
        "optimizer": {"name": "adam", "lr": 0.003}, "augmentation": {"strategy": "ramp"}, "device": "cpu",
        "cpu_threads": 1}))
    runner = CliRunner()
    r = runner.invoke(app, ["train", str(spec), "--data", f"ct={vols}", "--out", str(tmp_path / "run")])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "run" / "checkpoints" / "best.pt").is_file()
    deg = tmp_path / "deg"
    r = runner.invoke(app, ["degrade", str(vols), "--out", str(deg), "--corruptions", "ct_gaussian_noise,ct_stripe",
                            "--levels", "5", "--split", "val"])
    assert r.exit_code == 0, r.output
    man = pd.read_parquet(deg / "manifest.parquet")
    assert sorted(man["corruption"]) == ["ct_gaussian_noise", "ct_stripe", "none"]
    assert set(man["labelmap"]) == {"labels/abd~p2.nii.gz"}  # labels are never corrupted, written once
    params = json.loads(man.set_index("corruption").loc["ct_gaussian_noise", "corruption_params"])
    assert params["sigma"] == pytest.approx(0.20) and params["spacing_mm"] == [12.0, 12.0, 12.0]
    r = runner.invoke(app, ["evaluate", "--model", str(tmp_path / "run"), "--data", str(deg), "--out",
                            str(tmp_path / "ev")])
    assert r.exit_code == 0, r.output
    per = pd.read_csv(tmp_path / "ev" / "per_class.csv")
    assert len(per) == 3 * 3 and per["dice"].between(0, 1).all()
    t5 = ramp_table(per)
    row = t5.iloc[0]
    assert row["n_clean"] == 1 and row["n_corrupted"] == 2
    assert row["robustness_gap"] == pytest.approx(row["clean_dice"] - row["mean_corrupted_dice"])
    assert row["worst_case_dice"] <= row["mean_corrupted_dice"] + 1e-12
