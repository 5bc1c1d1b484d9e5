"""One home per job: the import graph of ``src/xraylab`` has no cycle and no import from a lower layer to a higher
one, and the CLI, generate and the Python API render through the same call (:meth:`xraylab.render.Scene.render`)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def _graph_module():
    spec = importlib.util.spec_from_file_location("import_graph", REPO / "scripts" / "import_graph.py")
    mod = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(mod)  # type: ignore[union-attr]
    return mod


def test_no_import_cycle_and_no_upward_import():
    g = _graph_module()
    graph = g.graph()
    assert len(graph) > 100
    assert g.cycles(graph) == []
    assert g.violations(graph) == []


def test_the_checker_finds_a_cycle_and_an_upward_import():
    g = _graph_module()
    fake = {"xraylab.io.a": {"xraylab.render.b"}, "xraylab.render.b": {"xraylab.io.a"}}
    assert g.cycles(fake) == [["xraylab.io.a", "xraylab.render.b"]]
    assert g.violations(fake) == [("xraylab.io.a", "xraylab.render.b")]


def test_cli_generate_and_api_render_through_scene_render(tmp_path, monkeypatch):
    from xraylab import cli
    from xraylab.data.generate import generate
    from xraylab.render import Scene, load_scene

    calls: list[str] = []
    original = Scene.render

    def counting(self, geometry, physics, **kw):
        calls.append(self.ct.name)
        return original(self, geometry, physics, **kw)

    monkeypatch.setattr(Scene, "render", counting)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["xraylab", "render", "default", "-o", "r", "--downsample", "8", "--rows",
                                      "16", "--cols", "16", "--rotation", "0,10", "--preset", "ideal"])
    try:
        cli.main()
    except SystemExit as exc:
        assert not exc.code
    assert len(calls) == 2 and (tmp_path / "r" / "rotation_10" / "image.png").is_file()
    spec = {"name": "g", "seed": 1, "cts": ["default"], "structures": ["lungs"], "preset": "ideal",
            "geometry": {"rows": 16, "cols": 16}, "sweep": {"grid": {"geometry.rotation_deg": [0, 5, 10]}},
            "render": {"downsample": 8, "n_points": 32}, "output": {"size": 16, "contact_sheet": 0}}
    (tmp_path / "g.yaml").write_text(yaml.safe_dump(spec), encoding="utf-8")
    generate(tmp_path / "g.yaml", tmp_path / "ds", workers=1, progress=False)
    assert len(calls) == 5
    res = load_scene("default", structures=["lungs"], downsample=8, n_points=32).view("ideal", rows=16, cols=16)
    assert len(calls) == 6
    assert res.layers["image"].shape == (1, 1, 16, 16) and res.projection.paths["lungs"].max() > 0
