"""Tables from tidy result rows (pure pandas; no models, no files).

Inputs are frames with the columns of :data:`xraylab.evaluate.engine.ROW_COLUMNS`.
Outputs are numeric :class:`pandas.DataFrame` objects (written as CSV) that
:mod:`xraylab.evaluate.report` formats as Markdown. Means ignore NaN (see the
empty-mask policies in :mod:`xraylab.metrics`).

Definitions (RAMP, seed 001, eqs. 3-4 and Sec. 3.7):
  * clean Dice: mean over clean images (corruption ``"none"``);
  * mean corrupted Dice: mean over all corrupted images (every corruption x severity);
  * robustness gap: clean Dice - mean corrupted Dice;
  * worst-case Dice: per subject, the minimum over corruption x severity settings of the
    subject's mean Dice in that setting, then the mean over subjects;
  * high-severity wins: over settings with severity >= threshold, how often each model has the
    highest mean Dice (ties credit every tied model).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from xraylab.data.angles import ANGLE_GROUPS
from xraylab.metrics.classification import balanced_accuracy, balanced_error

CLEAN = "none"
HIGHER_IS_BETTER = {
    "dice": True, "iou": True, "hd_px": False, "hd95_px": False, "hd_mm": False, "hd95_mm": False,
    "accuracy": True, "balanced_accuracy": True, "correct": True,
}


def _select(df: pd.DataFrame, metric: str | None = None, class_name: str | None = None) -> pd.DataFrame:
    out = df
    if metric is not None:
        out = out[out["metric"] == metric]
    if class_name is not None:
        out = out[out["class"] == class_name]
    return out


def _models(df: pd.DataFrame) -> list[str]:
    return list(dict.fromkeys(df["model"]))


# ----------------------------------------------------------------------------- rotation (Fok Table 2)
def rotation_table(
    df: pd.DataFrame, metrics: list[str], reference: str | None, class_name: str = "mean"
) -> pd.DataFrame:
    """Mean, SD (ddof=1) and count per model x metric x angle group, with % change vs ``reference``.

    Returns columns ``model, metric, angle_group, mean, sd, n, pct_change`` where
    ``pct_change = 100 * (mean - mean_ref) / |mean_ref|`` (NaN for the reference or no reference).
    """
    d = _select(df, class_name=class_name)
    d = d[d["metric"].isin(metrics) & d["angle_group"].notna()]
    g = d.groupby(["model", "metric", "angle_group"], sort=False)["value"]
    t = g.agg(mean="mean", sd="std", n="count").reset_index()
    t["pct_change"] = np.nan
    if reference is not None:
        ref = t[t["model"] == reference].set_index(["metric", "angle_group"])["mean"]
        keys = list(zip(t["metric"], t["angle_group"]))
        refv = np.array([ref.get(k, np.nan) for k in keys], dtype=float)
        with np.errstate(invalid="ignore", divide="ignore"):
            t["pct_change"] = np.where(t["model"] != reference, 100.0 * (t["mean"] - refv) / np.abs(refv), np.nan)
    order = {g_: i for i, g_ in enumerate(ANGLE_GROUPS)}
    morder = {m: i for i, m in enumerate(_models(df))}
    korder = {m: i for i, m in enumerate(metrics)}
    t = t.sort_values(
        ["model", "metric", "angle_group"],
        key=lambda s: s.map(morder if s.name == "model" else korder if s.name == "metric" else order),
    )
    return t.reset_index(drop=True)


# ----------------------------------------------------------------------------- corruption (RAMP)
def setting_means(df: pd.DataFrame, metric: str = "dice", class_name: str = "mean") -> pd.DataFrame:
    """Mean value per model x corruption x severity (columns ``model, corruption, severity, value``)."""
    d = _select(df, metric, class_name)
    return d.groupby(["model", "corruption", "severity"], sort=True)["value"].mean().reset_index()


def worst_case(df: pd.DataFrame, metric: str = "dice", class_name: str = "mean") -> pd.Series:
    """Worst-case value per model: per subject min over corrupted settings, then mean over subjects."""
    d = _select(df, metric, class_name)
    d = d[d["corruption"] != CLEAN]
    per = d.groupby(["model", "subject", "corruption", "severity"])["value"].mean()
    return per.groupby(level=["model", "subject"]).min().groupby(level="model").mean()


def corruption_overall(df: pd.DataFrame, metric: str = "dice", class_name: str = "mean") -> pd.DataFrame:
    """RAMP Table 5: per model clean, mean corrupted, robustness gap and worst-case (index = model)."""
    d = _select(df, metric, class_name)
    clean = d[d["corruption"] == CLEAN].groupby("model")["value"].mean()
    corr = d[d["corruption"] != CLEAN].groupby("model")["value"].mean()
    out = pd.DataFrame(index=pd.Index(_models(df), name="model"))
    out[f"clean_{metric}"] = clean
    out[f"mean_corrupted_{metric}"] = corr
    out["robustness_gap"] = out[f"clean_{metric}"] - out[f"mean_corrupted_{metric}"]
    out[f"worst_case_{metric}"] = worst_case(df, metric, class_name)
    return out


def gain_table(overall: pd.DataFrame, reference: str, metric: str = "dice") -> pd.DataFrame:
    """RAMP Table 6: each model vs ``reference`` and vs the best other model (by mean corrupted value)."""
    corr, gap = overall[f"mean_corrupted_{metric}"], overall["robustness_gap"]
    rows = []
    for m in overall.index:
        others = corr.drop(index=m).dropna()
        best_other = others.idxmax() if len(others) else None
        for label, base in (("reference", reference), ("best other", best_other)):
            if base is None or base == m or base not in overall.index or (label == "best other" and base == reference):
                continue
            red = gap[base] - gap[m]
            rows.append(
                {
                    "model": m, "versus": f"{base} ({label})",
                    f"mean_corrupted_{metric}_gain": corr[m] - corr[base],
                    "gap_reduction": red,
                    "relative_gap_reduction_pct": 100.0 * red / gap[base] if gap[base] else np.nan,
                }
            )
    return pd.DataFrame(rows)


def per_corruption(df: pd.DataFrame, metric: str = "dice", class_name: str = "mean") -> pd.DataFrame:
    """RAMP Tables 7-8 / Fig. 4: mean over severities of each setting mean; index corruption, columns model."""
    s = setting_means(df, metric, class_name)
    s = s[s["corruption"] != CLEAN]
    t = s.groupby(["corruption", "model"])["value"].mean().unstack("model")
    return t.reindex(columns=[m for m in _models(df) if m in t.columns])


def per_severity(df: pd.DataFrame, metric: str = "dice", class_name: str = "mean") -> pd.DataFrame:
    """RAMP Fig. 5: mean over corruptions per severity (clean images as severity 0); index severity, columns model."""
    s = setting_means(df, metric, class_name)
    s.loc[s["corruption"] == CLEAN, "severity"] = 0.0
    t = s.groupby(["severity", "model"])["value"].mean().unstack("model")
    return t.reindex(columns=[m for m in _models(df) if m in t.columns])


def high_severity_wins(
    df: pd.DataFrame, threshold: float, metric: str = "dice", class_name: str = "mean", models: list[str] | None = None
) -> pd.DataFrame:
    """RAMP Table 9: per model, the number of settings with severity >= ``threshold`` it wins.

    One row (index ``wins``) with a column per model plus ``settings`` (how many high-severity settings).
    """
    s = setting_means(df, metric, class_name)
    if models is not None:
        s = s[s["model"].isin(models)]
    s = s[(s["corruption"] != CLEAN) & (s["severity"] >= threshold)]
    names = models or _models(df)
    wins = dict.fromkeys(names, 0)
    piv = s.pivot_table(index=["corruption", "severity"], columns="model", values="value")
    higher = HIGHER_IS_BETTER.get(metric, True)
    for _, row in piv.iterrows():
        r = row.dropna()
        if r.empty:
            continue
        best = r.max() if higher else r.min()
        for m in r.index[np.isclose(r.to_numpy(), best, rtol=0, atol=1e-12)]:
            wins[m] = wins.get(m, 0) + 1
    out = pd.DataFrame([wins], index=pd.Index(["wins"], name="high_severity"))
    out["settings"] = len(piv)
    return out


def per_class_robustness(df: pd.DataFrame, metric: str = "dice") -> pd.DataFrame:
    """RAMP Table 10: per model x class clean, corrupted, gap and worst-case (the ``mean`` class last)."""
    frames = []
    classes = list(dict.fromkeys(df.loc[df["metric"] == metric, "class"]))
    for c in classes:
        t = corruption_overall(df, metric, c)
        t.insert(0, "class", c)
        frames.append(t.reset_index())
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def loco_table(
    df: pd.DataFrame,
    loco: dict[str, str],
    families: dict[str, list[str]] | None = None,
    metric: str = "dice",
    class_name: str = "mean",
    compare: list[str] | None = None,
) -> pd.DataFrame:
    """RAMP Table 12: for each held-out family, the LOCO model's mean value on that family's corruptions,
    next to the value of each model in ``compare`` on the same corruptions (index = family)."""
    families = families or {}
    rows = []
    s = setting_means(df, metric, class_name)
    for fam, model in loco.items():
        names = families.get(fam, [fam])
        f = s[s["corruption"].isin(names)]
        row = {"family": fam, "loco_model": model, f"loco_{metric}": f.loc[f["model"] == model, "value"].mean()}
        for m in compare or []:
            row[m] = f.loc[f["model"] == m, "value"].mean()
        rows.append(row)
    return pd.DataFrame(rows).set_index("family") if rows else pd.DataFrame()


# ----------------------------------------------------------------------------- classification
def accuracy_by(df: pd.DataFrame, by: str, overall: bool = True) -> pd.DataFrame:
    """Ward & Imran Table 1 layout: accuracy per value of ``by`` (rows) and model (columns), plus Overall."""
    d = _select(df, "correct")
    t = d.groupby([by, "model"])["value"].mean().unstack("model")
    t = t.reindex(columns=[m for m in _models(df) if m in t.columns])
    if overall:
        t.loc["Overall"] = d.groupby("model")["value"].mean().reindex(t.columns)
    return t


def classification_summary(df: pd.DataFrame) -> pd.DataFrame:
    """Per model: accuracy, balanced accuracy (all rows), clean and corrupted accuracy."""
    d = _select(df, "correct")
    rows = {}
    for m, g in d.groupby("model", sort=False):
        classes = sorted(set(g["target"]) | set(g["prediction"]))
        idx = {c: i for i, c in enumerate(classes)}
        t = g["target"].map(idx).to_numpy()
        p = g["prediction"].map(idx).to_numpy()
        rows[m] = {
            "accuracy": g["value"].mean(),
            "balanced_accuracy": balanced_accuracy(t, p, len(classes)),
            "clean_accuracy": g.loc[g["corruption"] == CLEAN, "value"].mean(),
            "corrupted_accuracy": g.loc[g["corruption"] != CLEAN, "value"].mean(),
        }
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("model")


def confusion(df: pd.DataFrame, model: str) -> pd.DataFrame:
    """Confusion matrix of ``model`` (rows = true class, columns = predicted class, counts)."""
    g = _select(df, "correct")
    g = g[g["model"] == model]
    return pd.crosstab(g["target"], g["prediction"]).rename_axis(index="true", columns="predicted")


def balanced_errors(df: pd.DataFrame) -> pd.DataFrame:
    """Balanced error (1 - balanced accuracy) per model x corruption x severity.

    Columns ``model, corruption, severity, be``.
    """
    d = _select(df, "correct")
    rows = []
    for (m, c, s), g in d.groupby(["model", "corruption", "severity"], sort=True):
        classes = sorted(set(g["target"]) | set(g["prediction"]))
        idx = {k: i for i, k in enumerate(classes)}
        be = balanced_error(g["target"].map(idx).to_numpy(), g["prediction"].map(idx).to_numpy(), len(classes))
        rows.append({"model": m, "corruption": c, "severity": s, "be": be})
    return pd.DataFrame(rows, columns=["model", "corruption", "severity", "be"])


def medmnistc_table(df: pd.DataFrame, reference: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """MedMNIST-C (Di Salvo et al. 2024) balanced error, ImageNet-C style, against ``reference``.

    For model f and corruption c with severities s:
    ``BE_c^f = sum_s BE_{s,c}^f / sum_s BE_{s,c}^ref`` and
    ``rBE_c^f = sum_s (BE_{s,c}^f - BE_clean^f) / sum_s (BE_{s,c}^ref - BE_clean^ref)``.
    Returns (per-corruption table: index corruption, columns ``<model> BE`` / ``<model> rBE``;
    summary: index model, columns ``clean_BE``, ``mBE``, ``mrBE`` = means over corruptions).
    """
    be = balanced_errors(df)
    clean = be[be["corruption"] == CLEAN].groupby("model")["be"].mean()
    corr = be[be["corruption"] != CLEAN]
    sums = corr.groupby(["model", "corruption"])["be"].sum()
    counts = corr.groupby(["model", "corruption"])["be"].count()
    models = _models(df)
    corruptions = sorted(corr["corruption"].unique())
    per, summ = {}, {}
    for m in models:
        bes, rbes = [], []
        for c in corruptions:
            num, den = sums.get((m, c), np.nan), sums.get((reference, c), np.nan)
            rnum = num - counts.get((m, c), 0) * clean.get(m, np.nan)
            rden = den - counts.get((reference, c), 0) * clean.get(reference, np.nan)
            bes.append(num / den if den else np.nan)
            rbes.append(rnum / rden if rden else np.nan)
        per[f"{m} BE"], per[f"{m} rBE"] = bes, rbes
        summ[m] = {"clean_BE": clean.get(m, np.nan), "mBE": np.nanmean(bes) if np.isfinite(bes).any() else np.nan,
                   "mrBE": np.nanmean(rbes) if np.isfinite(rbes).any() else np.nan}
    per_t = pd.DataFrame(per, index=pd.Index(corruptions, name="corruption"))
    return per_t, pd.DataFrame.from_dict(summ, orient="index").rename_axis("model")


# ----------------------------------------------------------------------------- adversarial
def epsilon_table(df: pd.DataFrame, metric: str, class_name: str | None = "mean") -> pd.DataFrame:
    """Mean ``metric`` per model x attack (rows) and epsilon (columns)."""
    d = _select(df, metric, class_name)
    return d.groupby(["model", "attack", "epsilon"], sort=False)["value"].mean().unstack("epsilon").sort_index(axis=1)


# ----------------------------------------------------------------------------- best model per column
def best_per_column(
    table: pd.DataFrame, higher_is_better: bool = True, model_axis: str = "index"
) -> dict[str, tuple[str, float]]:
    """``{column: (best model, value)}`` for a table whose index (or columns) are model names."""
    t = table if model_axis == "index" else table.T
    out = {}
    for col in t.columns:
        s = pd.to_numeric(t[col], errors="coerce").dropna()
        if s.empty:
            continue
        best = s.max() if higher_is_better else s.min()
        out[str(col)] = (tied_names(s, best), float(best))
    return out


def tied_names(s: pd.Series, best: float) -> str:
    """Names (index labels) of every entry equal to ``best``, joined with ' = '."""
    keys = s.index[np.isclose(s.to_numpy(dtype=float), best, rtol=0, atol=1e-12)]
    return " = ".join(" / ".join(map(str, k)) if isinstance(k, tuple) else str(k) for k in keys)
