"""Figures of the robustness suites (matplotlib, Agg backend, PNG written atomically).

Every figure has labelled axes with units, a legend naming the models and a title.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from xraylab.io.atomic import atomic_path

# Colours of Fok et al. Fig. 2/4 first (black, red, blue, green), then matplotlib's cycle.
MODEL_COLOURS = (
    "black", "tab:red", "tab:blue", "tab:green",
    "tab:orange", "tab:purple", "tab:brown", "tab:pink", "tab:gray", "tab:olive", "tab:cyan",
)


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _finish(fig, ax, path: str | os.PathLike, xlabel: str, ylabel: str, title: str, grid: str | None = "both",
            legend_title: str | None = None, legend: bool = True) -> Path:
    """Label the axes, add the grid (``"both"``, ``"y"`` or None) and legend, and save the figure (see ``_save``)."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if grid is not None:
        ax.grid(axis=grid, alpha=0.3)
    if legend:
        ax.legend(fontsize=8, title=legend_title)
    return _save(fig, path)


def _save(fig, path: str | os.PathLike) -> Path:
    plt = _plt()
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120, metadata={"Software": None})
    plt.close(fig)
    return Path(path)


def grouped_boxplot(
    df: pd.DataFrame, group_col: str, groups: Sequence[Any], models: Sequence[str], ylabel: str, title: str,
    path: str | os.PathLike, xlabel: str = "", tick_labels: Sequence[str] | None = None,
) -> Path:
    """Fok et al. Fig. 2/4: one box per model within each group (whiskers at 1.5 IQR).

    ``df`` has columns model, ``group_col`` and value; ``groups`` are values of ``group_col`` (labels, angles).
    """
    plt = _plt()
    n = max(1, len(models))
    fig, ax = plt.subplots(figsize=(max(6.0, 1.3 * len(groups) * (0.6 + 0.35 * n)), 4.5))
    width = 0.8 / n
    for j, m in enumerate(models):
        data = [df.loc[(df["model"] == m) & (df[group_col] == g), "value"].dropna().to_numpy() for g in groups]
        pos = np.arange(len(groups)) + (j - (n - 1) / 2) * width
        keep = [i for i, d in enumerate(data) if len(d)]
        if not keep:
            continue
        colour = MODEL_COLOURS[j % len(MODEL_COLOURS)]
        ax.boxplot(
            [data[i] for i in keep], positions=pos[keep], widths=width * 0.85, whis=1.5, patch_artist=True,
            boxprops={"facecolor": "white", "edgecolor": colour}, medianprops={"color": colour},
            whiskerprops={"color": colour}, capprops={"color": colour},
            flierprops={"markeredgecolor": colour, "markersize": 3},
        )
        ax.plot([], [], color=colour, lw=2, label=m)
    ax.set_xticks(np.arange(len(groups)), list(tick_labels or groups))
    return _finish(fig, ax, path, xlabel, ylabel, title, grid="y", legend_title="model")


def line_plot(
    table: pd.DataFrame, xlabel: str, ylabel: str, title: str, path: str | os.PathLike,
    styles: dict | None = None,
) -> Path:
    """One line per column of ``table`` (x = index, numeric). Used for Dice vs severity and metric vs epsilon."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    for j, col in enumerate(table.columns):
        s = table[col].dropna()
        label = col if not isinstance(col, tuple) else " / ".join(map(str, col))
        kw = {"marker": "o", "color": MODEL_COLOURS[j % len(MODEL_COLOURS)]}
        kw.update((styles or {}).get(col, {}))
        ax.plot(s.index.to_numpy(dtype=float), s.to_numpy(dtype=float), label=label, **kw)
    return _finish(fig, ax, path, xlabel, ylabel, title)


def heatmap(
    table: pd.DataFrame, cbar_label: str, title: str, path: str | os.PathLike,
    xlabel: str = "model", ylabel: str = "corruption",
) -> Path:
    """RAMP Fig. 4: a value per (row, column) cell, annotated, with a colour bar."""
    plt = _plt()
    vals = table.to_numpy(dtype=float)
    fig, ax = plt.subplots(figsize=(max(6.0, 2.5 + 1.2 * table.shape[1]), max(3.8, 1.6 + 0.45 * table.shape[0])))
    finite = np.isfinite(vals).any()
    im = ax.imshow(
        vals, cmap="viridis", aspect="auto",
        vmin=np.nanmin(vals) if finite else 0, vmax=np.nanmax(vals) if finite else 1,
    )
    ax.set_xticks(range(table.shape[1]), [str(c) for c in table.columns], rotation=30, ha="right")
    ax.set_yticks(range(table.shape[0]), [str(i) for i in table.index])
    for i in range(vals.shape[0]):
        for j in range(vals.shape[1]):
            if np.isfinite(vals[i, j]):
                colour = "white" if vals[i, j] < np.nanmean(vals) else "black"
                ax.text(j, i, f"{vals[i, j]:.3f}", ha="center", va="center", fontsize=7, color=colour)
    fig.colorbar(im, ax=ax, label=cbar_label)
    return _finish(fig, ax, path, xlabel, ylabel, title, grid=None, legend=False)


def scatter_xy(x: pd.Series, y: pd.Series, xlabel: str, ylabel: str, title: str, path: str | os.PathLike) -> Path:
    """RAMP Fig. 3: one labelled point per model (index of ``x``/``y``), with the y = x line."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.2, 4.8))
    for j, m in enumerate(x.index):
        ax.scatter([x[m]], [y.get(m, np.nan)], color=MODEL_COLOURS[j % len(MODEL_COLOURS)], label=str(m), s=40)
    lo = np.nanmin(np.r_[x.to_numpy(dtype=float), y.to_numpy(dtype=float), 0.0])
    hi = np.nanmax(np.r_[x.to_numpy(dtype=float), y.to_numpy(dtype=float), 1.0])
    ax.plot([lo, hi], [lo, hi], ls="--", color="gray", lw=1, label="no degradation (y = x)")
    return _finish(fig, ax, path, xlabel, ylabel, title)


def grouped_bars(table: pd.DataFrame, xlabel: str, ylabel: str, title: str, path: str | os.PathLike) -> Path:
    """Ward & Imran Fig. 2-5: bars per row group (x) with one bar per column (model)."""
    plt = _plt()
    n = max(1, table.shape[1])
    fig, ax = plt.subplots(figsize=(max(6.0, 0.5 * table.shape[0] * n + 2), 4.4))
    width = 0.8 / n
    x = np.arange(table.shape[0])
    for j, col in enumerate(table.columns):
        ax.bar(
            x + (j - (n - 1) / 2) * width, table[col].to_numpy(dtype=float), width,
            label=str(col), color=MODEL_COLOURS[j % len(MODEL_COLOURS)],
        )
    ax.set_xticks(x, [str(i) for i in table.index], rotation=30, ha="right")
    return _finish(fig, ax, path, xlabel, ylabel, title, grid="y", legend_title="model")
