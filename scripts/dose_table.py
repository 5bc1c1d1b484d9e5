"""Dose per view of each preset on the embedded chest CT: the README's dose table (markdown on stdout).

``python scripts/dose_table.py [--downsample 2] [--size 128]``: renders one view per preset (PA/AP as the preset
poses it) and prints kVp, mAs, source–skin distance, entrance surface air kerma (with backscatter), dose–area
product and detector air kerma (``xraylab.physics.dose``) beside the published chest PA numbers of REFERENCES.md §1.
"""

from __future__ import annotations

import argparse


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--downsample", type=int, default=2, help="coarsen the CT by this factor (default 2)")
    ap.add_argument("--size", type=int, default=128, help="detector pixels per side (default 128)")
    a = ap.parse_args(argv)

    from xraylab.io.ct import load_default_ct
    from xraylab.physics.presets import PRESETS, resolve_preset
    from xraylab.render import build_scene

    scene = build_scene(load_default_ct(a.downsample))
    print("| preset | kVp | mAs | SSD (cm) | ESAK (mGy) | DAP (Gy·cm²) | detector kerma (µGy) | EI |")
    print("|---|---|---|---|---|---|---|---|")
    for name in PRESETS:
        g0, physics = resolve_preset(name)
        g = g0.model_copy(update={"rows": a.size, "cols": a.size, "pitch_mm": g0.pitch_mm * g0.cols / a.size})
        d = scene.render(g, physics, seed=0).dose
        print(f"| {name} | {d['kvp']:g} | {d['mas']:g} | {d['source_skin_distance_mm'] / 10:.1f} | "
              f"{d['entrance_surface_air_kerma_ugy'] / 1000:.3f} | {d['dose_area_product_gy_cm2']:.3f} | "
              f"{d['detector_air_kerma_ugy']:.2f} | {d['exposure_index']:.0f} |")
    print("| published chest PA (REFERENCES §1) | 110–125 | 2–6 | | < 0.15 | | ≈ 2.5 | ≈ 250 |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
