"""Per-image evaluation of one model on one dataset, written as tidy long-format rows.

Every suite calls :func:`segmentation_rows` or :func:`classification_rows`; each returns a
:class:`pandas.DataFrame` with the columns :data:`ROW_COLUMNS`, one row per
(image, class, metric). Segmentation metrics: ``dice``, ``iou`` (fractions), ``hd_px``,
``hd95_px`` (pixels on the model grid) and ``hd_mm``, ``hd95_mm`` when the pixel spacing is
known. Class ``"mean"`` holds the NaN-aware mean over the model's classes for each image.
Classification rows carry metric ``correct`` (1.0 / 0.0) plus ``target`` and ``prediction``
class names, from which accuracies, balanced accuracies and confusion matrices follow.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import torch

from xraylab.errors import InputFileError
from xraylab.evaluate.data import batches, load_batch, native_spacing
from xraylab.evaluate.inference import predict_labels, predict_masks
from xraylab.evaluate.metrics import dice, hausdorff_many, iou
from xraylab.evaluate.models import EvalModel

ROW_COLUMNS = [
    "model", "suite", "subject", "image", "class", "angle", "angle_group", "corruption", "severity",
    "attack", "epsilon", "metric", "value", "target", "prediction",
]
MEAN_CLASS = "mean"
# x, y (masks [B,K,H,W] bool or labels [B]) -> perturbed x
Perturb = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _nanmean_rows(a: np.ndarray) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(a, axis=1)


def _frame(meta: pd.DataFrame, classes: list[str], metrics: dict[str, np.ndarray], common: dict) -> pd.DataFrame:
    """Long rows from ``metrics[name] = [B, L]`` arrays; L indexes ``classes``."""
    b, nl = len(meta), len(classes)
    parts = []
    for name, arr in metrics.items():
        parts.append(
            pd.DataFrame(
                {
                    "subject": np.repeat(meta["subject_id"].astype(str).to_numpy(), nl),
                    "image": np.repeat(meta["image_id"].astype(str).to_numpy(), nl),
                    "class": np.tile(np.asarray(classes, dtype=object), b),
                    "angle": np.repeat(meta["angle"].to_numpy(dtype=float), nl),
                    "angle_group": np.repeat(meta["angle_group"].to_numpy(dtype=object), nl),
                    "corruption": np.repeat(meta["corruption"].to_numpy(dtype=object), nl),
                    "severity": np.repeat(meta["severity"].to_numpy(dtype=float), nl),
                    "metric": name,
                    "value": np.asarray(arr, dtype=np.float64).reshape(-1),
                }
            )
        )
    df = pd.concat(parts, ignore_index=True)
    for k, v in common.items():
        df[k] = v
    for c in ROW_COLUMNS:
        if c not in df.columns:
            df[c] = None
    return df[ROW_COLUMNS]


def empty_frame() -> pd.DataFrame:
    """A results frame with the right columns and no rows."""
    return pd.DataFrame({c: pd.Series(dtype=object) for c in ROW_COLUMNS})


def segmentation_rows(
    model: EvalModel,
    rows: pd.DataFrame,
    folder: str | Path,
    suite: str,
    *,
    batch_size: int = 16,
    device: str | torch.device = "cpu",
    dice_empty: str = "score",
    hd_empty: str = "max",
    spacing_mm=None,
    distances: bool = True,
    perturb: Perturb | None = None,
    attack: str | None = None,
    epsilon: float = math.nan,
) -> pd.DataFrame:
    """Evaluate a segmentation model on every row; returns long rows (see module doc)."""
    spacing = native_spacing(rows, spacing_mm)
    classes = list(model.classes)
    out = []
    for sl in batches(len(rows), batch_size):
        meta = rows.iloc[sl]
        x, y, sp = load_batch(
            meta, folder, model.image_size, model.in_channels, classes, spacing[sl] if spacing is not None else None
        )
        assert y is not None, "a segmentation model has at least one class, so load_batch returns masks"
        x, y = x.to(device), y.to(device)
        if perturb is not None:
            x = perturb(x, y)
        pred = predict_masks(model.module, x)
        if pred.shape[1] != len(classes):
            raise InputFileError(f"model {model.name!r} returned {pred.shape[1]} channels for {len(classes)} classes")
        m: dict[str, np.ndarray] = {"dice": dice(pred, y, empty=dice_empty), "iou": iou(pred, y, empty=dice_empty)}
        if distances:
            pn, yn = pred.cpu().numpy(), y.cpu().numpy()
            m["hd_px"], m["hd95_px"] = hausdorff_many(pn, yn, (None, 95.0), None, hd_empty)
            if sp is not None:
                if np.all(sp[:, :1] == sp[:, 1:]):  # isotropic: the same nearest points, scaled
                    m["hd_mm"], m["hd95_mm"] = m["hd_px"] * sp[:, :1], m["hd95_px"] * sp[:, :1]
                else:
                    m["hd_mm"], m["hd95_mm"] = hausdorff_many(pn, yn, (None, 95.0), sp, hd_empty)
        m = {k: np.concatenate([v, _nanmean_rows(v)[:, None]], axis=1) for k, v in m.items()}
        out.append(
            _frame(
                meta, classes + [MEAN_CLASS], m,
                {"model": model.name, "suite": suite, "attack": attack, "epsilon": epsilon},
            )
        )
    return pd.concat(out, ignore_index=True) if out else empty_frame()


def target_column(model: EvalModel, target: str) -> str:
    """Manifest column holding the true class for ``model`` (``auto``: by the model's task)."""
    if target != "auto":
        return target
    if model.task == "classification":
        return str(model.info.get("label_column") or "label")
    return {"severity": "severity", "type": "corruption"}[model.task]


def _as_float(v) -> float | None:
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def _match_class(value, classes: list[str]) -> int | None:
    """Index of ``value`` in ``classes``: by name, then by number ("1" == 1.0), then, when no class
    name is numeric, an integer value is taken as the class index."""
    s = str(value)
    if s in classes:
        return classes.index(s)
    f = _as_float(value)
    if f is None:
        return None
    numeric = [_as_float(c) for c in classes]
    if f in numeric:
        return numeric.index(f)
    if all(n is None for n in numeric) and f.is_integer() and 0 <= int(f) < len(classes):
        return int(f)
    return None


def target_indices(model: EvalModel, rows: pd.DataFrame, column: str) -> np.ndarray:
    """Class indices ``[N]`` of the true labels in ``column``; raises naming unknown values."""
    if column not in rows.columns:
        raise InputFileError(f"{rows.attrs.get('folder', 'dataset')}: manifest lacks the target column {column!r}")
    lookup = {v: _match_class(v, model.classes) for v in pd.unique(rows[column])}
    bad = [v for v, i in lookup.items() if i is None]
    if bad:
        raise InputFileError(
            f"{rows.attrs.get('folder', 'dataset')}: {column} values {bad[:5]} are not classes of model "
            f"{model.name!r} ({model.classes})"
        )
    return np.array([lookup[v] for v in rows[column]], dtype=np.int64)


def classification_rows(
    model: EvalModel,
    rows: pd.DataFrame,
    folder: str | Path,
    suite: str,
    *,
    target: str = "auto",
    batch_size: int = 16,
    device: str | torch.device = "cpu",
    perturb: Perturb | None = None,
    attack: str | None = None,
    epsilon: float = math.nan,
) -> pd.DataFrame:
    """Evaluate a classifier on every row: metric ``correct`` with ``target``/``prediction`` names."""
    y_all = target_indices(model, rows, target_column(model, target))
    names = np.asarray(model.classes, dtype=object)
    out = []
    for sl in batches(len(rows), batch_size):
        meta = rows.iloc[sl]
        x, _, _ = load_batch(meta, folder, model.image_size, model.in_channels)
        x = x.to(device)
        y = torch.from_numpy(y_all[sl]).to(device)
        if perturb is not None:
            x = perturb(x, y)
        p = predict_labels(model.module, x).cpu().numpy()
        t = y_all[sl]
        df = _frame(
            meta, ["label"], {"correct": (p == t).astype(np.float64)[:, None]},
            {"model": model.name, "suite": suite, "attack": attack, "epsilon": epsilon},
        )
        df["target"] = names[t]
        df["prediction"] = names[p]
        out.append(df)
    return pd.concat(out, ignore_index=True) if out else empty_frame()
