"""Reading evaluation samples from a dataset folder into model-ready tensors.

Each sample goes through :func:`xraylab.data.datasets.load_sample`, the function the trainer's
:class:`~xraylab.data.datasets.ManifestDataset` uses (PNG/JPEG/TIFF or ``.npz``/``.npy``; gray repeated, RGB averaged
for 1-channel models; resized with zero padding to ``image_size``, bilinear for images, nearest for masks), so
metrics are computed on the model's grid with the training preprocessing.
The native pixel spacing (``spacing_mm`` of the suite, else the first manifest column of
:data:`SPACING_COLUMNS`; for ``xraylab generate`` datasets ``pixel_spacing_mm``, the detector
plane) is scaled by the resize, so distances in mm are in that plane.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import pandas as pd
import torch

from xraylab.data.angles import angle_group
from xraylab.data.datasets import load_sample
from xraylab.data.manifest import MASK_PREFIX, read_manifest
from xraylab.errors import InputFileError

SPACING_COLUMNS = ("spacing_mm", "pixel_spacing_mm", "detector_spacing_mm")


def load_rows(folder: str | Path, split: str | None, max_images: int | None = None) -> pd.DataFrame:
    """Manifest rows of ``folder`` (optionally one split, at most ``max_images``) with metadata columns filled.

    Adds ``angle``/``angle_group`` (NaN/None when the dataset has no ``angle_deg``),
    ``corruption`` (``"none"`` when absent) and ``severity`` (0 when absent).
    """
    df = read_manifest(folder)
    if split is not None and "split" in df.columns:
        df = df[df["split"] == split]
        if df.empty:
            raise InputFileError(f"{folder}: no rows with split == {split!r}; set split: null to use every row")
    df = df.sort_values("image_id", kind="stable").reset_index(drop=True)
    if max_images is not None:
        df = df.iloc[:max_images].reset_index(drop=True)
    out = df.copy()
    if "angle_deg" in out.columns:
        out["angle"] = out["angle_deg"].astype(float)
        out["angle_group"] = [angle_group(a) for a in out["angle"]]
    else:
        out["angle"] = np.nan
        out["angle_group"] = None
    if "corruption" not in out.columns:
        out["corruption"] = "none"
    out["corruption"] = out["corruption"].fillna("none").astype(str)
    if "severity" not in out.columns:
        out["severity"] = 0
    out["severity"] = pd.to_numeric(out["severity"], errors="coerce").fillna(0).astype(float)
    out.attrs["folder"] = str(folder)
    return out


def native_spacing(rows: pd.DataFrame, spacing_mm) -> np.ndarray | None:
    """Native (row, col) pixel spacing in mm per row, ``[N, 2]``, or None when unknown."""
    n = len(rows)
    if spacing_mm is not None:
        s = np.asarray(spacing_mm, dtype=np.float64)
        return np.broadcast_to(s if s.ndim else np.array([s, s]), (n, 2)).astype(np.float64).copy()
    for col in SPACING_COLUMNS:
        if col in rows.columns:
            v = pd.to_numeric(rows[col], errors="coerce").to_numpy(dtype=np.float64)
            if np.isfinite(v).all():
                return np.repeat(v[:, None], 2, axis=1)
    return None


def mask_columns_for(rows: pd.DataFrame, classes: Sequence[str]) -> list[str]:
    """The ``mask:<class>`` columns for ``classes``; raises when one is missing."""
    cols = [f"{MASK_PREFIX}{c}" for c in classes]
    missing = [c for c in cols if c not in rows.columns]
    if missing:
        have = [c for c in rows.columns if c.startswith(MASK_PREFIX)]
        raise InputFileError(
            f"{rows.attrs.get('folder', 'dataset')}: manifest lacks {', '.join(missing)} needed by the model "
            f"(it has {', '.join(have) or 'no mask columns'})"
        )
    return cols


def load_batch(
    rows: pd.DataFrame,
    folder: str | Path,
    image_size: int,
    in_channels: int,
    classes: Sequence[str] | None = None,
    spacing: np.ndarray | None = None,
    allow_missing: bool = False,
) -> tuple[torch.Tensor, torch.Tensor | None, np.ndarray | None]:
    """Load ``rows`` as ``images [B, C, S, S]`` float32 in [0, 1], ``masks [B, K, S, S]`` bool (or None),
    and the effective spacing ``[B, 2]`` in mm on the resized grid (or None).

    ``allow_missing``: a row without a file for a mask (an empty manifest cell, e.g. a structure a CT lacked)
    gets an all-False mask instead of an error; the caller must not score it (see :func:`mask_present`)."""
    folder = Path(folder)
    mcols = mask_columns_for(rows, classes) if classes is not None else []
    images, masks, eff = [], [], []
    for i, (_, r) in enumerate(rows.iterrows()):
        files = [str(r[c]) if _has_file(r[c]) or not allow_missing else None for c in mcols]
        x, m, (h, w) = load_sample(folder, str(r["image"]), files, image_size, in_channels)
        images.append(x)
        if m is not None:
            masks.append(m)
        if spacing is not None:
            scale = min(image_size / h, image_size / w)
            nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
            eff.append(spacing[i] * np.array([h / nh, w / nw]))
    x = torch.stack(images)
    y = torch.stack(masks) if mcols else None
    return x, y, (np.stack(eff) if spacing is not None else None)


def _has_file(value) -> bool:
    return isinstance(value, str) and value.strip() not in ("", "None", "nan")


def mask_present(rows: pd.DataFrame, structures: Sequence[str]) -> np.ndarray:
    """``[B, K]`` bool: whether each row has a mask file for each structure (manifest cell not empty)."""
    return np.array([[_has_file(v) for v in rows[f"{MASK_PREFIX}{s}"]] for s in structures], dtype=bool).T.reshape(
        len(rows), len(structures))


def batches(n: int, batch_size: int) -> Iterator[slice]:
    """Consecutive slices covering ``range(n)`` in chunks of ``batch_size``."""
    for start in range(0, n, batch_size):
        yield slice(start, min(n, start + batch_size))
