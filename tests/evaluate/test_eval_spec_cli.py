"""Spec validation, the shipped simulations/evaluate_*.yaml specs, and the CLI."""

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from xraylab.errors import ConfigError
from xraylab.evaluate import load_spec, parse_spec
from xraylab.evaluate.suites import SUITES

from .helpers import make_rotation_dataset, seg_model, train_threshold_net

REPO = Path(__file__).resolve().parents[2]
SPECS = sorted((REPO / "simulations").glob("evaluate_*.yaml"))


def test_every_registered_suite_is_shipped():
    suites = set()
    for p in SPECS:
        s = load_spec(p)
        suites |= {n for n in SUITES.names() if getattr(s, n) is not None}
        assert Path(s.output).is_absolute() and str(s.output).startswith(str(REPO))
    assert suites == set(SUITES.names())


def test_unknown_field_names_path_and_file(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text(yaml.safe_dump({"output": "o", "models": [{"name": "m", "path": "x"}],
                                 "rotation": {"dataset": "d", "refrence": "m"}}), encoding="utf-8")
    with pytest.raises(ConfigError) as exc:
        load_spec(p)
    assert "rotation.refrence" in str(exc.value) and str(p) in str(exc.value)


def test_unknown_model_reference_is_rejected():
    with pytest.raises(ConfigError, match="unknown model name"):
        parse_spec({
            "output": "o", "models": [{"name": "m", "path": "x"}],
            "corruption": {"dataset": "d", "loco": {"noise": "other"}},
        })
    with pytest.raises(ConfigError, match="no suite"):
        parse_spec({"output": "o", "models": [{"name": "m", "path": "x"}]})


def test_cli_bad_spec_exits_2_with_one_line(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("output: o\nmodels: []\nrotation: {dataset: d}\n", encoding="utf-8")
    r = subprocess.run(
        [sys.executable, "-m", "xraylab.cli", "evaluate", str(p)], capture_output=True, encoding="utf-8", timeout=300
    )
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0 and "models" in r.stderr


def test_cli_runs_a_spec(tmp_path, monkeypatch):
    from xraylab import cli
    from xraylab.evaluate import models as models_mod

    make_rotation_dataset(tmp_path / "data", subjects=1)
    net = train_threshold_net(tmp_path / "data", steps=60)
    monkeypatch.setattr(models_mod, "load_model_spec", lambda name, path, device: seg_model(name, net))
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump({"output": "run", "models": [{"name": "tiny", "path": "ckpt"}],
                                    "rotation": {"dataset": "data", "split": "test"}}), encoding="utf-8")
    r = CliRunner().invoke(cli.app, ["evaluate", str(spec), "--max-images", "3"])
    assert r.exit_code == 0, r.output
    df = pd.read_parquet(tmp_path / "run" / "results.parquet")
    assert df["image"].nunique() == 3 and set(df["model"]) == {"tiny"}
    assert (tmp_path / "run" / "summary.md").is_file() and (tmp_path / "run" / "evaluate.json").is_file()


def test_pool_rejects_wrong_kind_and_empty_selection():
    from xraylab.evaluate.models import ModelPool

    from .helpers import MeanClassifier, ThresholdNet, cls_model

    pool = ModelPool({}, preloaded={"clf": cls_model("clf", MeanClassifier([1.0], [0.0]), ["a"])})
    with pytest.raises(ConfigError, match="no segmentation model"):
        pool.select(None, segmentation=True)
    with pytest.raises(ConfigError, match="not segmentation"):
        pool.select(["clf"], segmentation=True)
    pool = ModelPool({}, preloaded={"seg": seg_model("seg", ThresholdNet())})
    assert [m.name for m in pool.select(None, segmentation=True)] == ["seg"]
