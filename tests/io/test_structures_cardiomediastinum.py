"""The ``cardiomediastinum`` structure group: its members in the tables used here, and its projected size."""

from __future__ import annotations

import pytest
import torch

from xraylab.errors import StructureError
from xraylab.io.ct import default_ct_paths, read_structure_table
from xraylab.io.structures import STRUCTURE_GROUPS, resolve_structure

_V2_MEMBERS = {"heart", "aorta", "pulmonary_vein", "brachiocephalic_trunk", "brachiocephalic_vein_left",
               "brachiocephalic_vein_right", "atrial_appendage_left", "superior_vena_cava", "inferior_vena_cava",
               "esophagus", "trachea"}


def test_members_in_the_default_ct_table():
    table = read_structure_table(default_ct_paths()[2])
    ids = resolve_structure("cardiomediastinum", table)
    assert {table[i] for i in ids} == _V2_MEMBERS
    assert set(resolve_structure("heart", table)) < set(ids)


@pytest.mark.shared_data
def test_members_in_the_totalsegmentator_v2_table(shared_data):
    table = read_structure_table(shared_data / "ct" / "totalsegmentator_v2_total_classes.csv")
    assert {table[i] for i in resolve_structure("cardiomediastinum", table)} == _V2_MEMBERS


def test_takes_the_members_present_and_needs_a_heart():
    assert resolve_structure("cardiomediastinum", {1: "heart", 2: "lung_left"}) == [1]
    v1 = {1: "heart_ventricle_left", 2: "heart_atrium_right", 3: "pulmonary_artery", 4: "liver"}
    assert sorted(resolve_structure("cardiomediastinum", v1)) == [1, 2, 3]
    with pytest.raises(StructureError, match="needs a heart"):
        resolve_structure("cardiomediastinum", {1: "trachea", 2: "esophagus"})
    assert "cardiomediastinum" in STRUCTURE_GROUPS


def test_projected_cardiomediastinum_is_the_radiographic_heart_shadow():
    """PA projection of the default CT (2× downsampled, chest_pa, 128 × 128 px).

    Measured (trilinear, 300 samples per ray): heart 0.173 of the lung area; cardiomediastinum (rows from the
    aortic arch to the heart's inferior border, RADIOGRAPHIC_EXTENT) 0.231 of the lung area, spanning 0.22–0.70
    of the lung height and 0.50 of its width. The annotators' "heart" (cardiomediastinum) masks of the real set in
    ../shared/data/radiographs/cxr_lungs_heart: 0.36 of the lung area, 0.22–0.91 of the lung height, 0.49 of the
    width — the same top and width, but the real silhouettes reach lower (erect, inspired patients; this CT is
    supine). Without the row limits the trachea runs up into the neck and the abdominal aorta / vena cava below
    the lungs (0.33 of the lung area, down to 1.16 of the lung height).
    """
    from xraylab.io.ct import load_default_ct
    from xraylab.physics.geometry import preset_geometry
    from xraylab.physics.projector import Projector

    ct = load_default_ct(downsample=2)
    g = preset_geometry("chest_pa", rows=128, cols=128)
    proj = Projector(ct, structures=["lungs", "heart", "cardiomediastinum", "aorta", "trachea"],
                     renderer="trilinear", n_points=300).project(g)
    masks = proj.masks()
    lungs, heart, cm, aorta, trachea = (masks[s][0, 0] for s in
                                        ("lungs", "heart", "cardiomediastinum", "aorta", "trachea"))
    n_lungs = float(lungs.sum())
    heart_ratio, cm_ratio = float(heart.sum()) / n_lungs, float(cm.sum()) / n_lungs
    assert 0.10 < heart_ratio < 0.25, heart_ratio
    assert 0.18 < cm_ratio < 0.45, cm_ratio
    assert cm_ratio > 1.2 * heart_ratio
    assert not (heart & ~cm).any()  # the heart is part of the cardiomediastinum
    rows = torch.arange(cm.shape[0])
    arch_top = int(rows[aorta.any(dim=1)].min())
    heart_bottom = int(rows[heart.any(dim=1)].max())
    assert trachea[:arch_top].any()  # the trachea runs above the arch ...
    assert not cm[:arch_top].any() and not cm[heart_bottom + 1:].any()  # ... but the silhouette stops there
    assert cm[arch_top:heart_bottom + 1].any(dim=1).float().mean() > 0.95
