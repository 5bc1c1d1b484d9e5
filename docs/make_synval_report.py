"""The README table of synthetic-only U-Nets choosing their checkpoint on synthetic vs real validation images
(issue 20 item 4), mean ± SD over training seeds, scored on the 16 real test radiographs.

Made from a finished ``xraylab run simulations/sim2real_synval_cpu.yaml``:

    python docs/make_synval_report.py [--workdir outputs/sim2real_synval]

Per row: the mean over seeds of each seed's mean Dice on the test images, ± the SD over seeds (the spread from
training alone), then the best epoch each seed chose. HD95 in pixels of the 128² model input.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_sim2real_report import _per_image  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
ROWS = (
    ("checkpoint on synthetic validation views (15 % of the 33 anatomies held out)",
     [("synval_s7", "eval_synval_s7"), ("synval_s8", "eval_synval_s8"), ("synval_s9", "eval_synval_s9")]),
    ("checkpoint on the 5 real validation radiographs",
     [("train_never_aug", "eval_never_aug"), ("realval_s8", "eval_realval_s8"), ("realval_s9", "eval_realval_s9")]),
)
COLUMNS = (("lungs", "dice", 3), ("right_lung", "dice", 3), ("left_lung", "dice", 3),
           ("cardiomediastinum", "dice", 3), ("lungs", "hd95", 1))


def best_epoch(run: Path) -> str:
    """The epoch of the checkpoint the run kept (highest validation mean Dice), from its metrics.csv."""
    m = pd.read_csv(run / "metrics.csv")
    return str(int(m.loc[m["is_best"].astype(bool), "epoch"].iloc[-1])) if "is_best" in m else "?"


def seed_means(workdir: Path, steps: list[tuple[str, str]], structure: str, metric: str) -> pd.Series:
    """Each finished seed's mean of ``metric`` over the test images for ``structure``."""
    out = {}
    for train, ev in steps:
        if (workdir / ev / "per_image.csv").is_file():
            df = _per_image(workdir, ev)
            out[train] = float(df.loc[df["structure"] == structure, metric].mean())
    return pd.Series(out, dtype=float)


def _ms(v: pd.Series, digits: int) -> str:
    if v.empty:
        return "n/a"
    return f"{v.mean():.{digits}f}" if len(v) == 1 else f"{v.mean():.{digits}f} ± {v.std(ddof=1):.{digits}f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workdir", type=Path, default=ROOT / "outputs" / "sim2real_synval")
    args = ap.parse_args()
    head = ["checkpoint chosen on", "seeds", "lungs Dice", "right lung", "left lung", "cardiomed. Dice",
            "lungs HD95 (px)", "best epoch per seed (of 10)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for label, steps in ROWS:
        done = [(t, e) for t, e in steps if (args.workdir / e / "per_image.csv").is_file()]
        if not done:
            continue
        cells = [_ms(seed_means(args.workdir, done, s, m), d) for s, m, d in COLUMNS]
        epochs = ", ".join(best_epoch(args.workdir / t) for t, _ in done)
        lines.append(f"| {label} | {len(done)} | " + " | ".join(cells) + f" | {epochs} |")
    if len(lines) == 2:
        sys.exit(f"{args.workdir}: no finished evaluation; run: xraylab run simulations/sim2real_synval_cpu.yaml")
    print("\n".join(lines))
    info = args.workdir / "synval_s7" / "data.json"
    if info.is_file():
        notes = json.loads(info.read_text(encoding="utf-8")).get("notes", [])
        for note in notes:
            print(f"\nnote (synval_s7): {note}")


if __name__ == "__main__":
    main()
