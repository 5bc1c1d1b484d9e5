"""The dataset manifest: one row per sample, every parameter that made it as a column.

A *dataset* is a folder holding ``manifest.parquet`` and ``dataset.json`` plus the
files the manifest points to (paths relative to the folder). Column conventions
shared by every stage (generate, degrade, train, evaluate):

=====================  =====================================================
``image_id``           unique sample id (str)
``subject_id``         patient / CT id (str); splits never cut across it
``split``              ``train`` / ``val`` / ``test``
``image``              relative path of the image (16-bit or 8-bit PNG)
``mask:<structure>``   relative path of a binary mask PNG for ``<structure>``
``sha256:<column>``    SHA-256 of the file named in ``<column>``
``angle_deg``          patient rotation α in degrees (synthetic rotation sets)
``angle_group``        Fok et al. angle group (:mod:`xraylab.data.angles`)
``label``              class label for classification (str or int)
``corruption``         corruption name, ``"none"`` for clean images
``severity``           corruption severity level (int, 0 = clean)
``source_subject_id``  the real subject a pseudo-subject (``<id>~p<k>``) derives from; splits follow it
``label_source``       where a synthetic item's labels come from (``totalsegmentator``, ``lungs:threshold``…)
``pixel_spacing_mm``   size of a stored pixel in mm (NaN when unknown, e.g. most real PNGs)
``framing_box``        JSON ``[row0, row1, col0, col1]`` detector crop of a framed synthetic view
``licence``            licence of an imported real image
=====================  =====================================================
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import pandas as pd

from xraylab.errors import InputFileError
from xraylab.io.atomic import write_bytes, write_text

MANIFEST_NAME = "manifest.parquet"
DATASET_JSON = "dataset.json"
REQUIRED_COLUMNS = ("image_id", "subject_id", "split", "image")
MASK_PREFIX = "mask:"
SHA_PREFIX = "sha256:"


def mask_columns(df: pd.DataFrame) -> list[str]:
    """Names of the ``mask:<structure>`` columns, in table order."""
    return [c for c in df.columns if c.startswith(MASK_PREFIX)]


def structures_of(df: pd.DataFrame) -> list[str]:
    """Structure names that have a mask column."""
    return [c[len(MASK_PREFIX) :] for c in mask_columns(df)]


def write_manifest(folder: str | os.PathLike, df: pd.DataFrame, name: str = MANIFEST_NAME, sort: bool = True) -> Path:
    """Write ``df`` as ``folder/<name>`` (default ``manifest.parquet``) atomically.

    Rows are sorted by ``image_id`` unless ``sort`` is false (then they keep ``df``'s order).
    """
    if sort:
        df = df.sort_values("image_id", kind="stable")
    df = df.reset_index(drop=True)
    buf = io.BytesIO()
    df.to_parquet(buf, index=False)
    return write_bytes(Path(folder) / name, buf.getvalue())


def read_manifest(folder: str | os.PathLike, required: tuple[str, ...] = REQUIRED_COLUMNS) -> pd.DataFrame:
    """Read and validate ``folder/manifest.parquet`` (``folder`` may also be the file itself)."""
    path = Path(folder)
    if path.is_dir():
        path = path / MANIFEST_NAME
    if not path.is_file():
        raise InputFileError(
            f"{path}: dataset manifest not found; pass a folder made by `xraylab generate` or "
            "`xraylab degrade`, or write a manifest.parquet with columns " + ", ".join(required)
        )
    try:
        df = pd.read_parquet(path)
    except Exception as exc:
        raise InputFileError(f"{path}: cannot read manifest ({exc}); the file may be truncated") from exc
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise InputFileError(f"{path}: manifest lacks column(s) {', '.join(missing)}; add them and retry")
    check_file_columns(df, path)
    return df


FILE_COLUMNS = ("image", "layers")  # besides mask:<structure>: columns holding paths relative to the folder


def check_file_columns(df: pd.DataFrame, path: Path) -> None:
    """Raise :class:`PathEscapeError` when a file column of ``df`` names a path outside the dataset folder.

    Every ``image``, ``layers`` and ``mask:<structure>`` value must be relative to the folder of ``path``, with
    no ``..`` part, no drive or leading ``/`` or ``~`` and no backslash (a lexical, vectorised check, so it is
    fast on large manifests; a dataset's own symbolic links are trusted).
    """
    from xraylab.errors import PathEscapeError

    cols = [c for c in df.columns if c in FILE_COLUMNS or c.startswith(MASK_PREFIX)]
    for col in cols:
        values = df[col]
        text = values.where(values.notna(), "").astype(str)
        bad = (text.str.startswith(("/", "~")) | text.str.contains("\\", regex=False)
               | text.str.contains(_ESCAPE_RE, regex=True))
        if bool(bad.any()):
            i = int(bad.to_numpy().nonzero()[0][0])
            ident = df["image_id"].iloc[i] if "image_id" in df.columns else i
            raise PathEscapeError(f"{path}: row {i} (image_id {ident}), column {col}: path {text.iloc[i]!r} leads "
                                  f"outside the dataset folder {path.parent}; manifest paths must be relative to it, "
                                  "without '..'")


_ESCAPE_RE = r"(?:^|/)\.\.(?:/|$)|^[A-Za-z]:"  # a '..' component, or a Windows drive


def write_dataset_json(folder: str | os.PathLike, info: dict[str, Any]) -> Path:
    """Write ``dataset.json`` (resolved spec, seed, versions, counts) atomically."""
    return write_text(Path(folder) / DATASET_JSON, json.dumps(info, indent=2, sort_keys=True, default=str) + "\n")


def read_dataset_json(folder: str | os.PathLike) -> dict[str, Any]:
    """Read ``dataset.json`` from a dataset folder ({} when absent)."""
    path = Path(folder) / DATASET_JSON
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
