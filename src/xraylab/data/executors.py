"""Executors: run chunks of items (each chunk = items of one CT) inline, on a local process pool, or on Ray.

Every executor calls :func:`xraylab.data.worker.run_chunk` and produces the same files; progress is reported
by polling the records folder (``poll()``), which works the same for local processes and for Ray workers on a
shared filesystem.
"""

from __future__ import annotations

import math
import os
import time
from typing import Any, Callable

from xraylab.data import worker
from xraylab.errors import ConfigError

Chunk = list[dict[str, Any]]


def available_cpus() -> int:
    """CPU cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - non-Linux
        return max(1, os.cpu_count() or 1)


def make_chunks(items: list[dict[str, Any]], workers: int) -> list[Chunk]:
    """Group items per CT (plan order) and split each CT's items into enough contiguous parts to keep
    ``workers`` busy: one chunk per CT when there are at least as many CTs as workers."""
    groups: dict[str, Chunk] = {}
    for it in items:
        groups.setdefault(it["subject_id"], []).append(it)
    parts = max(1, math.ceil(workers / max(1, len(groups))))
    chunks: list[Chunk] = []
    for g in groups.values():
        k = min(parts, len(g))
        size = math.ceil(len(g) / k)
        chunks += [g[i : i + size] for i in range(0, len(g), size)]
    return chunks


def run_inline(context: dict, chunks: list[Chunk], on_item: Callable[[dict], None]) -> None:
    """Run every chunk in this process, one after the other; ``on_item`` is called after each rendered item."""
    for c in chunks:
        worker.run_chunk(context, c, on_item=on_item)


def run_pool(context: dict, chunks: list[Chunk], workers: int, poll: Callable[[], None]) -> None:
    """Run chunks on a ``spawn`` process pool of ``workers`` processes (one torch thread each)."""
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    context = dict(context, parent_pid=os.getpid(), check_parent=True)
    pool = ctx.Pool(processes=min(workers, len(chunks)), initializer=worker.init_pool_worker)
    try:
        results = [pool.apply_async(worker.run_chunk, (context, c)) for c in chunks]
        while True:
            pending = [r for r in results if not r.ready()]
            for r in results:
                if r.ready() and not r.successful():
                    r.get()  # re-raise the worker's exception here
            poll()
            if not pending:
                break
            pending[0].wait(0.5)
        pool.close()
    except BaseException:
        pool.terminate()
        raise
    finally:
        pool.join()


def run_ray(
    context: dict,
    items: list[dict[str, Any]],
    poll: Callable[[], None],
    address: str | None = None,
    num_cpus: int | None = None,
    gpu: bool = False,
) -> None:
    """Run items as Ray tasks, one task per chunk of one CT (``num_cpus=1``; one GPU each on CUDA).

    Connects to ``address`` (an existing cluster, e.g. ``ray://head:10001`` or ``auto``) or starts a local
    instance with ``num_cpus`` CPUs; items are chunked for the cluster's CPU (or GPU) count. Workers must see the
    output folder (shared filesystem).
    """
    try:
        import ray
    except ImportError as exc:  # pragma: no cover
        raise ConfigError("--executor ray needs the 'ray' extra: pip install 'xraylab[ray]'") from exc
    started = False
    if not ray.is_initialized():
        kwargs: dict[str, Any] = dict(include_dashboard=False, log_to_driver=False, ignore_reinit_error=True)
        if address:
            kwargs["address"] = address
        else:
            kwargs["num_cpus"] = num_cpus or available_cpus()
        for attempt in range(3):  # a local raylet may miss Ray's 30 s start-up deadline on a busy machine
            try:
                ray.init(**kwargs)
                break
            except Exception:
                if attempt == 2 or address:
                    raise
                time.sleep(2.0)
        started = True
    try:
        slots = int(ray.cluster_resources().get("GPU" if gpu else "CPU", 1)) or 1
        chunks = make_chunks(items, slots)
        task = ray.remote(num_cpus=1, num_gpus=1 if gpu else 0, max_retries=2)(worker.run_chunk)
        refs = [task.remote(context, c) for c in chunks]
        pending = list(refs)
        while pending:
            done, pending = ray.wait(pending, num_returns=1, timeout=0.5)
            for d in done:
                ray.get(d)  # re-raise task errors
            poll()
        poll()
    except BaseException:
        for r in locals().get("pending", []):
            ray.cancel(r, force=True)
        raise
    finally:
        if started:
            ray.shutdown()
