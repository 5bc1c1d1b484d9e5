"""Spec validation: every bad input is one ConfigError naming the file and the field, before any work."""

from __future__ import annotations

from pathlib import Path

import pytest

from xraylab.data.generate import generate, plan_dataset
from xraylab.data.spec import load_spec, parse_spec
from xraylab.data.sweep import expand_variants
from xraylab.errors import ConfigError

from .helpers import SIMULATIONS, tiny_spec, write_spec


def _err(tmp_path: Path, spec: dict, *needles: str) -> str:
    p = write_spec(tmp_path, spec)
    out = tmp_path / "out"
    with pytest.raises(ConfigError) as exc:
        generate(p, out, progress=False)
    msg = str(exc.value)
    assert str(p) in msg, msg
    for n in needles:
        assert n in msg, msg
    assert not out.exists(), "validation must fail before the output folder is touched"
    return msg


def test_unknown_top_level_key(tmp_path):
    _err(tmp_path, tiny_spec(resolution=3), "resolution", "Extra inputs")


def test_unknown_nested_key(tmp_path):
    spec = tiny_spec(output={"size": 32, "colour": True})
    _err(tmp_path, spec, "output.colour")


def test_unknown_geometry_parameter(tmp_path):
    spec = tiny_spec(sweep={"grid": {"geometry.rotation": [0, 10]}})
    _err(tmp_path, spec, "sweep.grid.geometry.rotation", "rotation_deg")


def test_parameter_without_section_prefix(tmp_path):
    spec = tiny_spec(sweep={"grid": {"kvp": [80, 100]}})
    _err(tmp_path, spec, "sweep.grid.kvp", "physics.")


def test_unknown_physics_parameter(tmp_path):
    spec = tiny_spec(sweep={"one_factor": {"physics.spectrum.kvpp": [80]}})
    _err(tmp_path, spec, "spectrum.kvpp")


def test_physics_value_out_of_range(tmp_path):
    spec = tiny_spec(sweep={"one_factor": {"physics.spectrum.kvp": [80, 300]}})
    _err(tmp_path, spec, "spectrum.kvp", "300")


def test_geometry_value_out_of_range(tmp_path):
    spec = tiny_spec(sweep={"grid": {"geometry.rotation_deg": [0, 400]}})
    _err(tmp_path, spec, "rotation_deg", "400")


def test_random_distribution_bounds_checked(tmp_path):
    spec = tiny_spec(sweep={"random": {"physics.spectrum.kvp": {"uniform": [100, 80]}}, "samples": 2})
    _err(tmp_path, spec, "uniform", "low 100")


def test_missing_ct_path(tmp_path):
    spec = tiny_spec(cts=[{"path": "no/such/ct.nii.gz"}])
    _err(tmp_path, spec, "no/such/ct.nii.gz", "does not exist")


@pytest.mark.parametrize("sweep", [{}, {"grid": {"geometry.rotation_deg": []}},
                                   {"grid": {"geometry.rotation_deg": {"start": 10, "stop": -10, "step": 2}}}])
def test_empty_sweep(tmp_path, sweep):
    msg = _err(tmp_path, tiny_spec(sweep=sweep), "sweep")
    assert "empty" in msg


def test_structure_missing_from_label_map(tmp_path):
    spec = tiny_spec(structures=["clavicles", "kidney_of_the_moon"])
    _err(tmp_path, spec, "structures", "kidney_of_the_moon", "on_missing_structure")


def test_grid_and_one_factor_exclusive(tmp_path):
    spec = tiny_spec(sweep={"grid": {"geometry.rotation_deg": [0]}, "one_factor": {"physics.spectrum.kvp": [80]}})
    _err(tmp_path, spec, "grid", "one_factor")


def test_duplicate_subject_ids(tmp_path):
    _err(tmp_path, tiny_spec(cts=["default", "default"]), "diffdrr_cxr", "twice")


