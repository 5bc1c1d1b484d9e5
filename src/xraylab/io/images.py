"""2D image files: 16-bit/8-bit PNG radiographs, binary PNG masks, resize with padding.

Conventions: an image in memory is a float32 numpy array ``[H, W]`` with values
in [0, 1]; a mask is a boolean or uint8 array ``[H, W]``. PNG files are written
atomically (see :mod:`xraylab.io.atomic`) and deterministically (no timestamps),
so the same array always gives the same bytes.
"""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from xraylab.errors import InputFileError
from xraylab.io.atomic import write_bytes


def _png_bytes(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=False, compress_level=6)
    return buf.getvalue()


def to_uint16(image: np.ndarray) -> np.ndarray:
    """Map a float image in [0, 1] to uint16 [0, 65535] (clipped, rounded)."""
    return np.round(np.clip(np.asarray(image, dtype=np.float64), 0.0, 1.0) * 65535.0).astype(np.uint16)


def png16_bytes(image: np.ndarray) -> bytes:
    """Encode a float [0, 1] ``[H, W]`` image as 16-bit grayscale PNG bytes."""
    arr = to_uint16(image)
    if arr.ndim != 2:
        raise ValueError(f"expected a 2D image, got shape {arr.shape}")
    return _png_bytes(Image.fromarray(arr))


def write_png16(path: str | os.PathLike, image: np.ndarray) -> Path:
    """Write a float [0, 1] ``[H, W]`` image as a 16-bit grayscale PNG (atomic)."""
    return write_bytes(path, png16_bytes(image))


def png8_bytes(image: np.ndarray) -> bytes:
    """Encode a float [0, 1] image (``[H, W]`` gray or ``[H, W, 3]`` RGB) as 8-bit PNG bytes."""
    arr = np.round(np.clip(np.asarray(image, dtype=np.float64), 0, 1) * 255).astype(np.uint8)
    return _png_bytes(Image.fromarray(arr))


def write_png8(path: str | os.PathLike, image: np.ndarray) -> Path:
    """Write a float [0, 1] gray or RGB image as an 8-bit PNG (atomic)."""
    return write_bytes(path, png8_bytes(image))


def mask_png_bytes(mask: np.ndarray) -> bytes:
    """Encode a binary ``[H, W]`` mask as an 8-bit PNG with values {0, 255}."""
    arr = (np.asarray(mask) > 0).astype(np.uint8) * 255
    return _png_bytes(Image.fromarray(arr))


def write_mask_png(path: str | os.PathLike, mask: np.ndarray) -> Path:
    """Write a binary ``[H, W]`` mask as a {0, 255} 8-bit PNG (atomic)."""
    return write_bytes(path, mask_png_bytes(mask))


MAX_IMAGE_PIXELS = 64_000_000  # 8000 × 8000: above any radiograph detector (43 cm at 0.1 mm is 4300²)


def pil_array(path: Path, palette_to_grey: bool = False) -> tuple[str, np.ndarray]:
    """``(PIL mode, pixel array)`` of an image file; ``palette_to_grey`` turns palette ("P") images into "L".

    A file PIL cannot decode is an :class:`InputFileError` naming it.
    """
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # sized below, in one line
            img_ctx = Image.open(path)
    except Exception as exc:  # PIL raises many types for broken files
        raise InputFileError(f"{path}: cannot read image ({exc}); the file may be truncated or not an image") from exc
    w, h = img_ctx.size
    if w * h > MAX_IMAGE_PIXELS:
        img_ctx.close()
        raise InputFileError(f"{path}: image is {w}×{h} pixels ({w * h / 1e6:.0f} MP), more than "
                             f"{MAX_IMAGE_PIXELS / 1e6:.0f} MP; downsize it before importing")
    try:
        with img_ctx as img:
            img.load()
            if palette_to_grey and img.mode == "P":
                return "L", np.asarray(img.convert("L"))
            return img.mode, np.asarray(img)
    except Exception as exc:  # PIL raises many types for broken files
        raise InputFileError(f"{path}: cannot read image ({exc}); the file may be truncated or not an image") from exc


def bit_depth_scale(mode: str, arr: np.ndarray) -> float:
    """The divisor that maps a decoded image to [0, 1]: 65535 for 16-bit (and 32-bit integer images that stay in
    16-bit range), 255 for 8-bit, 1 for boolean and float (``"F"``) images and for wider integers (kept as stored)."""
    if mode == "F" or arr.dtype == np.bool_:
        return 1.0
    if mode in ("I;16", "I;16B", "I;16L") or arr.dtype == np.uint16:
        return 65535.0
    if mode == "I":
        return 65535.0 if float(arr.max(initial=0)) <= 65535 else 1.0
    return 255.0


