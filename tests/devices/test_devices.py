"""Medical devices (xraylab.devices): exact attenuation, pixel-area sampling, placement by anatomy, datasets."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from xraylab.devices import KINDS, Anatomy, Device, DevicesSpec, Ellipsoid, Tube, draw_devices, place, trace_devices
from xraylab.physics.attenuation import mass_attenuation
from xraylab.physics.geometry import preset_geometry

ISO = torch.zeros(3, dtype=torch.float64)


def _geom(n: int = 9, pitch: float = 1.0):
    return preset_geometry("chest_pa", rows=n, cols=n, pitch_mm=pitch)


@pytest.mark.parametrize("material,rho", [("Cu", 8.96), ("stainless_steel", 8.0), ("titanium", 4.506)])
def test_wire_attenuation_is_mu_times_path(material, rho):
    """The central ray crosses a wire through the isocenter at right angles: chord 2r; its primary attenuation is
    the material's μ/ρ × ρ × 2r (monoenergetic, 60 keV) within 1 %."""
    from xraylab.devices.shapes import mass_thickness, path_lengths
    from xraylab.physics.primary import primary_fluence

    r = 0.8
    wire = [Tube(((-30.0, 0.0, 0.0), (30.0, 0.0, 0.0)), r, material, rho)]
    src, pix = _geom().rays_ct(ISO)
    central = pix[40:41]  # 9 × 9 detector: pixel (4, 4) is on the central ray
    assert float(path_lengths(wire, src, central)[material][0]) == pytest.approx(2 * r, rel=1e-9)
    mt = mass_thickness(wire, src, central)[material]
    assert float(mt[0]) == pytest.approx(rho * 2 * r / 10, rel=1e-9)
    e = torch.tensor([60.0])
    prim = primary_fluence(torch.ones(1, 1, 1, 1), {material: mt.view(1, 1, 1, 1).float()}, e)
    expected = float(mass_attenuation(material, [60.0])[0]) * rho * 2 * r / 10
    assert -math.log(float(prim)) == pytest.approx(expected, rel=0.01)


def test_tube_lumen_and_ellipsoid_shell_chords():
    from xraylab.devices.shapes import path_lengths

    g = _geom()
    src, pix = g.rays_ct(ISO)
    central = pix[40:41]
    axis = int(np.argmax(np.abs((central[0] - src).numpy())))  # the CT axis the central ray runs along
    tube = [Tube(((-20.0, 0.0, 0.0), (20.0, 0.0, 0.0)), 5.0, "pvc", 1.38, lumen_mm=3.75)]
    assert float(path_lengths(tube, src, central)["pvc"][0]) == pytest.approx(2 * (5.0 - 3.75), rel=1e-9)
    semi = [6.0, 6.0, 6.0]
    semi[axis] = 4.0
    shell = [Ellipsoid((0.0, 0.0, 0.0), (semi[0], semi[1], semi[2]), "titanium", 4.5, shell_mm=0.5)]
    assert float(path_lengths(shell, src, central)["titanium"][0]) == pytest.approx(2 * 4.0 - 2 * 3.5, rel=1e-9)


@pytest.mark.parametrize("r", [0.15, 0.25, 0.35, 0.8])
@pytest.mark.parametrize("z", [0.0, 0.013, 0.031, 1.0])
def test_thin_wire_keeps_its_volume_on_the_detector(r, z):
    """∫ chord dA over the detector = wire volume × magnification²: within 3 % wherever the wire falls between
    sub-rays, although a 0.3 mm wire is five times thinner than a pixel at the patient (one ray per pixel misses it
    or doubles it: checked below)."""
    g = _geom(n=64, pitch=1.6)
    half = 20.0
    wire = Device("w", [Tube(((-half, 0.0, z), (half, 0.0, z)), r, "Cu", 8.96)])
    _, p = trace_devices([wire], g, ISO)
    m = g.sid_mm / g.sod_mm
    integral = float(p["w"].sum()) * g.pitch_mm**2
    assert integral == pytest.approx(math.pi * r * r * 2 * half * m * m, rel=0.03)


def test_one_ray_per_pixel_would_miss_a_thin_wire():
    from xraylab.devices.shapes import path_lengths

    g = _geom(n=64, pitch=1.6)
    src, pix = g.rays_ct(ISO)
    wire = [Tube(((-20.0, 0.0, 0.0), (20.0, 0.0, 0.0)), 0.15, "Cu", 8.96)]  # between two pixel rows
    assert float(path_lengths(wire, src, pix)["Cu"].sum()) == 0.0


@pytest.fixture(scope="module")
def anatomy():
    from xraylab.io.ct import load_default_ct

    return Anatomy(load_default_ct(2))


