"""Projected masks of the (downsampled) embedded default CT: non-empty, inside the body, correct sides."""

from __future__ import annotations

import pytest
import torch

from xraylab.io.ct import load_default_ct
from xraylab.io.structures import expand_structure_list
from xraylab.physics.geometry import preset_geometry
from xraylab.physics.projector import Projector


@pytest.fixture(scope="module")
def projection():
    ct = load_default_ct(downsample=4)
    structures = ["clavicles", "lungs", "heart"] + expand_structure_list(["jsrt"])
    g = preset_geometry("chest_pa", rows=96, cols=96)
    return Projector(ct, structures=structures, renderer="siddon").project(g)


def _centroid_col(mask: torch.Tensor) -> float:
    cols = torch.arange(mask.shape[-1], dtype=torch.float32)
    m = mask.float()
    return float((m.sum(-2) * cols).sum() / m.sum())


def test_masks_are_non_empty_and_inside_the_body(projection):
    body = projection.materials["soft_tissue"] + projection.materials["adipose"] + projection.materials["bone"]
    inside_body = body[0, 0] > 1.0  # more than 1 g/cm² of tissue on the ray
    for s in ("clavicles", "lungs", "heart"):
        m = projection.masks()[s][0, 0]
        assert m.sum() > 20, s
        assert (m & ~inside_body).sum() <= 0.01 * m.sum(), f"{s} mask leaves the body outline"


def test_left_and_right_structures_land_on_the_correct_image_side(projection):
    masks = projection.masks()
    w = masks["lungs"].shape[-1]
    # Display convention: the patient's left is on the image's right.
    assert _centroid_col(masks["left_lung"][0, 0]) > w / 2 > _centroid_col(masks["right_lung"][0, 0])
    assert _centroid_col(masks["left_clavicle"][0, 0]) > w / 2 > _centroid_col(masks["right_clavicle"][0, 0])
    # The heart projects left of the midline (image right), the clavicles above the heart.
    assert _centroid_col(masks["heart"][0, 0]) > w / 2
    rows = torch.arange(w, dtype=torch.float32)
    def centroid_row(m):
        return float((m.float().sum(-1) * rows).sum() / m.float().sum())
    assert centroid_row(masks["clavicles"][0, 0]) < centroid_row(masks["heart"][0, 0])


def test_lung_mask_has_path_length_although_lungs_are_air(projection):
    lungs = projection.paths["lungs"][0, 0]
    assert lungs.max() > 100.0  # mm of lung along the thickest rays
    assert projection.paths["lungs"].shape == projection.materials["lung"].shape
