"""Hardening (issue 13): one writer per folder, temporaries, atomic writes, DICOM gaps, divergence, checkpoints,
and a run interrupted by a full disk that resumes once space is freed."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from test_bad_inputs import _dataset, _dicom_series, run_cli
from xraylab import cli
from xraylab.data.writer import DatasetWriter
from xraylab.errors import BusyError, InputFileError, PathEscapeError, StructureError, TrainingError, WriteConflictError
from xraylab.io import atomic
from xraylab.io.ct import load_ct
from xraylab.io.lock import LOCK_FILE, FolderLock
from xraylab.io.paths import confined, safe_name


def _sleeper() -> subprocess.Popen:
    """A live process of ours (its pid is 'running on this host')."""
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


# --------------------------------------------------------------------------- one writer per folder
def test_a_second_writer_gets_one_line_naming_the_holder(tmp_path):
    out = tmp_path / "ds"
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from xraylab.io.lock import FolderLock; lock = FolderLock(sys.argv[1]).acquire(); "
        "print('held', flush=True); time.sleep(60)"), str(out)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(BusyError) as info:
            DatasetWriter(out, kind="generate", fingerprint="f")
        msg = str(info.value)
        assert f"pid {holder.pid} on {socket.gethostname()}" in msg and str(out / LOCK_FILE) in msg
        assert "\n" not in msg
        with pytest.raises(BusyError):  # a shard cannot join a folder an exclusive writer holds
            DatasetWriter(out, kind="generate", fingerprint="f", clean_temporaries=False)
    finally:
        holder.kill()
        holder.wait()
    # the holder died without releasing: its lock is stale and taken over
    w = DatasetWriter(out, kind="generate", fingerprint="f")
    assert json.loads((out / LOCK_FILE).read_text())["pid"] == os.getpid()
    w.close()
    assert not (out / LOCK_FILE).exists()


def test_stale_lock_of_a_dead_process_is_taken_over_and_finish_releases(tmp_path):
    out = tmp_path / "ds"
    (out / ".xraylab").mkdir(parents=True)
    (out / LOCK_FILE).write_text(json.dumps({"pid": _dead_pid(), "host": socket.gethostname()}))
    w = DatasetWriter(out, kind="import", fingerprint="f")
    w.write_item("a", {"images/a.png": b"x"}, {"image_id": "a", "subject_id": "s", "split": "test",
                                                "image": "images/a.png"})
    w.finish({"name": "t"})
    assert not (out / LOCK_FILE).exists()
    # an empty lock (a writer killed while creating it) is stale once it is older than a few seconds
    (out / LOCK_FILE).write_text("")
    os.utime(out / LOCK_FILE, (time.time() - 60, time.time() - 60))
    DatasetWriter(out, kind="import", fingerprint="f").close()
    # a lock on another host cannot be checked: it stays and is named
    (out / LOCK_FILE).write_text(json.dumps({"pid": 4, "host": "elsewhere.example"}))
    with pytest.raises(BusyError, match="pid 4 on elsewhere.example"):
        DatasetWriter(out, kind="import", fingerprint="f")


def test_shards_share_a_folder_but_exclude_an_exclusive_writer(tmp_path):
    out = tmp_path / "ds"
    a = FolderLock(out, shared=True).acquire()
    sleeper = _sleeper()
    try:  # another shard, alive
        other = out / ".xraylab" / f"lock.shared-{socket.gethostname()}-{sleeper.pid}"
        other.write_text(json.dumps({"pid": sleeper.pid, "host": socket.gethostname()}))
        with pytest.raises(BusyError, match=f"pid {sleeper.pid}"):
            FolderLock(out).acquire()
        assert not (out / LOCK_FILE).exists()  # the failed exclusive attempt removed its own file
    finally:
        sleeper.kill()
        sleeper.wait()
    a.release()
    with FolderLock(out):  # the dead shard's lock is stale
        assert (out / LOCK_FILE).is_file()


def test_import_cli_on_a_folder_another_process_writes(tmp_path, capsys, monkeypatch):
    src = _dataset(tmp_path / "src")
    out = tmp_path / "out"
    sleeper = _sleeper()
    try:
        (out / ".xraylab").mkdir(parents=True)
        (out / LOCK_FILE).write_text(json.dumps({"pid": sleeper.pid, "host": socket.gethostname(),
                                                 "command": "xraylab import folder x"}))
        rc, _, err = run_cli(["import", "folder", src, "--out", out, "-q", "--size", "16"], capsys, monkeypatch)
    finally:
        sleeper.kill()
        sleeper.wait()
    assert rc == 2 and len(err.strip().splitlines()) == 1
    assert f"pid {sleeper.pid}" in err and "running 'xraylab import folder x'" in err


# --------------------------------------------------------------------------- temporaries and atomic writes
def test_temporary_cleanup_spares_files_of_running_writers(tmp_path):
    sleeper = _sleeper()
    try:
        live = tmp_path / f".a.png.{sleeper.pid}.tmp"
        dead = tmp_path / f".b.png.{_dead_pid()}.tmp"
        other = tmp_path / "notes.tmp"
        for p in (live, dead, other):
            p.write_bytes(b"x")
        assert atomic.remove_stale_temporaries(tmp_path) == 1
        assert live.exists() and not dead.exists() and other.exists()
        assert atomic.remove_temporaries_of(tmp_path / "a.png") == 0 and live.exists()
    finally:
        sleeper.kill()
        sleeper.wait()


def test_atomic_path_raises_when_its_temporary_vanished(tmp_path):
    target = tmp_path / "x.bin"
    with pytest.raises(WriteConflictError, match="x.bin: its temporary file .* vanished"):
        with atomic.atomic_path(target) as tmp:
            tmp.write_bytes(b"1")
            tmp.unlink()  # as another process's cleanup did
    assert not target.exists()


def test_an_os_error_without_a_file_name_gets_the_destination(tmp_path, monkeypatch):
    def full(src, dst):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(atomic.os, "replace", full)
    with pytest.raises(OSError) as info:
        atomic.write_bytes(tmp_path / "y.bin", b"1")
    assert info.value.errno == errno.ENOSPC and info.value.filename == str(tmp_path / "y.bin")
    assert not list(tmp_path.iterdir())  # the temporary was removed
    assert "free space" in cli.os_error_message(info.value) and "y.bin" in cli.os_error_message(info.value)


def test_disk_full_mid_import_resumes_after_space_is_freed(tmp_path, capsys, monkeypatch):
    """ENOSPC injected at the 5th file: one line, exit 74; the same command then finishes the dataset, which is
    byte-identical to an import that never failed."""
    src = _dataset(tmp_path / "src")
    argv = ["import", "folder", src, "-q", "--size", "16", "--out"]
    real_replace = os.replace
    calls = {"n": 0}

    def filling(a, b):
        calls["n"] += 1
        if calls["n"] >= 5:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_replace(a, b)

    monkeypatch.setattr(atomic.os, "replace", filling)
    rc, _, err = run_cli([*argv, tmp_path / "full"], capsys, monkeypatch)
    assert rc == cli.OS_ERROR_EXIT and "No space left on device" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "full" / "dataset.json").exists()
    monkeypatch.setattr(atomic.os, "replace", real_replace)  # space freed
    rc, out, err = run_cli([*argv, tmp_path / "full"], capsys, monkeypatch)
    assert rc == 0, err
    assert "already complete" in out and not out.startswith("0 images imported")
    rc, _, _ = run_cli([*argv, tmp_path / "clean"], capsys, monkeypatch)
    assert rc == 0

    def tree(root: Path) -> dict[str, str]:
        return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*"))
                if p.is_file() and p.name not in ("dataset.json", "job.json")}

    assert tree(tmp_path / "full") == tree(tmp_path / "clean")
    assert not list((tmp_path / "full").rglob("*.tmp")) and not (tmp_path / "full" / LOCK_FILE).exists()


# --------------------------------------------------------------------------- paths confined to their root
def test_confined_and_safe_name(tmp_path):
    assert confined(tmp_path, "a/b.png", "x") == tmp_path / "a/b.png"
    for bad in ("../x", "a/../../x", "/etc/passwd", ""):
        with pytest.raises(PathEscapeError):
            confined(tmp_path, bad, "row 3")
    (tmp_path / "link").symlink_to("/etc")
    with pytest.raises(PathEscapeError, match="leads outside"):
        confined(tmp_path, "link/passwd", "row 3")
    assert safe_name("fok_unet-real.v2", "name") == "fok_unet-real.v2"
    for bad in ("../../tmp/x", "a/b", ".hidden", "..", ""):
        with pytest.raises(PathEscapeError):
            safe_name(bad, "name")


def test_dataset_rows_escaping_their_folder_are_refused_by_every_reader(tmp_path):
    from xraylab.data.manifest import read_manifest

    data = _dataset(tmp_path / "d", bad={"image": "images/../../../x.png"})
    with pytest.raises(PathEscapeError, match="row 0 \\(image_id i0\\), column image"):
        read_manifest(data)


# --------------------------------------------------------------------------- CT inputs
def test_dicom_series_with_a_missing_slice_is_refused_or_resampled(tmp_path):
    folder = _dicom_series(tmp_path / "series", skip=3)
    with pytest.raises(InputFileError) as info:
        load_ct(folder, segment="never")
    msg = str(info.value)
    assert msg.startswith(f"{folder}: uneven DICOM slice spacing: gap of 4 mm between slice 3 (s002.dcm, at 4 mm)")
    assert "usual step is 2 mm" in msg and "--allow-gaps" in msg
    ct = load_ct(folder, segment="never", allow_gaps=True)
    assert ct.shape == (8, 8, 6) and ct.spacing[2] == pytest.approx(2.0)
    # slice 3 (−100 HU) is interpolated between slices 2 (−400) and 4 (200)
    assert ct.hu[:, :, 3].unique().tolist() == [-100.0] and ct.hu[:, :, 4].unique().tolist() == [200.0]
    assert ct.meta["slice_gaps"]["gaps"] == [{"after_slice": 2, "from_mm": 4.0, "to_mm": 8.0, "gap_mm": 4.0}]
    assert ct.meta["slice_gaps"]["slices_in"] == 5 and ct.meta["slice_gaps"]["slices_out"] == 6
    complete = load_ct(_dicom_series(tmp_path / "whole"), segment="never")
    assert complete.shape == (8, 8, 6) and "slice_gaps" not in complete.meta


def test_render_allow_gaps_records_the_gaps_in_metadata(tmp_path):
    import json

    from xraylab.physics.presets import resolve_geometry
    from xraylab.render import render_ct

    ct = load_ct(_dicom_series(tmp_path / "series", skip=3), segment="never", allow_gaps=True)
    geom = resolve_geometry("ideal", rows=8, cols=8)
    render_ct(ct, geom, tmp_path / "r", preset="ideal", progress=False)
    meta = json.loads((tmp_path / "r" / "metadata.json").read_text(encoding="utf-8"))
    assert meta["ct"]["slice_gaps"]["gaps"][0]["gap_mm"] == 4.0


def test_generate_spec_allow_gaps_resamples_a_gapped_series_and_keeps_old_fingerprints(tmp_path):
    from xraylab.data.sources import CTRef, load_ref, resolve_cts
    from xraylab.data.spec import CTEntry, parse_spec

    series = _dicom_series(tmp_path / "series", skip=3)
    base = {"name": "gaps", "structures": [], "geometry": {"rows": 8, "cols": 8}, "preset": "ideal",
            "sweep": {"grid": {"geometry.rotation_deg": [0]}}}
    plain = parse_spec({**base, "cts": [{"path": str(series)}]})
    (ref,) = resolve_cts(plain, tmp_path, "spec")
    assert "allow_gaps" not in ref.to_dict() and "allow_gaps" not in CTEntry(path="x").model_dump()
    with pytest.raises(InputFileError, match="uneven DICOM slice spacing"):
        load_ref(ref, need_labels=False)
    gaps = parse_spec({**base, "cts": [{"path": str(series), "allow_gaps": True}]})
    (ref,) = resolve_cts(gaps, tmp_path, "spec")
    assert CTRef.from_dict(ref.to_dict()).allow_gaps is True
    ct = load_ref(ref, need_labels=False)
    assert ct.shape == (8, 8, 6) and ct.meta["slice_gaps"]["gaps"][0]["gap_mm"] == 4.0


def test_missing_structure_policy(tmp_path, capsys):
    from xraylab.io.ct import CTVolume
    from xraylab.io.structures import check_structures_present

    labels = torch.zeros((4, 4, 4), dtype=torch.int16)
    labels[1:3, 1:3, 1:3] = 1
    ct = CTVolume(hu=torch.zeros((4, 4, 4)), spacing=(1.0, 1.0, 1.0), origin=(0.0, 0.0, 0.0),
                  direction=np.eye(3), labels=labels, structures={1: "heart", 2: "clavicula_left"}, name="c")
    with pytest.raises(StructureError, match="left_clavicle have no voxel"):
        check_structures_present(ct, ["heart", "left_clavicle"])
    assert check_structures_present(ct, ["heart", "left_clavicle"], "skip") == ["heart"]
    assert check_structures_present(ct, ["heart", "left_clavicle"], "warn") == ["heart", "left_clavicle"]
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("xraylab: warning:")


# --------------------------------------------------------------------------- training
def _seg_spec(data: Path, **over):
    from xraylab.train.spec import parse_spec

    spec = {"name": "t", "seed": 1, "task": "segmentation", "data": [{"name": "real", "path": str(data)}],
            "image_size": 16, "model": {"name": "unet", "kwargs": {"depth": 3}}, "loss": {"name": "dice_bce"},
            "optimizer": {"lr": 0.003}, "epochs": 1, "batch_size": 4, "device": "cpu", "cpu_threads": 1}
    spec.update(over)
    return parse_spec(spec)


def test_identical_runs_write_byte_identical_checkpoints(tmp_path):
    from xraylab.train.trainer import fit

    data = _dataset(tmp_path / "d")
    for name in ("a", "b"):
        fit(_seg_spec(data), tmp_path / name, progress=False)
    for ck in ("last.pt", "best.pt"):
        a, b = ((tmp_path / n / "checkpoints" / ck).read_bytes() for n in ("a", "b"))
        assert a == b, ck
    assert b"archive/data.pkl" in a and b".tmp" not in a


@pytest.mark.parametrize("poison, reason", [(float("nan"), "loss is nan"), (1e6, "over 100× the run's first loss")])
def test_divergence_before_the_first_checkpoint_removes_the_run(tmp_path, monkeypatch, poison, reason):
    import xraylab.train.trainer as trainer_mod
    from xraylab.train.trainer import fit

    data = _dataset(tmp_path / "d")
    real_build = trainer_mod.build_loss
    calls = {"n": 0}

    def poisoned(*args, **kwargs):
        fn = real_build(*args, **kwargs)

        def loss(logits, target):
            calls["n"] += 1
            return fn(logits, target) * (poison if calls["n"] >= 2 else 1.0)

        return loss

    monkeypatch.setattr(trainer_mod, "build_loss", poisoned)
    with pytest.raises(TrainingError) as info:
        fit(_seg_spec(data, batch_size=2), tmp_path / "run", progress=False)
    msg = str(info.value)
    assert reason in msg and "epoch 1, step 1" in msg
    assert f"nothing was kept and {tmp_path / 'run'} was removed" in msg and "optimizer.lr (now 0.003)" in msg
    assert not (tmp_path / "run").exists()
    monkeypatch.setattr(trainer_mod, "build_loss", real_build)
    fit(_seg_spec(data), tmp_path / "run", progress=False)  # the same --out is free again, no --resume demanded


def test_training_spec_ranges():
    from xraylab.errors import ConfigError

    data = Path("unused")
    for over in ({"optimizer": {"lr": 1e38}}, {"optimizer": {"lr": 0}}, {"optimizer": {"lr": float("inf")}},
                 {"optimizer": {"weight_decay": 2}}, {"scheduler": {"name": "step", "gamma": 3}},
                 {"scheduler": {"name": "cosine", "min_lr": 0.1}}, {"adversarial": {"eps": 8}}):
        with pytest.raises(ConfigError):
            _seg_spec(data, **over)


def test_run_folder_lock_excludes_a_second_trainer(tmp_path):
    from xraylab.train.trainer import fit

    data = _dataset(tmp_path / "d")
    run = tmp_path / "run"
    sleeper = _sleeper()
    try:
        (run / ".xraylab").mkdir(parents=True)
        (run / LOCK_FILE).write_text(json.dumps({"pid": sleeper.pid, "host": socket.gethostname()}))
        with pytest.raises(BusyError, match=f"pid {sleeper.pid}"):
            fit(_seg_spec(data), run, progress=False)
    finally:
        sleeper.kill()
        sleeper.wait()
    time.sleep(0.05)
    fit(_seg_spec(data), run, progress=False)  # stale now
    assert (run / "checkpoints" / "last.pt").is_file() and not (run / LOCK_FILE).exists()


def test_downsample_validated():
    from xraylab.commands._common import check_downsample
    from xraylab.errors import ConfigError

    assert check_downsample(2) == 2
    for bad in (0, -1, 1.5, True, "2"):
        with pytest.raises(ConfigError, match="--downsample"):
            check_downsample(bad)

