"""Realism report: how close a set of (synthetic) radiographs is to a reference (real) set, both with masks.

``xraylab realism SYNTHETIC REAL --out DIR`` (:func:`run_realism`) reads two xraylab datasets (folders with
``manifest.parquet``; generated, imported or degraded), resizes every image and mask to ``size`` × ``size``
(aspect kept, zero padding: :func:`xraylab.io.images.resize_pad`) and compares

* the per-image statistics of :mod:`xraylab.evaluate.realism_stats` — each reported as the real set's 10–90 %
  range against the synthetic set's median, and whether that median falls inside the range;
* a classifier two-sample test (Lopez-Paz & Oquab, "Revisiting classifier two-sample tests", ICLR 2017): an
  L2-regularised logistic regression on per-image features (16 × 16 thumbnail, the three region histograms and
  the statistics, standardised) is trained to tell the two sets apart; the out-of-fold ROC AUC of a stratified
  k-fold cross-validation, averaged over repeats with different fold splits, is reported. 0.5: the sets cannot
  be told apart with these features; 1: perfectly separable. A second AUC uses the 7 statistics only: the
  thumbnail and histograms also see anatomy and framing (one CT is easy to recognise), the statistics only the
  radiographic appearance.

Outputs in ``DIR``: ``realism.csv`` and ``realism.md`` (one table), ``realism.png`` (one figure: region
histograms and the statistics against the real range), ``realism.json`` (everything, plus per-image values), and
``conventions.csv`` / ``conventions.md``: the lung-label statistics of each lung annotation convention the
synthetic set has masks of against the real masks, and which convention matches best
(:mod:`xraylab.evaluate.label_conventions`).
:func:`compare_sets` takes several named synthetic sets at once (the README compares ``ideal`` and ``chest_pa``).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from xraylab.errors import InputFileError
from xraylab.evaluate.realism_stats import (
    REGIONS,
    STATISTICS,
    image_statistics,
    region_histograms,
    regions,
    thumbnail_features,
)

AUC_LABELS = {"classifier_auc": "classifier AUC, all features",
              "classifier_auc_statistics": "classifier AUC, the 7 statistics only"}
LUNG_NAMES = ("lungs",)
HEART_NAMES = ("cardiomediastinum", "heart")


@dataclass
class SetStats:
    """Realism statistics of one dataset: ``table`` (one row per image, :data:`STATISTICS` columns),
    ``hists`` ``[N, 3, bins]`` region histograms, ``features`` ``[N, F]`` classifier features."""

    name: str
    table: pd.DataFrame
    hists: np.ndarray
    features: np.ndarray


def _pick_structure(df: pd.DataFrame, names: Sequence[str], folder: Path, what: str) -> list[str]:
    cols = set(df.columns)
    for n in names:
        if f"mask:{n}" in cols:
            return [f"mask:{n}"]
    if what == "lungs" and {"mask:left_lung", "mask:right_lung"} <= cols:
        return ["mask:left_lung", "mask:right_lung"]
    raise InputFileError(f"{folder}: the manifest has no {what} mask column (looked for "
                         f"{', '.join('mask:' + n for n in names)}); pass --{what} NAME")


def load_set(
    folder: str | os.PathLike,
    size: int = 256,
    split: str | None = None,
    limit: int | None = None,
    lungs: str | None = None,
    heart: str | None = None,
    name: str | None = None,
    seed: int = 0,
) -> SetStats:
    """Read dataset ``folder`` and compute every image's statistics, histograms and features.

    ``split``: keep only that split (None: all rows); ``limit``: at most this many images (a seeded random
    choice); ``lungs`` / ``heart``: mask structure names (default: ``lungs`` or ``left_lung`` ∪ ``right_lung``;
    ``cardiomediastinum``, else ``heart``). Rows whose image or masks are missing are skipped.
    """
    import torch

    from xraylab.evaluate.label_conventions import clean_rows
    from xraylab.io.images import read_image, read_mask, resize_pad

    root = Path(folder)
    df = clean_rows(root, split)
    if df.empty:
        raise InputFileError(f"{root}: no images to compare (split {split!r}); choose another --split")
    if limit is not None and len(df) > limit:
        df = df.sample(n=limit, random_state=seed)
    df = df.sort_values("image_id")
    lung_cols = _pick_structure(df, [lungs] if lungs else LUNG_NAMES, root, "lungs")
    heart_cols = _pick_structure(df, [heart] if heart else HEART_NAMES, root, "heart")

    def fit(a: np.ndarray, mode: str) -> np.ndarray:
        t = torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))
        return resize_pad(t, size, mode=mode).numpy()

    rows, hists, feats = [], [], []
    for rec in df.to_dict("records"):
        paths = [rec["image"]] + [rec[c] for c in lung_cols + heart_cols]
        if any(not isinstance(p, str) or not p or not (root / p).is_file() for p in paths):
            continue
        img = read_image(root / rec["image"])
        if img.ndim == 3:
            img = img.mean(-1)
        img = fit(img, "bilinear").clip(0.0, 1.0)
        lung = np.zeros(img.shape, dtype=bool)
        for c in lung_cols:
            lung |= fit(read_mask(root / rec[c]), "nearest") > 0.5
        hrt = np.zeros(img.shape, dtype=bool)
        for c in heart_cols:
            hrt |= fit(read_mask(root / rec[c]), "nearest") > 0.5
        st = image_statistics(img, lung, hrt)
        h = region_histograms(img, regions(img, lung, hrt))
        rows.append({"image_id": rec["image_id"], **st})
        hists.append(h)
        values = np.nan_to_num([st[k] for k in STATISTICS])
        feats.append(np.concatenate([thumbnail_features(img), h.reshape(-1), values]))
    if not rows:
        raise InputFileError(f"{root}: no row has its image and lung/heart masks on disk")
    return SetStats(name or root.name, pd.DataFrame(rows), np.stack(hists), np.stack(feats))


def classifier_auc(
    a: np.ndarray, b: np.ndarray, folds: int = 5, repeats: int = 5, seed: int = 0, C: float = 0.1
) -> tuple[float, float]:
    """Classifier two-sample test of feature sets ``a [Na, F]`` and ``b [Nb, F]``: (mean, SD) over ``repeats``
    of the out-of-fold ROC AUC of a standardised, L2-regularised logistic regression (inverse strength ``C``)
    under stratified ``folds``-fold cross-validation (folds reduced to the smaller set's size when needed)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x = np.concatenate([a, b]).astype(np.float64)
    y = np.r_[np.zeros(len(a)), np.ones(len(b))]
    k = int(min(folds, len(a), len(b)))
    if k < 2:
        raise InputFileError("the classifier test needs at least 2 images in each set")
    aucs = []
    for r in range(repeats):
        model = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=5000))
        cv = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed + r)
        p = cross_val_predict(model, x, y, cv=cv, method="predict_proba")[:, 1]
        aucs.append(roc_auc_score(y, p))
    return float(np.mean(aucs)), float(np.std(aucs))


