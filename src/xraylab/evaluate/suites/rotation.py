"""Rotation suite (Fok et al. 2024, seed 003): metrics per patient-rotation angle group.

Outputs: Table 2 layout (mean ± SD per model x metric x angle group, % change against the
reference model), the Fig. 2/4 boxplot of Dice per group and model, and mean Dice vs angle.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from xraylab.data.angles import ANGLE_GROUP_RANGES, ANGLE_GROUPS
from xraylab.errors import InputFileError
from xraylab.evaluate import aggregate, plots
from xraylab.evaluate.data import load_rows
from xraylab.evaluate.engine import segmentation_rows
from xraylab.evaluate.report import Section, Table
from xraylab.evaluate.spec import RotationSuite
from xraylab.evaluate.suites.base import Context, higher, metric_label, seg_metrics_present

NAME = "rotation"
FOK_FIG5_ANGLES = (-20.0, -10.0, 0.0, 10.0, 20.0)
METRIC_NAMES = {"dice": "Dice", "hd_mm": "HD (mm)", "hd95_mm": "HD95 (mm)", "hd_px": "HD (px)", "hd95_px": "HD95 (px)"}


def run(ctx: Context, cfg: RotationSuite) -> pd.DataFrame:
    """Per-image metrics of every segmentation model on the rotation test set."""
    rows = load_rows(cfg.dataset, cfg.split, cfg.max_images)
    if rows["angle"].isna().all():
        raise InputFileError(f"{cfg.dataset}: manifest has no angle_deg column; the rotation suite needs one")
    frames = [
        segmentation_rows(
            m, rows, cfg.dataset, NAME, batch_size=ctx.batch_size, device=ctx.device, dice_empty=cfg.dice_empty,
            hd_empty=cfg.hd_empty, spacing_mm=cfg.spacing_mm, distances=cfg.distances,
        )
        for m in ctx.pool.select(cfg.models, segmentation=True)
    ]
    return pd.concat(frames, ignore_index=True)


def _fmt(mean: float, sd: float, pct: float, metric: str) -> str:
    d = 3 if metric in ("dice", "iou") else 2
    s = f"{mean:.{d}f} ± {sd:.{d}f}" if np.isfinite(sd) else f"{mean:.{d}f}"
    if np.isfinite(pct):
        s += f" ({pct:+.2f}%)"
    return s


def table2(df: pd.DataFrame, cfg: RotationSuite) -> Table:
    """Fok et al. Table 2: rows model x metric, columns angle groups."""
    metrics = seg_metrics_present(df)
    class_name = cfg.table_class if cfg.table_class in set(df["class"]) else df["class"].iloc[0]
    t = aggregate.rotation_table(df, metrics, cfg.reference, class_name)
    groups = [g for g in ANGLE_GROUPS if g in set(t["angle_group"])]
    disp = t.assign(cell=[_fmt(a, b, c, m) for a, b, c, m in zip(t["mean"], t["sd"], t["pct_change"], t["metric"])])
    disp = disp.pivot(index=["model", "metric"], columns="angle_group", values="cell")
    disp = disp.reindex(columns=groups).reindex(pd.MultiIndex.from_frame(t[["model", "metric"]].drop_duplicates()))
    disp.index = disp.index.set_levels([METRIC_NAMES.get(m, m) for m in disp.index.levels[1]], level=1)
    best = {}
    for metric in metrics:
        sub = t[t["metric"] == metric].pivot(index="model", columns="angle_group", values="mean")
        for g, (m, v) in aggregate.best_per_column(sub.reindex(columns=groups), higher(metric)).items():
            best[f"{METRIC_NAMES.get(metric, metric)} {g}"] = (m, v)
    ref = f"; in brackets the % change against {cfg.reference}" if cfg.reference else ""
    return Table(
        name="rotation_table2", data=t,
        caption=f"Mean ± SD per angle group (class: {class_name}{ref}) — Fok et al. Table 2 layout",
        display=disp, best=best, best_note="Dice: higher is better; HD/HD95: lower is better",
    )


def report(df: pd.DataFrame, cfg: RotationSuite, fig_dir: Path) -> Section:
    """Table 2 plus the group boxplot (Fig. 2/4) and mean Dice vs rotation angle."""
    tab = table2(df, cfg)
    class_name = cfg.table_class if cfg.table_class in set(df["class"]) else df["class"].iloc[0]
    models = list(dict.fromkeys(df["model"]))
    d = df[(df["metric"] == "dice") & (df["class"] == class_name)]
    groups = [g for g in ANGLE_GROUPS if g in set(d["angle_group"])]
    figs = [
        (
            plots.grouped_boxplot(
                d, "angle_group", groups, models, metric_label("dice"),
                "Dice per patient-rotation group (Fok et al. Fig. 2/4)", fig_dir / "rotation_dice_boxplot.png",
                xlabel="patient rotation group (α range in degrees)",
                tick_labels=[f"{g}\n({ANGLE_GROUP_RANGES[g]})" for g in groups],
            ),
            "Dice per rotation group and model; boxes: quartiles, whiskers: 1.5 IQR",
        )
    ]
    selected = [a for a in FOK_FIG5_ANGLES if (d["angle"] == a).any()]
    if len(selected) >= 2:
        figs.append(
            (
                plots.grouped_boxplot(
                    d, "angle", selected, models, metric_label("dice"),
                    "Dice at selected rotation angles (Fok et al. Fig. 5)",
                    fig_dir / "rotation_dice_selected_angles.png", xlabel="patient rotation α (degrees)",
                    tick_labels=[f"{a:g}°" for a in selected],
                ),
                "Dice per model at α = −20°, −10°, 0°, 10°, 20°",
            )
        )
    per_angle = d.groupby(["angle", "model"])["value"].mean().unstack("model").reindex(columns=models)
    per_angle_table = Table("rotation_dice_per_angle", per_angle, "Mean Dice per rotation angle (degrees) and model",
                            best=aggregate.best_per_column(per_angle, True, "columns"),
                            best_note="per angle, higher is better")
    figs.append(
        (
            plots.line_plot(per_angle, "patient rotation α (degrees)", metric_label("dice"),
                            "Mean Dice vs rotation angle", fig_dir / "rotation_dice_vs_angle.png"),
            "Mean Dice per rotation angle and model",
        )
    )
    n_img = d.groupby("model")["image"].nunique()
    text = (
        f"{int(n_img.max()) if len(n_img) else 0} images per model from `{cfg.dataset}`; angle groups as in "
        "`xraylab.data.angles`. HD/HD95 follow MONAI "
        "(boundary distances, 95th percentile per direction, then the maximum); "
        f"empty-mask policies: Dice `{cfg.dice_empty}`, HD `{cfg.hd_empty}`."
    )
    return Section(title="Rotation suite (Fok et al.)", text=text, tables=[tab, per_angle_table], figures=figs)
