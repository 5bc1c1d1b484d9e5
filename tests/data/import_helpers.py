"""Tiny synthetic chest radiographs and masks for the ``xraylab import`` tests (no real images are committed).

:func:`phantom` draws a PA-like chest on an ``[H, W]`` grid in display polarity (air dark, bone bright): a
mid-grey body, two dark lung fields (the patient's right lung on the image's left), a bright mediastinum/heart
blob and two bright clavicle bars. The masks follow the patient's sides like the real datasets.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image


def _ellipse(h: int, w: int, cy: float, cx: float, ry: float, rx: float) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w]
    return ((y - cy) / ry) ** 2 + ((x - cx) / rx) ** 2 <= 1.0


def phantom(h: int = 40, w: int = 48, seed: int = 0) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """``(image float64 [H, W] in [0, 1], masks)`` with masks right_lung, left_lung, heart, right/left_clavicle."""
    rng = np.random.default_rng(seed)
    img = np.full((h, w), 0.05)
    body = _ellipse(h, w, h * 0.55, w * 0.5, h * 0.52, w * 0.46)
    img[body] = 0.55
    jitter = rng.uniform(-0.03, 0.03, 4)
    right = _ellipse(h, w, h * (0.5 + jitter[0]), w * 0.3, h * 0.3, w * 0.13)  # image left = patient's right
    left = _ellipse(h, w, h * (0.5 + jitter[1]), w * 0.7, h * 0.3, w * 0.13)
    heart = _ellipse(h, w, h * 0.62, w * (0.55 + jitter[2]), h * 0.18, w * 0.14)
    img[right | left] = 0.2
    img[heart] = 0.75
    rc = np.zeros((h, w), bool)
    lc = np.zeros((h, w), bool)
    r0 = int(h * 0.18)
    rc[r0:r0 + 2, int(w * 0.12):int(w * 0.45)] = True
    lc[r0:r0 + 2, int(w * 0.55):int(w * 0.88)] = True
    img[rc | lc] = 0.95
    img = np.clip(img + rng.normal(0, 0.01, (h, w)), 0, 1)
    return img, {"right_lung": right, "left_lung": left, "heart": heart, "right_clavicle": rc, "left_clavicle": lc}


def save_png8(path: Path, img: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.round(np.clip(img, 0, 1) * 255).astype(np.uint8)).save(path)
    return path


def save_png16(path: Path, img: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.round(np.clip(img, 0, 1) * 65535).astype(np.uint16)).save(path)
    return path


def save_mask(path: Path, mask: np.ndarray, value: int = 255, fmt: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray((np.asarray(mask) > 0).astype(np.uint8) * value).save(path, format=fmt)
    return path


def write_folder_set(root: Path, n: int = 6, patients: list[str] | None = None, hw: tuple[int, int] = (40, 48),
                     structures: tuple[str, ...] = ("right_lung", "left_lung", "heart")) -> list[str]:
    """The generic layout: ``images/<name>.png``, ``masks/<structure>/<name>.png``, ``items.json``."""
    names = []
    items = []
    for i in range(n):
        name = f"case_{i:02d}.png"
        img, masks = phantom(*hw, seed=i)
        save_png8(root / "images" / name, img)
        for s in structures:
            save_mask(root / "masks" / s / name, masks[s])
        items.append({"image": name, "patient": (patients[i] if patients else f"p{i}"), "view": "PA",
                      "license": "CC BY" if i % 2 else "CC BY-NC-SA", "finding": f"f{i % 3}",
                      "original_size": [hw[0] * 2, hw[1] * 2]})
        names.append(name)
    (root / "items.json").write_text(json.dumps(items, indent=1), encoding="utf-8")
    return names


def centroid_x(mask: np.ndarray) -> float:
    return float(np.nonzero(mask)[1].mean())
