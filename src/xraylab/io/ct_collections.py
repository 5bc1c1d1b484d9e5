"""CT collections on disk: the folder layouts of public CT datasets, read as labelled CT subjects.

One :class:`Case` per subject (CT file or DICOM folder, its label map or per-structure mask files, the id → name
table, the dataset's own split). :func:`scan_layout` lists the cases of a local copy without reading voxels;
:func:`read_case` reads one as a :class:`~xraylab.io.ct.CTVolume` with its labels on the CT grid. Used by volume
imports (``xraylab import-volumes``) and by generate specs (``cts: [{dataset: DIR, layout: ...}]``).

Layouts:

``folder``            ``ROOT/<case>/ct.nii.gz`` (or ``image.nii.gz``, or a DICOM folder ``ct/``) with
                      ``labels.nii.gz`` (or ``seg.nii.gz``) and an optional ``structures.csv`` (id, structure);
                      without one, TotalSegmentator v2's "total" table
``totalsegmentator``  ``ROOT/<subject>/ct.nii.gz`` + ``ROOT/<subject>/segmentations/<structure>.nii.gz`` (binary
                      masks, TotalSegmentator v2 release); ``ROOT/meta.csv`` (``image_id;split``) gives splits
``abdomenct1k``       ``ROOT/Image/Case_<n>_0000.nii.gz`` + ``ROOT/Mask/Case_<n>.nii.gz`` (ids 1 liver,
                      2 kidney, 3 spleen, 4 pancreas); ``imagesTr``/``labelsTr`` folder names also work
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import SimpleITK as sitk
import torch

from xraylab.errors import ConfigError, InputFileError
from xraylab.io.ct import CTVolume, align_labels, default_ct_paths, is_default_ct_name, load_ct, read_sitk

SPLITS = ("train", "val", "test")
LAYOUTS = ("folder", "totalsegmentator", "abdomenct1k")
#: AbdomenCT-1K's fixed label ids (Ma et al., TPAMI 2022)
ABDOMENCT1K_TABLE: dict[int, str] = {1: "liver", 2: "kidney", 3: "spleen", 4: "pancreas"}


@dataclass
class Case:
    """One source CT and how to read its labels.

    ``structures``: id -> name table of ``labels`` (a CSV path, a mapping, or None for the file's own /
    TotalSegmentator's); ``label_files``: structure name -> binary mask file (TotalSegmentator layout);
    ``class_map``: output class -> source names (None = TotalSegmentator names).
    """

    id: str
    ct: str
    labels: str | None = None
    structures: str | Mapping[int, str] | None = None
    label_files: dict[str, str] = field(default_factory=dict)
    class_map: dict[str, tuple[str, ...]] | None = None
    split: str | None = None
    pseudo_subjects: int = 0
    pseudo_val: int = 0
    label_source: str = "totalsegmentator"
    licence: str = ""


def _ijk(img: sitk.Image) -> np.ndarray:
    return np.ascontiguousarray(sitk.GetArrayFromImage(img).transpose(2, 1, 0))


def read_case(case: Case) -> CTVolume:
    """The case's CT (HU) with its source label map and id -> name table on the CT grid."""
    if is_default_ct_name(case.ct):
        ct_path, lab_path, table_path = default_ct_paths()
        return load_ct(ct_path, lab_path, table_path, name=case.id)
    if case.label_files:
        vol = load_ct(case.ct, name=case.id, segment="never")
        ref = vol.to_sitk()
        lab = np.zeros(vol.shape, dtype=np.int16)
        table: dict[int, str] = {}
        for k, (name, path) in enumerate(sorted(case.label_files.items()), start=1):
            m = align_labels(ref, read_sitk(path, "label map"), Path(case.ct), Path(path))
            lab[_ijk(m) > 0] = k
            table[k] = name
        return replace(vol, labels=torch.from_numpy(lab), structures=table)
    if case.labels is None:
        raise ConfigError(f"case {case.id!r}: no label map (labels: or segmentations/); a volume dataset needs labels")
    return load_ct(case.ct, case.labels, case.structures, name=case.id)



# --------------------------------------------------------------------------- layouts
def _first(folder: Path, names: Sequence[str]) -> Path | None:
    return next((folder / n for n in names if (folder / n).exists()), None)


def scan_layout(layout: str, root: str | Path) -> list[Case]:
    """Cases of a local copy laid out as ``layout`` (``folder``, ``totalsegmentator``, ``abdomenct1k``)."""
    root = Path(root)
    if not root.is_dir():
        raise InputFileError(f"{root}: dataset root not found; give the folder of a local copy")
    if layout == "folder":
        cases = []
        for d in sorted(p for p in root.iterdir() if p.is_dir()):
            ct = _first(d, ("ct.nii.gz", "ct.nii", "image.nii.gz", "ct.nrrd", "ct.mha", "ct", "slices"))
            lab = _first(d, ("labels.nii.gz", "labels.nii", "seg.nii.gz", "segmentation.nii.gz"))
            if ct is None or lab is None:
                continue
            table = d / "structures.csv"
            cases.append(Case(d.name, str(ct), str(lab), str(table) if table.is_file() else None))
        return _nonempty(cases, root, layout, "<case>/ct.nii.gz + <case>/labels.nii.gz")
    if layout == "totalsegmentator":
        splits = _totalseg_splits(root / "meta.csv")
        cases = []
        for d in sorted(p for p in root.iterdir() if p.is_dir()):
            seg = d / "segmentations"
            if not (d / "ct.nii.gz").is_file() or not seg.is_dir():
                continue
            files = {p.name.split(".")[0]: str(p) for p in seg.glob("*.nii*")}
            cases.append(Case(d.name, str(d / "ct.nii.gz"), label_files=files, split=splits.get(d.name)))
        return _nonempty(cases, root, layout, "<subject>/ct.nii.gz + <subject>/segmentations/<structure>.nii.gz")
    if layout == "abdomenct1k":
        img_dir = _first(root, ("Image", "images", "imagesTr", "imagesTs"))
        mask_dir = _first(root, ("Mask", "masks", "labelsTr", "labelsTs"))
        if img_dir is None or mask_dir is None:
            raise InputFileError(f"{root}: AbdomenCT-1K layout needs Image/ and Mask/ folders")
        cases = []
        for img in sorted(img_dir.glob("*.nii*")):
            stem = img.name.split(".")[0]
            cid = stem[:-5] if stem.endswith("_0000") else stem
            mask = _first(mask_dir, (f"{cid}.nii.gz", f"{cid}.nii"))
            if mask is not None:
                cases.append(Case(cid, str(img), str(mask), dict(ABDOMENCT1K_TABLE),
                                  label_source="abdomenct1k", licence="CC BY-NC-SA 4.0 (AbdomenCT-1K)"))
        return _nonempty(cases, root, layout, "Image/Case_<n>_0000.nii.gz + Mask/Case_<n>.nii.gz")
    raise ConfigError(f"unknown volume layout {layout!r}; choose folder, totalsegmentator or abdomenct1k")


def _nonempty(cases: list[Case], root: Path, layout: str, want: str) -> list[Case]:
    if not cases:
        raise InputFileError(f"{root}: no case found for layout '{layout}' (expected {want})")
    return cases


def _totalseg_splits(meta: Path) -> dict[str, str]:
    if not meta.is_file():
        return {}
    with open(meta, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh, delimiter=";"))
    return {r["image_id"]: r["split"] for r in rows if r.get("image_id") and r.get("split") in SPLITS}


