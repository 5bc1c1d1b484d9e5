"""Threshold lung labeller: synthetic phantoms (trachea removal, sides, joined lungs, orientation) and real CTs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from xraylab.errors import SegmentationUnavailableError
from xraylab.io.ct import CTVolume
from xraylab.io.lung_labels import LUNG_LEFT, LUNG_RIGHT, add_lung_labels, has_lung_labels, segment_lungs
from xraylab.io.structures import resolve_structure

SP = 2.0  # mm


def _chest_phantom(gap_mm: float = 24.0, bridge: bool = False, seed: int = 0):
    """A soft-tissue elliptic cylinder in air holding two ellipsoid lungs (−850 HU ± noise), a trachea tube
    (−1000 HU) from the top that splits into two bronchi entering the lungs, and a 'heart' label between them.

    Built on an LPS grid (index axis 0 = +x = patient's left). Returns (ct, truth) where truth holds boolean
    masks ``left``, ``right`` (the lung ellipsoids), ``trachea`` (the tube above the carina) and ``airway``.
    """
    n = (110, 90, 110)
    ax = [(np.arange(k) - (k - 1) / 2) * SP for k in n]
    x, y, z = np.meshgrid(*ax, indexing="ij")
    body = (x / 100.0) ** 2 + (y / 75.0) ** 2 <= 1.0
    cx = 40.0 + gap_mm / 2
    def ell(x0):
        return ((x - x0) / 40.0) ** 2 + (y / 55.0) ** 2 + ((z + 15.0) / 80.0) ** 2 <= 1.0
    left, right = ell(+cx), ell(-cx)
    if bridge:  # a thin anterior junction joining both lungs (as on many CTs at 1–3 mm voxels)
        junction = (np.abs(x) <= cx) & (np.abs(y + 40.0) <= 3.0) & (np.abs(z + 15.0) <= 30.0)
        left |= junction & (x > 0)
        right |= junction & (x <= 0)
    trachea = ((x ** 2 + (y + 10.0) ** 2) <= 9.0 ** 2) & (z >= 35.0) & body
    airway = trachea.copy()
    carina = np.array([0.0, -10.0, 35.0])
    for sgn in (+1, -1):  # main bronchi: straight tubes from the carina into each lung
        end = np.array([sgn * cx, 0.0, 5.0])
        d = end - carina
        t = np.clip(((x - carina[0]) * d[0] + (y - carina[1]) * d[1] + (z - carina[2]) * d[2]) / (d @ d), 0, 1)
        dist2 = (x - carina[0] - t * d[0]) ** 2 + (y - carina[1] - t * d[1]) ** 2 + (z - carina[2] - t * d[2]) ** 2
        airway |= dist2 <= 6.0 ** 2
    heart = (((x - 15.0) / 35.0) ** 2 + ((y + 20.0) / 35.0) ** 2 + ((z + 40.0) / 40.0) ** 2 <= 1.0) & ~left & ~right
    rng = np.random.default_rng(seed)
    hu = np.full(n, -1000.0)
    hu[body] = 40.0
    lungs = left | right
    hu[lungs] = -850.0 + rng.normal(0.0, 25.0, int(lungs.sum()))
    hu[airway] = -1000.0
    labels = np.zeros(n, np.int16)
    labels[heart] = 1
    origin = tuple(float(a[0]) for a in ax)
    ct = CTVolume(hu=torch.from_numpy(hu.astype(np.float32)), spacing=(SP, SP, SP), origin=origin,  # type: ignore[arg-type]
                  direction=np.eye(3), labels=torch.from_numpy(labels), structures={1: "heart"},
                  name="chest_phantom", source="phantom:chest")
    return ct, {"left": left & ~airway, "right": right & ~airway, "trachea": trachea, "airway": airway}


def _dice(a: np.ndarray, b: np.ndarray) -> float:
    return float(2 * (a & b).sum() / (a.sum() + b.sum()))


@pytest.fixture(scope="module")
def phantom():
    return _chest_phantom()


def test_phantom_lungs_found_on_the_right_sides_and_trachea_removed(phantom):
    ct, truth = phantom
    seg = segment_lungs(ct)
    assert seg.info["trachea_seed_lps_index"] is not None and seg.info["airway_ml"] > 10.0
    assert not seg.info["joined"]
    # Left is left: the patient's left lung sits at +x (LPS), which is index axis 0 increasing here.
    assert _dice(seg.left, truth["left"]) > 0.95 and _dice(seg.right, truth["right"]) > 0.95
    assert _dice(seg.left, truth["right"]) == 0.0
    # The trachea is not lung, and the airway did not leak into the lungs.
    assert not ((seg.left | seg.right) & truth["trachea"]).any()
    assert seg.airway.sum() <= 1.2 * truth["airway"].sum()


def test_label_sides_follow_the_orientation_not_the_storage_order(phantom):
    """The same phantom stored RAS-like (x and y index axes reversed): lung_left must stay the +x (LPS) lung."""
    ct, truth = phantom
    flipped = CTVolume(hu=torch.flip(ct.hu, (0, 1)).contiguous(), spacing=ct.spacing,
                       origin=(-ct.origin[0], -ct.origin[1], ct.origin[2]), direction=np.diag([-1.0, -1.0, 1.0]),
                       labels=torch.flip(ct.labels, (0, 1)).contiguous(), structures=dict(ct.structures))
    seg = segment_lungs(flipped)
    assert _dice(np.flip(seg.left, (0, 1)), truth["left"]) > 0.95
    assert _dice(np.flip(seg.right, (0, 1)), truth["right"]) > 0.95


def test_joined_lungs_are_split_into_left_and_right():
    ct, truth = _chest_phantom(bridge=True)
    seg = segment_lungs(ct)
    assert seg.info["joined"] and seg.info["split"] == "erosion"
    assert _dice(seg.left, truth["left"]) > 0.93 and _dice(seg.right, truth["right"]) > 0.93
    assert not (seg.left & seg.right).any()


def test_add_lung_labels_keeps_existing_labels_and_plugs_into_the_lung_groups(phantom):
    ct, truth = phantom
    out = add_lung_labels(ct)
    assert out.structures[1] == "heart" and set(out.structures.values()) == {"heart", LUNG_LEFT, LUNG_RIGHT}
    lab = out.labels.numpy()
    assert (lab[ct.labels.numpy() == 1] == 1).all()  # the heart is untouched
    ids = {v: k for k, v in out.structures.items()}
    assert resolve_structure("left_lung", out.structures) == [ids[LUNG_LEFT]]
    assert sorted(resolve_structure("lungs", out.structures)) == sorted([ids[LUNG_LEFT], ids[LUNG_RIGHT]])
    assert _dice(lab == ids[LUNG_LEFT], truth["left"]) > 0.95
    assert out.meta["label_source"] == "label_map+lungs:threshold"
    assert has_lung_labels(out.structures) and not has_lung_labels(ct.structures)
    assert add_lung_labels(out) is out  # already has lungs: unchanged
    again = add_lung_labels(out, replace_existing=True)
    assert sorted(again.structures.values()) == ["heart", LUNG_LEFT, LUNG_RIGHT]


def test_gas_without_lungs_is_not_labelled_as_lung():
    """A body holding only bowel-like gas pockets (median ≈ −1000 HU) gives a typed error, not fake lungs."""
    ct, _ = _chest_phantom()
    hu = ct.hu.clone()
    hu[hu < -500] = 40.0
    x = torch.arange(hu.shape[0])[:, None, None]
    gas = ((x - 55) ** 2 + (torch.arange(hu.shape[1])[None, :, None] - 45) ** 2 <= 30 ** 2) & (
        torch.arange(hu.shape[2])[None, None, :] < 60)
    hu[gas] = -1000.0
    with pytest.raises(SegmentationUnavailableError, match="no lung found"):
        segment_lungs(CTVolume(hu=hu, spacing=ct.spacing, origin=ct.origin, direction=ct.direction, name="gas"))


def test_default_ct_matches_totalsegmentator_lobes():
    """Embedded default CT, downsampled 2× (1.4 × 1.4 × 5 mm): Dice ≥ 0.95 per side against the union of
    TotalSegmentator's lobes of that side (measured: 0.975 left, 0.977 right), left is left."""
    from xraylab.io.ct import load_default_ct
    from xraylab.io.structures import STRUCTURE_GROUPS

    ct = load_default_ct(downsample=2)
    lab = ct.labels.numpy()
    by = {v: k for k, v in ct.structures.items()}
    seg = segment_lungs(ct)
    ts = {side: np.isin(lab, [by[n] for n in STRUCTURE_GROUPS[f"{side}_lung"] if n in by])
          for side in ("left", "right")}
    assert _dice(seg.left, ts["left"]) >= 0.95
    assert _dice(seg.right, ts["right"]) >= 0.95
    assert _dice(seg.left, ts["right"]) < 0.01
    trachea = lab == by["trachea"]
    assert ((seg.left | seg.right) & trachea).sum() < 0.05 * trachea.sum()


@pytest.mark.shared_data
def test_chest_contrast_ct_gets_lungs_beside_its_heart(shared_data):
    """The shared contrast chest CT has only a heart label: the lungs come out on the right sides, each 1–3.5 L,
    not overlapping the heart, the left lung smaller (the heart takes room on the left)."""
    from xraylab.io.ct import load_ct

    d = shared_data / "ct" / "chest_contrast"
    ct = load_ct(d / "ct.nii.gz", d / "heart.nii.gz")
    out = add_lung_labels(ct)
    lab = out.labels.numpy()
    ids = {v: k for k, v in out.structures.items()}
    left, right, heart = lab == ids[LUNG_LEFT], lab == ids[LUNG_RIGHT], lab == ids["heart"]
    ml = np.prod(ct.spacing) / 1000.0
    assert 1000 < left.sum() * ml < 3500 and 1000 < right.sum() * ml < 3500
    assert left.sum() < right.sum()
    assert (heart.sum() == (ct.labels.numpy() == 1).sum())
    x_mm = lambda m: float((ct.affine.numpy() @ np.r_[np.argwhere(m).mean(0), 1.0])[0])  # noqa: E731
    assert x_mm(left) > x_mm(heart) > x_mm(right)  # LPS: +x is the patient's left; the heart is left of centre
    assert out.meta["lung_threshold_info"]["airway_ml"] > 10.0
