"""Silhouette-matched subjects: a CT deformed so that its projected lungs and heart take the shape of a real film's.

For one real PA radiograph's masks (right lung, left lung, cardiomediastinum — a masks-only set is enough):

1. the CT is projected in the PA geometry the subjects will be rendered in (lung fields ending at the diaphragm,
   the radiographic convention of the real masks; cardiomediastinum), :func:`ct_silhouette`;
2. the real masks are placed on that detector: scaled isotropically so that the lungs have the same width as the
   CT's, centred on the CT's lung box (the real film's pixel size is unknown; the height/width ratio, the heart size
   and the lung shape stay the real film's), :func:`place_silhouette`;
3. a 2D displacement field takes the CT's silhouette onto the real one: symmetric-forces demons (SimpleITK) on the
   label images (right lung 1, left lung 2, cardiomediastinum +3), three resolution levels, :func:`fit_silhouette`;
4. the field is lifted to 3D — the same in-plane displacement for every depth along the ray, scaled from detector
   pixels to mm at the isocenter — and the CT and its labels are resampled through it (:func:`silhouette_subject`,
   with :func:`xraylab.data.anatomy.warp_ct`).

So N real mask sets give N anatomies with real heart sizes, lung heights and widths and diaphragm positions. Only
training images may be used: a generate spec names the split (``silhouettes: {dataset: DIR, split: train, ...}``).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from xraylab.errors import ConfigError, InputFileError
from xraylab.io.ct import CTVolume
from xraylab.physics.geometry import Geometry

SILHOUETTE_SEP = "~s"
PARTS = ("right_lung", "left_lung", "cardiomediastinum")


def silhouette_subject_name(source: str, k: int) -> str:
    """``<source>~s<k>``: the k-th silhouette-matched subject of a CT."""
    return f"{source}{SILHOUETTE_SEP}{int(k)}"


def encode(masks: dict[str, np.ndarray]) -> np.ndarray:
    """Label image ``[H, W]`` float32: right lung 1, left lung 2, cardiomediastinum 3 over both (so the part of
    the lungs drawn behind the heart, which differs between annotators, does not pull the fit)."""
    right, left, heart = (np.asarray(masks[k], dtype=bool) for k in PARTS)
    return np.where(heart, 3.0, right * 1.0 + left * 2.0).astype(np.float32)


def ct_silhouette(ct: CTVolume, geometry: Geometry, n_points: int = 256) -> dict[str, np.ndarray]:
    """The CT's projected right/left lung fields and cardiomediastinum on ``geometry``'s detector, bool ``[H, W]``."""
    from xraylab.render.scene import build_scene

    names = {"right_lung": "right_lung_field", "left_lung": "left_lung_field", "cardiomediastinum": "cardiomediastinum"}
    proj = build_scene(ct, list(names.values()), n_points=n_points).projector.project(geometry)
    return {k: proj.masks()[v][0, 0].numpy() for k, v in names.items()}


def _box(m: np.ndarray) -> tuple[float, float, float, float]:
    rows, cols = np.nonzero(m)
    if rows.size == 0:
        raise InputFileError("silhouette: empty lung mask")
    return float(rows.min()), float(rows.max()), float(cols.min()), float(cols.max())


def place_silhouette(real: dict[str, np.ndarray], ct_sil: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The real masks resampled onto the CT silhouette's detector grid: isotropic scale matching the lung widths,
    lung boxes centred on each other (nearest neighbour)."""
    from scipy import ndimage

    lungs_real = np.asarray(real["right_lung"], bool) | np.asarray(real["left_lung"], bool)
    lungs_ct = ct_sil["right_lung"] | ct_sil["left_lung"]
    r0, r1, c0, c1 = _box(lungs_real)
    q0, q1, d0, d1 = _box(lungs_ct)
    scale = (c1 - c0) / max(d1 - d0, 1.0)  # real pixels per CT pixel
    centre_real = np.array([(r0 + r1) / 2, (c0 + c1) / 2])
    centre_ct = np.array([(q0 + q1) / 2, (d0 + d1) / 2])
    offset = centre_real - scale * centre_ct  # real = scale * ct + offset
    shape = lungs_ct.shape
    return {k: ndimage.affine_transform(np.asarray(real[k], np.uint8), np.diag([scale, scale]), offset=offset,
                                        output_shape=shape, order=0, mode="constant").astype(bool) for k in PARTS}


def fit_silhouette(ct_sil: dict[str, np.ndarray], target: dict[str, np.ndarray], iterations: int = 300,
                   smoothing: float = 1.0) -> tuple[np.ndarray, dict[str, float]]:
    """Backward field ``[H, W, 2]`` (row, col displacements in pixels: a target pixel takes the CT silhouette's value
    at pixel + field) and info (lungs / cardiomediastinum Dice before and after)."""
    import SimpleITK as sitk

    from xraylab.io.label_propagation import multires_demons

    field, _ = multires_demons(sitk.GetImageFromArray(encode(target)), sitk.GetImageFromArray(encode(ct_sil)),
                               iterations, smoothing)
    disp = sitk.GetArrayFromImage(field)[..., ::-1].copy()  # SimpleITK (x, y) = (col, row) → (row, col)
    warped = warp_masks(ct_sil, disp)
    info = {}
    for label, a, b in (("before", ct_sil, target), ("after", warped, target)):
        info[f"silhouette_dice_{label}"] = _dice(outline(a), outline(b))
        info[f"heart_dice_{label}"] = _dice(a["cardiomediastinum"], b["cardiomediastinum"])
    return disp, info


