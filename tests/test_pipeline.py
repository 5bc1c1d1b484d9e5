"""``xraylab run``: pipeline spec validation, reference resolution, and a tiny end-to-end run with skipping."""

from __future__ import annotations

import copy
from pathlib import Path

import pandas as pd
import pytest
import yaml

from xraylab.errors import ConfigError, InputFileError
from xraylab.pipeline import MARKER, load_pipeline, parse_pipeline, run_pipeline

REPO = Path(__file__).resolve().parents[1]
SIM = REPO / "simulations"
SMOKE = SIM / "pipeline_smoke.yaml"


def _raw() -> dict:
    return yaml.safe_load(SMOKE.read_text(encoding="utf-8"))


def _parse(raw: dict, tmp_path: Path):
    return parse_pipeline(raw, "pipe.yaml", base=SIM, workdir=tmp_path)


# --------------------------------------------------------------------------- validation
def test_smoke_spec_parses_and_resolves_references(tmp_path):
    pipe = load_pipeline(SMOKE, workdir=tmp_path)
    steps = {s.name: s for s in pipe.steps}
    assert [s.stage for s in pipe.steps] == ["generate", "generate", "degrade", "train", "evaluate"]
    assert steps["gen_train"].out == tmp_path.resolve() / "gen_train"
    assert steps["gen_train"].options["spec"] == str((SIM / "demo.yaml").resolve())
    assert steps["degrade_heldout"].options["dataset"] == str(tmp_path.resolve() / "gen_heldout")
    assert steps["train_unet"].options["data"] == {
        "syn": str(tmp_path.resolve() / "gen_train"), "heldout": str(tmp_path.resolve() / "gen_heldout")}
    assert steps["train_unet"].needs == ["gen_heldout", "gen_train"]
    ev = steps["evaluate"].options["spec"]
    assert ev["models"][0]["path"] == str(tmp_path.resolve() / "train_unet")
    assert ev["corruption"]["dataset"] == str(tmp_path.resolve() / "degrade_heldout")


def test_unknown_field_names_file_and_field(tmp_path):
    raw = _raw()
    raw["steps"][2]["degrade"]["sevrity"] = 3
    with pytest.raises(ConfigError, match=r"pipe\.yaml.*steps\.2\.degrade\.sevrity"):
        _parse(raw, tmp_path)
    raw = _raw()
    raw["colour"] = "red"
    with pytest.raises(ConfigError, match=r"pipe\.yaml.*colour"):
        _parse(raw, tmp_path)


def test_step_needs_exactly_one_stage(tmp_path):
    raw = _raw()
    raw["steps"][0]["degrade"] = {"dataset": "x"}
    with pytest.raises(ConfigError, match=r"steps\.0.*exactly one of import, generate, degrade, train, evaluate"):
        _parse(raw, tmp_path)
    raw = _raw()
    raw["steps"].append({"name": "nothing"})
    with pytest.raises(ConfigError, match="exactly one"):
        _parse(raw, tmp_path)


def test_reference_to_unknown_or_later_step_is_an_error(tmp_path):
    raw = _raw()
    raw["steps"][2]["degrade"]["dataset"] = "${gen_nope.out}"
    with pytest.raises(ConfigError, match=r"steps\[2\] \(degrade_heldout\)\.degrade\.dataset.*gen_nope\.out"):
        _parse(raw, tmp_path)
    raw = _raw()  # the degrade step may not read the train step's output (it runs later)
    raw["steps"][2]["degrade"]["dataset"] = "${train_unet.out}"
    with pytest.raises(ConfigError, match="train_unet.out"):
        _parse(raw, tmp_path)


def test_duplicate_names_missing_spec_and_shared_outputs(tmp_path):
    raw = _raw()
    raw["steps"][1]["name"] = "gen_train"
    with pytest.raises(ConfigError, match="repeated: gen_train"):
        _parse(raw, tmp_path)
    raw = _raw()
    raw["steps"][0]["generate"]["spec"] = "no_such_spec.yaml"
    with pytest.raises(ConfigError, match=r"steps\[0\].*generate\.spec.*no_such_spec\.yaml.*not found"):
        _parse(raw, tmp_path)
    raw = _raw()
    raw["steps"][1]["out"] = "${gen_train.out}"
    with pytest.raises(ConfigError, match="share an output folder"):
        _parse(raw, tmp_path)
    with pytest.raises(InputFileError, match="not found"):
        load_pipeline(tmp_path / "absent.yaml")


