"""Helpers for the trainer tests: a tiny learnable dataset (bright discs and squares on a noisy
background) written as PNGs + manifest, and a small spec."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from xraylab.data.manifest import write_manifest
from xraylab.io.images import write_mask_png, write_png16

CORRUPTIONS = ("none", "noise", "dark")


def _shape_mask(kind: str, h: int, w: int, cy: float, cx: float, r: float) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    if kind == "disc":
        return (yy - cy) ** 2 + (xx - cx) ** 2 <= r**2
    return (np.abs(yy - cy) <= r) & (np.abs(xx - cx) <= r)


def make_shapes_dataset(
    folder: Path,
    n_subjects: int = 12,
    per_subject: int = 4,
    size: tuple[int, int] = (40, 36),
    seed: int = 0,
    splits: dict[str, float] | None = None,
    prefix: str = "s",
    angle_groups: tuple[str, ...] = ("center",),
) -> Path:
    """Write a dataset with masks ``disc`` and ``square`` and labels ``disc`` / ``square``.

    Every image holds one disc and one square (segmentation); ``label`` names the larger one
    (classification). ``corruption``/``severity`` columns mimic a degraded dataset. Splits are by subject.
    """
    rng = np.random.default_rng(seed)
    splits = splits or {"train": 0.6, "val": 0.2, "test": 0.2}
    h, w = size
    names = list(splits)
    cuts = np.cumsum([splits[k] for k in names]) * n_subjects
    rows = []
    for s in range(n_subjects):
        split = names[int(np.searchsorted(cuts, s, side="right"))]
        for k in range(per_subject):
            big = "disc" if rng.random() < 0.5 else "square"
            img = 0.1 + 0.05 * rng.random((h, w))
            masks = {}
            for kind, (cy, cx) in zip(("disc", "square"), ((h * 0.3, w * 0.3), (h * 0.7, w * 0.68))):
                r = (h * 0.2 if kind == big else h * 0.1) * (0.9 + 0.2 * rng.random())
                m = _shape_mask(kind, h, w, cy + rng.uniform(-2, 2), cx + rng.uniform(-2, 2), r)
                img[m] = 0.8 + 0.1 * rng.random()
                masks[kind] = m
            corruption = CORRUPTIONS[(s + k) % len(CORRUPTIONS)]
            severity = 0 if corruption == "none" else 1 + (k % 4)
            if corruption == "noise":
                img = img + 0.08 * severity * rng.standard_normal((h, w))
            elif corruption == "dark":
                img = img * (1.0 - 0.2 * severity)
            iid = f"{prefix}{s:03d}_{k}"
            write_png16(folder / "images" / f"{iid}.png", np.clip(img, 0, 1))
            row = {"image_id": iid, "subject_id": f"{prefix}{s:03d}", "split": split, "image": f"images/{iid}.png"}
            for kind, m in masks.items():
                write_mask_png(folder / "masks" / kind / f"{iid}.png", m)
                row[f"mask:{kind}"] = f"masks/{kind}/{iid}.png"
            row.update(label=big, corruption=corruption, severity=severity,
                       angle_group=angle_groups[(s + k) % len(angle_groups)])
            rows.append(row)
    write_manifest(folder, pd.DataFrame(rows))
    return folder


def base_spec(path: Path, **over) -> dict:
    """A small segmentation spec dict for tests (U-Net depth 3 on resnet18, 32 × 32)."""
    spec = {
        "name": "t",
        "seed": 3,
        "task": "segmentation",
        "data": [{"name": "real", "path": str(path)}],
        "image_size": 32,
        "model": {"name": "unet", "kwargs": {"depth": 3}},
        "loss": {"name": "dice_bce"},
        "optimizer": {"name": "adam", "lr": 0.003},
        "epochs": 2,
        "batch_size": 8,
    }
    spec.update(over)
    return spec
