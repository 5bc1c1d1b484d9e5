"""ManifestDataset: lazy PNG/NPZ reads, resize with zero padding, channel handling, targets."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from xraylab.data.datasets import IndexSampler, ManifestDataset, to_channels
from xraylab.errors import InputFileError
from xraylab.io.images import write_mask_png, write_png8


def _table(tmp_path, image_name, **extra):
    return pd.DataFrame([{"_root": str(tmp_path), "image": image_name, **extra}])


def test_npz_image_and_mask_are_resized_with_zero_padding(tmp_path):
    img = np.full((20, 40), 0.5, dtype=np.float32)  # wide: padded top and bottom
    np.savez(tmp_path / "a.npz", image=img)
    mask = np.zeros((20, 40), bool)
    mask[:, 20:] = True
    write_mask_png(tmp_path / "m.png", mask)
    ds = ManifestDataset(_table(tmp_path, "a.npz", m="m.png"), "segmentation", ["m"], 32, 1)
    x, y, i = ds[0]
    assert x.shape == (1, 32, 32) and y.shape == (1, 32, 32) and i == 0
    assert torch.all(x[:, :8] == 0) and torch.all(x[:, -8:] == 0)
    assert x[0, 16, 16].item() == pytest.approx(0.5, abs=1e-4)
    assert set(y.unique().tolist()) == {0.0, 1.0}
    assert y[0, 16, :16].sum() == 0 and y[0, 16, 16:].sum() == 16


def test_rgb_images_are_averaged_for_one_channel_and_gray_is_repeated_for_three(tmp_path):
    rgb = np.zeros((16, 16, 3))
    rgb[..., 0] = 1.0
    write_png8(tmp_path / "c.png", rgb)
    table = _table(tmp_path, "c.png", _target=1)
    gray = ManifestDataset(table, "classification", [], 16, 1)[0]
    colour = ManifestDataset(table, "classification", [], 16, 3)[0]
    assert gray[0].shape == (1, 16, 16) and gray[0].mean().item() == pytest.approx(1 / 3, abs=1e-3)
    assert colour[0].shape == (3, 16, 16) and colour[0][0].mean().item() == pytest.approx(1.0, abs=1e-3)
    assert gray[1].dtype == torch.long and gray[1].item() == 1
    assert to_channels(np.ones((4, 4)), 3).shape == (3, 4, 4)


def test_missing_or_broken_files_are_input_errors(tmp_path):
    (tmp_path / "bad.npz").write_bytes(b"not an archive")
    with pytest.raises(InputFileError, match="bad.npz"):
        ManifestDataset(_table(tmp_path, "bad.npz", _target=0), "classification", [], 8, 1)[0]
    with pytest.raises(InputFileError, match="not found"):
        ManifestDataset(_table(tmp_path, "gone.png", _target=0), "classification", [], 8, 1)[0]


def test_index_sampler_yields_the_plan():
    assert list(IndexSampler(np.array([3, 1, 2]))) == [3, 1, 2] and len(IndexSampler([5])) == 1
