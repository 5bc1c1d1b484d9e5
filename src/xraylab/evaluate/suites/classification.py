"""Classification suite (Ward & Imran Table 1, Fig. 3/5; MedMNIST-C balanced error).

Outputs: accuracy / balanced accuracy per model, accuracy per severity level and per
corruption type (Table 1 layout: rows = level or type plus Overall, columns = models),
per-class accuracy and confusion matrices, and (given a reference model) the MedMNIST-C
balanced error BE and relative balanced error rBE per corruption and their means.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from xraylab.evaluate import aggregate, plots
from xraylab.evaluate.aggregate import CLEAN
from xraylab.evaluate.data import load_rows
from xraylab.evaluate.engine import classification_rows
from xraylab.evaluate.report import Section, Table
from xraylab.evaluate.spec import ClassificationSuite
from xraylab.evaluate.suites.base import Context, mixed_best

NAME = "classification"


def run(ctx: Context, cfg: ClassificationSuite) -> pd.DataFrame:
    """One ``correct`` row per image and classifier."""
    rows = load_rows(cfg.dataset, cfg.split, cfg.max_images)
    return pd.concat(
        [
            classification_rows(
                m, rows, cfg.dataset, NAME, target=cfg.target, batch_size=ctx.batch_size, device=ctx.device
            )
            for m in ctx.pool.select(cfg.models, segmentation=False)
        ],
        ignore_index=True,
    )


def _level_label(v) -> str:
    return "No corruption" if v == 0 else f"Level {v:g}"


def tables(df: pd.DataFrame, cfg: ClassificationSuite) -> list[Table]:
    summ = aggregate.classification_summary(df)
    out = [Table("classification_summary", summ, "Accuracy and balanced accuracy per model",
                 best=mixed_best(summ, {c: True for c in summ.columns}), best_note="higher is better")]
    sev = aggregate.accuracy_by(df, "severity")
    sev.index = [i if i == "Overall" else _level_label(float(i)) for i in sev.index]
    sev.index.name = "severity"
    out.append(Table("classification_by_severity", sev, "Accuracy per corruption severity — Ward & Imran Table 1 (top)",
                     best=aggregate.best_per_column(sev, True, "columns"), best_note="per row, higher is better"))
    typ = aggregate.accuracy_by(df, "corruption")
    typ.index = ["No corruption" if i == CLEAN else i for i in typ.index]
    typ.index.name = "corruption"
    out.append(Table("classification_by_corruption", typ,
                     "Accuracy per corruption type — Ward & Imran Table 1 (bottom)",
                     best=aggregate.best_per_column(typ, True, "columns"), best_note="per row, higher is better"))
    pcls = aggregate.accuracy_by(df, "target", overall=False)
    pcls.index.name = "true class"
    out.append(Table("classification_per_class", pcls, "Per-class accuracy (recall of each true class)"))
    if cfg.reference is not None and cfg.reference in set(df["model"]):
        per, summ_be = aggregate.medmnistc_table(df, cfg.reference)
        out.append(Table("classification_medmnistc", summ_be,
                         "MedMNIST-C balanced error (mBE) and relative balanced error (mrBE) "
                         f"against {cfg.reference} (lower is better)",
                         best=mixed_best(summ_be, {"clean_BE": False, "mBE": False, "mrBE": False}),
                         best_note="lower is better"))
        out.append(Table("classification_medmnistc_per_corruption", per, "MedMNIST-C BE and rBE per corruption"))
    for m in dict.fromkeys(df["model"]):
        safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in m)
        out.append(Table(f"classification_confusion_{safe}", aggregate.confusion(df, m),
                         f"Confusion matrix of {m} (rows true, columns predicted; counts)"))
    return out


def report(df: pd.DataFrame, cfg: ClassificationSuite, fig_dir: Path) -> Section:
    tabs = tables(df, cfg)
    by = {t.name: t.data for t in tabs}
    figs = [
        (plots.grouped_bars(by["classification_by_corruption"], "corruption type", "accuracy (fraction)",
                            "Accuracy per corruption (Ward & Imran Fig. 3/5)",
                            fig_dir / "classification_by_corruption.png"),
         "Accuracy per corruption type and model"),
        (plots.grouped_bars(by["classification_by_severity"], "severity level", "accuracy (fraction)",
                            "Accuracy per severity level (Ward & Imran Table 1)",
                            fig_dir / "classification_by_severity.png"),
         "Accuracy per severity level and model"),
    ]
    text = ("Balanced accuracy is the mean recall over true classes; "
            "MedMNIST-C: BE_c = Σ_s BE_{s,c} / Σ_s BE^ref_{s,c}, "
            "rBE_c = Σ_s (BE_{s,c} − BE_clean) / Σ_s (BE^ref_{s,c} − BE^ref_clean), "
            "averaged over corruptions (mBE, mrBE).")
    return Section(title="Classification suite (Ward & Imran; MedMNIST-C)", text=text, tables=tabs, figures=figs)
