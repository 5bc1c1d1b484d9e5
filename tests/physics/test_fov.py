"""Field of view (issue 12, item 4): no image row whose rays leave the CT through its top or bottom face."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from xraylab.io.ct import CTVolume, load_default_ct
from xraylab.physics.collimation import collimation_field
from xraylab.physics.fov import auto_collimation, auto_field_rows, field_box, valid_rays
from xraylab.physics.geometry import Geometry
from xraylab.physics.presets import preset_names, resolve_preset
from xraylab.render import detector_geometry


def _box_ct(shape=(40, 40, 20), spacing=(5.0, 5.0, 10.0)) -> CTVolume:
    return CTVolume(hu=torch.zeros(shape), spacing=spacing, origin=(0.0, 0.0, 0.0), direction=np.eye(3))


def test_valid_rays_of_a_box():
    ct = _box_ct()  # 200 mm along S–I, centred on the isocenter
    g = Geometry(sid_mm=1800, sod_mm=1650, rows=100, cols=50, pitch_mm=4.0)
    v = valid_rays(ct, g)
    rows = auto_field_rows(v)
    assert rows is not None
    # The box spans ±100 mm along S–I and A–P. A diverging ray still crosses the whole box when it is within
    # z = ±100 mm where it leaves the box's detector-side face, SOD + 100 mm from the source: v = 100·SID/(SOD + 100).
    half = 100.0 * 1800 / (1650 + 100)
    r0, r1 = rows
    assert (r1 - r0) * 4.0 == pytest.approx(2 * half, abs=2 * 4.0)
    assert not v[0].any() and not v[-1].any() and v[50].all()
    # A ray beside the box (lateral) is valid: nothing of the body is missing along it.
    wide = Geometry(sid_mm=1800, sod_mm=1650, rows=100, cols=200, pitch_mm=4.0)
    vw = valid_rays(ct, wide)
    assert vw[0, 0] and not vw[0, 100]


def test_tilt_shrinks_the_valid_rows():
    ct = _box_ct()
    g = Geometry(sid_mm=1800, sod_mm=1650, rows=100, cols=50, pitch_mm=4.0)
    flat = auto_field_rows(valid_rays(ct, g))
    tilted = auto_field_rows(valid_rays(ct, g.model_copy(update={"tilt_deg": 20.0})))
    assert flat is not None and tilted is not None
    assert tilted[1] - tilted[0] < flat[1] - flat[0]


@pytest.fixture(scope="module")
def default_ct():
    return load_default_ct()


@pytest.mark.parametrize("preset", preset_names())
@pytest.mark.parametrize("pose", [{}, {"rotation_deg": 20.0}, {"rotation_deg": -20.0}, {"tilt_deg": 5.0}])
def test_no_image_row_leaves_through_top_or_bottom(default_ct, preset, pose):
    geom, physics = resolve_preset(preset, geometry={"rows": 128, "cols": 128, **pose})
    assert physics.collimation.field == "auto" and physics.collimation.enabled
    valid = valid_rays(default_ct, geom)
    assert not bool(valid.all()), "the default CT is shorter than the detector: some rows must be invalid"
    det = detector_geometry(geom)
    coll, info = auto_collimation(physics.collimation, det, valid, physics.focal_spot)
    field = collimation_field(coll, det, focal_spot=physics.focal_spot)[0, 0]
    bad_rows = ~valid.all(dim=1)
    assert float(field[bad_rows].max()) < 0.02  # no primary on any row with a ray through the top/bottom face
    assert info["clipped"] and info["field"] == "auto"
    box = field_box(field)
    assert box is not None and bool(valid[box[0]:box[1]].all())
    assert (box[1] - box[0]) > 0.6 * geom.rows  # the field is restricted, not closed


def test_render_view_layers_and_record(default_ct):
    from xraylab.physics.projector import Projector
    from xraylab.render import render_view, view_arrays

    ct = default_ct.downsample(4)
    geom, physics = resolve_preset("chest_pa", geometry={"rows": 64, "cols": 64})
    r = render_view(Projector(ct, structures=["lungs"], renderer="trilinear", n_points=96), geom, physics)
    valid = r.layers["valid"][0, 0] > 0.5
    bad_rows = ~valid.all(dim=1)
    assert bad_rows.any()
    assert float(r.layers["primary"][0, 0][bad_rows].max()) < 0.02
    assert r.field["clipped"] and len(r.field["valid_rows"]) == 2
    fp = r.layers["for_processing"][0, 0]
    assert torch.allclose(fp, -torch.log(r.layers["normalized"][0, 0].clamp_min(1e-6)))
    arrays = view_arrays(r, (64, 64), crop_to_field=True)
    assert arrays.for_processing is not None and arrays.for_processing.shape == (64, 64)
    assert {"for_processing", "valid", "field"} <= set(arrays.layers)


def test_extend_fills_beyond_the_ct_with_soft_tissue_of_the_edge_thickness():
    from xraylab.physics.fov import extend_beyond_ct

    h, w = 20, 12
    valid = torch.zeros(h, w, dtype=torch.bool)
    valid[5:15] = True
    mats = {"air": torch.full((1, 1, h, w), 0.01), "soft_tissue": torch.full((1, 1, h, w), 3.0),
            "bone": torch.full((1, 1, h, w), 1.5), "lung": torch.full((1, 1, h, w), 0.5)}
    info = extend_beyond_ct(mats, valid)
    assert info == {"extended_pixels": 10 * w}
    out = ~valid
    assert torch.allclose(mats["soft_tissue"][0, 0][out], torch.tensor(5.0))  # 3 + 1.5 + 0.5 g/cm²
    assert float(mats["bone"][0, 0][out].abs().max()) == 0 and float(mats["lung"][0, 0][out].abs().max()) == 0
    assert torch.all(mats["air"][0, 0] == 0.01) and torch.all(mats["bone"][0, 0][valid] == 1.5)  # inside untouched


def test_extend_frames_show_body_where_auto_closes_the_blades():
    from xraylab.io.ct import load_default_ct
    from xraylab.physics.presets import resolve_preset
    from xraylab.render import build_scene

    scene = build_scene(load_default_ct(4))
    out = {}
    for field in ("auto", "extend"):
        g, phys = resolve_preset("chest_pa", [f"collimation.field={field}"], {"rows": 64, "cols": 64})
        out[field] = scene.render(g, phys, seed=0)
    valid = out["auto"].layers["valid"][0, 0] > 0.5
    assert torch.equal(valid, out["extend"].layers["valid"][0, 0] > 0.5) and not bool(valid.all())
    assert float(out["extend"].layers["field"].min()) > 0.99  # no unexposed band
    assert float(out["auto"].layers["field"][0, 0][~valid].max()) < 0.5
    fp = out["extend"].layers["for_processing"][0, 0]
    body = (out["auto"].layers["for_processing"][0, 0][valid]).median()
    assert float(fp[~valid].median()) > 0.5 * float(body)  # attenuating body beyond the CT, not an empty band
    assert out["extend"].field["field"] == "extend" and out["extend"].field["extended_pixels"] == int((~valid).sum())
