"""The one override grammar (xraylab.overrides) as every stage uses it."""

from __future__ import annotations

import pytest

from xraylab.data.spec import GenerateSpec, apply_spec_sets
from xraylab.errors import ConfigError
from xraylab.overrides import apply_overrides, as_overrides, deep_merge, parse_override
from xraylab.physics.config import PhysicsConfig
from xraylab.train.spec import TrainSpec


def test_values_are_parsed_once_as_yaml_and_typed_pairs_pass_through():
    assert parse_override("spectrum.kvp=90") == (["spectrum", "kvp"], 90)
    assert parse_override("grid=none") == (["grid"], "none")
    assert parse_override("a.b=[1, 2]") == (["a", "b"], [1, 2])
    assert parse_override(("spectrum.kvp", "90")) == (["spectrum", "kvp"], "90")  # typed: not re-parsed
    with pytest.raises(ConfigError, match="key.sub=value"):
        parse_override("spectrum.kvp")
    with pytest.raises(ConfigError, match="dotted field path"):
        parse_override("spectrum..kvp=1")


def test_model_checked_paths_name_the_bad_field_and_list_the_valid_ones():
    with pytest.raises(ConfigError, match=r"unknown field 'spectrum.kvpp'.*kvp"):
        apply_overrides({}, ["spectrum.kvpp=1"], model=PhysicsConfig)
    with pytest.raises(ConfigError, match="is a value, not a section"):
        apply_overrides({}, ["spectrum.kvp.x=1"], model=PhysicsConfig)


def test_switched_off_section_is_switched_on_with_its_defaults():
    data = PhysicsConfig().model_dump()
    data["grid"] = None
    out = apply_overrides(data, ["grid.ratio=8"], model=PhysicsConfig)
    cfg = PhysicsConfig.model_validate(out)
    assert cfg.grid is not None and cfg.grid.ratio == 8 and cfg.grid.lines_per_cm == PhysicsConfig().grid.lines_per_cm


def test_generate_spec_free_mappings_take_dotted_keys():
    raw = {"sweep": {"grid": {"geometry.rotation_deg": [0]}}}
    out = apply_spec_sets(raw, ["geometry.rows=24", "physics.spectrum.kvp=90",
                                "sweep.grid.geometry.rotation_deg={values: [-4, 4]}"])
    assert out["geometry"] == {"rows": 24}
    assert out["physics"] == {"spectrum.kvp": 90}
    assert out["sweep"]["grid"] == {"geometry.rotation_deg": {"values": [-4, 4]}}
    assert raw["sweep"]["grid"] == {"geometry.rotation_deg": [0]}  # the input is not modified
    with pytest.raises(ConfigError, match="unknown field 'geometri'"):
        apply_spec_sets({}, ["geometri.rows=3"])
    assert "geometry" in GenerateSpec.model_fields


def test_lists_are_indexed_and_mappings_become_overrides():
    raw = {"name": "x", "data": [{"name": "a", "path": "p"}]}
    out = apply_overrides(raw, ["data.0.path=q", "optimizer.lr=0.01"], model=TrainSpec)
    assert out["data"][0]["path"] == "q" and out["optimizer"]["lr"] == 0.01
    with pytest.raises(ConfigError, match="list of 1"):
        apply_overrides(raw, ["data.3.path=q"], model=TrainSpec)
    assert as_overrides({"optimizer": {"lr": 0.1}, "epochs": 2}) == [("optimizer.lr", 0.1), ("epochs", 2)]
    assert as_overrides(["a=1"]) == ["a=1"]


def test_deep_merge_merges_nested_and_copies():
    base = {"a": {"b": 1, "c": 2}, "d": 1}
    out = deep_merge(base, {"a": {"b": 5}, "e": {"f": 1}})
    assert out == {"a": {"b": 5, "c": 2}, "d": 1, "e": {"f": 1}}
    out["a"]["c"] = 9
    assert base["a"]["c"] == 2
