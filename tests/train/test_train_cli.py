"""`xraylab train` on the command line, and every simulations/train_*.yaml spec validates."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from train_shapes import base_spec

from xraylab.cli import main
from xraylab.train.spec import load_spec

REPO = Path(__file__).resolve().parents[2]
SPECS = sorted((REPO / "simulations").glob("train_*.yaml"))


def _run_cli(monkeypatch, capsys, *args) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["xraylab", *map(str, args)])
    code = 0
    try:
        main()
    except SystemExit as exc:
        code = exc.code or 0
    out = capsys.readouterr()
    return code, out.out, out.err


def test_specs_exist_for_every_task():
    tasks = {yaml.safe_load(p.read_text(encoding="utf-8"))["task"] for p in SPECS}
    assert tasks == {"segmentation", "classification", "severity", "type"}
    assert any("smoke" in p.name for p in SPECS) and any("fok" in p.name for p in SPECS)


@pytest.mark.parametrize("path", SPECS, ids=[p.stem for p in SPECS])
def test_simulation_spec_validates(path):
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    paths = {d["name"]: "/data/" + d["name"] for d in raw["data"]}
    spec = load_spec(path, paths)
    assert all(d.path for d in spec.data)


def test_cli_trains_from_a_spec_with_data_on_the_command_line(shapes_dir, tmp_path, monkeypatch, capsys):
    raw = base_spec(shapes_dir, epochs=1, steps_per_epoch=1, task="classification", model={"name": "small_cnn"},
                    loss={"name": "ce"})
    raw["data"] = [{"name": "real", "path": None}]
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(raw), encoding="utf-8")
    code, out, err = _run_cli(monkeypatch, capsys, "train", spec, "--data", f"real={shapes_dir}",
                              "--out", tmp_path / "run", "--no-progress", "--epochs", "2")
    assert code == 0, err
    assert "2 epoch(s), completed" in out
    assert len(pd.read_csv(tmp_path / "run" / "metrics.csv")) == 2


def test_cli_bad_spec_is_one_line_and_exit_2(shapes_dir, tmp_path, monkeypatch, capsys):
    raw = base_spec(shapes_dir, model={"name": "resnet9000"})
    spec = tmp_path / "bad.yaml"
    spec.write_text(yaml.safe_dump(raw), encoding="utf-8")
    code, out, err = _run_cli(monkeypatch, capsys, "train", spec, "--out", tmp_path / "run")
    assert code == 2
    assert err.startswith("xraylab: error:") and "resnet9000" in err and err.count("\n") == 1
    assert not (tmp_path / "run").exists()
