"""The README "Label conventions" table: lung masks drawn three ways on synthetic views vs real radiologist masks.

1. imports ``../shared/data/radiographs/cxr_lungs_heart`` (42 real PA radiographs, 256², heart → cardiomediastinum)
   into ``OUT/real`` (skipped when present);
2. generates ``simulations/label_conventions_cpu.yaml`` (21 views of the embedded CT with ``lungs``,
   ``lung_field`` and ``lung_field_scr`` masks) into ``OUT/syn``;
3. compares the label statistics of each convention with the real masks
   (:mod:`xraylab.evaluate.label_conventions`) → ``OUT/report/conventions.md``, and measures the Dice between the
   conventions on the same synthetic views (the ceiling a model trained on one and scored on another meets);
4. draws ``docs/figures/lung_conventions.png``: one synthetic view with the three lung outlines.

Run:  .venv/bin/python docs/make_conventions_report.py [--out outputs/conventions] [--workers 2]
(about 2 minutes on 2 CPU cores). Prints the markdown for the README.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
REAL = ROOT.parent / "shared" / "data" / "radiographs" / "cxr_lungs_heart"
SPEC = ROOT / "simulations" / "label_conventions_cpu.yaml"
NAMES = {"projected": "lungs", "field": "lung_field", "scr": "lung_field_scr"}


def dice(a: np.ndarray, b: np.ndarray) -> float:
    return float(2 * (a & b).sum() / max(1, a.sum() + b.sum()))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "outputs" / "conventions")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--figure", type=Path, default=ROOT / "docs" / "figures" / "lung_conventions.png")
    args = ap.parse_args()
    if not REAL.is_dir():
        sys.exit(f"{REAL}: the shared real radiographs are needed for this report")

    from xraylab.data.generate import generate
    from xraylab.data.importers import import_dataset
    from xraylab.data.manifest import read_manifest
    from xraylab.evaluate.label_conventions import run_conventions
    from xraylab.io.images import read_image, read_mask
    from xraylab.viz import overlay_png

    real, syn = args.out / "real", args.out / "syn"
    if not (real / "dataset.json").is_file():
        import_dataset("folder", REAL, real, size=256, normalize="minmax", rename=["heart=cardiomediastinum"],
                       contact_sheet=0, progress=False)
    generate(SPEC, syn, workers=args.workers, progress=False)
    table, best = run_conventions(syn, real, args.out / "report")
    print((args.out / "report" / "conventions.md").read_text(encoding="utf-8"))

    df = read_manifest(syn).sort_values("image_id")
    pairs = [("projected", "field"), ("projected", "scr"), ("field", "scr")]
    scores = {p: [] for p in pairs}
    for rec in df.to_dict("records"):
        m = {c: read_mask(syn / rec[f"mask:{n}"]) > 0.5 for c, n in NAMES.items()}
        for a, b in pairs:
            scores[(a, b)].append(dice(m[a], m[b]))
    print("Dice between conventions on the same synthetic views (median over "
          f"{len(df)} views): " + "; ".join(f"{a} vs {b} {np.median(v):.3f}" for (a, b), v in scores.items()))

    centre = df.iloc[(df["angle_deg"].abs()).argmin()]
    image = read_image(syn / centre["image"])
    masks = [read_mask(syn / centre[f"mask:{n}"]) > 0.5 for n in NAMES.values()]
    masks.append(read_mask(syn / centre["mask:cardiomediastinum"]) > 0.5)
    args.figure.parent.mkdir(parents=True, exist_ok=True)
    big = np.kron(image, np.ones((3, 3)))
    overlay_png(args.figure, big, [np.kron(m, np.ones((3, 3), dtype=bool)) for m in masks],
                legend=[*NAMES.values(), "cardiomediastinum"], caption=f"default CT, alpha {centre['angle_deg']:g} deg")
    print(f"best match: {best}; wrote {args.out / 'report'} and {args.figure}")


if __name__ == "__main__":
    main()
