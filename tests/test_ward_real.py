"""Ward & Imran on real images (issue 14): the shipped specs parse, and the corruption-severity / type classifier
chain runs end to end on a few real radiographs and on the five real dermoscopy images (smoke sizes)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from xraylab.pipeline import load_pipeline, parse_pipeline, run_pipeline

SIM = Path(__file__).resolve().parents[1] / "simulations"
XRAY_PHYSICS = ["acquisition_geometry", "anti_scatter_grid", "beam_energy", "collimation", "detector_performance",
                "focal_spot", "tube_current"]


def test_ward_specs_parse_with_the_paper_grid(tmp_path):
    pipe = load_pipeline(SIM / "ward_real_cpu.yaml", workdir=tmp_path)
    steps = {s.name: s for s in pipe.steps}
    deg = steps["degraded"].options
    assert sorted(deg["corruptions"]) == XRAY_PHYSICS and deg["levels"] == [1, 2, 3, 4] and deg["include_clean"]
    assert steps["real"].options["split"] == {"train": 0.5, "val": 0.1, "test": 0.4}  # subject-level via items.json
    derm = {s.name: s for s in load_pipeline(SIM / "ward_dermoscopy_smoke.yaml", workdir=tmp_path).steps}
    assert derm["real"].options["layout"] == "ham10000"
    assert sorted(derm["degraded"].options["corruptions"]) == ["color_reproduction", "derm_blur", "focal_plane",
                                                              "resolution"]


def test_ward_mixed_spec_matches_the_real_one_and_keeps_synthetic_images_out_of_val_and_test(tmp_path):
    """ward_mixed_cpu differs from ward_real_cpu only by synthetic base images in training: same real import and
    corruption grid, synthetic views with fixed physics (the clean class must not vary in acquisition), never in
    validation, and the classifiers scored on the real test split."""
    real = {s.name: s for s in load_pipeline(SIM / "ward_real_cpu.yaml", workdir=tmp_path / "r").steps}
    mixed = {s.name: s for s in load_pipeline(SIM / "ward_mixed_cpu.yaml", workdir=tmp_path / "m").steps}
    assert mixed["real"].options == real["real"].options
    for name in ("degraded", "syn_degraded"):
        assert {k: v for k, v in mixed[name].options.items() if k != "dataset"} == \
            {k: v for k, v in real["degraded"].options.items() if k != "dataset"}
    gen = mixed["syn"].options["spec"]
    assert set(gen["sweep"]["random"]) == {"geometry.rotation_deg"}  # no random physics
    trains = [s for n, s in mixed.items() if n.startswith("train_")]
    assert len(trains) == 6
    for step in trains:
        data = {d["name"]: d for d in step.options["spec"]["data"]}
        assert data["syn"].get("val") is False and data["degraded"].get("val", True) is not False
        ref = dict(real[step.name].options["spec"])
        ours = dict(step.options["spec"])
        for key in ("name", "data"):
            ref.pop(key), ours.pop(key)
        assert ours == ref
    cls = mixed["evaluate_cls"].options["spec"]["classification"]
    assert cls == {"dataset": str(tmp_path / "m" / "degraded"), "split": "test", "target": "auto"}


def _with_root(spec: Path, root: Path) -> dict:
    raw = yaml.safe_load(spec.read_text(encoding="utf-8"))
    raw["steps"][0]["import"]["root"] = str(root)
    return raw


def _check_table1(eval_dir: Path, levels: list[str], types: list[str], suffix: str = "") -> None:
    sev = pd.read_csv(eval_dir / "tables" / "classification_by_severity.csv", index_col=0)
    typ = pd.read_csv(eval_dir / "tables" / "classification_by_corruption.csv", index_col=0)
    assert list(sev.index) == ["No corruption", *levels, "Overall"]
    assert sorted(typ.index) == sorted(["No corruption", *types, "Overall"])
    for t, model in ((sev, "ResNet-18 (severity)" + suffix), (typ, "ResNet-18 (type)" + suffix)):
        assert t[model].between(0.0, 1.0).all()


@pytest.mark.slow
@pytest.mark.shared_data
def test_ward_classifier_smoke_on_real_radiographs(shared_data, tmp_path):
    """6 real radiographs (subject-level split) x 2 physics corruptions x 2 levels + clean → ResNet-18 severity and
    type classifiers → Table 1 rows on the corrupted real test images."""
    root = shared_data / "radiographs" / "cxr_lungs_heart"
    raw = _with_root(SIM / "ward_real_cpu.yaml", root)
    raw["steps"][0]["import"].update(size=32, limit=6, split={"train": 0.5, "val": 0.2, "test": 0.3})
    raw["steps"][1]["degrade"].update(corruptions=["beam_energy", "tube_current"], levels=[2, 4])
    keep = ["real", "degraded", "train_severity_s0", "train_type_s0", "evaluate_cls"]
    raw["steps"] = [s for s in raw["steps"] if s["name"] in keep]
    cls = next(s for s in raw["steps"] if s["name"] == "evaluate_cls")["evaluate"]["spec"]
    cls["models"] = [m for m in cls["models"] if m["name"].endswith(" s0")]  # one seed of each classifier
    for s in raw["steps"]:
        if "train" in s:
            s["train"].update(epochs=1, steps_per_epoch=2)
            s["train"]["spec"] = dict(s["train"]["spec"], image_size=32, batch_size=8)
    run_pipeline(parse_pipeline(raw, str(SIM / "ward_real_cpu.yaml"), base=SIM, workdir=tmp_path), log=lambda m: None)

    src = pd.read_parquet(tmp_path / "real" / "manifest.parquet")
    deg = pd.read_parquet(tmp_path / "degraded" / "manifest.parquet")
    assert len(src) == 6 and len(deg) == 6 * 5
    # subject-level: one patient never spans two splits, in the source and in every degraded copy
    assert (deg.groupby("subject_id")["split"].nunique() == 1).all()
    assert set(deg.groupby("source_image_id")["severity"].apply(lambda s: tuple(sorted(s)))) == {(0, 2, 2, 4, 4)}
    _check_table1(tmp_path / "evaluate_cls", ["Level 2", "Level 4"], ["beam_energy", "tube_current"], " s0")
    spec = yaml.safe_load((tmp_path / "train_severity_s0" / "spec.yaml").read_text(encoding="utf-8"))
    assert spec["balance_classes"] is True and spec["scheduler"]["name"] == "cosine"


@pytest.mark.slow
@pytest.mark.shared_data
def test_ward_dermoscopy_smoke_spec_runs_on_the_real_images(shared_data, tmp_path):
    """The shipped dermoscopy smoke spec, as is, on the five real HAM10000 images (training shortened further)."""
    root = shared_data / "dermoscopy" / "ham10000_lesions"
    if not root.is_dir():
        pytest.skip(f"{root} not found")
    raw = _with_root(SIM / "ward_dermoscopy_smoke.yaml", root)
    raw["steps"][0]["import"]["size"] = 32
    for s in raw["steps"]:
        if "train" in s:
            s["train"].update(epochs=1, steps_per_epoch=2)
            s["train"]["spec"] = dict(s["train"]["spec"], image_size=32)
    run_pipeline(parse_pipeline(raw, str(SIM / "ward_dermoscopy_smoke.yaml"), base=SIM, workdir=tmp_path),
                 log=lambda m: None)
    deg = pd.read_parquet(tmp_path / "degraded" / "manifest.parquet")
    assert len(deg) == 5 * 17
    assert deg.loc[deg["corruption"] == "color_reproduction", "delta_e2000"].gt(0).all()  # RGB kept end to end
    _check_table1(tmp_path / "evaluate_cls", ["Level 1", "Level 2", "Level 3", "Level 4"],
                  ["color_reproduction", "derm_blur", "focal_plane", "resolution"])
    t5 = pd.read_csv(tmp_path / "evaluate_seg" / "tables" / "corruption_table5.csv", index_col=0)
    assert set(t5.index) == {"U-Net (traditional)", "U-Net (physics)"}
