"""The CLI: help texts, a small render, and bad input → one-line error, exit 2, no output folder."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

XRAYLAB = [sys.executable, "-m", "xraylab.cli"]


def run(*args, cwd=None):
    return subprocess.run([*XRAYLAB, *map(str, args)], capture_output=True, encoding="utf-8", cwd=cwd, timeout=600)


def test_render_help_documents_every_option_with_units():
    r = run("render", "--help")
    assert r.returncode == 0
    text = r.stdout
    for opt in ("--out", "--labels", "--preset", "--rotation", "--rows", "--cols", "--pitch", "--structures",
                "--device", "--set", "--renderer"):
        assert opt in text, opt
    assert "degrees" in text and "mm" in text


@pytest.mark.slow
def test_render_default_ct_writes_layers_masks_preview_and_metadata(tmp_path):
    out = tmp_path / "r"
    r = run("render", "default", "--out", out, "--downsample", "4", "--rows", "64", "--cols", "64",
            "--structures", "clavicles,lungs", "--rotation", "10", "--preset", "ideal")
    assert r.returncode == 0, r.stderr
    layers = np.load(out / "layers.npz")
    assert {"material/bone", "material/lung", "path/clavicles", "path/lungs", "physics/image"} <= set(layers.files)
    assert layers["material/bone"].dtype == np.float32 and layers["material/bone"].shape == (64, 64)
    assert (out / "masks" / "lungs.png").is_file() and (out / "preview.png").is_file()
    meta = json.loads((out / "metadata.json").read_text(encoding="utf-8"))
    assert meta["geometry"]["rotation_deg"] == 10.0 and meta["geometry"]["rows"] == 64
    assert meta["supersample"] == 1 and meta["rays_per_pixel_axis"] == 1
    assert "torch" in meta["versions"]
    assert not list(tmp_path.glob(".*partial*"))


@pytest.mark.parametrize(
    "args, message",
    [
        (["missing.nii.gz"], "missing.nii.gz: CT not found"),
        (["default", "--structures", "livr", "--downsample", "8"], "unknown structure 'livr'"),
        (["default", "--preset", "mammo", "--downsample", "8"], "unknown physics preset 'mammo'"),
        (["default", "--sod", "2000", "--downsample", "8"], "sod_mm"),
        (["default", "--supersample", "9", "--downsample", "8"], "--supersample '9'"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_no_output_folder(tmp_path, args, message):
    out = tmp_path / "out"
    r = run("render", *args, "--out", out, cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    err = r.stderr.strip()
    assert err.startswith("xraylab: error:") and message in err and len(err.splitlines()) == 1
    assert not out.exists() and not list(tmp_path.glob(".out*"))


def test_demo_spec_is_one_file_shipped_in_the_package():
    # `xraylab demo` reads the spec from the installed package; simulations/demo.yaml is a link to that file,
    # so the repository and an installed package run the same job from one copy.
    from pathlib import Path

    from xraylab.commands import demo

    shipped = demo.demo_spec_path()
    repo = Path(__file__).resolve().parents[1] / "simulations" / "demo.yaml"
    assert shipped.is_file() and repo.resolve() == shipped.resolve()
