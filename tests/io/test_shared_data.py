"""The real CTs in ../shared/data load with their labels through CTVolume and render."""

from __future__ import annotations

import pytest
import torch

from xraylab.io.ct import load_ct
from xraylab.physics.geometry import Geometry
from xraylab.physics.projector import Projector

pytestmark = pytest.mark.shared_data


def _render(ct, structures):
    g = Geometry(sid_mm=1800, sod_mm=1500, rows=48, cols=48, pitch_mm=9.0)
    return Projector(ct.downsample(2), structures=structures, renderer="trilinear", n_points=200).project(g)


def test_chest_contrast_ct_with_heart_label(shared_data):
    d = shared_data / "ct" / "chest_contrast"
    ct = load_ct(d / "ct.nii.gz", d / "heart.nii.gz")
    assert ct.shape == (233, 167, 191) and ct.structures == {1: "heart"}
    p = _render(ct, ["heart"])
    assert p.masks()["heart"].sum() > 10
    assert p.materials["lung"].max() > 1.0  # lungs fully included in this CT


def test_abdomen_ct_stored_as_int32_with_61_labels(shared_data):
    d = shared_data / "ct" / "abdomen"
    ct = load_ct(d / "ct.nii.gz", d / "labels.nii.gz", shared_data / "ct" / "totalsegmentator_v2_total_classes.csv")
    assert ct.hu.dtype == torch.float32 and ct.hu.min() < -900
    assert len(torch.unique(ct.labels)) - 1 == 61
    p = _render(ct, ["liver", "spine"])
    assert p.masks()["liver"].sum() > 10 and p.masks()["spine"].sum() > 10


def test_dicom_series_with_las_label_map_is_reoriented(shared_data):
    d = shared_data / "ct" / "dicom_series"
    ct = load_ct(d / "slices", d / "labels.nii.gz", shared_data / "ct" / "totalsegmentator_v2_total_classes.csv")
    assert ct.shape == (512, 512, 20)
    assert ct.name == "dicom_series"
    # Labels and CT agree after reorientation: the liver is soft tissue, vertebrae are bone-dense.
    liver = ct.labels == next(k for k, v in ct.structures.items() if v == "liver")
    assert liver.any() and 0 < float(ct.hu[liver].median()) < 150
    vert = torch.isin(ct.labels, torch.tensor([k for k, v in ct.structures.items() if v.startswith("vertebrae_")],
                                              dtype=ct.labels.dtype))
    assert vert.any() and float(ct.hu[vert].median()) > 150
    p = _render(ct, ["liver"])
    assert p.masks()["liver"].sum() > 5
