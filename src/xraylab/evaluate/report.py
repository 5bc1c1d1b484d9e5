"""The run report: ``summary.md`` (Markdown tables, figures, best-model notes) and ``tables/*.csv``."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from xraylab.io.atomic import write_text


@dataclass
class Table:
    """A numeric table (CSV) with its Markdown rendering and caption."""

    name: str  # file stem, e.g. "rotation_table2"
    data: pd.DataFrame  # numeric, written to tables/<name>.csv
    caption: str
    display: pd.DataFrame | None = None  # formatted strings for Markdown (default: data rounded)
    best: dict[str, tuple[str, float]] = field(default_factory=dict)  # column -> (model, value)
    best_note: str = ""  # e.g. "higher is better"


@dataclass
class Section:
    """One suite's part of the report."""

    title: str
    text: str = ""
    tables: list[Table] = field(default_factory=list)
    figures: list[tuple[Path, str]] = field(default_factory=list)  # (png path, caption)


def _cell(v) -> str:
    if isinstance(v, float):
        if math.isnan(v):
            return "–"
        return f"{v:.4g}" if abs(v) >= 1000 or (v != 0 and abs(v) < 1e-3) else f"{v:.3f}"
    return str(v).replace("|", "\\|")


def to_markdown(df: pd.DataFrame) -> str:
    """A GitHub Markdown table of ``df`` (index included when named or not a RangeIndex)."""
    show_index = not isinstance(df.index, pd.RangeIndex)
    t = df.reset_index() if show_index else df
    n_index = df.index.nlevels if show_index else 0
    cols = [" / ".join(map(str, c)) if isinstance(c, tuple) else str(c) for c in t.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for row in t.itertuples(index=False):
        keys = [f"{v:g}" if isinstance(v, float) else _cell(v) for v in row[:n_index]]
        lines.append("| " + " | ".join(keys + [_cell(v) for v in row[n_index:]]) + " |")
    return "\n".join(lines)


def best_text(table: Table) -> str:
    """One sentence per column naming the best model."""
    if not table.best:
        return ""
    note = f" ({table.best_note})" if table.best_note else ""
    winners = {m for m, _ in table.best.values()}
    if len(winners) == 1 and len(table.best) > 1:
        return f"Best model per column{note}: **{winners.pop()}** in every column."
    parts = [f"{col}: **{m}** ({_cell(v)})" for col, (m, v) in table.best.items()]
    return f"Best model per column{note}: " + "; ".join(parts) + "."


def write_report(out_dir: str | os.PathLike, title: str, sections: list[Section], preamble: str = "") -> Path:
    """Write ``tables/<name>.csv`` for every table and ``summary.md``; figure paths are linked relative."""
    out = Path(out_dir)
    (out / "tables").mkdir(parents=True, exist_ok=True)
    md = [f"# {title}", ""]
    if preamble:
        md += [preamble, ""]
    for sec in sections:
        md += [f"## {sec.title}", ""]
        if sec.text:
            md += [sec.text, ""]
        for t in sec.tables:
            csv = out / "tables" / f"{t.name}.csv"
            write_text(csv, t.data.to_csv())
            shown = t.display if t.display is not None else t.data
            md += [f"**{t.caption}** ([CSV](tables/{t.name}.csv))", "", to_markdown(shown), ""]
            bt = best_text(t)
            if bt:
                md += [bt, ""]
        for path, caption in sec.figures:
            rel = os.path.relpath(path, out)
            md += [f"![{caption}]({rel})", "", f"*{caption}*", ""]
    return write_text(out / "summary.md", "\n".join(md).rstrip() + "\n")
