"""Pseudo-subjects: deterministic smooth deformations that move CT and labels together."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from xraylab.data.pseudo_subjects import deform_ct, pseudo_subject_name, source_subject
from xraylab.io.ct import CTVolume

SP = 2.0
N = 81
BODY_C = np.zeros(3)
BEAD_C = np.array([30.0, -12.0, 10.0])  # LPS mm: left, anterior, superior of the body centre


def _phantom() -> CTVolume:
    """A water cylinder (label 1 ``body``, 0 HU) along z holding a bone sphere (label 2 ``bead``, 1000 HU, r = 16 mm)
    off its centre, in air; a second id table entry checks that ids are kept."""
    ax = (np.arange(N) - (N - 1) / 2) * SP
    x, y, z = np.meshgrid(ax, ax, ax, indexing="ij")
    body = x**2 + y**2 <= 60.5**2
    bead = (x - BEAD_C[0]) ** 2 + (y - BEAD_C[1]) ** 2 + (z - BEAD_C[2]) ** 2 <= 16.0**2
    hu = np.full(x.shape, -1000.0, np.float32)
    hu[body] = 0.0
    hu[bead] = 1000.0
    lab = np.zeros(x.shape, np.int16)
    lab[body] = 1
    lab[bead] = 2
    o = float(ax[0])
    return CTVolume(hu=torch.from_numpy(hu), spacing=(SP, SP, SP), origin=(o, o, o), direction=np.eye(3),  # type: ignore[arg-type]
                    labels=torch.from_numpy(lab), structures={1: "body", 2: "bead"}, name="phantom", source="phantom")


@pytest.fixture(scope="module")
def ct() -> CTVolume:
    return _phantom()


def _centroid_mm(ct: CTVolume, mask: torch.Tensor) -> np.ndarray:
    idx = torch.nonzero(mask).double().mean(0).numpy()
    a = ct.affine.numpy()
    return a[:3, :3] @ idx + a[:3, 3]


def test_same_seed_same_bytes_and_seeds_differ(ct):
    a, b, c = deform_ct(ct, 7), deform_ct(ct, 7), deform_ct(ct, 8)
    assert torch.equal(a.hu, b.hu) and torch.equal(a.labels, b.labels)
    assert a.meta == b.meta
    assert not torch.equal(a.hu, c.hu) and a.meta["scales"] != c.meta["scales"]
    assert a.shape == ct.shape and a.spacing == ct.spacing and a.labels.dtype == ct.labels.dtype
    assert set(torch.unique(a.labels).tolist()) <= {0, 1, 2}  # nearest neighbour: no blended ids


def test_name_and_provenance(ct):
    d = deform_ct(ct, 3)
    assert d.name == "phantom~p3" == pseudo_subject_name("phantom", 3)
    assert d.meta["pseudo_subject_of"] == "phantom" and d.meta["pseudo_seed"] == 3
    assert source_subject(d) == "phantom" and source_subject("case1~p12") == "case1" and source_subject("x") == "x"
    dd = deform_ct(d, 4)  # a pseudo-subject of a pseudo-subject still belongs to the original subject
    assert dd.name == "phantom~p3~p4" and source_subject(dd) == "phantom"
    assert ct.meta == {}  # the source is not modified


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_labels_move_with_the_ct(ct, seed):
    """Scaling only (±20 %, for visible shifts): the bead's label centroid moves to c + S (bead − c), c the body's
    centroid; the label and the deformed bone overlap."""
    d = deform_ct(ct, seed, scale_range=(0.2, 0.2, 0.2), elastic_mm=0.0)
    s = np.array(d.meta["scales"])
    centre = _centroid_mm(ct, ct.hu > -500)
    expected = centre + s * (BEAD_C - centre)
    got = _centroid_mm(d, d.labels == 2)
    assert np.abs(got - expected).max() < 0.6, (got, expected)
    assert np.abs(expected - BEAD_C).max() > 1.5  # the check above is not trivially satisfied
    lab, bone = d.labels == 2, d.hu > 500
    assert 2 * (lab & bone).sum() / (lab.sum() + bone.sum()) > 0.93


@pytest.mark.parametrize("seed", [0, 5])
def test_elastic_field_moves_labels_and_ct_together(ct, seed):
    d = deform_ct(ct, seed, elastic_mm=3.0)
    lab, bone = d.labels == 2, d.hu > 500
    assert 2 * (lab & bone).sum() / (lab.sum() + bone.sum()) > 0.93
    assert np.abs(_centroid_mm(d, lab) - _centroid_mm(d, bone)).max() < 0.5
    rigid = deform_ct(ct, seed, elastic_mm=0.0)
    assert (d.labels != rigid.labels).sum() > 100  # the elastic part does something


def test_volume_change_follows_the_scales_within_the_range(ct):
    r = (0.08, 0.08, 0.05)
    lo, hi = np.prod([1 - v for v in r]), np.prod([1 + v for v in r])
    bead0 = float(ct.hu.clamp(min=0).sum())  # the bead's excess over water (0 HU): 1000 HU × its volume
    for seed in range(6):
        d = deform_ct(ct, seed, scale_range=r, elastic_mm=0.0)
        s = np.array(d.meta["scales"])
        assert ((1 - np.array(r) <= s) & (s <= 1 + np.array(r))).all()
        # Trilinear resampling preserves the integral up to the Jacobian: the bead's excess scales by Π s.
        assert abs(float(d.hu.clamp(min=0).sum()) / bead0 / np.prod(s) - 1) < 0.01
        # Labels (nearest neighbour) follow within the voxel staircase of a 16 mm sphere.
        assert lo - 0.03 < float((d.labels == 2).sum()) / float((ct.labels == 2).sum()) < hi + 0.03


def test_outside_the_source_is_air():
    """A volume of water everywhere, shrunk along some axis: what maps from outside the source is −1000 HU."""
    ct = _phantom()
    ct = CTVolume(hu=torch.zeros_like(ct.hu), spacing=ct.spacing, origin=ct.origin, direction=ct.direction,
                  labels=torch.ones_like(ct.labels), structures={1: "water"}, name="water")
    d = deform_ct(ct, 3, elastic_mm=0.0)
    assert min(d.meta["scales"]) < 0.99
    assert float(d.hu.min()) == -1000.0 and int((d.labels == 0).sum()) > 0
    assert ((d.labels == 0) == (d.hu < -500)).float().mean() > 0.99


def test_bad_arguments_are_errors(ct):
    with pytest.raises(ValueError):
        deform_ct(ct, 0, scale_range=(0.6, 0.0, 0.0))
    with pytest.raises(ValueError):
        deform_ct(ct, 0, elastic_mm=-1.0)
