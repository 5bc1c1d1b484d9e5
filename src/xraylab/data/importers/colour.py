"""Colour images for the dermoscopy layouts (``isic2016``, ``ph2``, ``ham10000``): read as RGB, kept as RGB.

Dermoscopy photographs are display-referred 8-bit RGB, and the dermoscopy corruptions (Ward & Imran eq. 9-12, colour
reproduction in particular) need the three channels, so a colour layout's reader returns a
:class:`~xraylab.data.importers.readers.Radiograph` whose ``pixels`` are float32 ``[H, W, 3]`` in [0, 1]
(``photometric = "RGB"``). The import engine sends such images through :func:`prepare_colour` instead of the grey
:func:`xraylab.io.preprocess.prepare_image` and stores them as 8-bit RGB PNG: no intensity normalisation (a
per-image stretch would change the colours), the same aspect-keeping resize with zero padding.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from xraylab.data.importers.readers import Radiograph
from xraylab.errors import InputFileError


def read_colour(path: Path) -> Radiograph:
    """A JPEG/PNG/BMP/TIFF as float32 RGB ``[H, W, 3]`` in [0, 1] (grey files are repeated on three channels)."""
    from PIL import Image, UnidentifiedImageError

    if not path.is_file():
        raise InputFileError(f"{path}: image file not found")
    try:
        with Image.open(path) as im:
            arr = np.asarray(im.convert("RGB"))
    except (OSError, UnidentifiedImageError) as exc:
        raise InputFileError(f"{path}: cannot read the image ({exc})") from exc
    if arr.ndim != 3 or arr.shape[2] != 3 or arr.size == 0:
        raise InputFileError(f"{path}: not an RGB image (shape {arr.shape})")
    return Radiograph(arr.astype(np.float32) / 255.0, photometric="RGB",
                      meta={"source_format": path.suffix.lower().lstrip(".") or "raster"})


def prepare_colour(pixels: Any, size: tuple[int, int] | None) -> np.ndarray:
    """RGB ``[H, W, 3]`` in [0, 1] → float32 ``[H', W', 3]`` in [0, 1]: bilinear (antialiased) resize with the aspect
    ratio kept and zero padding (:func:`xraylab.io.images.resize_pad`), no intensity normalisation; ``size``
    ``None`` keeps the grid."""
    import torch

    from xraylab.io.images import resize_pad

    x = np.clip(np.asarray(pixels, dtype=np.float32), 0.0, 1.0)
    if x.ndim != 3 or x.shape[2] != 3:
        raise ValueError(f"expected an RGB [H, W, 3] image, got shape {x.shape}")
    if size is None:
        return x
    t = resize_pad(torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1))), size).clamp(0.0, 1.0)
    return t.permute(1, 2, 0).cpu().numpy()