def test_bad_option_type_and_unknown_step_selection(tmp_path):
    raw = _raw()
    raw["steps"][3]["train"]["epochs"] = 0
    with pytest.raises(ConfigError, match=r"steps\.3\.train\.epochs"):
        _parse(raw, tmp_path)
    pipe = _parse(_raw(), tmp_path)
    with pytest.raises(ConfigError, match="unknown step.*bogus"):
        run_pipeline(pipe, only=["bogus"], log=lambda m: None)


def test_dry_run_runs_nothing(tmp_path):
    pipe = _parse(_raw(), tmp_path / "w")
    res = run_pipeline(pipe, dry_run=True, log=lambda m: None)
    assert [r.status for r in res] == ["planned"] * 5
    assert not (tmp_path / "w").exists()


def test_cli_raises_config_error_naming_file_and_field(tmp_path):
    from typer.testing import CliRunner

    from xraylab.cli import app

    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nworkdir: w\nsteps: []\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["run", str(bad)])
    assert result.exit_code != 0
    assert isinstance(result.exception, ConfigError)
    assert "steps" in str(result.exception) and "bad.yaml" in str(result.exception)


# --------------------------------------------------------------------------- end to end
@pytest.mark.slow
def test_smoke_pipeline_end_to_end_and_skips_completed_steps(tmp_path):
    work = tmp_path / "work"
    logs: list[str] = []
    res = run_pipeline(load_pipeline(SMOKE, workdir=work), log=logs.append)
    assert [r.status for r in res] == ["ran"] * 5

    # every stage wrote its outputs
    train = pd.read_csv(work / "train_unet" / "metrics.csv")
    assert list(train["epoch"]) == [1, 2]
    assert (work / "train_unet" / "checkpoints" / "best.pt").is_file()
    degraded = pd.read_parquet(work / "degrade_heldout" / "manifest.parquet")
    assert len(degraded) == 3 * (1 + 2 * 2)  # 3 views x (clean + 2 corruptions x 2 levels)

    results = pd.read_parquet(work / "evaluate" / "results.parquet")
    rot = results[(results["suite"] == "rotation") & (results["metric"] == "dice") & (results["class"] == "heart")]
    assert sorted(rot["angle"].tolist()) == [-10.0, 2.0, 10.0]
    assert set(rot["model"]) == {"U-Net"}
    assert rot["value"].between(0, 1).all()
    cor = results[(results["suite"] == "corruption") & (results["metric"] == "dice") & (results["class"] == "heart")]
    settings = set(zip(cor["corruption"], cor["severity"]))
    assert settings == {("none", 0.0), ("gaussian_noise", 2.0), ("gaussian_noise", 4.0),
                        ("gaussian_blur", 2.0), ("gaussian_blur", 4.0)}
    assert len(cor) == 15
    summary = (work / "evaluate" / "summary.md").read_text(encoding="utf-8")
    assert "Rotation suite" in summary and "Corruption suite" in summary
    assert (work / "evaluate" / "figures" / "rotation_dice_boxplot.png").is_file()

    # a second run skips every step and rewrites nothing
    stamps = {p: p.stat().st_mtime_ns for p in work.rglob("*") if p.is_file()}
    res2 = run_pipeline(load_pipeline(SMOKE, workdir=work), log=lambda m: None)
    assert [r.status for r in res2] == ["skipped"] * 5
    assert {p: p.stat().st_mtime_ns for p in work.rglob("*") if p.is_file()} == stamps

    # changing the evaluate step re-runs it alone; the upstream steps stay skipped
    raw = copy.deepcopy(_raw())
    raw["steps"][4]["evaluate"]["batch_size"] = 2
    res3 = run_pipeline(parse_pipeline(raw, str(SMOKE), base=SIM, workdir=work), log=lambda m: None)
    assert [r.status for r in res3] == ["skipped"] * 4 + ["ran"]
    assert (work / "evaluate" / MARKER).stat().st_mtime_ns != stamps[work / "evaluate" / MARKER]

    # a lost completion record: the step runs again and the stage resumes (training does not restart)
    (work / "train_unet" / MARKER).unlink()
    res4 = run_pipeline(load_pipeline(SMOKE, workdir=work), only=["train_unet"], log=lambda m: None)
    assert [(r.name, r.status) for r in res4] == [("train_unet", "ran")]
    assert list(pd.read_csv(work / "train_unet" / "metrics.csv")["epoch"]) == [1, 2]