def test_correct_tips_land_in_their_structures(anatomy):
    devs = {d.kind: d for d in place(anatomy, list(KINDS), seed=5)}
    assert set(devs) == set(KINDS)
    for kind in ("ett", "ngt", "cvc", "pacemaker"):
        d = devs[kind]
        assert d.params["status"] == "correct"
        assert anatomy.contains(d.params["tip_structure"], np.asarray(d.params["tip_mm"]), tol_mm=2.0), kind
    assert devs["ngt"].params["tip_structure"] == "stomach"
    assert devs["cvc"].params["tip_structure"] == "superior_vena_cava"
    assert 30.0 <= devs["ett"].params["tip_above_carina_mm"] <= 70.0
    # ECG snaps sit in front of the skin: air at the stud, body 6 mm behind it (+y is posterior)
    studs = [p for p in devs["ecg"].parts if isinstance(p, Ellipsoid)]
    assert len(studs) >= 3
    for s in studs:
        assert anatomy.hu_at(np.asarray(s.centre)) < -300 < anatomy.hu_at(np.asarray(s.centre) + [0, 6.0, 0])
    # sternal wires loop around the sternum: each loop's centre lies on the sternum
    for loop in devs["sternal_wires"].parts:
        assert anatomy.contains("sternum", np.asarray(loop.points)[:-1].mean(0), tol_mm=5.0)


def test_misplacements_are_where_the_rule_says(anatomy):
    seen = {}
    for seed in range(12):
        for d in place(anatomy, ["ett", "ngt", "cvc"], seed=seed, misplaced=True):
            seen.setdefault((d.kind, d.params["status"]), d)
    high = seen[("ett", "high")]
    assert 80.0 <= high.params["tip_above_carina_mm"] <= 110.0
    bron = seen[("ett", "right_bronchus")]
    carina = anatomy.centreline("trachea")[-1]
    tip = np.asarray(bron.params["tip_mm"])
    assert tip[2] < carina[2] and tip[0] < carina[0]  # below the carina, towards the patient's right (−x)
    for key, structure in ((("ngt", "esophagus"), "esophagus"), (("cvc", "contralateral"), "brachiocephalic_vein_left"),
                           (("cvc", "right_atrium"), "heart")):
        d = seen[key]
        assert anatomy.contains(structure, np.asarray(d.params["tip_mm"]), tol_mm=4.0), key


def test_draws_are_seeded_and_follow_probabilities(anatomy):
    spec = DevicesSpec(probability={"ett": 1.0, "cvc": 0.0, "sternal_wires": 1.0}, misplaced=0.0)
    a = draw_devices(anatomy, spec, np.random.default_rng(3))
    b = draw_devices(anatomy, spec, np.random.default_rng(3))
    assert [d.kind for d in a] == ["ett", "sternal_wires"]
    assert [d.params for d in a] == [d.params for d in b]
    assert spec.kinds == ["ett", "cvc", "sternal_wires"]


def test_bad_devices_spec_is_one_line():
    from xraylab.data.spec import parse_spec
    from xraylab.errors import ConfigError

    raw = {"name": "x", "cts": ["default"], "sweep": {"samples": 1}, "devices": {"probability": {"chest_tube": 1}}}
    with pytest.raises(ConfigError, match="unknown device kind 'chest_tube'"):
        parse_spec(raw, "spec.yaml")


@pytest.mark.slow
def test_generate_writes_device_masks_and_columns(tmp_path):
    import pandas as pd
    import yaml

    from xraylab.data.generate import generate
    from xraylab.io.images import read_mask

    spec = {"name": "dev", "seed": 1, "cts": ["default"], "structures": ["lungs"], "preset": "chest_pa",
            "geometry": {"rows": 96, "cols": 96}, "sweep": {"samples": 2},
            "render": {"renderer": "trilinear", "n_points": 128, "downsample": 4},
            "output": {"size": 96}, "split": {"train": 1.0, "val": 0.0, "test": 0.0},
            "devices": {"probability": {"ett": 1.0, "pacemaker": 1.0, "ngt": 0.0}, "misplaced": 0.0}}
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    generate(path, tmp_path / "out", progress=False)
    m = pd.read_parquet(tmp_path / "out" / "manifest.parquet")
    assert list(m["device:ett"]) == ["correct", "correct"] and m["device:ngt"].isna().all()
    for _, row in m.iterrows():
        assert read_mask(tmp_path / "out" / row["mask:ett"]).sum() > 20
        assert read_mask(tmp_path / "out" / row["mask:pacemaker"]).sum() > 20
        assert not read_mask(tmp_path / "out" / row["mask:ngt"]).any()  # a kind the view did not draw: empty
        kinds = [d["kind"] for d in json.loads(row["devices"])]
        assert kinds == ["ett", "pacemaker"]
        assert row["esak_ugy"] > 0 and row["dap_gy_cm2"] > 0


def test_a_kind_whose_anchor_is_missing_is_left_out(anatomy):
    import dataclasses

    ct = anatomy.ct
    tid = next(i for i, n in ct.structures.items() if n == "trachea")
    no_trachea = dataclasses.replace(ct, labels=torch.where(ct.labels == tid, torch.zeros_like(ct.labels), ct.labels))
    spec = DevicesSpec(probability={"ett": 1.0, "sternal_wires": 1.0}, misplaced=0.0)
    kinds = [d.kind for d in draw_devices(Anatomy(no_trachea), spec, np.random.default_rng(0))]
    assert kinds == ["sternal_wires"]
