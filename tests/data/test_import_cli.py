"""``xraylab import`` end to end through the CLI: help from the registry, a folder import, one-line errors."""

from __future__ import annotations

import subprocess
import sys

import pytest

from xraylab.data.manifest import read_dataset_json, read_manifest

from .import_helpers import write_folder_set

XRAYLAB = [sys.executable, "-m", "xraylab.cli"]


def run(*args, cwd=None):
    """The installed entry point in a subprocess (the real end-to-end path)."""
    return subprocess.run([*XRAYLAB, *map(str, args)], capture_output=True, encoding="utf-8", cwd=cwd, timeout=600)


def run_main(monkeypatch, capsys, *args) -> tuple[int, str, str]:
    """``xraylab.cli.main`` in this process (fast): exit status, stdout, stderr."""
    from xraylab import cli

    monkeypatch.setattr(sys, "argv", ["xraylab", *map(str, args)])
    code = 0
    try:
        cli.main()
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_import_help_lists_the_layouts_from_the_registry(monkeypatch, capsys):
    from xraylab.data.importers import LAYOUTS

    code, out, err = run_main(monkeypatch, capsys, "import", "--help")
    assert code == 0, err
    for name in LAYOUTS.names():
        assert name in out
    code, out, _ = run_main(monkeypatch, capsys, "import", "jsrt", "--help")
    assert code == 0 and "--scr" in out and "fold1" in out and "pixels" in out
    _, out, _ = run_main(monkeypatch, capsys, "import", "chestx_det", "--help")
    assert "--annotations" in out and "--scr" not in out


def test_cli_folder_import_end_to_end_and_resume(tmp_path):
    src = tmp_path / "src"
    write_folder_set(src, n=4, patients=["a", "a", "b", "c"])
    out = tmp_path / "out"
    args = ("import", "folder", src, "--out", out, "--size", "24x32", "--rename", "heart=cardiomediastinum",
            "--split", "train=0.5,val=0.5", "--seed", "1", "--quiet")
    r = run(*args)
    assert r.returncode == 0, r.stderr
    assert "4 images imported" in r.stdout and "3 subjects" in r.stdout
    df = read_manifest(out)
    assert len(df) == 4 and (df["height"] == 24).all() and (df["width"] == 32).all()
    assert "mask:cardiomediastinum" in df.columns and set(df["split"]) <= {"train", "val"}
    assert read_dataset_json(out)["structure_definitions"]["cardiomediastinum"]
    r = run(*args)
    assert r.returncode == 0 and "0 images imported, 4 already complete" in r.stdout


@pytest.mark.parametrize("extra, message", [
    (["--split", "train=x"], "--split"),
    (["--rename", "spleen=x"], "--rename: no structure spleen"),
    (["--size", "big"], "--size"),
    (["--normalize", "zscore"], "--normalize 'zscore'"),
])
def test_cli_bad_input_is_one_line_exit_2_and_no_output(tmp_path, monkeypatch, capsys, extra, message):
    src = tmp_path / "src"
    write_folder_set(src, n=2)
    out = tmp_path / "out"
    code, _, err = run_main(monkeypatch, capsys, "import", "folder", src, "--out", out, "-q", *extra)
    assert code == 2, err
    err = err.strip()
    assert err.startswith("xraylab: error:") and message in err and len(err.splitlines()) == 1
    assert not out.exists()


def test_cli_missing_mask_names_the_file(tmp_path, monkeypatch, capsys):
    src = tmp_path / "src"
    write_folder_set(src, n=2)
    (src / "masks" / "left_lung" / "case_01.png").unlink()
    code, _, err = run_main(monkeypatch, capsys, "import", "folder", src, "--out", tmp_path / "out", "-q")
    assert code == 2
    assert "case_01.png: no 'left_lung' mask" in err and len(err.strip().splitlines()) == 1