def read_image(path: str | os.PathLike, grey: bool = False) -> np.ndarray:
    """Read a PNG/JPEG/TIFF/BMP/GIF image as float32, scaled by its bit depth (:func:`bit_depth_scale`).

    Returns ``[H, W]`` for grey images and ``[H, W, 3]`` for colour ones (alpha dropped); with ``grey=True``
    palette images are mapped to grey and colour channels averaged, so the result is always ``[H, W]``.
    Integer images come out in [0, 1]; float and wide-integer images keep their stored values.
    The one image reader of xraylab: datasets, evaluation, degradation and the importers all call it.
    """
    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"{path}: image file not found; check the path in the manifest or command line")
    mode, arr = pil_array(path, palette_to_grey=grey)
    scale = bit_depth_scale(mode, arr)
    out = arr.astype(np.float32) / np.float32(scale)
    if out.ndim == 3:
        out = out[..., :3] if out.shape[2] >= 3 else out[..., :1]
        if grey or out.shape[2] == 1:
            out = out.mean(axis=2)
    if out.ndim not in (2, 3) or out.size == 0:
        raise InputFileError(f"{path}: not a 2D grey or colour image (shape {arr.shape})")
    return np.clip(out, 0.0, 1.0) if scale != 1.0 or arr.dtype == np.bool_ else out


def read_mask(path: str | os.PathLike) -> np.ndarray:
    """Read a mask image as a boolean ``[H, W]`` array: foreground above half the file's maximum.

    So {0, 1}, {0, 255}, 16-bit, palette and slightly lossy JPEG masks all work; colour masks count a pixel by its
    brightest channel. The one mask reader of xraylab (imported masks and the masks xraylab writes alike).
    """
    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"{path}: mask file not found")
    mode, arr = pil_array(path, palette_to_grey=True)
    vals = np.asarray(arr, dtype=np.float64)
    if vals.ndim == 3:
        vals = vals[..., :3].max(axis=2) if vals.shape[2] >= 3 else vals[..., 0]
    if vals.ndim != 2:
        raise InputFileError(f"{path}: a mask must be a 2D image (shape {arr.shape})")
    top = float(vals.max(initial=0))
    return vals > top / 2.0 if top > 0 else np.zeros(vals.shape, dtype=bool)


def sha256_file(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def resize_pad(x: torch.Tensor, size: int | tuple[int, int], mode: str = "bilinear") -> torch.Tensor:
    """Resize ``[..., H, W]`` to ``size`` keeping the aspect ratio, zero-padding the rest.

    The image is scaled by ``min(th/H, tw/W)`` and centred; the border is 0.
    ``mode`` is ``"bilinear"`` for images (Fok et al. 2024 preprocessing) and
    ``"nearest"`` for label masks. Works on any device; the result is float32 whatever the input dtype.
    """
    th, tw = (size, size) if isinstance(size, int) else size
    h, w = x.shape[-2:]
    scale = min(th / h, tw / w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    lead = x.shape[:-2]
    flat = x.reshape(-1, 1, h, w).float()
    kwargs = {"align_corners": False, "antialias": True} if mode == "bilinear" else {}
    resized = F.interpolate(flat, size=(nh, nw), mode=mode, **kwargs)
    out = flat.new_zeros(flat.shape[0], 1, th, tw)
    top, left = (th - nh) // 2, (tw - nw) // 2
    out[:, :, top : top + nh, left : left + nw] = resized
    return out.reshape(*lead, th, tw)


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    """A deterministic ``.npz`` of float32 arrays: fixed zip timestamps, sorted members, deflate.

    The same arrays give the same bytes on every run, so files can be compared by SHA-256. Deflate level 1:
    float32 layers hardly compress (a 256² view's 14 layers: 3.67 MB → 2.31 MB at level 1, 2.29 MB at level 6)
    and level 6 took 0.105 s against 0.067 s.
    """
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name in sorted(arrays):
            member = io.BytesIO()
            np.lib.format.write_array(member, np.ascontiguousarray(arrays[name], dtype=np.float32), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, member.getvalue(), compresslevel=1)
    return buf.getvalue()
