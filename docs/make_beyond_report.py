"""The README "Beyond the CT" table: synthetic-only models trained with burnt-in annotations and devices, scored on
real radiographs (issues 26 and 23).

Made from a finished ``xraylab run simulations/sim2real_beyond_cpu.yaml``:

    python docs/make_beyond_report.py [--workdir outputs/sim2real_beyond]

Prints the markdown table: mean ± SD over the 16 real test images of lungs / cardiomediastinum Dice, lungs and
cardiomediastinum HD95 (pixels of the 128² model input), and the false-positive regions per image — predicted
connected components that touch no true mask (``stray_components``) — with the stray pixels.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_sim2real_report import _ms, _per_image, _unit  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
ROWS = (
    ("synthetic only, `synthetic` augmentation (baseline; contrast: auto + metal, the first materials defaults)",
     "syn_sil10", "eval_aug"),
    ("same, contrast: never (today's default: enhanced blood by the HU rule), no metal", "syn_sil10_never",
     "eval_never_aug"),
    ("same, contrast: remove (unenhanced blood), no metal", "syn_sil10_vnc", "eval_vnc_aug"),
    ("+ burnt-in annotations on half the training images", "syn_sil10", "eval_aug_burnt"),
    ("+ devices in a third of the views (each kind p = 0.35) + burnt-in annotations", "syn_sil10_dev",
     "eval_dev_aug_burnt"),
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workdir", type=Path, default=ROOT / "outputs" / "sim2real_beyond")
    args = ap.parse_args()
    done = [r for r in ROWS if (args.workdir / r[2] / "per_image.csv").is_file()]
    if not done:
        sys.exit(f"{args.workdir}: no finished evaluation step; run: xraylab run "
                 "simulations/sim2real_beyond_cpu.yaml")
    unit = _unit(_per_image(args.workdir, done[0][2]))
    lines = [f"| training images | views | lungs Dice | cardiomed. Dice | lungs HD95 ({unit}) | "
             f"cardiomed. HD95 ({unit}) | stray regions / image (lungs) | (cardiomed.) | "
             "stray pixels / image (lungs) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for label, data_step, eval_step in done:
        df = _per_image(args.workdir, eval_step)
        n = len(pd.read_parquet(args.workdir / data_step / "manifest.parquet"))
        lung, heart = df[df["structure"] == "lungs"], df[df["structure"] == "cardiomediastinum"]
        cells = [_ms(lung["dice"]), _ms(heart["dice"]), _ms(lung["hd95"], 1), _ms(heart["hd95"], 1),
                 f"{lung['stray_components'].mean():.2f}", f"{heart['stray_components'].mean():.2f}",
                 f"{lung['stray_pixels'].mean():.0f}"]
        lines.append(f"| {label} | {n} | " + " | ".join(cells) + " |")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
