"""Torch Dataset over manifest rows: lazy PNG/NPZ reads with the same preprocessing for every source.

Preprocessing (Fok et al. 2024): resize to ``image_size`` × ``image_size`` keeping the aspect ratio
with zero padding (bilinear for images, nearest for masks) and intensities in [0, 1]. Grayscale
images are repeated to ``in_channels``; colour images are averaged when ``in_channels == 1``.

An item is ``(image [C, S, S] float32, target, index)`` where ``target`` is ``[K, S, S]`` float32 {0, 1}
masks for segmentation or a long class index for the classification-like tasks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset, Sampler

from xraylab.errors import InputFileError
from xraylab.io.images import read_image, read_mask, resize_pad


def read_array_image(path: Path) -> np.ndarray:
    """Read a PNG/JPEG/TIFF via :func:`read_image`, or an ``.npz``/``.npy`` array (key ``image`` or the first)."""
    if path.suffix.lower() not in (".npz", ".npy"):
        return read_image(path)
    if not path.is_file():
        raise InputFileError(f"{path}: image file not found; check the path in the manifest")
    try:
        loaded = np.load(path, allow_pickle=False)
        if isinstance(loaded, np.lib.npyio.NpzFile):
            arr = loaded["image"] if "image" in loaded.files else loaded[loaded.files[0]]
        else:
            arr = loaded
    except Exception as exc:
        raise InputFileError(f"{path}: cannot read array ({exc})") from exc
    return np.asarray(arr, dtype=np.float32)


def to_channels(img: np.ndarray, in_channels: int) -> torch.Tensor:
    """``[H, W]`` or ``[H, W, 3]`` array -> ``[in_channels, H, W]`` float32 tensor."""
    t = torch.from_numpy(np.ascontiguousarray(img, dtype=np.float32))
    t = t[None] if t.ndim == 2 else t.permute(2, 0, 1)
    if t.shape[0] == in_channels:
        return t
    if in_channels == 1:
        return t.mean(0, keepdim=True)
    if t.shape[0] == 1:
        return t.expand(in_channels, -1, -1).contiguous()
    raise InputFileError(f"cannot turn a {t.shape[0]}-channel image into {in_channels} channels")


def load_sample(
    root: Path,
    image: str,
    masks: Sequence[str | None],
    image_size: int,
    in_channels: int,
) -> tuple[torch.Tensor, torch.Tensor | None, tuple[int, int]]:
    """One sample on the model grid: the preprocessing of training, validation and evaluation alike.

    ``image`` and ``masks`` are paths relative to ``root``; a mask given as None (a structure without a file)
    becomes all False. Returns ``image [in_channels, S, S]`` float32 in [0, 1] (bilinear resize with zero padding
    to ``S = image_size``), ``masks [K, S, S]`` bool (nearest, > 0.5; None when ``masks`` is empty) and the
    native ``(H, W)`` in pixels.
    """
    img = to_channels(read_array_image(root / image), in_channels)
    hw = (int(img.shape[-2]), int(img.shape[-1]))
    img = resize_pad(img, image_size, mode="bilinear").clamp(0.0, 1.0)
    if not masks:
        return img, None, hw
    planes = []
    for rel in masks:
        if rel is None:
            planes.append(torch.zeros(hw))
            continue
        m = read_mask(root / rel)
        if m.shape != hw:
            raise InputFileError(
                f"{root / rel}: mask shape {m.shape} differs from image {hw}; masks must share the image grid"
            )
        planes.append(torch.from_numpy(m.astype(np.float32)))
    return img, resize_pad(torch.stack(planes), image_size, mode="nearest") > 0.5, hw


class ManifestDataset(Dataset):
    """Samples of a mixed manifest table (see :mod:`xraylab.train.mixing`)."""

    def __init__(
        self,
        table: pd.DataFrame,
        task: str,
        mask_columns: Sequence[str],
        image_size: int,
        in_channels: int,
    ) -> None:
        self.roots = table["_root"].astype(str).tolist()
        self.images = table["image"].astype(str).tolist()
        self.masks = [table[c].astype(str).tolist() for c in mask_columns] if task == "segmentation" else []
        self.targets = table["_target"].tolist() if task != "segmentation" else None
        self.task = task
        self.image_size = int(image_size)
        self.in_channels = int(in_channels)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor, int]:
        masks_i = [col[i] for col in self.masks]  # [] unless segmentation
        img, masks, _ = load_sample(Path(self.roots[i]), self.images[i], masks_i, self.image_size, self.in_channels)
        if masks is not None:
            target = masks.float()
        else:
            assert self.targets is not None  # set for every task but segmentation
            target = torch.tensor(int(self.targets[i]), dtype=torch.long)
        return img, target, i


class IndexSampler(Sampler[int]):
    """Yields a precomputed index list (the epoch plan of :func:`xraylab.train.mixing.epoch_indices`)."""

    def __init__(self, indices: Iterable[int]) -> None:
        self.indices = [int(i) for i in indices]

    def __iter__(self):
        return iter(self.indices)

    def __len__(self) -> int:
        return len(self.indices)
