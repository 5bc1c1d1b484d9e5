"""docs/API.md: every ```python block runs (in a temp folder), and ``import xraylab`` offers each name it lists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[1] / "docs" / "API.md"
BLOCKS = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)


def test_the_page_has_examples_and_names():
    import xraylab

    assert len(BLOCKS) >= 4
    listed = set(re.findall(r"^\| `(\w+)", DOC.read_text(encoding="utf-8"), flags=re.M))
    assert listed >= {"load_ct", "load_scene", "RadiographModule", "generate"}
    for name in listed - {"Scene"}:
        assert callable(getattr(xraylab, name)), name
    assert set(xraylab.__all__) >= listed


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_example_runs(index, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    exec(compile(BLOCKS[index], f"{DOC.name}[{index}]", "exec"), {"__name__": "__api_doc__"})


def test_module_matches_scene_render_without_pose_or_params():
    import torch

    import xraylab

    scene = xraylab.load_scene("default", downsample=8, n_points=48)
    geometry, physics = xraylab.resolve_preset("chest_pa", [], {"rows": 24, "cols": 24, "rotation_deg": 4.0})
    a = xraylab.RadiographModule(scene, geometry, physics, seed=3)()
    b = scene.render(geometry, physics, seed=3).layers
    for key in ("image", "for_processing", "primary", "valid"):
        assert torch.equal(a[key], b[key]), key


def test_import_xraylab_stays_light():
    import subprocess
    import sys

    code = "import sys, xraylab; print('torch' in sys.modules, xraylab.__version__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out[0] == "False"
