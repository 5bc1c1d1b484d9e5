"""Run an evaluate spec: every enabled suite (in :data:`~xraylab.evaluate.suites.SUITES` order), then
results.parquet, the report and run metadata.

Run folder layout::

    <output>/results.parquet     tidy long-format rows (ROW_COLUMNS), all suites
    <output>/summary.md          every table (Markdown), figures, best model per column
    <output>/tables/*.csv        the same tables as CSV
    <output>/figures/*.png       figures
    <output>/evaluate.json       resolved spec, package versions, row count
"""

from __future__ import annotations

import io
import json
import time
from pathlib import Path
from typing import Mapping

import pandas as pd

from xraylab.evaluate.engine import ROW_COLUMNS
from xraylab.evaluate.models import EvalModel, ModelPool
from xraylab.evaluate.report import write_report
from xraylab.evaluate.spec import EvaluateSpec
from xraylab.evaluate.suites import SUITES
from xraylab.evaluate.suites.base import Context
from xraylab.io.atomic import remove_stale_temporaries, write_bytes, write_text
from xraylab.versions import package_versions


def _normalise(df: pd.DataFrame) -> pd.DataFrame:
    df = df[ROW_COLUMNS].copy()
    for c in ("angle", "severity", "epsilon", "value"):
        df[c] = pd.to_numeric(df[c], errors="coerce").astype("float64")
    for c in (
        "model", "suite", "subject", "image", "class", "angle_group",
        "corruption", "attack", "metric", "target", "prediction",
    ):
        df[c] = df[c].astype("string")
    return df


def run_evaluation(spec: EvaluateSpec, models: Mapping[str, EvalModel] | None = None, log=print) -> Path:
    """Evaluate ``spec``; ``models`` optionally supplies ready models by name (else loaded from their paths)."""
    out = Path(spec.output)
    out.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(out)
    fig_dir = out / "figures"
    fig_dir.mkdir(exist_ok=True)
    pool = ModelPool({m.name: m.path for m in spec.models}, spec.device, preloaded=models)
    ctx = Context(pool=pool, device=spec.device, batch_size=spec.batch_size, seed=spec.seed)
    frames, sections = [], []
    for name in SUITES.names():
        cfg = getattr(spec, name)
        if cfg is None:
            continue
        t0 = time.perf_counter()
        mod = SUITES.get(name).load()
        rows = mod.run(ctx, cfg)
        log(f"{name}: {len(rows)} rows in {time.perf_counter() - t0:.1f} s")
        frames.append(rows)
        sections.append(mod.report(rows, cfg, fig_dir))
    results = _normalise(pd.concat(frames, ignore_index=True))
    buf = io.BytesIO()
    results.to_parquet(buf, index=False)
    write_bytes(out / "results.parquet", buf.getvalue())
    meta = {"spec": spec.model_dump(), "versions": package_versions(), "rows": len(results)}
    write_text(out / "evaluate.json", json.dumps(meta, indent=2, sort_keys=True, default=str) + "\n")
    pre = f"Spec `{spec.name}`; {len(results)} result rows in `results.parquet`; device `{spec.device}`."
    write_report(out, f"Robustness evaluation: {spec.name}", sections, preamble=pre)
    return out
