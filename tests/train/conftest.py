"""Fixtures for the trainer tests: tiny shape datasets written once per session."""

from __future__ import annotations

from pathlib import Path

import pytest
from train_shapes import make_shapes_dataset


@pytest.fixture(scope="session")
def shapes_dir(tmp_path_factory) -> Path:
    """12 subjects × 4 images (train/val/test by subject), 40 × 36 pixels."""
    return make_shapes_dataset(tmp_path_factory.mktemp("shapes"))


@pytest.fixture(scope="session")
def synthetic_dir(tmp_path_factory) -> Path:
    """A second dataset (Fok's synthetic role) with angle groups and no val split."""
    return make_shapes_dataset(
        tmp_path_factory.mktemp("syn"), n_subjects=10, per_subject=3, seed=1, prefix="ct",
        splits={"train": 0.8, "test": 0.2}, angle_groups=("center", "low_negative", "moderate_positive"),
    )


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """Tiny models on a shared 2-core machine run several times faster on one intra-op thread."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
