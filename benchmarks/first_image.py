"""Wall time of a newcomer's first image: ``xraylab render default --rows 256 --cols 256`` as a fresh process.

Runs the command three times with a new, empty cache folder (``XRAYLAB_CACHE``): *cold* (decodes the CT, builds
the material × structure volumes, computes spectra / attenuation / grid tables), then twice *warm* (everything
that depends only on the CT and the physics settings comes from the cache). For scale it also times a bare
``python -c "import torch"`` and ``python -c "import torch, numba"`` in the same run. Each figure is the wall time
of a whole process (interpreter start-up included) and its peak resident memory (``/usr/bin/time``-like, from
``os.wait4``). Run it on an idle machine: the figures move with the load.

With ``--demo`` it also times ``xraylab demo`` (the README's first command: 21 views at 512² on the full-resolution
CT) the same way, with an empty cache and then warm (issue-24 target: ≤ 30 s of wall time on 2 idle cores).

    python benchmarks/first_image.py [--rows 256] [--cols 256] [--repeats 2] [--demo]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

XRAYLAB = [sys.executable, "-m", "xraylab.cli"]


def _timed(cmd: list[str], env: dict) -> tuple[float, float]:
    """(wall seconds, peak RSS MB) of the process ``cmd``; stops on a non-zero exit."""
    t0 = time.perf_counter()
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)  # this child's own rusage
        seconds = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            err.seek(0)
            raise SystemExit(f"{' '.join(cmd)} failed:\n{err.read().decode(errors='replace')[-2000:]}")
    return seconds, usage.ru_maxrss / 1024.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=256)
    ap.add_argument("--cols", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=2, help="warm runs after the cold one")
    ap.add_argument("--demo", action="store_true", help="also time `xraylab demo`, empty and warm cache")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="xraylab_first_image_"))
    env = {**os.environ, "XRAYLAB_CACHE": str(work / "cache")}
    rows = []
    try:
        rows.append(("python -c 'import torch'", *_timed([sys.executable, "-c", "import torch"], env)))
        rows.append(("python -c 'import torch, numba'", *_timed([sys.executable, "-c", "import torch, numba"], env)))
        render = XRAYLAB + ["render", "default", "--rows", str(args.rows), "--cols", str(args.cols)]
        for i in range(args.repeats + 1):
            out = work / f"out{i}"
            label = "render, cold cache" if i == 0 else f"render, warm cache (run {i})"
            rows.append((label, *_timed(render + ["--out", str(out)], env)))
        if args.demo:
            demo_env = {**env, "XRAYLAB_CACHE": str(work / "demo_cache")}
            for i in range(args.repeats + 1):
                label = "`xraylab demo`, cold cache" if i == 0 else f"`xraylab demo`, warm cache (run {i})"
                rows.append((label, *_timed(XRAYLAB + ["demo", "--out", str(work / f"demo{i}"), "--quiet"],
                                            demo_env)))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"`xraylab render default --rows {args.rows} --cols {args.cols}`, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.2f}")
    print("| process | wall s | peak RSS MB |")
    print("|---|---|---|")
    for label, seconds, mb in rows:
        print(f"| {label} | {seconds:.2f} | {mb:.0f} |")


if __name__ == "__main__":
    main()
