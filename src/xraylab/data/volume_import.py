"""Volume datasets from real CTs: the CT collection layouts (folder, TotalSegmentator, AbdomenCT-1K, MSD, DICOM,
NIfTI) or a data manifest.

Every case goes through one preparation (:func:`prepare_case`):

1. read the CT (NIfTI / NRRD / MHA / DICOM folder) and its label map with :func:`xraylab.io.ct.load_ct`
   (which puts labels stored with flipped axes back on the CT grid);
2. map the source's labels to the output classes through the source's own class table
   (:func:`xraylab.data.volume_classes.map_labels`): by name for TotalSegmentator-style tables, by id for
   AbdomenCT-1K;
3. reorient to LPS (SimpleITK ``DICOMOrient``) and resample to ``voxel_mm`` isotropic voxels: the CT with
   a Gaussian pre-filter (sigma = sqrt(new^2 - old^2) / 2 mm per axis, against aliasing) and linear
   interpolation, the labels with nearest neighbour;
4. clip HU to ``hu_window`` and scale to [0, 1] (RAMP §3.1: "clipped to a task-appropriate HU range and
   normalized to the interval [0, 1]").

Pseudo-subjects (:func:`xraylab.data.pseudo_subjects.deform_ct`, on the resampled HU volume) multiply
subjects where real ones run short; they are named ``<id>~p<k>``, flagged ``pseudo_subject = True`` and keep
their source's split unless the case asks for ``pseudo_val`` of them in ``val`` (then the validation set
shares anatomy with training — a compromise the report must name).

Layouts (:data:`xraylab.io.ct_layouts.LAYOUTS`: ``folder``, ``totalsegmentator``, ``abdomenct1k``, ``msd``,
``dicom``, ``nifti``) and the case reader live in :mod:`xraylab.io.ct_collections`
(:func:`~xraylab.io.ct_collections.scan_layout`), shared with generate specs.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import SimpleITK as sitk
import torch

from xraylab.data import volume_classes as cls_mod
from xraylab.data.volume_dataset import KIND, LABEL_COLUMN, nifti_bytes
from xraylab.data.writer import DatasetWriter
from xraylab.errors import ConfigError
from xraylab.io.ct import CTVolume, is_default_ct_name
from xraylab.io.ct_collections import SPLITS, Case, _ijk, pick_cases, read_case, scan_layout  # noqa: F401 (re-exported)


# --------------------------------------------------------------------------- reading one case
def _to_sitk(arr: np.ndarray, like: sitk.Image) -> sitk.Image:
    img = sitk.GetImageFromArray(np.ascontiguousarray(arr.transpose(2, 1, 0)))
    img.CopyInformation(like)
    return img


def resample_lps(vol: CTVolume, labels: np.ndarray, voxel_mm: float) -> CTVolume:
    """``vol`` (HU) and output-class ``labels`` reoriented to LPS on an isotropic ``voxel_mm`` grid."""
    ct = sitk.DICOMOrient(vol.to_sitk(), "LPS")
    lab = sitk.DICOMOrient(_to_sitk(labels.astype(np.uint8), vol.to_sitk()), "LPS")
    old = np.asarray(ct.GetSpacing(), dtype=np.float64)
    sig = 0.5 * np.sqrt(np.clip(voxel_mm**2 - old**2, 0.0, None))
    if (sig > 0.05).any():
        ct = sitk.SmoothingRecursiveGaussian(ct, [float(max(s, 1e-3)) for s in sig])
    size = [max(1, int(math.floor(n * s / voxel_mm))) for n, s in zip(ct.GetSize(), old)]
    # keep the physical extent: the first new voxel centre sits half a new voxel inside the old first edge
    origin = np.asarray(ct.GetOrigin()) + (voxel_mm - old) / 2.0
    ref = sitk.Image(size, sitk.sitkFloat32)
    ref.SetSpacing([voxel_mm] * 3)
    ref.SetOrigin(tuple(float(o) for o in origin))
    ref.SetDirection(ct.GetDirection())
    hu = sitk.Resample(ct, ref, sitk.Transform(), sitk.sitkLinear, -1024.0, sitk.sitkFloat32)
    lb = sitk.Resample(lab, ref, sitk.Transform(), sitk.sitkNearestNeighbor, 0, sitk.sitkUInt8)
    return CTVolume(
        hu=torch.from_numpy(_ijk(hu).astype(np.float32)),
        spacing=(voxel_mm, voxel_mm, voxel_mm),
        origin=tuple(float(o) for o in origin),  # type: ignore[arg-type]
        direction=np.asarray(ct.GetDirection(), dtype=np.float64).reshape(3, 3),
        labels=torch.from_numpy(_ijk(lb).astype(np.int16)),
        structures={},
        name=vol.name,
        source=vol.source,
        meta=dict(vol.meta),
    )


def normalise(hu: torch.Tensor, hu_window: Sequence[float]) -> np.ndarray:
    """HU clipped to ``hu_window = (lo, hi)`` and scaled to [0, 1], float32."""
    lo, hi = float(hu_window[0]), float(hu_window[1])
    return ((hu.clamp(lo, hi) - lo) / (hi - lo)).numpy().astype(np.float32)


def prepare_case(case: Case, classes: Sequence[str], voxel_mm: float) -> tuple[CTVolume, dict[str, bool]]:
    """Read, map labels to ``classes``, reorient and resample one case (HU kept; see the module doc).

    A case without lung labels that allows HU lungs (``lung_labels="auto"``: the msd, dicom and nifti layouts) gets
    them from :mod:`xraylab.io.lung_labels` when an output class is a lung."""
    from xraylab.io.lung_labels import LUNG_LABEL_NAMES

    lungs = any(n in LUNG_LABEL_NAMES for c in classes for n in cls_mod.names_for(c, case.class_map))
    vol = read_case(case, lungs=lungs)
    assert vol.labels is not None
    mapped, present = cls_mod.map_labels(vol.labels.numpy(), vol.structures, classes, case.class_map)
    return resample_lps(vol, mapped, voxel_mm), present


# --------------------------------------------------------------------------- layouts
def cases_from_manifest(path: str | Path) -> list[Case]:
    """Cases of a data manifest (``data_manifests/*.yaml``): ``cases`` (id, ct, labels, structure_table, and
    ``lung_labels: auto`` for HU lungs or ``atlas: default`` for labels propagated from the embedded CT) or
    ``layout`` + ``root``; ``splits: {train: [ids], ...}``; paths relative to ``root``, itself relative to the
    manifest's folder."""
    from xraylab.specs import read_yaml_mapping

    path = Path(path)
    raw = read_yaml_mapping(path, "data manifest")
    root = (path.parent / str(raw.get("root", "."))).resolve()
    if raw.get("layout"):
        cases = scan_layout(str(raw["layout"]), root)
    else:
        cases = []
        for i, c in enumerate(raw.get("cases") or []):
            if not isinstance(c, dict) or "id" not in c or "ct" not in c:
                raise ConfigError(f"{path}: cases[{i}] needs 'id' and 'ct'")
            ct = str(c["ct"]) if is_default_ct_name(c["ct"]) else str(root / c["ct"])
            table = c.get("structure_table")
            if isinstance(table, str):
                table = str(root / table)
            lungs = c.get("lung_labels")
            if lungs not in (None, "auto"):
                raise ConfigError(f"{path}: cases[{i}].lung_labels {lungs!r}: use auto (lungs from HU where the "
                                  "labels have none) or leave it out")
            cases.append(Case(str(c["id"]), ct, str(root / c["labels"]) if c.get("labels") else None, table,
                              label_source=str(c.get("label_source", "totalsegmentator")),
                              licence=str(raw.get("licence", "")), lung_labels=lungs,
                              atlas=str(c["atlas"]) if c.get("atlas") else None))
    for split, ids in (raw.get("splits") or {}).items():
        for cid in ids or []:
            for c in cases:
                if c.id == cid:
                    c.split = str(split)
    return cases


# --------------------------------------------------------------------------- writing
@dataclass
class VolumeImport:
    """Everything that determines an imported volume dataset."""

    cases: list[Case]
    classes: list[str]
    voxel_mm: float = 5.0
    hu_window: tuple[float, float] = (-250.0, 350.0)
    seed: int = 0
    pseudo_scale_range: tuple[float, float, float] = (0.08, 0.08, 0.05)
    pseudo_elastic_mm: float = 4.0

    def describe(self) -> dict[str, Any]:
        return {
            "cases": [c.describe() for c in self.cases],
            "classes": list(self.classes), "voxel_mm": self.voxel_mm, "hu_window": list(self.hu_window),
            "seed": self.seed, "pseudo_scale_range": list(self.pseudo_scale_range),
            "pseudo_elastic_mm": self.pseudo_elastic_mm,
        }


MIN_VOXEL_MM = 0.2  # clinical CT voxels are ≥ 0.25 mm; finer resampling of a body needs > 10⁹ voxels


def check_class_names(job: "VolumeImport") -> None:
    """Refuse an output class that no source can annotate: neither a class of
    :data:`~xraylab.data.volume_classes.TOTALSEG_CLASSES`, a TotalSegmentator or AbdomenCT-1K structure name, nor a key
    of a case's own class map (its masks would all be empty)."""
    from xraylab.data.volume_classes import ABDOMENCT1K_TABLE, TOTALSEG_CLASSES
    from xraylab.io.ct import totalsegmentator_classes
    from xraylab.io.lung_labels import LUNG_LEFT, LUNG_RIGHT

    known = set(TOTALSEG_CLASSES) | set(totalsegmentator_classes().values()) | set(ABDOMENCT1K_TABLE.values())
    for c in job.cases:
        known |= set(c.class_map or {}) | set(c.label_files)
        if c.lung_labels == "auto":
            known |= {LUNG_LEFT, LUNG_RIGHT}
        if isinstance(c.structures, Mapping):
            known |= {str(v) for v in c.structures.values()}
    unknown = [k for k in job.classes if k not in known]
    if unknown:
        raise ConfigError(f"volume import: unknown class(es) {', '.join(unknown)} (--classes); use e.g. "
                          f"{', '.join(sorted(TOTALSEG_CLASSES))} or a TotalSegmentator structure name")


def check_voxel_mm(voxel_mm: float) -> None:
    """Refuse a resampling voxel size below :data:`MIN_VOXEL_MM` (mm) before any CT is read."""
    if not voxel_mm >= MIN_VOXEL_MM:
        raise ConfigError(f"volume import: voxel_mm (--voxel-mm) {voxel_mm:g} is finer than any CT "
                          f"({MIN_VOXEL_MM} mm at least; 1.5 mm is the default): a body would need billions of voxels")


def import_volumes(job: VolumeImport, out: str | Path, overwrite: bool = False,
                   log: Callable[[str], None] | None = None) -> Path:
    """Write the volume dataset of ``job`` to ``out`` (resumable); return the manifest path."""
    from xraylab.data.pseudo_subjects import deform_ct
    from xraylab.seeding import derive_seed

    if not job.classes:
        raise ConfigError("volume import: give at least one output class (classes: [liver, ...])")
    check_class_names(job)
    check_voxel_mm(job.voxel_mm)
    if not job.voxel_mm > 0 or job.hu_window[1] <= job.hu_window[0]:
        raise ConfigError(f"volume import: voxel_mm {job.voxel_mm} must be > 0 and hu_window {job.hu_window} "
                          "must be (low, high) with low < high")
    ids = [c.id for c in job.cases]
    if len(set(ids)) != len(ids):
        raise ConfigError(f"volume import: case ids must be unique, got {ids}")
    desc = job.describe()
    fp = hashlib.sha256(json.dumps(desc, sort_keys=True, default=str).encode()).hexdigest()
    writer = DatasetWriter(out, kind="import_volume", fingerprint=fp, overwrite=overwrite,
                           job={"voxel_mm": job.voxel_mm, "classes": job.classes, "n_cases": len(job.cases)},
                           inputs=[p for c in job.cases for p in (c.ct, c.labels, *c.label_files.values()) if p])
    order: list[str] = []
    for case in job.cases:
        split = case.split or "train"
        if split not in SPLITS:
            raise ConfigError(f"case {case.id!r}: split {split!r} must be one of {SPLITS}")
        names = [case.id] + [f"{case.id}~p{k}" for k in range(1, case.pseudo_subjects + 1)]
        order += names
        if all(writer.is_done(n) for n in names):
            continue
        if log:
            log(f"  import {case.id} ({case.pseudo_subjects} pseudo-subjects)")
        vol, present = prepare_case(case, job.classes, job.voxel_mm)
        for k, name in enumerate(names):
            if writer.is_done(name):
                continue
            v = vol if k == 0 else deform_ct(vol, derive_seed(job.seed, case.id, "pseudo", k),
                                             scale_range=job.pseudo_scale_range, elastic_mm=job.pseudo_elastic_mm,
                                             control_spacing_mm=100.0)
            assert v.labels is not None
            s = split
            if k > 0 and split == "train" and k > case.pseudo_subjects - case.pseudo_val:
                s = "val"
            _write_volume(writer, name, v, s, case, present, job, pseudo=k > 0)
    counts = {s: sum(1 for r in writer.records(order) if r["split"] == s) for s in SPLITS}
    info = {"kind": KIND, "classes": list(job.classes), "voxel_mm": job.voxel_mm, "hu_window": list(job.hu_window),
            "orientation": "LPS", "intensity": "HU window -> [0, 1]", "counts": counts}
    return writer.finish(info, order=sorted(order))


def _write_volume(writer: DatasetWriter, name: str, v: CTVolume, split: str, case: Case,
                  present: Mapping[str, bool], job: VolumeImport, pseudo: bool) -> None:
    assert v.labels is not None
    aff = v.affine.numpy()
    img_rel, lab_rel = f"images/{name}.nii.gz", f"labels/{name}.nii.gz"
    lab = v.labels.numpy().astype(np.uint8)
    row: dict[str, Any] = {
        "image_id": name, "subject_id": name, "source_subject_id": case.id, "split": split,
        "image": img_rel, LABEL_COLUMN: lab_rel, "voxel_mm": float(job.voxel_mm),
        "shape": json.dumps(list(v.shape)), "pseudo_subject": bool(pseudo), "source": case.ct,
        "label_source": v.meta.get("label_source", case.label_source), "licence": case.licence,
        "corruption": "none", "severity": 0,
        "corruption_params": "{}",
    }
    for c, cname in enumerate(job.classes, start=1):
        row[f"annotated:{cname}"] = bool(present.get(cname, False))
        row[f"voxels:{cname}"] = int((lab == c).sum())
    files = {img_rel: nifti_bytes(normalise(v.hu, job.hu_window), aff, unit=True),
             lab_rel: nifti_bytes(lab, aff, unit=False)}
    writer.write_item(name, files, row)
