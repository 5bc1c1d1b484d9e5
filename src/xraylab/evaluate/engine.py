"""Per-image evaluation of one model on one dataset: the one segmentation scorer and the tidy long-format rows.

:func:`score_segmentation` is batch → predict → metrics for every 2D segmentation score: plain evaluation
(:func:`xraylab.evaluate.plain.score`) and every suite (through :func:`segmentation_rows`). Metrics come from
:mod:`xraylab.metrics` (the functions trainer validation and 3D evaluation use too).

Rows without a mask (one policy everywhere): a row whose manifest cell for a structure is empty (no mask file,
e.g. a structure the source did not annotate) is kept, with NaN for every metric of that structure; NaN-aware means
leave it out. A dataset without the ``mask:<structure>`` column at all is an error naming the column.

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
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np
import pandas as pd
import torch

from xraylab.errors import InputFileError
from xraylab.evaluate.data import batches, load_batch, mask_present, native_spacing
from xraylab.evaluate.inference import predict_labels, predict_masks
from xraylab.evaluate.models import EvalModel
from xraylab.evaluate.targets import Target, class_targets
from xraylab.metrics import dice, hausdorff_many, iou, stray_components

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


# Metric names score_segmentation computes (each [b, T] float64, NaN where a row has no mask for the target):
#   dice, iou                  overlap fractions (policy dice_empty)
#   hd_px, hd95_px             HD / HD95 in pixels of the model grid (policy hd_empty)
#   hd_mm, hd95_mm             in mm; only when every row of the batch has a spacing
#   hd, hd95                   in mm where the row has a spacing, else in pixels of the model grid
#   stray_components, stray_pixels   predicted regions touching no true pixel (count, pixels)
SEGMENTATION_METRICS = ("dice", "iou", "hd_px", "hd95_px", "hd_mm", "hd95_mm", "hd", "hd95", "stray_components",
                        "stray_pixels")


@dataclass
class ScoredBatch:
    """One batch scored by :func:`score_segmentation`; ``b`` rows, ``T`` targets, ``S`` the model's input size."""

    rows: pd.DataFrame  # the batch's manifest rows
    start: int  # position of the batch's first row in the scored table
    images: torch.Tensor  # [b, C, S, S] float32 in [0, 1] on CPU (after ``perturb``)
    pred: torch.Tensor  # [b, T, S, S] bool on CPU: union of the predicted classes of each target
    true: torch.Tensor  # [b, T, S, S] bool on CPU: union of the true masks of each target
    scored: np.ndarray  # [b, T] bool: the row has every true mask file of the target
    spacing: np.ndarray | None  # [b, 2] (row, col) mm per pixel of the model grid, NaN unknown; None if not asked
    metrics: dict[str, np.ndarray]  # name -> [b, T] float64 (see SEGMENTATION_METRICS), NaN where not scored


def _distances(pred: np.ndarray, true: np.ndarray, eff: np.ndarray | None, names: set[str],
               hd_empty: str) -> dict[str, np.ndarray]:
    """The HD metrics among ``names`` (see :data:`SEGMENTATION_METRICS`) of bool ``[b, T, S, S]`` masks."""
    out: dict[str, np.ndarray] = {}
    if names & {"hd_px", "hd95_px", "hd_mm", "hd95_mm"}:
        out["hd_px"], out["hd95_px"] = hausdorff_many(pred, true, (None, 95.0), None, hd_empty)
        if names & {"hd_mm", "hd95_mm"} and eff is not None and np.isfinite(eff).all():
            if np.all(eff[:, :1] == eff[:, 1:]):  # isotropic: the same nearest points, scaled
                out["hd_mm"], out["hd95_mm"] = out["hd_px"] * eff[:, :1], out["hd95_px"] * eff[:, :1]
            else:
                out["hd_mm"], out["hd95_mm"] = hausdorff_many(pred, true, (None, 95.0), eff, hd_empty)
    if names & {"hd", "hd95"}:
        known = np.isfinite(eff).all(axis=1) if eff is not None else np.zeros(len(pred), dtype=bool)
        spacing = np.where(known[:, None], eff, 1.0) if eff is not None else 1.0
        out["hd"], out["hd95"] = hausdorff_many(pred, true, (None, 95.0), spacing, hd_empty)
    return {k: v for k, v in out.items() if k in names}


