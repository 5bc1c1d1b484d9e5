"""Tables of the Ward & Imran experiments on real images (issue 14), beside the paper's numbers.

Made from a finished `xraylab run simulations/ward_real_cpu.yaml` (and optionally `ward_dermoscopy_smoke.yaml`):

    python docs/make_ward_report.py [--workdir outputs/ward_real_cpu] [--derm outputs/ward_dermoscopy_smoke]
                                    [--out docs/ward_results.md]

Writes ``docs/ward_results.md`` (the README section's tables) and prints it: Table 1 (corruption severity and type
accuracy of ResNet-18) next to Ward & Imran's ResNet-18 column on JSRT, the data sizes, chance levels, and the
segmentation comparison (U-Net with traditional vs physics augmentation on the corrupted real test images).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
# Ward & Imran, MIDL 2026, Table 1, ResNet-18 column (JSRT; ../shared/seeds/000_a7e938c504d0c57e.txt).
WARD_SEVERITY = {"No corruption": 0.5466, "Level 1": 0.8034, "Level 2": 0.8670, "Level 3": 0.8797,
                 "Level 4": 0.9983, "Overall": 0.8190}
WARD_TYPE = {"No corruption": 0.5466, "acquisition_geometry": 0.8745, "anti_scatter_grid": 1.0000,
             "beam_energy": 0.9585, "collimation": 0.8654, "detector_performance": 0.2398, "focal_spot": 0.7702,
             "tube_current": 0.8016, "Overall": 0.8445}
WARD_UNET_CLEAN_DICE = 0.8520  # §4.2: U-Net trained without corrupted images, JSRT, mean over the five SCR classes
SEVERITY_MODEL, TYPE_MODEL = "ResNet-18 (severity)", "ResNet-18 (type)"


def _table(eval_dir: Path, name: str) -> pd.DataFrame:
    path = eval_dir / "tables" / f"{name}.csv"
    if not path.is_file():
        raise SystemExit(f"{path} not found: run the pipeline (xraylab run simulations/ward_real_cpu.yaml) first")
    return pd.read_csv(path, index_col=0)


def _f(v: float, digits: int = 3) -> str:
    return "n/a" if pd.isna(v) else f"{v:.{digits}f}"


def sizes(workdir: Path, real: str = "real", degraded: str = "degraded") -> str:
    """One line: images / subjects per split of the imported set and the degraded set's size."""
    src = pd.read_parquet(workdir / real / "manifest.parquet")
    deg = pd.read_parquet(workdir / degraded / "manifest.parquet")
    parts = []
    for split in ("train", "val", "test"):
        s = src[src["split"] == split]
        d = deg[deg["split"] == split]
        parts.append(f"{split} {len(s)} images / {s['subject_id'].nunique()} subjects → {len(d)} degraded")
    per = len(deg) // max(len(src), 1)
    return f"{len(src)} real images × {per} versions (clean + corruptions × levels): " + "; ".join(parts)


def _results(eval_dir: Path) -> pd.DataFrame:
    return pd.read_parquet(eval_dir / "results.parquet")


def _chance(res: pd.DataFrame, model: str) -> float:
    """Accuracy of always predicting the most frequent true class of the test rows."""
    g = res[(res["model"] == model) & (res["metric"] == "correct")]
    return float(g["target"].value_counts(normalize=True).max()) if len(g) else float("nan")


