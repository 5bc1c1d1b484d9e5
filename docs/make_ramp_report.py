"""Tables of the RAMP CT experiment (issue 14) beside the paper's numbers.

Made from a finished ``xraylab run simulations/ramp_ct_chest_cpu.yaml`` (or ``ramp_ct_cpu.yaml``):

    python docs/make_ramp_report.py [--workdir outputs/ramp_ct_chest_cpu] [--out docs/ramp_chest_results.md]
    python docs/make_ramp_report.py --workdir outputs/ramp_ct_cpu --out docs/ramp_results.md   (abdominal run)

Strategies trained with several seeds (``<strategy>_s<seed>`` models) are one row: mean ± SD over the seeds.

Writes a markdown file with: the sizes used, our Table 5 layout (clean Dice, mean corrupted Dice, robustness gap,
worst-case Dice) beside Kang et al. 2026 Table 5, the per-corruption Dice (their Tables 7-8 layout), the per-organ
table of the reference model (Table 10) and the leave-one-corruption-out rows beside Table 12.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
#: Kang et al. 2026, Table 5 (clean, mean corrupted, gap, worst-case)
PAPER_T5 = {
    "Five-organ (TotalSegmentator)": {
        "nnU-Net baseline": (0.874, 0.610, 0.264, 0.001), "Intensity augmentation": (0.864, 0.662, 0.202, 0.086),
        "Geometric augmentation": (0.902, 0.481, 0.422, 0.000), "Artifact augmentation": (0.889, 0.553, 0.336, 0.000),
        "RAMP": (0.816, 0.753, 0.064, 0.439)},
    "AbdomenCT-1K": {
        "nnU-Net baseline": (0.923, 0.633, 0.290, 0.000), "Intensity augmentation": (0.865, 0.620, 0.244, 0.016),
        "Geometric augmentation": (0.925, 0.453, 0.471, 0.000), "Artifact augmentation": (0.929, 0.521, 0.408, 0.000),
        "RAMP": (0.859, 0.789, 0.070, 0.382)},
}
#: Kang et al. 2026, Table 12 (LOCO Dice on the held-out family: TotalSeg, AbdomenCT-1K)
PAPER_LOCO = {"ct_bias_field": (0.782, 0.883), "ct_compound": (0.818, 0.888), "ct_gaussian_noise": (0.803, 0.886),
              "ct_motion_blur": (0.781, 0.879), "ct_resolution": (0.806, 0.871), "ct_rician_noise": (0.816, 0.888),
              "ct_salt_pepper": (0.785, 0.895), "ct_stripe": (0.788, 0.896)}
LABELS = {"none": "no augmentation (baseline)", "single": "single random corruption (k = 1)",
          "all_corruption": "all-corruption sampler (k = 2-4, no spatial/intensity)", "intensity": "intensity",
          "geometric": "geometric", "artifact": "artifact", "ramp": "RAMP (spatial + intensity + k = 2-4, p = 0.85)",
          "ramp_k1": "RAMP, k = 1 (ablation)", "ramp_k4": "RAMP, k = 4 (ablation)",
          "ramp_p050": "RAMP, p = 0.5 (ablation)", "ramp_p100": "RAMP, p = 1.0 (ablation)",
          "ramp_noflip": "RAMP without flips (diagnostic)"}
COLUMNS = ("clean_dice", "mean_corrupted_dice", "robustness_gap", "worst_case_dice")


def base_model(name: str) -> str:
    """``ramp_s43`` -> ``ramp``: the strategy of an extra-seed model (``<strategy>_s<seed>``)."""
    head, _, tail = name.rpartition("_s")
    return head if head and tail.isdigit() else name


def by_strategy(t5: pd.DataFrame) -> pd.DataFrame:
    """Table 5 rows grouped by strategy over seeds: mean, SD (NaN for one seed) and the number of seeds."""
    t5 = t5.assign(strategy=t5["model"].map(base_model))
    g = t5.groupby("strategy", sort=False)[list(COLUMNS)]
    out = g.mean().join(g.std(ddof=1).add_suffix("_sd"))
    out["seeds"] = g.size()
    return out


def _ms(mean: float, sd: float) -> str:
    return _f(mean) if pd.isna(sd) else f"{mean:.3f} ± {sd:.3f}"


def _f(v: float) -> str:
    return "–" if pd.isna(v) else f"{v:.3f}"


def _training_time(workdir: Path) -> str:
    """The models' own training times (``train/*/result.json``), summed over however many invocations of the
    study it took (a resumed run's ``sizes.json`` only times its last invocation)."""
    secs = [json.loads(p.read_text())["seconds"] for p in sorted((workdir / "train").glob("*/result.json"))]
    if not secs:
        return ""
    return (f"Training: {len(secs)} models, {sum(secs) / 60:.0f} min in all ({sum(secs) / len(secs) / 60:.1f} min "
            f"per model) on 2 CPU cores.")


def report(workdir: Path) -> str:
    res = workdir / "results"
    if not (res / "ramp_table.csv").is_file():
        raise SystemExit(f"{res}/ramp_table.csv not found: run python -m xraylab.volumes.experiment first")
    t5 = pd.read_csv(res / "ramp_table.csv")
    sizes = json.loads((res / "sizes.json").read_text())
    lines = [f"## RAMP on real CT volumes ({workdir.name})", ""]
    vols = sizes["volumes"]
    lines += [f"Sizes: {len(vols['train'])} train volumes ({', '.join(vols['train'])}), {len(vols['val'])} val "
              f"({', '.join(vols['val'])}), {len(vols['test'])} test ({', '.join(vols['test'])}); `~p` = pseudo-"
              f"subject (smooth deformation of that CT). Classes {', '.join(sizes['classes'])}; "
              f"{sizes['voxel_mm']} mm voxels; model {sizes['model']}; patch {sizes['patch']}, batch "
              f"{sizes['batch_size']}, {sizes['epochs']} epochs x {sizes['steps_per_epoch']} steps; "
              f"{sizes['degraded_volumes']} clean + corrupted test volumes (13 operators x 5 levels + clean). "
              f"{_training_time(workdir)}", ""]
    lines += ["| setting | method | seeds | clean Dice | mean corrupted Dice | robustness gap | worst-case Dice |",
              "|---|---|---|---|---|---|---|"]
    for strategy, r in by_strategy(t5).iterrows():
        cells = " | ".join(_ms(r[c], r[f"{c}_sd"]) for c in COLUMNS)
        lines.append(f"| **ours**, real CTs, CPU | {LABELS.get(str(strategy), strategy)} | {int(r['seeds'])} | "
                     f"{cells} |")
    for setting, rows in PAPER_T5.items():
        for m, v in rows.items():
            lines.append(f"| paper, {setting} | {m} | – | " + " | ".join(f"{x:.3f}" for x in v) + " |")
    lines.append("")
    if (res / "corruption_table.csv").is_file():
        ct = pd.read_csv(res / "corruption_table.csv")
        cols = [c for c in ct.columns if c != "corruption"]
        lines += ["Mean Dice per corruption (over the 5 levels):", "",
                  "| corruption | " + " | ".join(cols) + " |", "|---|" + "---|" * len(cols)]
        for _, r in ct.iterrows():
            lines.append(f"| {r['corruption']} | " + " | ".join(_f(r[c]) for c in cols) + " |")
        lines.append("")
    if (res / "organ_table.csv").is_file():
        ot = pd.read_csv(res / "organ_table.csv")
        lines += ["Per organ (reference model):", "", "| organ | clean | corrupted | gap | worst-case |",
                  "|---|---|---|---|---|"]
        for _, r in ot.iterrows():
            lines.append(f"| {r['class']} | {_f(r['clean_dice'])} | {_f(r['corrupted_dice'])} | {_f(r['gap'])} | "
                         f"{_f(r['worst_case_dice'])} |")
        lines.append("")
    lt_path = res / "loco_table.csv"
    if lt_path.is_file() and lt_path.stat().st_size > 1:
        lt = pd.read_csv(lt_path)
        if len(lt):
            ref = [c for c in lt.columns if c.endswith("_dice") and c != "loco_dice"]
            lines += ["Leave-one-corruption-out (Dice on the held-out operator):", "",
                      "| held out | ours: LOCO-RAMP | ours: full RAMP | paper TotalSeg LOCO "
                      "| paper AbdomenCT-1K LOCO |",
                      "|---|---|---|---|---|"]
            for _, r in lt.iterrows():
                p = PAPER_LOCO.get(r["held_out"], (float("nan"), float("nan")))
                lines.append(f"| {r['held_out']} | {_f(r['loco_dice'])} | {_f(r[ref[0]]) if ref else '–'} | "
                             f"{_f(p[0])} | {_f(p[1])} |")
            lines.append("")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--workdir", type=Path, default=ROOT / "outputs" / "ramp_ct_chest_cpu")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "ramp_chest_results.md")
    a = ap.parse_args()
    text = report(a.workdir)
    a.out.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