def test_import_step_brings_a_real_folder_in_and_is_skipped_when_done(tmp_path):
    """An ``import`` step runs ``xraylab import`` (here the generic folder layout) and resumes like the others."""
    import numpy as np
    from PIL import Image

    src = tmp_path / "src"
    for i in range(4):
        img = np.zeros((20, 24), np.uint8)
        img[4:16, 3:10] = 200
        (src / "images").mkdir(parents=True, exist_ok=True)
        Image.fromarray(img).save(src / "images" / f"case{i}.png")
        for s, cols in (("right_lung", slice(3, 10)), ("left_lung", slice(14, 21))):
            m = np.zeros((20, 24), np.uint8)
            m[4:16, cols] = 255
            (src / "masks" / s).mkdir(parents=True, exist_ok=True)
            Image.fromarray(m).save(src / "masks" / s / f"case{i}.png")
    raw = {"workdir": str(tmp_path / "w"), "steps": [
        {"name": "real", "import": {"layout": "folder", "root": str(src), "size": 32, "split": "test"}}]}
    pipe = parse_pipeline(raw, "pipe.yaml", base=tmp_path)
    assert pipe.steps[0].stage == "import" and pipe.steps[0].options["root"] == str(src)
    first = run_pipeline(pipe, log=lambda m: None)
    assert [r.status for r in first] == ["ran"]
    df = pd.read_parquet(tmp_path / "w" / "real" / "manifest.parquet")
    assert len(df) == 4 and {"mask:left_lung", "mask:right_lung", "mask:lungs"} <= set(df.columns)
    assert [r.status for r in run_pipeline(pipe, log=lambda m: None)] == ["skipped"]


@pytest.mark.parametrize("name", ["sim2real_cpu.yaml", "sim2real_gpu.yaml", "pipeline_readme.yaml",
                                  "sim2real_population_cpu.yaml", "sim2real_population_gpu.yaml",
                                  "sim2real_synval_cpu.yaml", "sim2real_beyond_cpu.yaml", "ward_real_cpu.yaml"])
def test_shipped_pipelines_and_their_inline_specs_validate(name, tmp_path):
    """Every step of the shipped sim-to-real pipelines parses, and each inline generate / train spec validates."""
    from xraylab.data.spec import parse_spec as generate_spec
    from xraylab.train.spec import parse_spec as train_spec

    pipe = load_pipeline(SIM / name, workdir=tmp_path)
    raw = yaml.safe_load((SIM / name).read_text(encoding="utf-8"))
    stages = {s.name: s.stage for s in pipe.steps}
    for step in raw["steps"]:
        if isinstance(step.get("generate", {}).get("spec"), dict):
            generate_spec(step["generate"]["spec"], step["name"])
        if isinstance(step.get("train", {}).get("spec"), dict):
            train_spec(step["train"]["spec"], step["name"])
    if name == "sim2real_population_cpu.yaml":
        assert stages["syn_3ct_sil10"] == "generate" and sum(s == "evaluate" for s in stages.values()) == 7
    elif name == "sim2real_population_gpu.yaml":  # 3 seeds x 4 rows; synthetic-only rows choose on synthetic views
        assert stages["syn_3ct_sil21"] == "generate" and sum(s == "evaluate" for s in stages.values()) == 12
        syn_only = [s for s in raw["steps"] if "train" in s and "real" not in s["train"]["data"]]
        assert len(syn_only) == 9 and all(s["train"]["spec"]["data"][0].get("val_group") == "subject"
                                          for s in syn_only)
    elif name == "sim2real_synval_cpu.yaml":
        synval = [s for s in raw["steps"] if s["name"].startswith("synval_")]
        assert len(synval) == 3 and all(len(s["train"]["spec"]["data"]) == 1 for s in synval)
    elif name in ("sim2real_beyond_cpu.yaml", "ward_real_cpu.yaml"):
        assert stages["real"] == "import"
    elif name.startswith("sim2real"):
        assert stages["real"] == "import" and stages["train_syn_random"] == "train"
        assert sum(s == "evaluate" for s in stages.values()) == 10
