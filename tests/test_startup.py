"""The garbage-collector handling of a short-lived ``xraylab`` process (:mod:`xraylab.startup`)."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import time

import pytest

from xraylab import startup


@pytest.fixture
def restore_gc():
    thresholds = gc.get_threshold()
    yield
    startup.resume_full_gc()
    gc.unfreeze()
    gc.set_threshold(*thresholds)


def test_full_collections_wait_and_come_back(restore_gc):
    before = gc.get_threshold()
    startup.defer_full_gc(seconds=0.2)
    assert gc.isenabled() and gc.get_threshold()[:2] == before[:2]  # young generations still collect
    assert gc.get_threshold()[2] > 10**6
    deadline = time.monotonic() + 20.0
    while gc.get_threshold() != before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert gc.get_threshold() == before


def test_garbage_of_the_start_up_is_not_frozen(restore_gc):
    """Cyclic garbage that reached the oldest generation while full collections waited is freed by the next full
    collection after the thresholds come back: resuming freezes nothing."""
    import weakref

    frozen = gc.get_freeze_count()
    startup.defer_full_gc(seconds=60.0)

    class Node:
        pass

    a, b = Node(), Node()
    a.other, b.other = b, a
    gone = weakref.ref(a)
    gc.collect(1)  # survives the young collections while it is alive: promoted to the oldest generation
    del a, b
    assert gone() is not None  # only a full collection can free it now
    startup.resume_full_gc()
    assert gc.get_freeze_count() == frozen
    gc.collect()
    assert gone() is None


def test_young_cycles_are_still_freed_while_full_collections_wait(restore_gc):
    import weakref

    startup.defer_full_gc(seconds=60.0)

    class Node:
        pass

    a, b = Node(), Node()
    a.other, b.other = b, a  # a cycle: reference counting alone never frees it
    gone = weakref.ref(a)
    del a, b
    keep = [[] for _ in range(50_000)]  # allocations: the interpreter runs its young collections by itself
    assert gone() is None
    del keep


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
def test_a_child_forked_while_deferred_gets_full_collections_back(restore_gc):
    before = gc.get_threshold()
    startup.defer_full_gc(seconds=60.0)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: the timer thread did not come along
        os.write(write, b"1" if gc.get_threshold() == before else b"0")
        os._exit(0)
    os.close(write)
    answer = os.read(read, 1)
    os.waitpid(pid, 0)
    os.close(read)
    assert answer == b"1"
    assert gc.get_threshold()[2] > 10**6  # the parent still waits for its timer


def test_the_program_runs_and_exits_cleanly_with_the_collector_handling(tmp_path):
    """``python -m xraylab.cli`` (the console entry) behaves as ``main``: output, exit status, one-line errors."""
    ok = subprocess.run([sys.executable, "-m", "xraylab.cli", "render", "--help"], capture_output=True,
                        encoding="utf-8")
    assert ok.returncode == 0 and "--rows" in ok.stdout
    bad = subprocess.run([sys.executable, "-m", "xraylab.cli", "render", str(tmp_path / "missing.nii.gz"),
                          "--out", str(tmp_path / "out")], capture_output=True, encoding="utf-8")
    assert bad.returncode == 2
    assert bad.stderr.strip().startswith("xraylab: error:") and "missing.nii.gz" in bad.stderr
