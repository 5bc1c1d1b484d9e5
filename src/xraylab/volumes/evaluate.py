"""Scores of 3D models on clean and degraded volumes, and the RAMP tables.

:func:`score_model` runs one model over a volume dataset (clean rows and, for a degraded dataset, every
corruption x level row) with MONAI sliding-window inference and writes one row per (volume, class): Dice and
HD95 (mm) with :mod:`xraylab.volumes.metrics`. A class the volume's source does not annotate
(``annotated:<class>`` false) is kept in the table but excluded from every mean (RAMP §3.5).

:func:`ramp_table` is RAMP's Table 5 layout per model (Kang et al. eq. 3-4, §3.5):

* clean Dice: mean over the clean test volumes of the mean Dice over annotated classes;
* mean corrupted Dice: the same over every corrupted volume (all operators x levels);
* robustness gap = clean Dice - mean corrupted Dice;
* worst-case Dice: per test volume the minimum over the corruption settings, then the mean over volumes.

:func:`loco_table` is Table 12: the model trained without operator ``op``, scored on ``op`` only (mean over
levels and volumes), beside the full RAMP model on the same rows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from xraylab.data.volume_dataset import load_volume, read_rows, require_volume_dataset
from xraylab.errors import ConfigError
from xraylab.volumes.metrics import dice_hd95
from xraylab.volumes.train import load_checkpoint, predict, resolve_device


def score_model(run: str | Path, dataset: str | Path, name: str | None = None, split: str | None = None,
                corruptions: Sequence[str] | None = None, device: str = "auto", hd95: str = "all",
                log: Callable[[str], None] | None = None) -> pd.DataFrame:
    """Per-(volume, class) Dice / HD95 of the model in ``run`` on ``dataset`` (optionally one split and only
    the rows of ``corruptions``; ``"none"`` selects the clean rows). ``hd95``: ``all``, ``clean`` (only the
    clean rows; CPU-sized runs) or ``none``."""
    if hd95 not in ("all", "clean", "none"):
        raise ConfigError(f"hd95 {hd95!r}: choose all, clean or none")
    dev = resolve_device(device)
    model, cfg = load_checkpoint(run, dev)
    info = require_volume_dataset(dataset)
    classes = list(cfg["classes"])
    ds_classes = list(info["classes"])
    rows = read_rows(dataset, split)
    if corruptions is not None:
        rows = [r for r in rows if str(r.get("corruption", "none")) in set(corruptions)]
    out = []
    for i, row in enumerate(rows):
        v = load_volume(dataset, row)
        assert v.labels is not None
        pred = predict(model, v.image, cfg["patch"], cfg["sw_overlap"], cfg["sw_batch_size"], dev)
        # score in the model's class order: map dataset ids onto it (a class the dataset lacks stays empty)
        truth = np.zeros(v.labels.shape, dtype=np.uint8)
        lab = v.labels.numpy()
        for c, n in enumerate(classes, start=1):
            if n in ds_classes:
                truth[lab == ds_classes.index(n) + 1] = c
        import torch

        want_hd = hd95 == "all" or (hd95 == "clean" and str(row.get("corruption", "none")) == "none")
        dice, hd = dice_hd95(pred, torch.from_numpy(truth), len(classes), v.spacing, hd95=want_hd)
        for c, n in enumerate(classes):
            out.append({
                "model": name or Path(run).name, "image_id": row["image_id"],
                "source_image_id": row.get("source_image_id", row["image_id"]), "subject_id": row["subject_id"],
                "pseudo_subject": bool(row.get("pseudo_subject", False)),
                "corruption": str(row.get("corruption", "none")), "severity": int(row.get("severity", 0)),
                "class": n, "annotated": bool(row.get(f"annotated:{n}", n in ds_classes)) and n in ds_classes,
                "dice": float(dice[c]), "hd95_mm": float(hd[c]),
            })
        if log and (i + 1) % 20 == 0:
            log(f"  {name}: {i + 1}/{len(rows)} volumes scored")
    return pd.DataFrame(out)


def per_volume(df: pd.DataFrame) -> pd.DataFrame:
    """One row per (model, volume): mean Dice / HD95 over its annotated classes."""
    a = df[df["annotated"]]
    keys = ["model", "image_id", "source_image_id", "subject_id", "pseudo_subject", "corruption", "severity"]
    return a.groupby(keys, as_index=False).agg(dice=("dice", "mean"), hd95_mm=("hd95_mm", "mean"))


def ramp_table(df: pd.DataFrame, models: Sequence[str] | None = None) -> pd.DataFrame:
    """RAMP Table 5 per model: clean Dice, mean corrupted Dice, robustness gap, worst-case Dice (+ HD95)."""
    pv = per_volume(df)
    rows = []
    for m in models or list(dict.fromkeys(pv["model"])):
        d = pv[pv["model"] == m]
        clean, corr = d[d["corruption"] == "none"], d[d["corruption"] != "none"]
        worst = corr.groupby("source_image_id")["dice"].min().mean() if len(corr) else np.nan
        rows.append({"model": m, "clean_dice": clean["dice"].mean(), "mean_corrupted_dice": corr["dice"].mean(),
                     "robustness_gap": clean["dice"].mean() - corr["dice"].mean(), "worst_case_dice": worst,
                     "clean_hd95_mm": clean["hd95_mm"].mean(), "corrupted_hd95_mm": corr["hd95_mm"].mean(),
                     "n_clean": len(clean), "n_corrupted": len(corr)})
    return pd.DataFrame(rows)


def corruption_table(df: pd.DataFrame) -> pd.DataFrame:
    """Mean Dice per corruption (rows) and model (columns), over levels and volumes (RAMP Tables 7-8, Fig. 4)."""
    pv = per_volume(df)
    return pv.pivot_table(index="corruption", columns="model", values="dice", aggfunc="mean")


def organ_table(df: pd.DataFrame, model: str) -> pd.DataFrame:
    """Per class: clean Dice, corrupted Dice, gap, worst-case Dice of one model (RAMP Table 10)."""
    a = df[(df["model"] == model) & df["annotated"]]
    rows = []
    for c, d in a.groupby("class", sort=False):
        clean, corr = d[d["corruption"] == "none"], d[d["corruption"] != "none"]
        rows.append({"class": c, "clean_dice": clean["dice"].mean(), "corrupted_dice": corr["dice"].mean(),
                     "gap": clean["dice"].mean() - corr["dice"].mean(),
                     "worst_case_dice": corr.groupby("source_image_id")["dice"].min().mean()})
    return pd.DataFrame(rows)


def loco_table(df: pd.DataFrame, loco: Mapping[str, str], reference: str | None = None) -> pd.DataFrame:
    """RAMP Table 12: per held-out operator, the LOCO model's mean Dice on it (and ``reference``'s)."""
    pv = per_volume(df)
    rows = []
    for op, m in loco.items():
        d = pv[(pv["model"] == m) & (pv["corruption"] == op)]
        r = {"held_out": op, "model": m, "loco_dice": d["dice"].mean(), "n": len(d)}
        if reference is not None:
            r[f"{reference}_dice"] = pv[(pv["model"] == reference) & (pv["corruption"] == op)]["dice"].mean()
        rows.append(r)
    return pd.DataFrame(rows)


def markdown(df: pd.DataFrame, digits: int = 3) -> str:
    """A plain markdown table of ``df`` (numbers rounded)."""
    cols = list(df.columns)
    lines = ["| " + " | ".join(map(str, cols)) + " |", "|" + "---|" * len(cols)]
    for _, r in df.iterrows():
        cells = [f"{v:.{digits}f}" if isinstance(v, (float, np.floating)) else str(v) for v in r.tolist()]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def evaluate_plain(model: str | Path, data: str | Path, out: str | Path, split: str | None = None,
                   device: str = "auto", log: Callable[[str], None] | None = None) -> Path:
    """``xraylab evaluate --model RUN --data VOLUME_DATASET --out DIR``: per_class.csv, summary.md."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    df = score_model(model, data, name=Path(model).name, split=split, device=device, log=log)
    df.to_csv(out / "per_class.csv", index=False)
    table = ramp_table(df)
    text = f"# 3D evaluation of {model} on {data}\n\n{markdown(table)}\n"
    (out / "summary.md").write_text(text)
    return out / "summary.md"
