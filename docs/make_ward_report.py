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
TYPE_CLASSES = ["none", "acquisition_geometry", "anti_scatter_grid", "beam_energy", "collimation",
                "detector_performance", "focal_spot", "tube_current"]
SHORT = {"none": "none", "acquisition_geometry": "geom", "anti_scatter_grid": "grid", "beam_energy": "kVp",
         "collimation": "coll", "detector_performance": "det", "focal_spot": "focal", "tube_current": "mAs"}


def _table(eval_dir: Path, name: str) -> pd.DataFrame:
    path = eval_dir / "tables" / f"{name}.csv"
    if not path.is_file():
        raise SystemExit(f"{path} not found: run the pipeline (xraylab run simulations/ward_real_cpu.yaml) first")
    return pd.read_csv(path, index_col=0)


def _f(v: float, digits: int = 3) -> str:
    return "n/a" if pd.isna(v) else f"{v:.{digits}f}"


def seeds_of(columns, base: str) -> list[str]:
    """Model names of ``base``'s seeds: ``"<base> s<k>"`` (or the bare name of a one-seed run)."""
    return [c for c in columns if c == base or c.startswith(base + " s")]


def mean_sd(values) -> str:
    """``mean ± SD`` over seeds (sample SD; the bare mean for one seed)."""
    v = pd.Series(list(values), dtype=float).dropna()
    if v.empty:
        return "n/a"
    return f"{v.mean():.3f}" if len(v) == 1 else f"{v.mean():.3f} ± {v.std(ddof=1):.3f}"


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


def _chance(res: pd.DataFrame, models: list[str]) -> float:
    """Accuracy of always predicting the most frequent true class of the test rows."""
    g = res[(res["model"] == models[0]) & (res["metric"] == "correct")]
    return float(g["target"].value_counts(normalize=True).max()) if len(g) else float("nan")


def table1(eval_dir: Path, label: str) -> str:
    """Table 1 (both halves) beside Ward & Imran's ResNet-18 column; mean ± SD over the seeds."""
    sev = _table(eval_dir, "classification_by_severity")
    typ = _table(eval_dir, "classification_by_corruption")
    summ = _table(eval_dir, "classification_summary")
    res = _results(eval_dir)
    sev_models, typ_models = seeds_of(sev.columns, SEVERITY_MODEL), seeds_of(typ.columns, TYPE_MODEL)
    counts = res[(res["metric"] == "correct") & (res["model"] == sev_models[0])]
    n_sev = counts.groupby("severity").size()
    n_typ = counts.groupby("corruption").size()
    seeds = f"{len(sev_models)} seed{'s' if len(sev_models) > 1 else ''}"
    lines = [f"| corruption severity | n | ResNet-18, {label} ({seeds}) | ResNet-18, JSRT (Ward & Imran) |",
             "|---|---|---|---|"]
    for row in sev.index:
        n = len(counts) if row == "Overall" else int(n_sev.get(0.0 if row == "No corruption" else
                                                               float(row.split()[-1]), 0))
        ward = _f(WARD_SEVERITY.get(row, float("nan")), 4)
        lines.append(f"| {row} | {n} | {mean_sd(sev.loc[row, sev_models])} | {ward} |")
    lines.append(f"| balanced accuracy (chance {_f(_chance(res, sev_models))} majority) | {len(counts)} | "
                 f"{mean_sd(summ.loc[sev_models, 'balanced_accuracy'])} | — |")
    lines += ["", f"| corruption type | n | ResNet-18, {label} ({seeds}) | ResNet-18, JSRT (Ward & Imran) |",
              "|---|---|---|---|"]
    order = ["No corruption", *sorted(i for i in typ.index if i not in ("No corruption", "Overall")), "Overall"]
    for row in [i for i in order if i in typ.index]:
        key = "none" if row == "No corruption" else row
        n = len(counts) if row == "Overall" else int(n_typ.get(key, 0))
        lines.append(f"| {row} | {n} | {mean_sd(typ.loc[row, typ_models])} | "
                     f"{_f(WARD_TYPE.get(row, float('nan')), 4)} |")
    lines.append(f"| balanced accuracy (chance {_f(_chance(res, typ_models))} majority) | {len(counts)} | "
                 f"{mean_sd(summ.loc[typ_models, 'balanced_accuracy'])} | — |")
    return "\n".join(lines)


def confusion(eval_dir: Path, base: str, short: dict[str, str] | None = None) -> str:
    """Confusion matrix summed over ``base``'s seeds (rows true, columns predicted; counts)."""
    total = None
    for path in sorted((eval_dir / "tables").glob("classification_confusion_*.csv")):
        name = path.stem.removeprefix("classification_confusion_")
        safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in base)
        if name != safe and not name.startswith(safe + "_s"):
            continue
        m = pd.read_csv(path, index_col=0)
        total = m if total is None else total.add(m, fill_value=0)
    if total is None:
        return "(no confusion matrix found)"
    total = total.fillna(0).astype(int)
    name = short or {}
    head = ["true \\ predicted", *[name.get(str(c), str(c)) for c in total.columns]]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in total.index:
        lines.append(f"| {name.get(str(r), str(r))} | " + " | ".join(str(v) for v in total.loc[r]) + " |")
    return "\n".join(lines)


def segmentation(eval_dir: Path) -> str:
    """Clean / corrupted / gap / worst-case Dice (mean over classes), mean ± SD over seeds, per augmentation."""
    t5 = _table(eval_dir, "corruption_table5")
    per_type = _table(eval_dir, "corruption_per_type")
    res = _results(eval_dir)
    d = res[(res["suite"] == "corruption") & (res["metric"] == "dice")]
    structures = [c for c in ("lungs", "left_lung", "right_lung", "cardiomediastinum", "lesion")
                  if c in set(d["class"])]
    bases = list(dict.fromkeys(m.rsplit(" s", 1)[0] if m.rsplit(" s", 1)[-1].isdigit() else m for m in t5.index))
    head = ["model", "seeds", "clean Dice", "mean corrupted Dice", "robustness gap", "worst-case Dice"]
    head += [f"{s} clean / corrupted" for s in structures]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for base in bases:
        models = seeds_of(t5.index, base)
        row = [base, str(len(models))] + [mean_sd(t5.loc[models, c]) for c in (
            "clean_dice", "mean_corrupted_dice", "robustness_gap", "worst_case_dice")]
        for s in structures:
            m = d[d["model"].isin(models) & (d["class"] == s)]
            clean = m.loc[m["corruption"] == "none", "value"].mean()
            corrupt = m.loc[m["corruption"] != "none", "value"].mean()
            row.append(f"{_f(clean)} / {_f(corrupt)}")
        lines.append("| " + " | ".join(row) + " |")
    merged = pd.DataFrame({base: per_type[seeds_of(per_type.columns, base)].mean(axis=1) for base in bases})
    lines += ["", "Mean Dice (over classes, levels 1–4 and seeds) per corruption:", "",
              "| corruption | " + " | ".join(merged.columns) + " |", "|---|" + "---|" * len(merged.columns)]
    for corr in merged.index:
        lines.append(f"| {corr} | " + " | ".join(_f(v) for v in merged.loc[corr]) + " |")
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
        "Confusion matrix of severity, summed over the seeds (rows true level, columns predicted):",
        confusion(args.workdir / "evaluate_cls", SEVERITY_MODEL),
        "Confusion matrix of type, summed over the seeds (rows true, columns predicted):",
        confusion(args.workdir / "evaluate_cls", TYPE_MODEL, SHORT),
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
