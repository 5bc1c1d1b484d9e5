"""Contact sheets: a grid of grayscale images with optional coloured mask outlines and captions."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np

from xraylab.io.atomic import atomic_path

# Distinct outline colours (RGB in [0, 1]) for up to 8 structures, then cycled.
OUTLINE_COLOURS = (
    (0.95, 0.25, 0.2), (0.2, 0.8, 0.3), (0.25, 0.55, 1.0), (1.0, 0.85, 0.1),
    (0.9, 0.3, 0.9), (0.1, 0.9, 0.9), (1.0, 0.55, 0.1), (0.6, 0.4, 1.0),
)


def mask_outline(mask: np.ndarray) -> np.ndarray:
    """Boolean ``[H, W]`` outline (4-neighbourhood inner boundary) of a binary mask."""
    m = np.asarray(mask) > 0
    inner = m.copy()
    inner[1:, :] &= m[:-1, :]
    inner[:-1, :] &= m[1:, :]
    inner[:, 1:] &= m[:, :-1]
    inner[:, :-1] &= m[:, 1:]
    return m & ~inner


def overlay(image: np.ndarray, masks: Sequence[np.ndarray] = ()) -> np.ndarray:
    """RGB ``[H, W, 3]`` of a gray [0, 1] image (or RGB) with each mask's outline drawn in colour."""
    img = np.clip(np.asarray(image, dtype=np.float32), 0, 1)
    rgb = np.repeat(img[..., None], 3, axis=2) if img.ndim == 2 else img[..., :3].copy()
    for i, m in enumerate(masks):
        edge = mask_outline(m)
        rgb[edge] = OUTLINE_COLOURS[i % len(OUTLINE_COLOURS)]
    return rgb


def contact_sheet(
    path: str | os.PathLike,
    images: Sequence[np.ndarray],
    masks: Sequence[Sequence[np.ndarray]] | None = None,
    captions: Sequence[str] | None = None,
    ncols: int | None = None,
    tile_inches: float = 2.2,
    title: str | None = None,
    legend: Sequence[str] | None = None,
) -> Path:
    """Write a PNG grid of images (with mask outlines and captions) to ``path`` atomically.

    ``images``: gray ``[H, W]`` or RGB ``[H, W, 3]`` arrays in [0, 1]; ``masks[i]``: the masks to
    outline on image ``i``; ``legend``: structure names matching the mask order (shown once).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    n = len(images)
    ncols = ncols or int(np.ceil(np.sqrt(n)))
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(tile_inches * ncols, tile_inches * nrows + 0.4), squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k >= n:
            continue
        ms = masks[k] if masks is not None else ()
        ax.imshow(overlay(images[k], ms), interpolation="nearest")
        if captions is not None:
            ax.set_title(captions[k], fontsize=8)
    if legend:
        handles = [Patch(color=OUTLINE_COLOURS[i % len(OUTLINE_COLOURS)], label=s) for i, s in enumerate(legend)]
        fig.legend(handles=handles, loc="lower center", ncol=min(len(handles), 6), fontsize=8, frameon=False)
    top = 1.0
    if title:
        fig.suptitle(title, fontsize=10)
        top = 1.0 - 0.35 / (tile_inches * nrows + 0.4)  # keep the title clear of the first row's captions
    fig.tight_layout(rect=(0, 0.04 if legend else 0, 1, top))
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100, metadata={"Software": None})
    plt.close(fig)
    return Path(path)
