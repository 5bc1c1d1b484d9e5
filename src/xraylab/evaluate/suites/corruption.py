"""Corruption suite (RAMP, seed 001; Ward & Imran Fig. 2/4): Dice under corruption x severity.

Outputs: Table 5 (clean / mean corrupted Dice, robustness gap, worst-case Dice), Table 6
(gain against a reference), Tables 7-8 (per-corruption mean over severities), Table 9
(high-severity wins), Table 10 (per class), Table 12 (leave-one-corruption-family-out),
Fig. 3 (clean vs corrupted), Fig. 4 (corruption x model heatmap), Fig. 5 (Dice vs severity).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from xraylab.errors import InputFileError
from xraylab.evaluate import aggregate, plots
from xraylab.evaluate.aggregate import CLEAN
from xraylab.evaluate.data import load_rows
from xraylab.evaluate.engine import segmentation_rows
from xraylab.evaluate.report import Section, Table
from xraylab.evaluate.spec import CorruptionSuite
from xraylab.evaluate.suites.base import Context, metric_label, mixed_best

NAME = "corruption"
LOCO_SUITE = "loco"


def _family_names(cfg: CorruptionSuite, family: str) -> list[str]:
    return cfg.families.get(family, [family])


def run(ctx: Context, cfg: CorruptionSuite) -> pd.DataFrame:
    """Per-image Dice (and optionally HD) of each model on clean and corrupted images; LOCO models
    only on their held-out family (rows with suite ``loco``)."""
    parts = [(cfg.dataset, load_rows(cfg.dataset, cfg.split, cfg.max_images))]
    if cfg.clean_dataset:
        clean = load_rows(cfg.clean_dataset, cfg.split, cfg.max_images)
        clean["corruption"], clean["severity"] = CLEAN, 0.0
        parts.append((cfg.clean_dataset, clean))
    if not any((r["corruption"] == CLEAN).any() for _, r in parts):
        raise InputFileError(
            f"{cfg.dataset}: no clean rows (corruption 'none'); set clean_dataset in the corruption suite"
        )
    loco_models = set(cfg.loco.values())
    names = cfg.models if cfg.models is not None else [
        m.name for m in ctx.pool.select(None, True) if m.name not in loco_models
    ]
    opts: dict[str, Any] = dict(batch_size=ctx.batch_size, device=ctx.device, dice_empty=cfg.dice_empty,
                                hd_empty=cfg.hd_empty, spacing_mm=cfg.spacing_mm, distances=cfg.distances)
    frames = []
    for model in ctx.pool.select(names, segmentation=True):
        for folder, rows in parts:
            frames.append(segmentation_rows(model, rows, folder, NAME, **opts))
    for family, name in cfg.loco.items():
        model = ctx.pool.select([name], segmentation=True)[0]
        for folder, rows in parts:
            sub = rows[rows["corruption"].isin(_family_names(cfg, family))]
            if len(sub):
                frames.append(segmentation_rows(model, sub.reset_index(drop=True), folder, LOCO_SUITE, **opts))
    return pd.concat(frames, ignore_index=True)


def tables(df: pd.DataFrame, cfg: CorruptionSuite) -> list[Table]:
    """The RAMP tables from corruption-suite rows."""
    main = df[df["suite"] == NAME]
    cls = cfg.table_class if cfg.table_class in set(main["class"]) else main["class"].iloc[0]
    overall = aggregate.corruption_overall(main, "dice", cls)
    out = [
        Table(
            "corruption_table5", overall, f"Clean vs corrupted Dice (class: {cls}) — RAMP Table 5",
            best=mixed_best(overall, {
                "clean_dice": True, "mean_corrupted_dice": True, "robustness_gap": False, "worst_case_dice": True,
            }),
            best_note="gap: lower is better, others higher",
        )
    ]
    if cfg.reference is not None and cfg.reference in overall.index:
        out.append(Table("corruption_table6_gain", aggregate.gain_table(overall, cfg.reference),
                         f"Gain of each model against {cfg.reference} and the best other model — RAMP Table 6"))
    pc = aggregate.per_corruption(main, "dice", cls)
    out.append(Table("corruption_per_type", pc, "Mean Dice over severities per corruption — RAMP Tables 7-8 / Fig. 4",
                     best=aggregate.best_per_column(pc, True, model_axis="columns"),
                     best_note="per corruption, higher is better"))
    ps = aggregate.per_severity(main, "dice", cls)
    out.append(Table("corruption_per_severity", ps, "Mean Dice over corruptions per severity (0 = clean) — RAMP Fig. 5",
                     best=aggregate.best_per_column(ps, True, model_axis="columns"),
                     best_note="per severity, higher is better"))
    wins = aggregate.high_severity_wins(main, cfg.high_severity_min, "dice", cls)
    out.append(Table("corruption_table9_high_severity_wins", wins,
                     f"Settings with severity ≥ {cfg.high_severity_min:g} in which each model has the highest Dice "
                     "— RAMP Table 9"))
    out.append(Table("corruption_table10_per_class", aggregate.per_class_robustness(main, "dice"),
                     "Per-class clean / corrupted / gap / worst-case Dice — RAMP Table 10"))
    if cfg.loco:
        compare = list(overall.index)
        loco = aggregate.loco_table(df, cfg.loco, cfg.families, "dice", cls, compare=compare)
        out.append(Table("corruption_table12_loco", loco,
                         "Leave-one-corruption-family-out: the LOCO model's Dice on its held-out family, "
                         "next to every full model — RAMP Table 12"))
    return out


def report(df: pd.DataFrame, cfg: CorruptionSuite, fig_dir: Path) -> Section:
    """Tables plus Fig. 3 (clean vs corrupted), Fig. 4 (heatmap) and Fig. 5 (severity curve)."""
    tabs = tables(df, cfg)
    by = {t.name: t.data for t in tabs}
    ov = by["corruption_table5"]
    figs = [
        (plots.scatter_xy(ov["clean_dice"], ov["mean_corrupted_dice"], "clean Dice (fraction)",
                          "mean corrupted Dice (fraction)", "Clean vs corrupted Dice (RAMP Fig. 3)",
                          fig_dir / "corruption_clean_vs_corrupted.png"),
         "Clean Dice vs mean corrupted Dice per model"),
        (plots.heatmap(by["corruption_per_type"], "mean Dice (fraction)", "Corruption x model (RAMP Fig. 4)",
                       fig_dir / "corruption_heatmap.png"),
         "Mean Dice over severities per corruption and model"),
        (plots.line_plot(by["corruption_per_severity"], "corruption severity (0 = clean; dataset units)",
                         metric_label("dice"), "Dice vs severity (RAMP Fig. 5)",
                         fig_dir / "corruption_dice_vs_severity.png"),
         "Mean Dice over corruptions per severity level"),
        (plots.grouped_bars(by["corruption_per_type"], "corruption", metric_label("dice"),
                            "Dice per corruption and model (Ward & Imran Fig. 2/4)", fig_dir / "corruption_bars.png"),
         "Mean Dice per corruption and model"),
    ]
    text = (
        "Mean corrupted Dice averages every corrupted image; robustness gap = clean − mean corrupted; "
        "worst-case Dice = per subject the minimum over corruption × severity settings, averaged over subjects."
    )
    return Section(title="Corruption suite (RAMP; Ward & Imran)", text=text, tables=tabs, figures=figs)