def compare_sets(real: SetStats, synthetic: Sequence[SetStats], seed: int = 0) -> pd.DataFrame:
    """One table: a row per statistic (+ the classifier AUC), columns ``real_p10``, ``real_p90``, and per synthetic
    set ``<name>_median`` and ``<name>_in_range``. The AUC row holds mean AUC (real columns empty)."""
    rows = []
    for s in STATISTICS:
        v = real.table[s].dropna()
        lo, hi = (float(np.percentile(v, 10)), float(np.percentile(v, 90))) if len(v) else (np.nan, np.nan)
        row = {"statistic": s, "real_p10": lo, "real_p90": hi}
        for syn in synthetic:
            med = float(syn.table[s].median())
            row[f"{syn.name}_median"] = med
            row[f"{syn.name}_in_range"] = bool(lo <= med <= hi)
        rows.append(row)
    n_stats = len(STATISTICS)
    for label, cols in (("classifier_auc", slice(None)), ("classifier_auc_statistics", slice(-n_stats, None))):
        row = {"statistic": label, "real_p10": np.nan, "real_p90": np.nan}
        for syn in synthetic:
            auc, sd = classifier_auc(syn.features[:, cols], real.features[:, cols], seed=seed)
            row[f"{syn.name}_median"] = auc
            row[f"{syn.name}_in_range"] = bool(auc <= 0.6)
            row[f"{syn.name}_auc_sd"] = sd
        rows.append(row)
    return pd.DataFrame(rows)