def score_segmentation(
    model: EvalModel,
    rows: pd.DataFrame,
    folder: str | Path,
    targets: Sequence[Target],
    metrics: Sequence[str],
    *,
    batch_size: int = 16,
    device: str | torch.device = "cpu",
    dice_empty: str = "score",
    hd_empty: str = "max",
    spacing: np.ndarray | None = None,
    perturb: Perturb | None = None,
) -> Iterator[ScoredBatch]:
    """Batch → predict → metrics: score ``model`` on ``rows`` of the dataset in ``folder``, one batch at a time.

    ``targets``: what to score (:class:`Target`; :func:`class_targets` for each model class); ``metrics``: names
    from :data:`SEGMENTATION_METRICS`; ``spacing``: native (row, col) pixel spacing in mm per row ``[N, 2]`` (NaN
    where unknown), scaled to the model grid; ``perturb(x, masks)``: applied to the images (on ``device``) before
    prediction, ``masks`` the true masks ``[b, M, S, S]`` of the needed structures in first-use order.
    Preprocessing is the trainer's (:func:`xraylab.evaluate.data.load_batch`). Rows without a mask file for a
    target are kept with NaN metrics (module docstring).
    """
    unknown = sorted(set(metrics) - set(SEGMENTATION_METRICS))
    if unknown:
        raise ValueError(f"unknown segmentation metrics {unknown}; choose from {SEGMENTATION_METRICS}")
    names = set(metrics)
    classes = list(model.classes)
    needed = list(dict.fromkeys(s for t in targets for s in t.true))
    pred_idx = [[classes.index(c) for c in t.pred] for t in targets]
    true_idx = [[needed.index(s) for s in t.true] for t in targets]
    for sl in batches(len(rows), batch_size):
        meta = rows.iloc[sl]
        x, y, eff = load_batch(meta, folder, model.image_size, model.in_channels, needed,
                               spacing[sl] if spacing is not None else None, allow_missing=True)
        assert y is not None, "every target has a true structure, so load_batch returns masks"
        have = mask_present(meta, needed)  # [b, len(needed)]
        x = x.to(device)
        if perturb is not None:
            x = perturb(x, y.to(device))
        raw = predict_masks(model.module, x).cpu()
        if raw.shape[1] != len(classes):
            raise InputFileError(f"model {model.name!r} returned {raw.shape[1]} channels for {len(classes)} classes")
        pred = torch.stack([raw[:, ix].any(dim=1) for ix in pred_idx], dim=1)
        true = torch.stack([y[:, ix].any(dim=1) for ix in true_idx], dim=1)
        scored = np.stack([have[:, ix].all(axis=1) for ix in true_idx], axis=1)
        m: dict[str, np.ndarray] = {}
        if "dice" in names:
            m["dice"] = dice(pred, true, empty=dice_empty)
        if "iou" in names:
            m["iou"] = iou(pred, true, empty=dice_empty)
        m.update(_distances(pred.numpy(), true.numpy(), eff, names, hd_empty))
        if names & {"stray_components", "stray_pixels"}:
            n_stray, stray_px = stray_components(pred, true)
            m.update({"stray_components": n_stray, "stray_pixels": stray_px})
        m = {k: np.where(scored, np.asarray(v, dtype=np.float64), np.nan) for k, v in m.items() if k in names}
        yield ScoredBatch(meta, sl.start, x.cpu(), pred, true, scored, eff, m)


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
    """Evaluate a segmentation model on every row with :func:`score_segmentation`; returns long rows (module doc).

    A row without a mask file for a class gets NaN for that class (and is left out of its ``mean``)."""
    spacing = native_spacing(rows, spacing_mm)
    classes = list(model.classes)
    names = ["dice", "iou"] + (["hd_px", "hd95_px", "hd_mm", "hd95_mm"] if distances else [])
    out = []
    for batch in score_segmentation(model, rows, folder, class_targets(classes), names, batch_size=batch_size,
                                    device=device, dice_empty=dice_empty, hd_empty=hd_empty, spacing=spacing,
                                    perturb=perturb):
        m = {k: np.concatenate([v, _nanmean_rows(v)[:, None]], axis=1) for k, v in batch.metrics.items()}
        out.append(
            _frame(
                batch.rows, classes + [MEAN_CLASS], m,
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
