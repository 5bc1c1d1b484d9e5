"""``--overwrite`` never deletes what xraylab did not write, and no command writes inside its own inputs.

Each case builds user files in a temp working folder, runs the CLI in-process, and asserts: a non-zero exit, one
stderr line naming the folder, and every user file still there with its bytes unchanged.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from test_bad_inputs import _body, _ct, _dataset, _dicom_series, _gen_spec, run_cli
from xraylab.errors import ConfigError
from xraylab.io.ownership import MARKER, check_not_inside_inputs, check_replaceable, is_owned


def _snapshot(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _user_folder(w: Path) -> Path:
    d = w / "mine"
    (d / "sub").mkdir(parents=True)
    (d / "notes.txt").write_text("my thesis\n", encoding="utf-8")
    (d / "sub" / "data.bin").write_bytes(b"\x00\x01")
    return d


RENDER = ["--rows", "8", "--cols", "8", "--preset", "ideal", "--downsample", "1"]


def k_render_into_dicom_series(w):
    s = _dicom_series(w / "series")
    return ["render", s, "--out", s, "--overwrite", *RENDER], "is the input"


def k_render_inside_dicom_series(w):
    s = _dicom_series(w / "series")
    return ["render", s, "--out", s / "x", "--overwrite", *RENDER], "lies inside the input"


def k_render_over_user_folder(w):
    return ["render", _ct(w / "ct.nii.gz", _body()), "--out", _user_folder(w), "--overwrite", *RENDER], \
        "not made by xraylab"


def k_render_over_user_folder_several_views(w):
    return ["render", _ct(w / "ct.nii.gz", _body()), "--out", _user_folder(w), "--overwrite", "--rotation", "0,10",
            *RENDER], "output folder exists and is not empty"


def k_render_over_working_folder(w):
    _user_folder(w)
    return ["render", _ct(w / "ct.nii.gz", _body()), "--out", ".", "--overwrite", *RENDER], "working folder"


def k_render_over_parent_of_working_folder(w):
    _user_folder(w)
    return ["render", _ct(w / "ct.nii.gz", _body()), "--out", "..", "--overwrite", *RENDER], "working folder"


def k_import_inside_source(w):
    src = _dataset(w / "src")
    return ["import", "folder", src, "--out", src / "masks" / "imp", "-q", "--size", "16"], "lies inside the input"


def k_import_overwrite_user_folder(w):
    src = _dataset(w / "src")
    return ["import", "folder", src, "--out", _user_folder(w), "-q", "--size", "16", "--overwrite"], \
        "not an xraylab dataset"


def k_degrade_inside_source(w):
    src = _dataset(w / "d")
    return ["degrade", src, "--out", src / "deg", "--corruptions", "gaussian_noise", "--levels", "1"], \
        "lies inside the input"


def k_generate_inside_ct_folder(w):
    (w / "cts").mkdir()
    ct = _ct(w / "cts" / "ct.nii.gz", _body())
    lab = np.zeros((10, 12, 14), np.uint8)
    lab[2:8, 3:9, 3:11] = 1
    _ct(w / "cts" / "seg.nii.gz", lab)
    (w / "cts" / "t.csv").write_text("id,structure\n1,heart\n", encoding="utf-8")
    cts = [{"path": str(ct), "labels": str(w / "cts" / "seg.nii.gz"), "structure_table": str(w / "cts" / "t.csv")}]
    return ["generate", _gen_spec(w, cts=cts, structures=["heart"]), "-o", ct, "-q", "--workers", "1"], \
        "is the input"


def k_generate_overwrite_user_folder(w):
    return ["generate", _gen_spec(w), "-o", _user_folder(w), "-q", "--overwrite"], "not an xraylab dataset"


CASES = {name[2:]: fn for name, fn in dict(globals()).items() if name.startswith("k_") and callable(fn)}


@pytest.mark.parametrize("case", sorted(CASES))
def test_overwrite_and_inside_inputs_lose_nothing(case, sandbox, capsys, monkeypatch):
    argv, needle = CASES[case](sandbox)
    before = _snapshot(sandbox.parent)
    code, _, err = run_cli(argv, capsys, monkeypatch)
    lines = err.strip().splitlines()
    assert code == 2, f"{case}: exit {code}; {err}"
    assert len(lines) == 1 and lines[0].startswith("xraylab: error: "), err
    assert needle in lines[0], f"{case}: {needle!r} not in {lines[0]!r}"
    after = _snapshot(sandbox.parent)
    assert {k: v for k, v in after.items() if k in before} == before, f"{case}: a user file changed or vanished"


def test_render_overwrite_replaces_its_own_folder_and_marks_it(sandbox, capsys, monkeypatch):
    ct = _ct(sandbox / "ct.nii.gz", _body())
    code, _, err = run_cli(["render", ct, "--out", "r", *RENDER], capsys, monkeypatch)
    assert code == 0, err
    assert is_owned(sandbox / "r") and (sandbox / "r" / MARKER).is_file()
    (sandbox / "r" / "stale.txt").write_text("from the first run\n", encoding="utf-8")
    code, _, err = run_cli(["render", ct, "--out", "r", "--overwrite", *RENDER], capsys, monkeypatch)
    assert code == 0, err
    assert (sandbox / "r" / "image.png").is_file() and not (sandbox / "r" / "stale.txt").exists()


def test_render_several_views_marks_the_parent_and_reruns_with_overwrite(sandbox, capsys, monkeypatch):
    ct = _ct(sandbox / "ct.nii.gz", _body())
    args = ["render", ct, "--out", "r", "--rotation", "0,10", *RENDER]
    assert run_cli(args, capsys, monkeypatch)[0] == 0
    assert is_owned(sandbox / "r") and is_owned(sandbox / "r" / "rotation_10")
    code, _, err = run_cli(args + ["--overwrite"], capsys, monkeypatch)
    assert code == 0, err


def test_replaceable_refuses_root_cwd_inputs_and_foreign_folders(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "own" / ".xraylab").mkdir(parents=True)
    (tmp_path / "own" / MARKER).write_text("{}", encoding="utf-8")
    (tmp_path / "own" / "input.nii.gz").write_bytes(b"x")
    check_replaceable(tmp_path / "own")  # ours, no inputs inside: fine
    check_replaceable(tmp_path / "absent")  # nothing to delete: fine
    for target, inputs, needle in [("/", (), "working folder"), (tmp_path, (), "working folder"),
                                   (tmp_path / "own", [tmp_path / "own" / "input.nii.gz"], "delete the input")]:
        with pytest.raises(ConfigError, match=needle):
            check_replaceable(target, inputs)
    (tmp_path / "theirs").mkdir()
    (tmp_path / "theirs" / "f").write_text("x", encoding="utf-8")
    with pytest.raises(ConfigError, match="not made by xraylab"):
        check_replaceable(tmp_path / "theirs")


def test_not_inside_inputs_follows_symlinks(tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "src")
    with pytest.raises(ConfigError, match="lies inside the input"):
        check_not_inside_inputs(tmp_path / "link" / "out", [tmp_path / "src"])
    check_not_inside_inputs(tmp_path / "elsewhere", [tmp_path / "src", None, "default"])
