"""The volume dataset: CT volumes and label maps as NIfTI items of the one dataset writer.

Layout (every file written by :class:`~xraylab.data.writer.DatasetWriter`, so resume, ownership and the
manifest work as for image datasets)::

    images/<image_id>.nii.gz     CT normalised to [0, 1] (HU window of dataset.json), stored as uint16 with a
                                 NIfTI scale slope of 1/65535; LPS index order, isotropic voxels
    labels/<subject>.nii.gz      uint8 output-class ids (0 = background, c = classes[c - 1]); shared by the
                                 degraded copies of a volume
    manifest.parquet             one row per volume: image_id, subject_id, source_subject_id, split, image,
                                 labelmap, voxel_mm, shape, pseudo_subject, source, label_source,
                                 annotated:<class> (bool), corruption, severity, corruption_params
    dataset.json                 kind "volume", classes, voxel_mm, hu_window, ...

The NIfTI affine is the LPS voxel-to-mm map converted to NIfTI's RAS convention.
"""

from __future__ import annotations

import gzip
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from xraylab.errors import ConfigError, InputFileError

KIND = "volume"
LABEL_COLUMN = "labelmap"
_LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])


def nifti_bytes(array: np.ndarray, affine_lps: np.ndarray, *, unit: bool) -> bytes:
    """Gzipped NIfTI-1 bytes of ``array [I, J, K]`` with the LPS ``affine`` ``[4, 4]``.

    ``unit=True``: a float volume in [0, 1], stored as uint16 with slope 1/65535 (resolution 1.5e-5);
    ``unit=False``: an integer label map stored as uint8.
    """
    import nibabel as nib

    aff = _LPS_TO_RAS @ np.asarray(affine_lps, dtype=np.float64)
    if unit:
        q = np.round(np.clip(np.asarray(array, dtype=np.float32), 0.0, 1.0) * 65535.0).astype(np.uint16)
        img = nib.Nifti1Image(q, aff)
        img.header.set_slope_inter(1.0 / 65535.0, 0.0)
    else:
        img = nib.Nifti1Image(np.asarray(array, dtype=np.uint8), aff)
    img.header.set_xyzt_units("mm")
    return gzip.compress(img.to_bytes(), compresslevel=3, mtime=0)


def read_nifti(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """``(array [I, J, K], LPS affine [4, 4])`` of a volume-dataset NIfTI file (scaling applied for images)."""
    import nibabel as nib

    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"{path}: volume file not found; the dataset is incomplete, re-run the stage that "
                             "wrote it")
    try:
        img = nib.load(str(path))
        arr = np.asarray(img.dataobj)  # type: ignore[attr-defined]
        aff = np.asarray(img.affine, dtype=np.float64)  # type: ignore[attr-defined]
        slope = img.header.get_slope_inter()[0]  # type: ignore[attr-defined]
    except Exception as exc:
        raise InputFileError(f"{path}: cannot read NIfTI volume ({exc}); the file may be truncated") from None
    if slope is not None and np.isfinite(slope):
        arr = np.asarray(img.get_fdata(dtype=np.float32))  # type: ignore[attr-defined]
    return arr, _LPS_TO_RAS @ aff


def spacing_of(affine: np.ndarray) -> tuple[float, float, float]:
    """Voxel size (mm) along each index axis of an affine ``[4, 4]``."""
    return tuple(float(v) for v in np.linalg.norm(np.asarray(affine)[:3, :3], axis=0))  # type: ignore[return-value]


@dataclass
class Volume:
    """One item: ``image`` float32 ``[I, J, K]`` in [0, 1], ``labels`` uint8 ``[I, J, K]``, spacing in mm."""

    image_id: str
    image: torch.Tensor
    labels: torch.Tensor | None
    spacing: tuple[float, float, float]
    affine: np.ndarray
    row: dict[str, Any]


def dataset_info(folder: str | os.PathLike) -> dict[str, Any]:
    """``dataset.json`` of a dataset folder (``{}`` when absent or unreadable)."""
    p = Path(folder) / "dataset.json"
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def is_volume_dataset(folder: str | os.PathLike) -> bool:
    """True when ``folder`` holds a volume dataset (``dataset.json`` ``kind: volume``)."""
    return dataset_info(folder).get("kind") == KIND


def require_volume_dataset(folder: str | os.PathLike) -> dict[str, Any]:
    """``dataset.json`` of a complete volume dataset; ``ConfigError`` naming the folder otherwise."""
    info = dataset_info(folder)
    if info.get("kind") != KIND or not info.get("complete"):
        raise ConfigError(f"{folder}: not a complete volume dataset (dataset.json kind 'volume'); import CTs with "
                          "xraylab.data.volume_import or run the experiment's import step first")
    if not info.get("classes"):
        raise ConfigError(f"{folder}/dataset.json: no 'classes' list; the volume dataset is damaged, re-import it")
    return info


def load_volume(folder: str | os.PathLike, row: dict[str, Any]) -> Volume:
    """Read one manifest row's image (and label map, when the row names one) from ``folder``."""
    folder = Path(folder)
    img, aff = read_nifti(folder / row["image"])
    lab = None
    rel = row.get(LABEL_COLUMN)
    if isinstance(rel, str) and rel:
        arr, _ = read_nifti(folder / rel)
        if arr.shape != img.shape:
            raise InputFileError(f"{folder / rel}: label map shape {arr.shape} differs from image {img.shape}")
        lab = torch.from_numpy(np.ascontiguousarray(arr, dtype=np.uint8))
    return Volume(str(row["image_id"]), torch.from_numpy(np.ascontiguousarray(img, dtype=np.float32)), lab,
                  spacing_of(aff), aff, dict(row))


def read_rows(folder: str | os.PathLike, split: str | None = None) -> list[dict[str, Any]]:
    """Manifest rows of a volume dataset, optionally only ``split`` (sorted by image_id)."""
    from xraylab.data.manifest import read_manifest

    require_volume_dataset(folder)
    df = read_manifest(folder)
    if split is not None:
        df = df[df["split"] == split]
    return df.sort_values("image_id", kind="stable").to_dict("records")
