"""Print the physics numbers of issue 12 (scatter fractions, grid Ts and K, electronic-noise kerma) as markdown.

Usage: ``python scripts/physics_numbers.py [--n 128] [--downsample 2] [--strip-scan 0.036,0.030]``.
``--strip-scan``: instead, the grid's Ts, Tp and the chest scatter fractions with the 12:1 grid for each lead strip
thickness (mm) — the trade between the grid's published Ts/Tp ranges and the with-grid lung scatter fraction.
Sizes: chest on the default CT
(``chest_pa`` geometry, n × n detector, CT coarsened by ``downsample``);
Ts on a 20 cm slab at 64², K at 257², noise at 96² and the native 139 µm pitch.
Definitions: :mod:`xraylab.physics.validation`.
"""

from __future__ import annotations

import argparse

import torch

from xraylab.physics.config import with_overrides
from xraylab.physics.presets import preset_config
from xraylab.physics.validation import (
    chest_scatter_fractions,
    contrast_improvement,
    grid_effective_ts,
    noise_equivalent_kerma,
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=128)
    ap.add_argument("--downsample", type=int, default=2)
    ap.add_argument("--strip-scan", help="comma list of lead strip thicknesses, mm")
    args = ap.parse_args()
    torch.set_num_threads(1)
    cfg = preset_config("chest_pa")
    if args.strip_scan:
        print("| strip mm | Ts (0.07–0.12) | Tp (0.65–0.70) | SF lungs, grid (0.20–0.35) | SF mediastinum, grid "
              "(0.50–0.70) |\n|---|---|---|---|---|")
        for d in args.strip_scan.split(","):
            c = with_overrides(cfg, [f"grid.strip_thickness_mm={float(d)}"])
            ts = grid_effective_ts(c)
            sf = chest_scatter_fractions(c, args.n, args.downsample)
            print(f"| {float(d):.3f} | {ts['ts_model']:.3f} | {ts['tp_model']:.3f} | {sf['lungs']['sf']:.3f} | "
                  f"{sf['mediastinum']['sf']:.3f} |")
        return
    no_grid = chest_scatter_fractions(with_overrides(cfg, ["grid=none"]), args.n, args.downsample)
    grid = chest_scatter_fractions(cfg, args.n, args.downsample)
    ts = grid_effective_ts(cfg)
    k = contrast_improvement(cfg)
    nek = noise_equivalent_kerma(cfg)
    size = f"default CT ÷{args.downsample}, {args.n}²"
    rows = [
        ("SF lungs, no grid", "0.4–0.6", f"{no_grid['lungs']['sf']:.3f} (SPR {no_grid['lungs']['spr']:.2f})", size),
        ("SF mediastinum, no grid", "≈ 0.9 (SPR ≈ 9)",
         f"{no_grid['mediastinum']['sf']:.3f} (SPR {no_grid['mediastinum']['spr']:.2f})", size),
        ("SF lungs, 12:1 grid", "0.20–0.35", f"{grid['lungs']['sf']:.3f}", size),
        ("SF mediastinum, 12:1 grid", "0.50–0.70", f"{grid['mediastinum']['sf']:.3f}", size),
        ("effective Ts vs model Ts (12:1)", "within 10 %; 0.07–0.12",
         f"{ts['ts_effective']:.3f} vs {ts['ts_model']:.3f} (Tp {ts['tp_model']:.3f})", "20 cm water, 64²"),
        ("contrast improvement K vs Tp/Tt", "equal", f"{k['cif']:.2f} vs {k['tp_over_tt']:.2f}",
         "20 cm water, 257², 1-px detail"),
        ("electronic-noise kerma, µGy", f"{nek['nek_configured']:.3g} (configured)", f"{nek['nek_measured']:.3g}",
         "open field, 96² at 139 µm"),
    ]
    print("| quantity | target | measured | size |\n|---|---|---|---|")
    for r in rows:
        print("| " + " | ".join(r) + " |")


if __name__ == "__main__":
    main()
