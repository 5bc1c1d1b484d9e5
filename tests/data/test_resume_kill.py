"""A generate process killed mid-run is finished by re-running the same command: no redo, no leftovers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from xraylab.data.manifest import read_manifest
from xraylab.data.writer import RECORDS_DIR

from .helpers import temporaries, tiny_spec, write_spec


@pytest.mark.slow
def test_kill_then_rerun_completes(tmp_path):
    n = 10
    spec = write_spec(tmp_path, tiny_spec(
        geometry={"rows": 64, "cols": 64}, render={"downsample": 4, "n_points": 160},
        sweep={"grid": {"geometry.rotation_deg": {"start": -18, "stop": 18, "step": 4}}},
        output={"size": 32, "layers": True, "contact_sheet": 4}))
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "xraylab.cli", "generate", str(spec), "--out", str(out), "--workers", "1", "-q"]
    proc = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    records = out / RECORDS_DIR
    deadline = time.monotonic() + 240
    try:
        while time.monotonic() < deadline:
            if records.is_dir() and len(list(records.glob("*.json"))) >= 2:
                break
            if proc.poll() is not None:
                pytest.fail(f"generate exited early: {proc.stderr.read().decode()[-2000:]}")
            time.sleep(0.05)
        else:
            pytest.fail("no item finished in time")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    done_before = {p.name: p.stat().st_mtime_ns for p in records.glob("*.json")}
    assert 2 <= len(done_before) < n, "the kill must land mid-run"
    if (out / "manifest.parquet").is_file():  # a partial manifest lists complete items only
        assert set(read_manifest(out)["image_id"]) <= {k[:-5] for k in done_before}

    res = subprocess.run(cmd, capture_output=True, encoding="utf-8", timeout=400)
    assert res.returncode == 0, res.stderr[-2000:]
    assert f"{n - len(done_before)} images rendered, {len(done_before)} already complete" in res.stdout
    df = read_manifest(out)
    assert len(df) == n and df["image_id"].is_unique
    assert not temporaries(out)
    assert {p.name: p.stat().st_mtime_ns for p in records.glob("*.json") if p.name in done_before} == done_before
    assert len(list((out / "images").iterdir())) == n and len(list((out / "layers").iterdir())) == n
