"""The run directory: resolved spec, versions, seed, per-epoch ``metrics.csv`` and the curve PNG.

Layout::

    RUN/spec.yaml          resolved spec (every default filled in)
    RUN/versions.json      package versions (xraylab.versions.package_versions)
    RUN/seed.txt           the run's seed
    RUN/data.json          classes and row counts per dataset and split
    RUN/metrics.csv        one row per finished epoch
    RUN/curves.png         loss and validation-metric curves
    RUN/checkpoints/{best,last}.pt

Every file is written atomically (:mod:`xraylab.io.atomic`).
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pandas as pd

from xraylab.io.atomic import atomic_path, write_text
from xraylab.versions import package_versions

METRICS = "metrics.csv"
CURVES = "curves.png"
SPEC = "spec.yaml"
TIMING_COLUMNS = ("epoch_time_s", "train_images_per_s")


def write_run_header(run_dir: Path, spec_yaml: str, seed: int, data_info: dict[str, Any]) -> None:
    """Write ``spec.yaml``, ``versions.json``, ``seed.txt`` and ``data.json``."""
    write_text(run_dir / SPEC, spec_yaml)
    write_text(run_dir / "versions.json", json.dumps(package_versions(), indent=2, sort_keys=True) + "\n")
    write_text(run_dir / "seed.txt", f"{seed}\n")
    write_text(run_dir / "data.json", json.dumps(data_info, indent=2, sort_keys=True, default=str) + "\n")


def read_metrics(run_dir: Path) -> list[dict[str, Any]]:
    """Rows of ``metrics.csv`` as dicts ([] when absent)."""
    path = run_dir / METRICS
    if not path.is_file():
        return []
    return pd.read_csv(path).to_dict("records")


def write_metrics(run_dir: Path, rows: list[dict[str, Any]]) -> None:
    """Rewrite ``metrics.csv`` with ``rows`` (floats in shortest round-trip form)."""
    buf = io.StringIO()
    pd.DataFrame(rows).to_csv(buf, index=False)
    write_text(run_dir / METRICS, buf.getvalue())


def plot_curves(run_dir: Path, rows: list[dict[str, Any]], monitor: str, title: str = "") -> Path | None:
    """Write ``curves.png``: train/val loss (left axis) and the validation ``monitor`` (right panel)."""
    if not rows:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    df = pd.DataFrame(rows)
    fig, (ax_loss, ax_metric) = plt.subplots(1, 2, figsize=(9, 3.4))
    ax_loss.plot(df["epoch"], df["train_loss"], marker="o", ms=3, label="train")
    ax_loss.plot(df["epoch"], df["val_loss"], marker="o", ms=3, label="validation")
    losses = pd.concat([df["train_loss"], df["val_loss"]]).dropna()
    if len(losses) and losses.min() > 0 and losses.max() / losses.min() > 50:
        ax_loss.set_yscale("log")  # early validation losses can be orders of magnitude larger
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("loss")
    ax_loss.legend(frameon=False)
    ax_metric.plot(df["epoch"], df[f"val_{monitor}"], marker="o", ms=3, color="tab:green")
    best = df[f"val_{monitor}"].idxmax()
    ax_metric.scatter([df["epoch"][best]], [df[f"val_{monitor}"][best]], color="tab:red", zorder=3, label="best")
    ax_metric.set_xlabel("epoch")
    ax_metric.set_ylabel(f"validation {monitor.replace('_', ' ')}")
    ax_metric.set_ylim(0, 1)
    ax_metric.legend(frameon=False)
    for ax in (ax_loss, ax_metric):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    path = run_dir / CURVES
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100, metadata={"Software": None})
    plt.close(fig)
    return path
