"""Start-up and exit of a short-lived process: Python's full garbage collections kept off the imported libraries.

Importing torch, numba and scipy creates several hundred thousand long-lived objects (modules, functions,
classes); while they arrive the interpreter runs full (oldest-generation) collections that scan all of them again
and again and find nothing to free. Measured on the project's 2-core machine: ``python -c "import torch"`` takes
1.70–1.78 s with the collector as it is and 1.47–1.49 s with it off. :func:`defer_full_gc` keeps the young
generations collecting (short-lived cyclic garbage, such as a render's temporaries, is still freed at once) but
holds the full collections back for the first seconds of a process, then restores the thresholds. Nothing is
frozen then: the timer fires in the middle of the work, and an object frozen while alive that later becomes cyclic
garbage would never be freed (torch.fx, for one, keeps the frames of the functions that imported it in a reference
cycle, and with them their locals — a render's CT and volumes).

At exit the interpreter runs one more full collection over everything: after ``import torch`` that and the module
teardown take 0.4–0.5 s of the process's 1.6–1.7 s. :func:`freeze_for_exit` leaves the objects out of that scan;
they are still released by reference counting as the modules are torn down (at exit nothing is left to leak).
Both together: ``import torch`` in 1.25–1.28 s instead of 1.68–1.79 s; a warm ``xraylab render default --rows 256
--cols 256`` in 2.2 s instead of 3.1–3.2 s (``benchmarks/first_image.py``).

A ``generate`` pool worker freezes its imported libraries before its first item (:func:`freeze_imports`): without
that, each full collection of a busy worker rescans them (the 420-view population benchmark ran ~10 % slower).

Used by the ``xraylab`` program (:func:`xraylab.cli.console`) and the ``xraylab generate`` pool workers — not by
:func:`xraylab.cli.main` itself, which tests and notebooks call inside a longer-lived interpreter.
"""

from __future__ import annotations

import gc
import os
import threading

STARTUP_SECONDS = 10.0  # long enough for every import of a render, generate worker or training run
_NO_FULL_COLLECTION = 1 << 30  # collections of the middle generation before a full one: never, in practice
_saved: tuple[int, int, int] | None = None  # the thresholds to restore, while full collections are held back
_fork_hook = False


def resume_full_gc() -> None:
    """Restore the collector's thresholds (no-op when nothing is held back); the next full collection comes when
    the interpreter's own rule calls for it. Also what a child forked meanwhile runs (the timer stays behind)."""
    global _saved
    saved = _saved
    if saved is not None:
        gc.set_threshold(*saved)  # before clearing _saved: a fork in between still restores them in the child
        _saved = None


def defer_full_gc(seconds: float = STARTUP_SECONDS) -> None:
    """Hold the collector's full collections back now and for ``seconds`` (then :func:`resume_full_gc`).

    A process forked meanwhile (a data-loader worker) gets the thresholds back at once: the timer thread that
    would restore them does not cross ``fork``.
    """
    global _saved, _fork_hook
    if _saved is None:
        _saved = gc.get_threshold()
    young, middle, _ = _saved
    gc.set_threshold(young, middle, _NO_FULL_COLLECTION)
    timer = threading.Timer(seconds, resume_full_gc)
    timer.daemon = True  # never keeps a finished command alive
    timer.start()
    if not _fork_hook and hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=resume_full_gc)
        _fork_hook = True


def freeze_imports() -> None:
    """At a point where only imported libraries exist (a pool worker before its first item): one full collection,
    freeze the survivors — never scanned again — and restore the thresholds now. Not for a point mid-work, where a
    frozen object that later becomes cyclic garbage would never be freed."""
    gc.collect()
    gc.freeze()
    resume_full_gc()


def freeze_for_exit() -> None:
    """Leave every object that exists now out of the interpreter's final collection (call it last)."""
    gc.freeze()