def table1(eval_dir: Path, label: str) -> str:
    """Table 1 (both halves) beside Ward & Imran's ResNet-18 column."""
    sev = _table(eval_dir, "classification_by_severity")
    typ = _table(eval_dir, "classification_by_corruption")
    summ = _table(eval_dir, "classification_summary")
    res = _results(eval_dir)
    counts = res[(res["metric"] == "correct") & (res["model"] == SEVERITY_MODEL)]
    n_sev = counts.groupby("severity").size()
    n_typ = counts.groupby("corruption").size()
    lines = [f"| corruption severity | n | ResNet-18, {label} | ResNet-18, JSRT (Ward & Imran) |", "|---|---|---|---|"]
    for row in sev.index:
        n = len(counts) if row == "Overall" else int(n_sev.get(0.0 if row == "No corruption" else
                                                               float(row.split()[-1]), 0))
        ward = _f(WARD_SEVERITY.get(row, float("nan")), 4)
        lines.append(f"| {row} | {n} | {_f(sev.loc[row, SEVERITY_MODEL])} | {ward} |")
    lines.append(f"| balanced accuracy (chance {_f(_chance(res, SEVERITY_MODEL))} majority) | {len(counts)} | "
                 f"{_f(summ.loc[SEVERITY_MODEL, 'balanced_accuracy'])} | — |")
    lines += ["", f"| corruption type | n | ResNet-18, {label} | ResNet-18, JSRT (Ward & Imran) |", "|---|---|---|---|"]
    order = ["No corruption", *sorted(i for i in typ.index if i not in ("No corruption", "Overall")), "Overall"]
    for row in [i for i in order if i in typ.index]:
        key = "none" if row == "No corruption" else row
        n = len(counts) if row == "Overall" else int(n_typ.get(key, 0))
        lines.append(f"| {row} | {n} | {_f(typ.loc[row, TYPE_MODEL])} | {_f(WARD_TYPE.get(row, float('nan')), 4)} |")
    lines.append(f"| balanced accuracy (chance {_f(_chance(res, TYPE_MODEL))} majority) | {len(counts)} | "
                 f"{_f(summ.loc[TYPE_MODEL, 'balanced_accuracy'])} | — |")
    return "\n".join(lines)


def segmentation(eval_dir: Path) -> str:
    """Clean / corrupted / gap / worst-case Dice (mean over classes) and Dice per structure and per corruption."""
    t5 = _table(eval_dir, "corruption_table5")
    per_type = _table(eval_dir, "corruption_per_type")
    res = _results(eval_dir)
    d = res[(res["suite"] == "corruption") & (res["metric"] == "dice")]
    structures = [c for c in ("lungs", "left_lung", "right_lung", "cardiomediastinum", "lesion")
                  if c in set(d["class"])]
    head = ["model", "clean Dice", "mean corrupted Dice", "robustness gap", "worst-case Dice"]
    head += [f"{s} clean / corrupted" for s in structures]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for model in t5.index:
        row = [model] + [_f(t5.loc[model, c]) for c in ("clean_dice", "mean_corrupted_dice", "robustness_gap",
                                                          "worst_case_dice")]
        for s in structures:
            m = d[(d["model"] == model) & (d["class"] == s)]
            clean = m.loc[m["corruption"] == "none", "value"].mean()
            corrupt = m.loc[m["corruption"] != "none", "value"].mean()
            row.append(f"{_f(clean)} / {_f(corrupt)}")
        lines.append("| " + " | ".join(row) + " |")
    lines += ["", "Mean Dice (over classes and levels 1–4) per corruption:", "",
              "| corruption | " + " | ".join(per_type.columns) + " |", "|---|" + "---|" * len(per_type.columns)]
    for corr in per_type.index:
        lines.append(f"| {corr} | " + " | ".join(_f(v) for v in per_type.loc[corr]) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workdir", type=Path, default=ROOT / "outputs" / "ward_real_cpu")
    ap.add_argument("--derm", type=Path, default=ROOT / "outputs" / "ward_dermoscopy_smoke",
                    help="work folder of ward_dermoscopy_smoke.yaml (skipped when absent)")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "ward_results.md")
    args = ap.parse_args()
    parts = [
        "### Ward & Imran Table 1 on real chest radiographs (ResNet-18, corrupted real test images)",
        f"Data: {sizes(args.workdir)}.",
        table1(args.workdir / "evaluate_cls", "real CXR (ours)"),
    ]
    if (args.workdir / "evaluate_seg" / "results.parquet").is_file():
        parts += [
            "### Segmentation with traditional vs physics augmentation, scored on the corrupted real test images",
            f"Ward & Imran's U-Net without corrupted training images: mean Dice {WARD_UNET_CLEAN_DICE} on clean JSRT "
            "(five SCR classes); here three classes (left lung, right lung, cardiomediastinum), mean over classes.",
            segmentation(args.workdir / "evaluate_seg"),
        ]
    if (args.derm / "evaluate_seg" / "results.parquet").is_file():
        parts += ["### Dermoscopy smoke run (5 real HAM10000 images; plumbing check, not a result)",
                  f"Data: {sizes(args.derm)}.",
                  table1(args.derm / "evaluate_cls", "5 real dermoscopy images").replace(
                      "ResNet-18, JSRT (Ward & Imran)", "ResNet-18, JSRT X-ray (Ward & Imran; other modality)"),
                  segmentation(args.derm / "evaluate_seg")]
    text = "\n\n".join(parts) + "\n"
    args.out.write_text(text, encoding="utf-8")
    print(text)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
