"""The shared dataset writer: ownership, per-item atomic writes + records, crash/resume, manifest, metadata."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import textwrap

import pandas as pd
import pytest

from xraylab.data.manifest import read_dataset_json, read_manifest
from xraylab.data.writer import JOB_FILE, RECORDS_DIR, DatasetWriter
from xraylab.errors import ConfigError


def _row(i: str) -> dict:
    return {"image_id": i, "subject_id": f"p{i}", "split": "test", "image": f"images/{i}.png",
            "mask:lung": f"masks/lung/{i}.png", "label": 1, "note": "images/not-written.png"}


def _files(i: str) -> dict[str, bytes]:
    return {f"images/{i}.png": f"image {i}".encode(), f"masks/lung/{i}.png": f"mask {i}".encode()}


def _sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def test_items_sha_columns_manifest_order_and_metadata(tmp_path):
    out = tmp_path / "ds"
    w = DatasetWriter(out, kind="import", fingerprint="f1", job={"source": "x"})
    assert (out / JOB_FILE).is_file() and (out / RECORDS_DIR).is_dir()
    for i in ("b", "c", "a"):
        assert not w.is_done(i)
        row = w.write_item(i, _files(i), _row(i))
        assert row["sha256:image"] == _sha(f"image {i}".encode())
        assert row["sha256:mask:lung"] == _sha(f"mask {i}".encode())
        assert "sha256:note" not in row and "sha256:label" not in row  # only columns naming a written file
        assert w.is_done(i, list(_files(i)))
    assert list(row) == [*_row("a"), "sha256:image", "sha256:mask:lung"]
    assert [r["image_id"] for r in w.records()] == ["a", "b", "c"]
    assert [r["image_id"] for r in w.records(["c", "zz", "a"])] == ["c", "a"]  # incomplete ids are left out

    seen = {}

    def sheet(folder, rows):
        seen["args"] = (folder, [r["image_id"] for r in rows])
        return None

    path = w.finish({"name": "demo", "counts": {"subjects": 3}}, order=["c", "a", "b"], contact_sheet=sheet)
    assert path == out / "manifest.parquet"
    df = read_manifest(out)
    assert list(df["image_id"]) == ["c", "a", "b"]  # the given order, not sorted
    assert (df["sha256:image"] == [_sha(f"image {i}".encode()) for i in "cab"]).all()
    assert seen["args"] == (out, ["c", "a", "b"])
    info = read_dataset_json(out)
    assert info["name"] == "demo" and info["stage"] == "import" and info["complete"] is True
    assert info["counts"] == {"items": 3, "subjects": 3} and "numpy" in info["versions"]


def test_finish_refuses_incomplete_items(tmp_path):
    w = DatasetWriter(tmp_path / "ds", kind="import", fingerprint="f")
    w.write_item("a", _files("a"), _row("a"))
    with pytest.raises(ConfigError, match="1 of 2 items are not complete"):
        w.finish({}, order=["a", "b"])
    assert not (tmp_path / "ds" / "dataset.json").exists()


def test_sha_for_every_column_naming_a_written_file(tmp_path):
    w = DatasetWriter(tmp_path / "ds", kind="import", fingerprint="f")
    row = w.write_item("a", {"images/a.png": b"x"}, {"image_id": "a", "image": "images/a.png",
                                                     "original": "images/a.png", "sha256:image": "stale"})
    assert row["sha256:image"] == row["sha256:original"] == _sha(b"x")
    assert list(row)[:4] == ["image_id", "image", "original", "sha256:image"]  # an existing sha column keeps its place


def test_fingerprint_mismatch_overwrite_and_foreign_folders(tmp_path):
    out = tmp_path / "ds"
    w = DatasetWriter(out, kind="degrade", fingerprint="f1", job={"seed": 0, "source": "/a"})
    w.write_item("a", _files("a"), _row("a"))
    # the same job resumes
    assert DatasetWriter(out, kind="degrade", fingerprint="f1", job={"seed": 0, "source": "/a"}).is_done("a")
    with pytest.raises(ConfigError, match=r"different spec or settings \(seed: 0 → 9\).*--overwrite") as exc:
        DatasetWriter(out, kind="degrade", fingerprint="f2", job={"seed": 9, "source": "/a"})
    assert "\n" not in str(exc.value)
    with pytest.raises(ConfigError, match="kind: 'degrade' → 'generate'"):
        DatasetWriter(out, kind="generate", fingerprint="f1", job={"seed": 0, "source": "/a"})
    assert (out / "images" / "a.png").is_file()  # refused: nothing deleted
    w2 = DatasetWriter(out, kind="degrade", fingerprint="f2", overwrite=True)
    assert not w2.is_done("a") and not (out / "images").exists()
    assert json.loads((out / JOB_FILE).read_text(encoding="utf-8"))["fingerprint"] == "f2"
    assert not list(tmp_path.glob(".ds.deleting-*"))

    stranger = tmp_path / "home"
    stranger.mkdir()
    (stranger / "thesis.tex").write_text("precious", encoding="utf-8")
    (stranger / ".keep.1.tmp").write_text("user file", encoding="utf-8")
    for overwrite in (False, True):
        with pytest.raises(ConfigError, match="not an xraylab dataset"):
            DatasetWriter(stranger, kind="import", fingerprint="f", overwrite=overwrite)
    assert sorted(p.name for p in stranger.iterdir()) == [".keep.1.tmp", "thesis.tex"]  # untouched, not even cleaned

    # a folder holding only .xraylab/ is one another shard is starting in
    starting = tmp_path / "shard"
    (starting / ".xraylab" / "records").mkdir(parents=True)
    DatasetWriter(starting, kind="generate", fingerprint="f", clean_temporaries=False)
    assert (starting / JOB_FILE).is_file()


def test_bad_ids_and_paths_are_refused(tmp_path):
    w = DatasetWriter(tmp_path / "ds", kind="import", fingerprint="f")
    for bad in ("", "a/b", ".hidden", "..", "a\\b"):
        with pytest.raises(ConfigError, match="item id"):
            w.write_item(bad, {}, {"image_id": bad})
    for bad in ("/etc/x.png", "../x.png", ".xraylab/records/a.json", "a/../../x"):
        with pytest.raises(ConfigError, match="dataset file"):
            w.write_item("a", {bad: b"x"}, {"image_id": "a"})
    assert not w.done_ids()


def test_open_attaches_to_a_prepared_folder_only(tmp_path):
    with pytest.raises(ConfigError, match="no .xraylab/job.json"):
        DatasetWriter.open(tmp_path / "nothing")
    DatasetWriter(tmp_path / "ds", kind="generate", fingerprint="f", job={"name": "n"})
    w = DatasetWriter.open(tmp_path / "ds")
    assert (w.kind, w.fingerprint, w.job) == ("generate", "f", {"name": "n"})


def test_legacy_generate_state_is_ours(tmp_path):
    out = tmp_path / "old"
    (out / ".xraylab").mkdir(parents=True)
    (out / ".xraylab" / "spec.json").write_text(json.dumps({"fingerprint": "abc", "name": "x"}), encoding="utf-8")
    (out / "images").mkdir()
    DatasetWriter(out, kind="generate", fingerprint="abc")
    with pytest.raises(ConfigError, match="different spec"):
        DatasetWriter(out, kind="generate", fingerprint="other")


_CRASH = textwrap.dedent("""
    import os, sys
    import xraylab.io.atomic as atomic
    from xraylab.data.writer import DatasetWriter

    out, stage = sys.argv[1], sys.argv[2]
    w = DatasetWriter(out, kind="import", fingerprint="f")
    w.write_item("a", {"images/a.png": b"A" * 1000, "masks/lung/a.png": b"a"},
                 {"image_id": "a", "image": "images/a.png", "mask:lung": "masks/lung/a.png"})
    real_replace = atomic.os.replace

    def dying_replace(src, dst):
        if stage == "mid-file" and str(dst).endswith("b.png") and "masks" in str(dst):
            os._exit(137)  # killed with the mask's temporary written, not renamed
        if stage == "record" and str(dst).endswith("b.json"):
            os._exit(137)  # killed after every file, before the record's rename
        real_replace(src, dst)

    atomic.os.replace = dying_replace
    w.write_item("b", {"images/b.png": b"B" * 1000, "masks/lung/b.png": b"b"},
                 {"image_id": "b", "image": "images/b.png", "mask:lung": "masks/lung/b.png"})