def test_unparseable_yaml(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("name: [unclosed\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="bad.yaml"):
        load_spec(p)


def test_range_expands_inclusive_and_one_factor_counts():
    spec = parse_spec(tiny_spec(sweep={"grid": {"geometry.rotation_deg": {"start": -20, "stop": 20, "step": 2}}}))
    vals = [v.params["geometry.rotation_deg"] for v in expand_variants(spec.sweep, 0, "s")]
    assert vals == list(range(-20, 21, 2)) and len(vals) == 21
    spec = parse_spec(tiny_spec(sweep={"baseline": True, "one_factor": {
        "physics.spectrum.kvp": [80, 100], "physics.grid": ["none"]}}))
    vs = expand_variants(spec.sweep, 0, "s")
    assert [v.factor for v in vs] == ["baseline", "physics.spectrum.kvp", "physics.spectrum.kvp", "physics.grid"]
    assert vs[0].params == {} and vs[3].params == {"physics.grid": "none"}


def test_grid_cross_product_and_random_draws_are_seeded_per_item():
    spec = parse_spec(tiny_spec(sweep={
        "grid": {"geometry.rotation_deg": [-10, 10], "physics.spectrum.kvp": [80, 100, 120]},
        "random": {"physics.spectrum.mas": {"loguniform": [0.5, 8]}, "geometry.tilt_deg": {"normal": [0, 5],
                   "clip": [-3, 3]}, "physics.grid.ratio": {"choice": [8, 12]}},
        "samples": 4}))
    a = expand_variants(spec.sweep, 1, "subj")
    assert len(a) == 2 * 3 * 4
    assert {(v.params["geometry.rotation_deg"], v.params["physics.spectrum.kvp"]) for v in a} == {
        (r, k) for r in (-10, 10) for k in (80, 100, 120)}
    mas = [v.params["physics.spectrum.mas"] for v in a]
    assert all(0.5 <= m <= 8 for m in mas) and len(set(mas)) == len(mas)
    assert all(-3 <= v.params["geometry.tilt_deg"] <= 3 for v in a)
    assert {v.params["physics.grid.ratio"] for v in a} <= {8, 12}
    assert [v.params for v in expand_variants(spec.sweep, 1, "subj")] == [v.params for v in a]
    assert [v.params for v in expand_variants(spec.sweep, 2, "subj")] != [v.params for v in a]
    assert [v.params for v in expand_variants(spec.sweep, 1, "other")] != [v.params for v in a]


def test_set_overrides_apply_before_validation(tmp_path):
    p = write_spec(tmp_path, tiny_spec())
    spec, _ = load_spec(p, ["geometry.rows=48", "physics.spectrum.kvp=90", "render.downsample=2"])
    assert spec.geometry["rows"] == 48 and spec.physics == {"spectrum.kvp": 90} and spec.render.downsample == 2
    with pytest.raises(ConfigError, match="render.downsampel"):
        load_spec(p, ["render.downsampel=2"])


@pytest.mark.parametrize("name", ["demo", "fok2024", "fok2024_cpu", "fok2024_center", "kvp_sweep",
                                  "kvp_sweep_ablation", "random_physics"])
def test_shipped_specs_validate_and_plan(name):
    path = SIMULATIONS / f"{name}.yaml"
    spec, spec_dir = load_spec(path)
    plan = plan_dataset(spec, spec_dir, str(path))
    assert plan.items and all(it["row"]["split"] in ("train", "val", "test") for it in plan.items)
    if name.startswith("fok2024") or name == "demo":
        geoms = {(it["geometry"]["sod_mm"], it["geometry"]["sid_mm"]) for it in plan.items}
        assert geoms == {(1500.0, 1800.0)}
        angles = [it["row"]["angle_deg"] for it in plan.items]
        assert angles == ([-2.0, 0.0, 2.0] if name == "fok2024_center" else [float(a) for a in range(-20, 21, 2)])
        assert spec.output.hw == (256, 256)
    if name == "fok2024":
        assert spec.geometry == {"rows": 1800, "cols": 1800}


def test_demo_command_reads_simulations_demo():
    from xraylab.commands import demo

    assert demo.demo_spec_path().read_bytes() == (SIMULATIONS / "demo.yaml").read_bytes()