def warp_masks(masks: dict[str, np.ndarray], field: np.ndarray) -> dict[str, np.ndarray]:
    """2D masks resampled through a backward ``field`` ``[H, W, 2]`` (nearest neighbour)."""
    from scipy import ndimage

    h, w = field.shape[:2]
    rr, cc = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    coords = np.stack([rr + field[..., 0], cc + field[..., 1]])
    return {k: ndimage.map_coordinates(np.asarray(v, np.uint8), coords, order=0, mode="constant").astype(bool)
            for k, v in masks.items()}


def outline(masks: dict[str, np.ndarray]) -> np.ndarray:
    """The chest silhouette: lungs ∪ cardiomediastinum (the part that does not depend on how much lung the
    annotator drew behind the heart)."""
    return np.asarray(masks["right_lung"], bool) | np.asarray(masks["left_lung"], bool) | \
        np.asarray(masks["cardiomediastinum"], bool)


def _dice(a: np.ndarray, b: np.ndarray) -> float:
    return float(2 * (a & b).sum() / max(1, a.sum() + b.sum()))


def silhouette_subject(ct: CTVolume, target: dict[str, np.ndarray], geometry: Geometry, name: str,
                       iterations: int = 300) -> CTVolume:
    """``ct`` (with lung, heart and abdominal labels) deformed so that its PA silhouette on ``geometry`` matches the
    real masks ``target`` (module docstring). ``meta["silhouette"]`` records the fit's Dice before/after."""
    field, info = silhouette_field(ct, target, geometry, iterations)
    return warp_to_silhouette(ct, field, info, geometry, name)


def silhouette_field(ct: CTVolume, target: dict[str, np.ndarray], geometry: Geometry,
                     iterations: int = 300) -> tuple[np.ndarray, dict[str, float]]:
    """Steps 1–3 of the module docstring: the backward detector field ``[H, W, 2]`` (row, col pixels) that takes
    ``ct``'s PA silhouette on ``geometry`` onto the real masks ``target``, and the fit's Dice (:func:`fit_silhouette`).
    """
    if geometry.rotation_deg or geometry.tilt_deg:
        raise ConfigError("silhouette matching uses an unrotated PA/AP geometry")
    ct_sil = ct_silhouette(ct, geometry)
    placed = place_silhouette(target, ct_sil)
    return fit_silhouette(ct_sil, placed, iterations=iterations)


def warp_to_silhouette(ct: CTVolume, field: np.ndarray, info: dict[str, float], geometry: Geometry,
                       name: str) -> CTVolume:
    """Step 4 of the module docstring: ``ct`` resampled through the detector ``field`` of :func:`silhouette_field`
    lifted to 3D; ``info``: that fit's Dice, recorded in ``meta["silhouette"]``."""
    from xraylab.data.anatomy import warp_ct

    field_t = torch.from_numpy(field).permute(2, 0, 1)[None].double()  # [1, 2, H, W]
    h, w = field.shape[:2]
    iso = ct.center_mm.to(torch.float64) if geometry.isocenter_mm is None else \
        torch.tensor(geometry.isocenter_mm, dtype=torch.float64)
    mm_per_px = geometry.pitch_mm / geometry.magnification

    def backward(points: torch.Tensor) -> torch.Tensor:
        rc = geometry.project_world(points - iso)  # fractional (row, col) of each point's ray
        grid = torch.stack([rc[:, 1] / max(w - 1, 1) * 2 - 1, rc[:, 0] / max(h - 1, 1) * 2 - 1], dim=-1)
        d = torch.nn.functional.grid_sample(field_t, grid.view(1, 1, -1, 2), mode="bilinear",
                                            padding_mode="border", align_corners=True)[0, :, 0]  # [2, N]
        q = points.clone()
        q[:, 0] = q[:, 0] + d[1] * mm_per_px          # columns run towards the patient's left (+x), PA and AP
        q[:, 2] = q[:, 2] - d[0] * mm_per_px          # rows run head → feet (−z)
        return q

    out = warp_ct(ct, backward)
    meta: dict[str, Any] = {**ct.meta, "silhouette": info, "silhouette_of": ct.meta.get("pseudo_subject_of") or ct.name}
    return replace(out, name=name, source=f"silhouette-matched {name} of {ct.source or ct.name}", meta=meta)


def real_silhouettes(dataset: str | Path, split: str = "train") -> list[tuple[str, dict[str, np.ndarray]]]:
    """(image id, masks) of every row of ``split`` in an imported real dataset that has all three masks, sorted by
    image id. Masks are read at the dataset's size."""
    from xraylab.data.manifest import read_manifest
    from xraylab.io.images import read_mask

    root = Path(dataset)
    df = read_manifest(root)
    cols = [f"mask:{p}" for p in PARTS]
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise InputFileError(f"{root}: silhouettes need mask columns {', '.join(cols)} (missing {', '.join(missing)})")
    df = df[df["split"] == split].sort_values("image_id")
    out = []
    for rec in df.to_dict("records"):
        if all(isinstance(rec[c], str) and (root / rec[c]).is_file() for c in cols):
            out.append((str(rec["image_id"]), {p: read_mask(root / rec[f"mask:{p}"]) for p in PARTS}))
    if not out:
        raise InputFileError(f"{root}: no {split!r} row has right_lung, left_lung and cardiomediastinum masks")
    return out


def real_silhouette(dataset: str | Path, image_id: str) -> dict[str, np.ndarray]:
    """The right lung, left lung and cardiomediastinum masks of one image of an imported dataset."""
    from xraylab.data.manifest import read_manifest
    from xraylab.io.images import read_mask

    root = Path(dataset)
    df = read_manifest(root)
    rows = df[df["image_id"].astype(str) == str(image_id)]
    if rows.empty:
        raise InputFileError(f"{root}: no image {image_id!r} for a silhouette-matched subject")
    rec = rows.iloc[0]
    return {p: read_mask(root / rec[f"mask:{p}"]) for p in PARTS}
