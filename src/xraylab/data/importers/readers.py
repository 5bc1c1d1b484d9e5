"""Reading real radiographs and their masks: PNG/JPEG/TIFF/BMP, DICOM CR/DX, JSRT raw, mask images, polygons.

Every reader returns a :class:`Radiograph`: the pixel array as stored (after the DICOM modality and VOI LUTs),
whether it must be inverted to get *air dark, bone bright* (``MONOCHROME1``, JSRT raw), and the source pixel
spacing in mm (NaN when unknown). Intensity normalisation, inversion and resizing happen afterwards, in the one
preprocessing function :func:`xraylab.io.preprocess.prepare_image`.

Every failure is an :class:`~xraylab.errors.InputFileError` whose one-line message names the file.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from xraylab.errors import InputFileError

RASTER_EXTS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".gif")
DICOM_EXTS = (".dcm", ".dicom", ".dic")
IMAGE_EXTS = RASTER_EXTS + DICOM_EXTS
MASK_EXTS = (".png", ".gif", ".bmp", ".tif", ".tiff", ".jpg", ".jpeg")

JSRT_SHAPE = (2048, 2048)
JSRT_SPACING_MM = 0.175


@dataclass
class Radiograph:
    """One source image as read: ``pixels`` ``[H, W]`` (any numeric dtype), polarity, spacing, file metadata."""

    pixels: np.ndarray
    invert: bool = False
    spacing_mm: float = math.nan
    photometric: str = "MONOCHROME2"
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def hw(self) -> tuple[int, int]:
        return int(self.pixels.shape[0]), int(self.pixels.shape[1])


def is_dicom(path: Path) -> bool:
    """True for a ``.dcm``-named file or any file with the ``DICM`` preamble marker."""
    if path.suffix.lower() in DICOM_EXTS:
        return True
    try:
        with open(path, "rb") as fh:
            head = fh.read(132)
    except OSError:
        return False
    return len(head) == 132 and head[128:132] == b"DICM"


def read_raster(path: Path) -> Radiograph:
    """PNG/JPEG/TIFF/BMP/GIF → grey ``[H, W]`` float32 (:func:`xraylab.io.images.read_image`, colour averaged)."""
    from xraylab.io.images import read_image

    pixels = read_image(path, grey=True)
    fmt = path.suffix.lower().lstrip(".") or "raster"
    return Radiograph(pixels, photometric="MONOCHROME2", meta={"source_format": fmt})


def _voi_functions():
    try:  # pydicom >= 3
        from pydicom.pixels import apply_modality_lut, apply_voi_lut
    except ImportError:  # pragma: no cover - pydicom 2.x
        from pydicom.pixel_data_handlers.util import apply_modality_lut, apply_voi_lut
    return apply_modality_lut, apply_voi_lut


def _positive_spacing(value: Any) -> tuple[float, float] | None:
    if value is None:
        return None
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        value = [value]
    try:
        vals = [float(v) for v in value]
    except (TypeError, ValueError):
        return None
    if len(vals) == 1:
        vals = vals * 2
    if len(vals) < 2 or not all(math.isfinite(v) and v > 0 for v in vals[:2]):
        return None
    return vals[0], vals[1]


def dicom_spacing(ds: Any) -> tuple[float, float] | None:
    """(row, column) spacing in mm from PixelSpacing, else ImagerPixelSpacing, when present and > 0."""
    for key in ("PixelSpacing", "ImagerPixelSpacing"):
        sp = _positive_spacing(ds.get(key, None))
        if sp is not None:
            return sp
    return None


def read_dicom(path: Path) -> Radiograph:
    """A DICOM CR/DX/DR image: modality LUT, then VOI LUT or window (first one), MONOCHROME1 flagged for inversion."""
    import pydicom

    if not path.is_file():
        raise InputFileError(f"{path}: DICOM file not found")
    try:
        ds = pydicom.dcmread(path)
    except Exception as exc:
        raise InputFileError(f"{path}: cannot read DICOM ({exc})") from exc
    if "PixelData" not in ds:
        raise InputFileError(f"{path}: DICOM file holds no pixel data (not an image object)")
    try:
        arr = ds.pixel_array
    except Exception as exc:
        ts = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", "?")
        raise InputFileError(f"{path}: cannot decode DICOM pixel data (transfer syntax {ts}: {exc}); install the "
                             "pydicom pixel-data plugin for it (e.g. pylibjpeg) or convert the file") from exc
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    spp = int(ds.get("SamplesPerPixel", 1) or 1)
    if frames > 1:
        raise InputFileError(f"{path}: multi-frame DICOM ({frames} frames); export the radiograph as one frame")
    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2")).upper()
    if spp > 1 or photometric not in ("MONOCHROME1", "MONOCHROME2"):
        if arr.ndim == 3 and arr.shape[-1] in (3, 4):
            if photometric.startswith("YBR"):
                try:
                    from pydicom.pixels import convert_color_space
                except ImportError:  # pragma: no cover - pydicom 2.x
                    from pydicom.pixel_data_handlers.util import convert_color_space  # type: ignore[no-redef]
                arr = convert_color_space(arr, photometric, "RGB")
            arr = arr[..., :3].astype(np.float64).mean(axis=2)
            photometric = "MONOCHROME2"
        else:
            raise InputFileError(f"{path}: unsupported PhotometricInterpretation {photometric!r} for a radiograph")
        pixels = arr
    else:
        apply_modality_lut, apply_voi_lut = _voi_functions()
        try:
            pixels = apply_modality_lut(arr, ds)
            pixels = apply_voi_lut(pixels, ds, index=0)
        except Exception as exc:
            raise InputFileError(f"{path}: cannot apply the DICOM modality/VOI LUT ({exc})") from exc
    pixels = np.asarray(pixels)
    if pixels.ndim != 2:
        raise InputFileError(f"{path}: expected a 2D radiograph, pixel array has shape {pixels.shape}")
    spacing = dicom_spacing(ds)
    meta: dict[str, Any] = {"source_format": "dicom"}
    for key, col in (("Modality", "modality"), ("ViewPosition", "view"), ("PatientID", "dicom_patient_id"),
                     ("KVP", "kvp"), ("DistanceSourceToDetector", "sid_mm"), ("Manufacturer", "manufacturer")):
        v = ds.get(key, None)
        if v is not None and str(v).strip():
            meta[col] = str(v).strip()
    if spacing is not None and abs(spacing[0] - spacing[1]) > 1e-6 * max(spacing):
        meta["source_pixel_spacing_rc_mm"] = f"{spacing[0]:g},{spacing[1]:g}"
    return Radiograph(
        pixels,
        invert=photometric == "MONOCHROME1",
        spacing_mm=float(np.mean(spacing)) if spacing is not None else math.nan,
        photometric=photometric,
        meta=meta,
    )


def dicom_header(path: Path) -> dict[str, str]:
    """PatientID and ViewPosition of a DICOM file without reading its pixels ({} when unreadable)."""
    import pydicom

    try:
        ds = pydicom.dcmread(path, stop_before_pixels=True)
    except Exception:
        return {}
    out = {}
    for key in ("PatientID", "ViewPosition"):
        v = ds.get(key, None)
        if v is not None and str(v).strip():
            out[key] = str(v).strip()
    return out


def read_jsrt_raw(path: Path, shape: tuple[int, int] = JSRT_SHAPE) -> Radiograph:
    """A JSRT ``.IMG``: headerless 2048 × 2048, 12-bit values in big-endian uint16, high = dark (inverted)."""
    if not path.is_file():
        raise InputFileError(f"{path}: JSRT image not found")
    size = path.stat().st_size
    expect = shape[0] * shape[1] * 2
    if size != expect:
        raise InputFileError(f"{path}: {size} bytes, a JSRT .IMG holds {expect} ({shape[0]}×{shape[1]} big-endian "
                             "16-bit words); the file is truncated or not a JSRT image")
    arr = np.fromfile(path, dtype=">u2").reshape(shape).astype(np.uint16)
    if int(arr.max(initial=0)) > 4095:
        raise InputFileError(f"{path}: values above 4095 in a 12-bit JSRT image; the file is not JSRT raw data")
    return Radiograph(arr, invert=True, spacing_mm=JSRT_SPACING_MM, photometric="MONOCHROME1",
                      meta={"source_format": "jsrt_raw"})


def read_radiograph(path: str | os.PathLike) -> Radiograph:
    """Read any supported radiograph file, choosing the reader by content (DICOM) or extension."""
    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"{path}: image file not found")
    if is_dicom(path):
        return read_dicom(path)
    if path.suffix.lower() == ".img":
        return read_jsrt_raw(path)
    return read_raster(path)


def rasterize_polygons(polygons: Sequence[Sequence[Sequence[float]]], hw: tuple[int, int]) -> np.ndarray:
    """Fill polygons (each a list of ``[x, y]`` pixel coordinates, x = column) on an ``hw`` grid → bool mask."""
    from PIL import Image, ImageDraw

    h, w = hw
    img = Image.new("L", (w, h), 0)
    draw = ImageDraw.Draw(img)
    for poly in polygons:
        pts = [(float(p[0]), float(p[1])) for p in poly]
        if len(pts) >= 3:
            draw.polygon(pts, fill=1, outline=1)
        elif pts:
            draw.line(pts if len(pts) > 1 else pts * 2, fill=1)
    return np.asarray(img) > 0


__all__ = [
    "Radiograph", "IMAGE_EXTS", "MASK_EXTS", "RASTER_EXTS", "DICOM_EXTS", "JSRT_SHAPE", "JSRT_SPACING_MM",
    "is_dicom", "read_raster", "read_dicom", "read_jsrt_raw", "read_radiograph",
    "rasterize_polygons", "dicom_spacing",
]
