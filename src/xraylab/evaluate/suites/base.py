"""What every suite receives: the model pool and the run settings."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from xraylab.evaluate.aggregate import HIGHER_IS_BETTER, tied_names
from xraylab.evaluate.models import ModelPool


@dataclass
class Context:
    """Run-wide settings shared by the suites."""

    pool: ModelPool
    device: str = "cpu"
    batch_size: int = 16
    seed: int = 0


def metric_label(metric: str) -> str:
    """Axis / table label with unit for a metric name."""
    return {
        "dice": "Dice (fraction)", "iou": "IoU (fraction)", "hd_px": "HD (pixels)", "hd95_px": "HD95 (pixels)",
        "hd_mm": "HD (mm)", "hd95_mm": "HD95 (mm)", "correct": "accuracy (fraction)", "accuracy": "accuracy (fraction)",
    }.get(metric, metric)


def seg_metrics_present(df: pd.DataFrame) -> list[str]:
    """Dice plus HD/HD95, in mm when available, else in pixels (Fok et al. Table 2 rows)."""
    have = set(df["metric"])
    out = ["dice"]
    for base in ("hd", "hd95"):
        for unit in ("mm", "px"):
            if f"{base}_{unit}" in have:
                out.append(f"{base}_{unit}")
                break
    return [m for m in out if m in have]


def mixed_best(table: pd.DataFrame, directions: dict[str, bool]) -> dict[str, tuple[str, float]]:
    """Best model (index) per column, with a direction per column (True = higher is better)."""
    out = {}
    for col, higher in directions.items():
        if col not in table.columns:
            continue
        s = pd.to_numeric(table[col], errors="coerce").dropna()
        if not s.empty:
            best = s.max() if higher else s.min()
            out[str(col)] = (tied_names(s, best), float(best))
    return out


def higher(metric: str) -> bool:
    return HIGHER_IS_BETTER.get(metric, True)
