"""The README "More anatomies" table: synthetic-only models as real chest CTs are added, scored on real radiographs.

Made from a finished ``xraylab run simulations/sim2real_population_cpu.yaml``:

    python docs/make_population_report.py [--workdir outputs/sim2real_population] [--sim2real outputs/sim2real_field]

``--sim2real``: also list the lung-field sim-to-real run's real-only model (same split, model and budget) as the
reference row. Prints the markdown table (mean ± SD over the 16 real test images; HD95 in pixels of the 128²
model input) and draws ``docs/figures/population_dice.png`` (Dice against the number of anatomies).
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
    ("synthetic only: 1 CT (embedded) + 3 pseudo-subjects", "syn_1ct", "eval_syn_1ct"),
    ("synthetic only: 3 CTs (+ contrast chest CT, POPI) + 3 pseudo-subjects each", "syn_3ct", "eval_syn_3ct"),
    ("synthetic only: 3 CTs + pseudo-subjects + 3 anatomy subjects each (breathing, heart, habitus)", "syn_3ct_anat",
     "eval_syn_3ct_anat"),
    ("synthetic only: 3 CTs matched to 10 real training silhouettes each", "syn_3ct_sil10", "eval_syn_3ct_sil10"),
    ("synthetic only: 3 CTs matched to all 21 real training silhouettes each", "syn_3ct_sil21", "eval_syn_3ct_sil21"),
    ("synthetic only: 10 silhouettes each + the `synthetic` augmentation recipe", "syn_3ct_sil10",
     "eval_syn_3ct_sil10_aug"),
    ("Real + Syn(3 CTs)", "syn_3ct", "eval_real_syn_3ct"),
)


def _anatomies(workdir: Path, step: str) -> tuple[int, int]:
    df = pd.read_parquet(workdir / step / "manifest.parquet")
    return int(df["subject_id"].nunique()), len(df)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workdir", type=Path, default=ROOT / "outputs" / "sim2real_population")
    ap.add_argument("--sim2real", type=Path, default=ROOT / "outputs" / "sim2real_field")
    ap.add_argument("--figure", type=Path, default=ROOT / "docs" / "figures" / "population_dice.png")
    args = ap.parse_args()
    unit = _unit(_per_image(args.workdir, ROWS[0][2]))
    structs = ("lungs", "right_lung", "left_lung", "cardiomediastinum")
    lines = [f"| training images | anatomies / views | lungs Dice | right lung | left lung | cardiomed. Dice | "
             f"lungs HD95 ({unit}) | stray regions / image (lungs) |", "|---|---|---|---|---|---|---|---|"]
    rows = list(ROWS)
    if (args.sim2real / "eval_real" / "per_image.csv").is_file():
        rows.append(("reference: real only (21 images; sim2real_cpu.yaml)", None, None))
    points: list[tuple[str, int, pd.DataFrame]] = []
    ref_df = None
    for label, data_step, eval_step in rows:
        if eval_step is not None and not (args.workdir / eval_step / "per_image.csv").is_file():
            continue  # a step not run (yet)
        if eval_step is None:
            df, who = _per_image(args.sim2real, "eval_real"), "21 real"
            ref_df = df
        else:
            df = _per_image(args.workdir, eval_step)
            n_sub, n_img = _anatomies(args.workdir, data_step)
            who = f"{n_sub} / {n_img}" + (" + 21 real" if "real" in eval_step else "")
            if "real" not in eval_step and not eval_step.endswith("_aug"):
                points.append((data_step.removeprefix("syn_"), n_sub, df))
        cells = [_ms(df[df["structure"] == s]["dice"]) for s in structs]
        cells.append(_ms(df[df["structure"] == "lungs"]["hd95"], 1))
        stray = df[df["structure"] == "lungs"].get("stray_components")
        cells.append(f"{stray.mean():.2f}" if stray is not None else "n/a")
        lines.append(f"| {label} | {who} | " + " | ".join(cells) + " |")
    print("\n".join(lines))
    figure(args, points, ref_df)


def figure(args, points: list[tuple[str, int, pd.DataFrame]], ref_df: pd.DataFrame | None) -> None:
    """Dice on the real test images against the number of anatomies (synthetic-only rows), real-only dashed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not points:
        return
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    for s, colour in (("lungs", "tab:green"), ("cardiomediastinum", "tab:red")):
        xs = [n for _, n, _ in points]
        ms = [df[df["structure"] == s]["dice"].mean() for _, _, df in points]
        sd = [df[df["structure"] == s]["dice"].std(ddof=1) for _, _, df in points]
        ax.errorbar(xs, ms, yerr=sd, marker="o", capsize=3, color=colour, label=f"{s}, synthetic only")
        for (label, n, _), m in zip(points, ms):
            ax.annotate(label, (n, m), textcoords="offset points", xytext=(4, -10), fontsize=6, color=colour)
        if ref_df is not None:
            ax.axhline(ref_df[ref_df["structure"] == s]["dice"].mean(), color=colour, ls="--", lw=1,
                       label=f"{s}, real only (21 images)")
    ax.set_xscale("log")
    ax.minorticks_off()
    ax.set_xticks(sorted({n for _, n, _ in points}))
    ax.set_xticklabels([str(n) for n in sorted({n for _, n, _ in points})])
    ax.set_xlabel("anatomies in the synthetic training set (CTs × variants)")
    ax.set_ylabel("Dice on 16 real test radiographs")
    ax.legend(fontsize=7, loc="lower right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    args.figure.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.figure, dpi=120)
    print(f"wrote {args.figure}")


if __name__ == "__main__":
    main()
