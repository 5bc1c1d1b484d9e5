"""Per-image realism statistics of a chest radiograph with lung and heart masks.

Every statistic is computed on the stored image (float ``[S, S]`` in [0, 1], air dark, bone bright, as every
xraylab dataset stores it) after resizing both compared sets to the same size ``S`` (default 256), so that pixel
units agree between a synthetic and a real set whose pixel spacing is unknown. Regions:

* ``lungs``: the lung mask minus the heart mask (the aerated lung that is not behind the heart);
* ``heart``: the heart / cardiomediastinum mask;
* ``outside``: the image content (zero-padding rows/columns left out) outside lungs and heart.

Statistics (:data:`STATISTICS`, intensities in the stored [0, 1] units, lengths in pixels of the ``S``-grid):

``lung_mean`` / ``heart_mean`` / ``outside_mean``
    median intensity of each region;
``lung_heart_contrast``
    ``heart_mean − lung_mean``;
``rib_edge_contrast``
    proxy for the visibility of rib edges: the 90th percentile of the absolute *vertical* band-pass response
    (Gaussian σ = 1 px minus σ = 3 px, derivative along rows — rib edges run roughly horizontally in a PA view)
    inside the lung field eroded by 3 px, so that the lung boundary does not count;
``lung_noise``
    noise in the lung field: the standard deviation of ``I − G_{σ=1 px} ⊗ I`` inside the eroded lung field
    (the high-frequency end of the noise power spectrum; anatomy contributes little at this scale);
``lung_boundary_sharpness``
    median gradient magnitude (σ = 1 px derivative of Gaussian) on the boundary of the ``lungs`` region (lateral
    lung edges and the heart border) divided by the
    step between the rings 3–6 px outside and inside the boundary, 1/px (a step blurred by a Gaussian of σ gives
    1/(σ√(2π))); pixels where the step is under 0.02 are skipped.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

STATISTICS = (
    "lung_mean", "heart_mean", "outside_mean", "lung_heart_contrast", "rib_edge_contrast", "lung_noise",
    "lung_boundary_sharpness",
)
REGIONS = ("lungs", "heart", "outside")
HIST_BINS = 32


def content_mask(image: np.ndarray) -> np.ndarray:
    """True inside the image content: all but the all-zero border rows/columns that ``resize_pad`` adds."""
    rows = np.nonzero(np.any(image > 0, axis=1))[0]
    cols = np.nonzero(np.any(image > 0, axis=0))[0]
    m = np.zeros(image.shape, dtype=bool)
    if rows.size and cols.size:
        m[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1] = True
    return m


def regions(image: np.ndarray, lungs: np.ndarray, heart: np.ndarray) -> dict[str, np.ndarray]:
    """Boolean ``[S, S]`` masks of the three regions of the module docstring."""
    lungs, heart = lungs.astype(bool), heart.astype(bool)
    inside = content_mask(image)
    return {"lungs": lungs & ~heart, "heart": heart, "outside": inside & ~lungs & ~heart}


def region_histograms(image: np.ndarray, masks: dict[str, np.ndarray], bins: int = HIST_BINS) -> np.ndarray:
    """Normalised intensity histograms ``[len(REGIONS), bins]`` over [0, 1] (rows sum to 1, or 0 when empty)."""
    out = np.zeros((len(REGIONS), bins))
    for i, r in enumerate(REGIONS):
        v = image[masks[r]]
        if v.size:
            h, _ = np.histogram(v, bins=bins, range=(0.0, 1.0))
            out[i] = h / v.size
    return out


def _median(v: np.ndarray) -> float:
    return float(np.median(v)) if v.size else float("nan")


def image_statistics(image: np.ndarray, lungs: np.ndarray, heart: np.ndarray) -> dict[str, float]:
    """The :data:`STATISTICS` of one image ``[S, S]`` in [0, 1] with boolean lung and heart masks ``[S, S]``."""
    img = np.asarray(image, dtype=np.float64)
    m = regions(img, lungs, heart)
    out = {f"{r[:-1] if r == 'lungs' else r}_mean": _median(img[m[r]]) for r in REGIONS}
    out["lung_heart_contrast"] = out["heart_mean"] - out["lung_mean"]
    core = ndimage.binary_erosion(m["lungs"], iterations=3)
    band = ndimage.gaussian_filter(img, 1.0) - ndimage.gaussian_filter(img, 3.0)
    d_rows = ndimage.sobel(band, axis=0) / 8.0  # per-pixel derivative along rows (Sobel weights sum to 8)
    out["rib_edge_contrast"] = float(np.percentile(np.abs(d_rows[core]), 90)) if core.any() else float("nan")
    hp = img - ndimage.gaussian_filter(img, 1.0)
    out["lung_noise"] = float(hp[core].std()) if core.sum() > 10 else float("nan")
    out["lung_boundary_sharpness"] = _boundary_sharpness(img, m["lungs"])
    return out


def _boundary_sharpness(img: np.ndarray, lungs: np.ndarray) -> float:
    if lungs.sum() < 50:
        return float("nan")
    grad = ndimage.gaussian_gradient_magnitude(img, 1.0)
    edge = lungs & ~ndimage.binary_erosion(lungs)
    dist_out = ndimage.distance_transform_edt(~lungs)
    dist_in = ndimage.distance_transform_edt(lungs)
    ring_out = (dist_out >= 3) & (dist_out <= 6) & content_mask(img)
    ring_in = (dist_in >= 3) & (dist_in <= 6)
    # Local step: means of the rings in a window around each boundary pixel (box filter of the masked image).
    k = 15
    s_out = ndimage.uniform_filter(img * ring_out, k)
    n_out = ndimage.uniform_filter(ring_out.astype(float), k)
    s_in = ndimage.uniform_filter(img * ring_in, k)
    n_in = ndimage.uniform_filter(ring_in.astype(float), k)
    ok = edge & (n_out > 0.02) & (n_in > 0.02)
    step = np.abs(s_out[ok] / n_out[ok] - s_in[ok] / n_in[ok])
    g = grad[ok]
    keep = step > 0.02
    if keep.sum() < 10:
        return float("nan")
    return float(np.median(g[keep] / step[keep]))


def thumbnail_features(image: np.ndarray, size: int = 16) -> np.ndarray:
    """A ``size × size`` block-mean thumbnail, flattened (``size²`` values in [0, 1])."""
    import torch
    import torch.nn.functional as F

    t = torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32))[None, None]
    return F.adaptive_avg_pool2d(t, size)[0, 0].numpy().reshape(-1)