def table_markdown(table: pd.DataFrame, names: Sequence[str], n_real: int, n_syn: Sequence[int]) -> str:
    """The table as markdown: real 10–90 % range, each synthetic median (✓ inside the range), AUC last."""
    head = f"| statistic | real 10–90 % (n={n_real}) | " + " | ".join(
        f"{n} median (n={k})" for n, k in zip(names, n_syn)) + " |"
    lines = [head, "|" + "---|" * (2 + len(names))]
    for r in table.to_dict("records"):
        if r["statistic"].startswith("classifier_auc"):
            cells = [f"{r[f'{n}_median']:.3f} ± {r[f'{n}_auc_sd']:.3f}" for n in names]
            what = AUC_LABELS[r["statistic"]]
            lines.append(f"| {what} (0.5 = indistinguishable) | — | " + " | ".join(cells) + " |")
            continue
        cells = [f"{r[f'{n}_median']:.3f} {'✓' if r[f'{n}_in_range'] else '✗'}" for n in names]
        lines.append(f"| {r['statistic']} | {r['real_p10']:.3f} – {r['real_p90']:.3f} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def plot_report(path: Path, real: SetStats, synthetic: Sequence[SetStats], table: pd.DataFrame) -> Path:
    """``realism.png``: mean region histograms (real 10–90 % band) and each statistic against the real range."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 4, figsize=(16, 3.6))
    centres = (np.arange(real.hists.shape[-1]) + 0.5) / real.hists.shape[-1]
    colours = ["tab:orange", "tab:blue", "tab:green", "tab:red"]
    for i, reg in enumerate(REGIONS):
        ax = axes[i]
        lo, hi = np.percentile(real.hists[:, i], [10, 90], axis=0)
        ax.fill_between(centres, lo, hi, color="0.8", label="real 10–90 %")
        ax.plot(centres, real.hists[:, i].mean(0), color="k", label=f"real ({real.name})")
        for syn, c in zip(synthetic, colours):
            ax.plot(centres, syn.hists[:, i].mean(0), color=c, label=syn.name)
        ax.set_title(f"{reg}: intensity histogram")
        ax.set_xlabel("stored intensity [0, 1]")
        if i == 0:
            ax.legend(fontsize=7)
    ax = axes[3]
    stats = [r for r in table.to_dict("records") if not r["statistic"].startswith("classifier_auc")]
    for j, r in enumerate(stats):
        lo, hi = r["real_p10"], r["real_p90"]
        span = hi - lo if hi > lo else 1.0
        ax.plot([0, 1], [j, j], color="0.6", lw=6, solid_capstyle="butt")
        for k, (syn, c) in enumerate(zip(synthetic, colours)):
            x = (r[f"{syn.name}_median"] - lo) / span
            ax.plot(np.clip(x, -1.5, 2.5), j + 0.15 * (k - (len(synthetic) - 1) / 2), "o", color=c,
                    label=syn.name if j == 0 else None)
    recs = {r["statistic"]: r for r in table.to_dict("records")}
    ax.set_yticks(range(len(stats)), [r["statistic"] for r in stats], fontsize=7)
    ax.set_xlabel("median, in units of the real 10–90 % range")
    ax.set_title("classifier AUC (all / statistics only):\n" + ", ".join(
        f"{s.name} {recs['classifier_auc'][f'{s.name}_median']:.2f} / "
        f"{recs['classifier_auc_statistics'][f'{s.name}_median']:.2f}" for s in synthetic), fontsize=8)
    ax.set_xlim(-1.6, 2.6)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_report(out: str | os.PathLike, real: SetStats, synthetic: Sequence[SetStats], seed: int = 0) -> pd.DataFrame:
    """Compare and write ``realism.csv``, ``realism.md``, ``realism.png`` and ``realism.json`` into ``out``."""
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    table = compare_sets(real, synthetic, seed=seed)
    table.to_csv(out_dir / "realism.csv", index=False)
    names = [s.name for s in synthetic]
    md = table_markdown(table, names, len(real.table), [len(s.table) for s in synthetic])
    (out_dir / "realism.md").write_text(md, encoding="utf-8")
    plot_report(out_dir / "realism.png", real, synthetic, table)
    info = {"real": real.name, "synthetic": names, "table": table.to_dict("records"),
            "per_image": {s.name: s.table.to_dict("records") for s in [real, *synthetic]}}
    (out_dir / "realism.json").write_text(json.dumps(info, indent=1, default=float) + "\n", encoding="utf-8")
    return table


def run_realism(
    synthetic: str | os.PathLike,
    real: str | os.PathLike,
    out: str | os.PathLike,
    size: int = 256,
    split: str | None = None,
    limit: int | None = None,
    lungs: str | None = None,
    heart: str | None = None,
    seed: int = 0,
) -> pd.DataFrame:
    """``xraylab realism``: compare dataset ``synthetic`` with dataset ``real`` and write the report to ``out``."""
    syn = load_set(synthetic, size, split, limit, lungs, heart, seed=seed)
    ref = load_set(real, size, split, limit, lungs, heart, seed=seed)
    if syn.name == ref.name:
        syn.name, ref.name = f"{syn.name} (synthetic)", f"{ref.name} (real)"
    table = write_report(out, ref, [syn], seed=seed)
    from xraylab.evaluate.label_conventions import available_conventions, run_conventions

    for stale in ("conventions.csv", "conventions.md"):
        (Path(out) / stale).unlink(missing_ok=True)
    if available_conventions(synthetic):  # which lung convention matches the real masks (conventions.md)
        run_conventions(synthetic, real, out, real_lungs=lungs or "lungs", split=split, size=size)
    return table
