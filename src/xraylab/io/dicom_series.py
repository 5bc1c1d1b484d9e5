"""The DICOM series of a subject's folder tree, and which of them is *the* CT (LIDC-IDRI-style collections).

A subject folder holds nested study/series folders, and one folder may hold several series (a CT beside its
localizer, two reconstructions of one scan). :func:`list_series` finds every series (SimpleITK's GDCM series ids,
one header read per series, no pixels); :func:`choose_ct_series` applies the rule below. The voxels are read by
:func:`xraylab.io.ct.read_sitk` / :func:`~xraylab.io.ct.load_ct` with ``series=`` the chosen SeriesInstanceUID.

The rule (:func:`choose_ct_series`), in order:

1. eligible: Modality (0008,0060) ``CT``; ImageType (0008,0008) without ``LOCALIZER`` (scouts, topograms);
   axial — the slice normal (cross product of the ImageOrientationPatient (0020,0037) row and column cosines)
   within :data:`AXIAL_MAX_TILT_DEG` of the patient's superior–inferior axis (gantry tilt allowed; a series
   without the tag counts as axial); at least :data:`MIN_SLICES` slices;
2. the eligible series with the most slices (the thinnest reconstruction of a scan);
3. a tie: the smallest SeriesInstanceUID in string order (deterministic, not meaningful).

A user who wants another series names its SeriesInstanceUID (``cases:`` of a generate spec's ``cts`` entry,
``--cases`` of ``xraylab import volumes``).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import SimpleITK as sitk

AXIAL_MAX_TILT_DEG = 35.0
MIN_SLICES = 3


@dataclass(frozen=True)
class SeriesInfo:
    """One DICOM series: its UID, the folder holding it, its slice count and the header fields the rule reads."""

    uid: str
    folder: str
    n_slices: int
    modality: str
    image_type: str
    normal: tuple[float, float, float] | None  # slice normal in patient (LPS) coordinates; None: no orientation tag

    @property
    def axial(self) -> bool:
        """Slice normal within :data:`AXIAL_MAX_TILT_DEG` of the S–I axis (True without an orientation tag)."""
        return self.normal is None or abs(self.normal[2]) >= math.cos(math.radians(AXIAL_MAX_TILT_DEG))

    @property
    def localizer(self) -> bool:
        return "LOCALIZER" in self.image_type.upper()

    @property
    def eligible(self) -> bool:
        """Step 1 of the module's rule: a CT, not a localizer, axial, at least :data:`MIN_SLICES` slices."""
        return (self.modality.upper() == "CT" and not self.localizer and self.axial
                and self.n_slices >= MIN_SLICES)

    def describe(self) -> str:
        kind = "localizer" if self.localizer else ("axial" if self.axial else "not axial")
        return f"{self.uid} ({self.modality or 'no modality'}, {kind}, {self.n_slices} slices)"


def _header(path: str) -> dict[str, str]:
    reader = sitk.ImageFileReader()
    reader.SetFileName(path)
    reader.LoadPrivateTagsOff()
    try:
        reader.ReadImageInformation()
    except RuntimeError:
        return {}
    return {k: reader.GetMetaData(k).strip() for k in ("0008|0060", "0008|0008", "0020|0037")
            if reader.HasMetaDataKey(k)}


def _normal(iop: str | None) -> tuple[float, float, float] | None:
    try:
        v = [float(x) for x in (iop or "").split("\\")]
    except ValueError:
        return None
    if len(v) != 6:
        return None
    n = np.cross(v[:3], v[3:])
    norm = float(np.linalg.norm(n))
    return None if norm < 1e-6 else tuple(float(x) / norm for x in n)  # type: ignore[return-value]


def list_series(root: str | os.PathLike) -> list[SeriesInfo]:
    """Every DICOM series in ``root`` and its subfolders (folders in sorted order; hidden ones skipped)."""
    out: list[SeriesInfo] = []
    reader = sitk.ImageSeriesReader()
    warn = sitk.ProcessObject.GetGlobalWarningDisplay()
    sitk.ProcessObject.SetGlobalWarningDisplay(False)  # GDCM warns for every folder without DICOM files
    try:
        for folder, dirs, files in os.walk(str(root)):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            if not any(not f.startswith(".") for f in files):
                continue
            for uid in reader.GetGDCMSeriesIDs(folder):
                names = reader.GetGDCMSeriesFileNames(folder, uid)
                if not names:
                    continue
                head = _header(names[0])
                out.append(SeriesInfo(uid=uid, folder=str(Path(folder)), n_slices=len(names),
                                      modality=head.get("0008|0060", ""), image_type=head.get("0008|0008", ""),
                                      normal=_normal(head.get("0020|0037"))))
    finally:
        sitk.ProcessObject.SetGlobalWarningDisplay(warn)
    return out


def choose_ct_series(series: list[SeriesInfo]) -> SeriesInfo | None:
    """The CT series by the module's rule (eligible, most slices, then smallest UID); None when none is eligible."""
    ok = [s for s in series if s.eligible]
    return min(ok, key=lambda s: (-s.n_slices, s.uid)) if ok else None
