"""The one preprocessing of radiographs, shared by real (``xraylab import``) and synthetic (``generate``) images.

:func:`prepare_image` turns any 2D grey image — a simulated display image, an 8-bit PNG, a DICOM pixel array
after its VOI LUT — into the stored form of every xraylab dataset: float32 ``[H, W]`` in [0, 1], *air dark and
bone bright*, resized with the aspect ratio kept and zero padding (Fok et al. 2024, via
:func:`xraylab.io.images.resize_pad`). The steps, in order:

1. to float32 ``[H, W]`` (``[H, W, 3]`` / ``[3, H, W]`` colour and ``[1, H, W]`` inputs are averaged / squeezed);
2. intensity normalisation on the source grid (``normalize``):

   - ``"none"``: the input is already in [0, 1] (the simulator's display image); values are kept as they are
     (and clipped after resizing, exactly like ``resize_pad(x, size).clamp(0, 1)``);
   - ``"minmax"``: ``(x − min) / (max − min)``; a constant image becomes all zeros;
   - ``"percentile"``: the same between the ``percentiles`` (default 0.5 and 99.5 %), then clipped — robust to
     burnt-in labels and collimator edges;

3. ``invert``: ``x → 1 − x`` for inputs stored with the opposite polarity (DICOM ``MONOCHROME1``, JSRT raw);
4. :func:`~xraylab.io.images.resize_pad` to ``size`` (bilinear with antialiasing; the padding is 0, i.e. the
   darkest value, like air) and a final clip to [0, 1].

Normalising *before* padding keeps the padding at the image's darkest level whatever the input range. The same
array through :func:`prepare_image` gives the same output whether it came from a simulator tensor or from a
file, which is the property the sim-to-real experiments rely on. Masks go through :func:`prepare_mask`
(nearest neighbour on the same geometry).

Call signature for callers (generate, import)::

    img = prepare_image(x, size, normalize="minmax", invert=False)   # torch float32 [H', W'] in [0, 1]
    m = prepare_mask(mask, size)                                     # torch bool [H', W']
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

NORMALIZE_MODES = ("none", "minmax", "percentile")
DEFAULT_PERCENTILES = (0.5, 99.5)


def parse_size(size: Any) -> tuple[int, int] | None:
    """``256`` / ``(h, w)`` / ``"256"`` / ``"512x384"`` (height × width) → ``(h, w)``; ``None``/``0`` → ``None``.

    ``None`` means "keep the source grid" (no resizing, no padding).
    """
    if size is None:
        return None
    if isinstance(size, str):
        text = size.strip().lower()
        if text in ("", "0", "native", "none"):
            return None
        parts = text.replace("×", "x").split("x")
        try:
            vals = [int(p) for p in parts]
        except ValueError:
            raise ValueError(f"size {size!r}: use N (square, pixels) or HxW, e.g. 256 or 512x384") from None
        size = vals[0] if len(vals) == 1 else tuple(vals)
    if isinstance(size, (int, np.integer)):
        if int(size) == 0:
            return None
        h = w = int(size)
    else:
        vals = [int(v) for v in size]
        if len(vals) != 2:
            raise ValueError(f"size {size!r}: need one value or (height, width)")
        h, w = vals
    if not (1 <= h <= 16384 and 1 <= w <= 16384):
        raise ValueError(f"size {size!r}: each side must be 1 … 16384 pixels")
    return h, w


def _to_2d(x: Any):
    """Any array/tensor → float32 torch tensor ``[H, W]`` (colour averaged, singleton channel squeezed)."""
    import torch

    t = x if isinstance(x, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(np.asarray(x)))
    if t.dtype == torch.bool:
        t = t.to(torch.float32)
    elif not t.is_floating_point():
        t = t.to(torch.float64)  # integers up to 32 bits are exact in float64
    if t.ndim == 3:
        if t.shape[-1] in (3, 4) and t.shape[0] not in (1, 3, 4):
            t = t[..., :3].mean(-1)
        elif t.shape[0] in (1, 3, 4):
            t = t[:3].mean(0)
        else:
            raise ValueError(f"cannot read a shape {tuple(t.shape)} array as one grey image")
    elif t.ndim == 4 and t.shape[0] == 1 and t.shape[1] in (1, 3):
        t = t[0].mean(0)
    if t.ndim != 2:
        raise ValueError(f"expected a 2D image ([H, W], [H, W, 3] or [C, H, W]), got shape {tuple(t.shape)}")
    if t.shape[0] < 1 or t.shape[1] < 1:
        raise ValueError(f"empty image of shape {tuple(t.shape)}")
    return t


def normalize_intensity(x: Any, normalize: str = "minmax", percentiles: Sequence[float] = DEFAULT_PERCENTILES):
    """Step 2 of :func:`prepare_image` alone: ``[H, W]`` → float32 tensor on the input's device; in [0, 1] for
    ``minmax`` / ``percentile``, unchanged for ``none``."""
    import torch

    if normalize not in NORMALIZE_MODES:
        raise ValueError(f"normalize={normalize!r}: choose one of {', '.join(NORMALIZE_MODES)}")
    t = _to_2d(x)
    if not bool(torch.isfinite(t).all()):
        raise ValueError("image holds NaN or infinite values")
    if normalize == "none":
        return t.to(torch.float32)
    t = t.to(torch.float64)  # exact arithmetic for integer inputs, then one rounding to float32
    if normalize == "minmax":
        lo, hi = t.min(), t.max()
    else:
        p_lo, p_hi = (float(p) for p in percentiles)
        if not 0.0 <= p_lo < p_hi <= 100.0:
            raise ValueError(f"percentiles {tuple(percentiles)}: need 0 ≤ low < high ≤ 100")
        q = torch.quantile(t.flatten()[:: max(1, t.numel() // 4_000_000)],  # quantile has an input size cap
                           torch.tensor([p_lo / 100.0, p_hi / 100.0], dtype=torch.float64, device=t.device))
        lo, hi = q[0], q[1]
    span = float(hi - lo)
    if span <= 0.0:
        return torch.zeros(t.shape, dtype=torch.float32, device=t.device)
    return ((t - lo) / span).clamp(0.0, 1.0).to(torch.float32)


def prepare_image(
    image: Any,
    size: int | tuple[int, int] | str | None,
    normalize: str = "minmax",
    *,
    invert: bool = False,
    percentiles: Sequence[float] = DEFAULT_PERCENTILES,
):
    """Preprocess one grey radiograph: normalise to [0, 1], fix polarity, resize with aspect kept and zero padding.

    ``image``: numpy array or torch tensor, ``[H, W]`` (or ``[H, W, 3]`` / ``[C, H, W]``, averaged), any numeric
    dtype; ``size``: output pixels, ``int`` (square), ``(height, width)``, ``"HxW"``, or ``None`` to keep the source
    grid; ``normalize``: ``"none"`` (input already in [0, 1]), ``"minmax"`` or ``"percentile"`` (see the module
    docstring); ``invert``: flip polarity (``1 − x``) after normalising — for ``MONOCHROME1`` DICOM and other
    files that store air bright.

    Returns a float32 torch tensor ``[H', W']`` in [0, 1] on the input's device (CPU for numpy input).
    """
    from xraylab.io.images import resize_pad

    hw = parse_size(size)
    t = normalize_intensity(image, normalize, percentiles)
    if invert:
        t = 1.0 - t
    if hw is not None and tuple(t.shape) != hw:
        t = resize_pad(t, hw, mode="bilinear")
    return t.clamp(0.0, 1.0)


def prepare_mask(mask: Any, size: int | tuple[int, int] | str | None):
    """A binary mask on the grid :func:`prepare_image` gives its image: nearest-neighbour ``resize_pad``.

    ``mask``: ``[H, W]`` array/tensor (non-zero = foreground). The mask may be stored at another resolution than
    its image as long as the aspect ratio is the same (e.g. SCR masks at half the JSRT resolution): with the same
    ``size`` both land on the same output grid. With ``size=None`` pass the image's ``(H, W)`` to map a mask
    onto its image's grid. Returns a bool torch tensor ``[H', W']``.
    """
    import torch

    from xraylab.io.images import resize_pad

    t = mask if isinstance(mask, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(np.asarray(mask)))
    if t.ndim != 2:
        raise ValueError(f"expected a 2D mask, got shape {tuple(t.shape)}")
    t = t != 0
    hw = parse_size(size)
    if hw is None or tuple(t.shape) == hw:
        return t
    return resize_pad(t.to(torch.float32), hw, mode="nearest") > 0.5


def resize_scale(src_hw: tuple[int, int], size: int | tuple[int, int] | str | None) -> float:
    """The scale factor ``resize_pad`` applies (output pixels per source pixel); 1 without resizing."""
    hw = parse_size(size)
    if hw is None:
        return 1.0
    return min(hw[0] / src_hw[0], hw[1] / src_hw[1])


def output_pixel_spacing(spacing_mm: float | None, src_hw: tuple[int, int], size: Any) -> float:
    """Pixel spacing (mm) of the prepared image for a source spacing ``spacing_mm``; NaN when unknown."""
    if spacing_mm is None or not np.isfinite(spacing_mm) or spacing_mm <= 0:
        return float("nan")
    return float(spacing_mm) / resize_scale(src_hw, size)


def same_aspect(a_hw: tuple[int, int], b_hw: tuple[int, int]) -> bool:
    """True when two grids have the same aspect ratio up to one pixel of rounding (so they align after resizing)."""
    (ah, aw), (bh, bw) = a_hw, b_hw
    if (ah, aw) == (bh, bw):
        return True
    if bh * aw == ah * bw:
        return True
    # allow one pixel of rounding on the smaller grid
    if ah * aw >= bh * bw:
        big, small = (ah, aw), (bh, bw)
    else:
        big, small = (bh, bw), (ah, aw)
    f = big[0] / small[0]
    return abs(big[1] / f - small[1]) <= 1.0 and abs(big[1] / small[1] - f) * small[1] <= 1.0 + 1e-9


__all__ = [
    "NORMALIZE_MODES", "DEFAULT_PERCENTILES", "parse_size", "normalize_intensity", "prepare_image", "prepare_mask",
    "resize_scale", "output_pixel_spacing", "same_aspect",
]
