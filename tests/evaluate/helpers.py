"""Tiny datasets and models for the evaluator tests (built on the fly, no downloads)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from xraylab.data.angles import angle_group
from xraylab.data.manifest import write_manifest
from xraylab.evaluate.models import from_module
from xraylab.io.images import write_mask_png, write_png16

SIZE = 32


def blob_image(rng: np.random.Generator, shift: int = 0, size: int = SIZE) -> tuple[np.ndarray, np.ndarray]:
    """A bright rectangle (the structure) on a dark noisy background; returns (image [H, W] in [0, 1], mask)."""
    mask = np.zeros((size, size), bool)
    r0, c0 = 8 + int(rng.integers(0, 4)), 8 + shift
    mask[r0 : r0 + 12, max(0, c0) : max(0, c0) + 10] = True
    img = 0.15 + 0.6 * mask + rng.normal(0, 0.05, (size, size))
    return np.clip(img, 0, 1).astype(np.float32), mask


def make_rotation_dataset(folder: Path, subjects: int = 2, angles=(-20, -10, 0, 10, 20), seed: int = 0) -> pd.DataFrame:
    """``subjects`` x ``angles`` 32x32 PNG images with a ``mask:clavicle`` and a manifest (split test)."""
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(subjects):
        for a in angles:
            img, mask = blob_image(rng, shift=int(round(a / 4)))
            iid = f"s{s}_a{a:+d}"
            write_png16(folder / "images" / f"{iid}.png", img)
            write_mask_png(folder / "masks" / f"{iid}_clavicle.png", mask)
            rows.append({"image_id": iid, "subject_id": f"s{s}", "split": "test", "image": f"images/{iid}.png",
                         "mask:clavicle": f"masks/{iid}_clavicle.png", "angle_deg": float(a),
                         "angle_group": angle_group(a)})
    df = pd.DataFrame(rows)
    write_manifest(folder, df)
    return df


def make_corruption_dataset(
    folder: Path, subjects: int = 3, corruptions=("noise", "dark"), severities=(1, 2), seed: int = 1
) -> pd.DataFrame:
    """Clean and corrupted copies of a few images; ``severity`` in levels, ``label`` = 'a'/'b' by subject."""
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(subjects):
        img, mask = blob_image(rng)
        write_mask_png(folder / "masks" / f"s{s}.png", mask)
        variants = [("none", 0, img)]
        for c in corruptions:
            for lv in severities:
                if c == "noise":
                    v = img + rng.normal(0, 0.25 * lv, img.shape)
                else:
                    v = img * (1 - 0.35 * lv)
                variants.append((c, lv, np.clip(v, 0, 1).astype(np.float32)))
        for c, lv, v in variants:
            iid = f"s{s}_{c}_{lv}"
            write_png16(folder / "images" / f"{iid}.png", v)
            rows.append({"image_id": iid, "subject_id": f"s{s}", "split": "test", "image": f"images/{iid}.png",
                         "mask:clavicle": f"masks/s{s}.png", "corruption": c, "severity": lv, "label": "ab"[s % 2]})
    df = pd.DataFrame(rows)
    write_manifest(folder, df)
    return df


class ThresholdNet(nn.Module):
    """One 1x1 convolution: logits = w * x + b (a learnable intensity threshold), ``[B, 1, H, W] -> [B, 1, H, W]``."""

    def __init__(self, w: float = 0.0, b: float = 0.0) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 1, 1)
        with torch.no_grad():
            self.conv.weight.fill_(w)
            self.conv.bias.fill_(b)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


def train_threshold_net(folder: Path, steps: int = 150, seed: int = 0) -> nn.Module:
    """Fit :class:`ThresholdNet` on every image of a dataset folder (a tiny trained model)."""
    from xraylab.data.manifest import read_manifest
    from xraylab.io.images import read_image, read_mask

    torch.manual_seed(seed)
    df = read_manifest(folder)
    x = torch.stack([torch.from_numpy(read_image(folder / p))[None] for p in df["image"]])
    y = torch.stack([torch.from_numpy(read_mask(folder / p).astype(np.float32))[None] for p in df["mask:clavicle"]])
    net = ThresholdNet()
    opt = torch.optim.Adam(net.parameters(), lr=0.5)
    for _ in range(steps):
        opt.zero_grad()
        loss = nn.functional.binary_cross_entropy_with_logits(net(x), y)
        loss.backward()
        opt.step()
    return net.eval()


class MeanClassifier(nn.Module):
    """Logits from the mean intensity: ``[B, 1, H, W] -> [B, K]`` with per-class weight and bias."""

    def __init__(self, w, b) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.tensor(w, dtype=torch.float32))
        self.b = nn.Parameter(torch.tensor(b, dtype=torch.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=(1, 2, 3))[:, None] * self.w + self.b


def seg_model(name: str, module: nn.Module, size: int = SIZE):
    info = {"task": "segmentation", "classes": ["clavicle"], "image_size": size, "in_channels": 1}
    return from_module(name, module, info)


def cls_model(name: str, module: nn.Module, classes, task: str = "classification", size: int = SIZE):
    return from_module(name, module, {"task": task, "classes": list(classes), "image_size": size, "in_channels": 1})