""")


@pytest.mark.parametrize("stage", ["mid-file", "record"])
def test_killed_mid_item_resumes_without_half_written_files(tmp_path, stage):
    out = tmp_path / "ds"
    res = subprocess.run([sys.executable, "-c", _CRASH, str(out), stage], capture_output=True, text=True, timeout=120)
    assert res.returncode == 137, res.stderr
    temps = [p for p in out.rglob("*.tmp")]
    assert temps, "the kill should leave a temporary behind"
    # every non-temporary file is complete: a kill never leaves a half-written file under its final name
    assert (out / "images" / "a.png").read_bytes() == b"A" * 1000
    if (out / "images" / "b.png").exists():
        assert (out / "images" / "b.png").read_bytes() == b"B" * 1000
    assert not (out / "masks" / "lung" / "b.png").exists() or stage == "record"

    w = DatasetWriter(out, kind="import", fingerprint="f")  # the re-run: same job
    assert not list(out.rglob("*.tmp"))  # stale temporaries cleaned
    assert w.is_done("a", ["images/a.png", "masks/lung/a.png"]) and not w.is_done("b")
    w.write_item("b", {"images/b.png": b"B" * 1000, "masks/lung/b.png": b"b"},
                 {"image_id": "b", "image": "images/b.png", "mask:lung": "masks/lung/b.png"})
    w.finish({"name": "x"}, order=["a", "b"])
    df = pd.read_parquet(out / "manifest.parquet")
    assert list(df["image_id"]) == ["a", "b"] and df["sha256:mask:lung"].iloc[1] == _sha(b"b")


def test_resume_redoes_an_item_whose_file_vanished(tmp_path):
    w = DatasetWriter(tmp_path / "ds", kind="import", fingerprint="f")
    w.write_item("a", _files("a"), _row("a"))
    (tmp_path / "ds" / "images" / "a.png").unlink()
    assert w.is_done("a") and not w.is_done("a", list(_files("a")))


def test_partial_manifest_lists_complete_items_only(tmp_path):
    w = DatasetWriter(tmp_path / "ds", kind="generate", fingerprint="f")
    w.write_item("a", _files("a"), _row("a"))
    assert w.write_manifest(["a", "b"], name="manifest.shard-0-of-2.parquet") == 1
    df = pd.read_parquet(tmp_path / "ds" / "manifest.shard-0-of-2.parquet")
    assert list(df["image_id"]) == ["a"]
    assert w.write_manifest(["b"]) == 0 and not (tmp_path / "ds" / "manifest.parquet").exists()
