"""Lung annotation conventions (``io.structures.LUNG_CONVENTIONS``) on a phantom where the answer is known.

Phantom (LPS, 2 mm voxels): two lung blocks; below the "dome" (z < −6 mm) the lungs continue only in a posterior
recess, behind an anterior liver block; a heart block sits anterior between and over the inner edges of the lungs.
A PA ray below the dome crosses lung and liver: the projected 3D lung covers it, the radiographic lung field does
not. The SCR lung field also leaves out the rays through the heart.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from xraylab.errors import StructureError
from xraylab.io.ct import CTVolume
from xraylab.io.structures import (
    LUNG_CONVENTIONS,
    convention_structure,
    describe_structure,
    exclusion_ids,
    lung_convention_of,
)
from xraylab.physics.geometry import Geometry
from xraylab.physics.projector import Projector

TABLE = {1: "lung_right", 2: "lung_left", 3: "liver", 4: "heart"}
SP = 2.0
N = (60, 40, 70)  # I (x, left), J (y, posterior), K (z, superior)


def _phantom(table=TABLE) -> CTVolume:
    x, y, z = np.meshgrid(*[(np.arange(n) - (n - 1) / 2) * SP for n in N], indexing="ij")
    hu = np.full(N, -1000.0, np.float32)
    lab = np.zeros(N, np.int16)
    body = (np.abs(x) < 56) & (np.abs(y) < 36) & (np.abs(z) < 66)
    hu[body] = 40.0
    lung_xz = (np.abs(x) > 8) & (np.abs(x) < 50) & (z > -50) & (z < 60)
    lung = lung_xz & (np.abs(y) < 30) & ((z > -6) | (y > 10))  # below the dome: posterior recess only
    liver = (np.abs(x) < 54) & (y > -30) & (y <= 10) & (z > -60) & (z <= -6)
    heart = (x > -20) & (x < 26) & (y > -30) & (y < 0) & (z > 4) & (z < 36)
    hu[lung] = -850.0
    lab[lung & (x < 0)] = 1
    lab[lung & (x > 0)] = 2
    lab[liver] = 3
    hu[heart] = 40.0
    lab[heart] = 4
    origin = tuple(-(n - 1) / 2 * SP for n in N)
    return CTVolume(hu=torch.from_numpy(hu), spacing=(SP, SP, SP), origin=origin, direction=np.eye(3),
                    labels=torch.from_numpy(lab), structures=dict(table), name="phantom")


def _project(ct: CTVolume, names: list[str]) -> dict[str, np.ndarray]:
    g = Geometry(sid_mm=1000.0, sod_mm=800.0, rows=100, cols=100, pitch_mm=2.0)
    proj = Projector(ct, structures=names, renderer="siddon").project(g)
    return {k: v[0, 0].numpy() for k, v in proj.masks().items()}


def test_lung_field_leaves_out_the_recess_behind_the_abdomen_and_scr_the_heart():
    names = ["lungs", "lung_field", "lung_field_scr", "left_lung", "left_lung_field", "right_lung_field",
             "right_lung_field_scr", "heart"]
    ct = _phantom()
    m = _project(ct, names + ["liver"])
    lungs, field, scr, liver, heart = m["lungs"], m["lung_field"], m["lung_field_scr"], m["liver"], m["heart"]
    # The field is exactly the projected lung less the rays through the liver; SCR also less the heart's rays.
    assert np.array_equal(field, lungs & ~liver)
    assert np.array_equal(scr, lungs & ~liver & ~heart)
    # The recess is a real part of the projected lung that the field drops (rows below the dome).
    rows = np.nonzero(lungs.any(1))[0]
    field_rows = np.nonzero(field.any(1))[0]
    liver_top = np.nonzero(liver.any(1))[0].min()
    assert rows.max() > field_rows.max() + 10
    assert field_rows.max() == liver_top - 1  # the field ends where the abdomen's shadow begins: the dome
    assert (lungs & liver).sum() > 0.2 * lungs.sum()
    assert (field & heart).sum() > 0 and (scr & heart).sum() == 0
    # Left and right fields split the whole field (patient's left on the image's right).
    assert np.array_equal(m["left_lung_field"] | m["right_lung_field"], field)
    assert not (m["left_lung_field"] & m["right_lung_field"]).any()
    assert np.nonzero(m["left_lung_field"].any(0))[0].min() > np.nonzero(m["right_lung_field"].any(0))[0].max()
    assert np.array_equal(m["right_lung_field_scr"], m["right_lung_field"] & ~heart)


def test_lung_field_needs_the_organs_below_the_diaphragm():
    ct = _phantom({1: "lung_right", 2: "lung_left", 4: "heart"})  # no liver in the table
    with pytest.raises(StructureError, match="organs below the diaphragm"):
        Projector(ct, structures=["lung_field"])
    assert exclusion_ids("lungs", ct.structures) == {}


def test_convention_names_and_definitions():
    assert convention_structure("left_lung", "field") == "left_lung_field"
    assert convention_structure("lungs", "scr") == "lung_field_scr"
    assert convention_structure("heart", "scr") == "heart"
    assert convention_structure("lungs", "projected") == "lungs"
    with pytest.raises(StructureError, match="choose one of projected, field, scr"):
        convention_structure("lungs", "radiologist")
    assert {lung_convention_of(n) for t in LUNG_CONVENTIONS.values() for n in t.values()} == set(LUNG_CONVENTIONS)
    assert lung_convention_of("heart") is None
    assert "ending at the visible diaphragm" in describe_structure("left_lung", "field")
    assert "without the cardiomediastinal silhouette" in describe_structure("lungs", "scr")
    assert "liver" not in describe_structure("lungs")
