"""The suite contract, run for every entry of :data:`xraylab.evaluate.suites.SUITES`.

A newly registered suite is tested here without editing a list: its module loads and has ``NAME``,
``run(ctx, cfg)`` and ``report(rows, cfg, fig_dir)``; the evaluate spec has a section of the same name
typed with the suite's config; the spec checks, the runner order, the pipeline step and the CLI help
take their names from the registry.
"""

from __future__ import annotations

import inspect
import typing

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from xraylab.errors import ConfigError
from xraylab.evaluate.spec import DatasetRef, EvaluateSpec, parse_spec
from xraylab.evaluate.suites import SUITES, Suite


def _section_type(name: str) -> type:
    """The config class of spec section ``name`` (``X | None`` -> ``X``)."""
    field = EvaluateSpec.model_fields[name]
    args = [a for a in typing.get_args(field.annotation) if a is not type(None)]
    assert len(args) == 1, f"spec section {name!r} should be `Config | None`, is {field.annotation}"
    assert field.default is None, f"spec section {name!r} should be optional"
    return args[0]


@pytest.mark.parametrize("name", SUITES.names())
def test_every_suite_module_has_the_suite_interface(name):
    entry = SUITES.get(name)
    assert isinstance(entry, Suite) and entry.summary
    mod = entry.load()
    assert mod.NAME == name
    assert list(inspect.signature(mod.run).parameters) == ["ctx", "cfg"]
    report_params = list(inspect.signature(mod.report).parameters)
    assert len(report_params) == 3 and report_params[1:] == ["cfg", "fig_dir"]
    cfg_type = typing.get_type_hints(mod.run)["cfg"]
    assert cfg_type is _section_type(name) and issubclass(cfg_type, DatasetRef)
    assert typing.get_type_hints(mod.report)["cfg"] is cfg_type


def test_spec_sections_are_exactly_the_registered_suites():
    sections = [
        n for n, f in EvaluateSpec.model_fields.items()
        if any(isinstance(a, type) and issubclass(a, DatasetRef) for a in typing.get_args(f.annotation))
    ]
    assert sections == SUITES.names()


@pytest.mark.parametrize("name", SUITES.names())
def test_each_suite_alone_makes_a_valid_spec(name, tmp_path):
    spec = parse_spec({"output": "o", "models": [{"name": "m", "path": "x"}], name: {"dataset": "d"}}, base=tmp_path)
    assert getattr(spec, name).dataset == str((tmp_path / "d").resolve())
    assert [n for n in SUITES.names() if getattr(spec, n) is not None] == [name]


def test_a_spec_without_suites_lists_every_registered_one():
    with pytest.raises(ConfigError, match="no suite") as exc:
        parse_spec({"output": "o", "models": [{"name": "m", "path": "x"}]})
    assert all(n in str(exc.value) for n in SUITES.names())


def test_unknown_suite_is_a_config_error_listing_the_names():
    with pytest.raises(ConfigError, match="unknown evaluation suite 'nope'") as exc:
        SUITES.get("nope")
    assert all(n in str(exc.value) for n in SUITES.names())


def test_pipeline_evaluate_step_takes_suite_names_from_the_registry():
    from xraylab.pipeline import EvaluateStep

    step = EvaluateStep(spec="e.yaml", datasets={n: f"data/{n}" for n in SUITES.names()})
    assert list(step.datasets) == SUITES.names()
    with pytest.raises(ValidationError, match="unknown suite"):
        EvaluateStep(spec="e.yaml", datasets={"nope": "data"})


def test_cli_help_lists_every_registered_suite():
    from xraylab.cli import app

    result = CliRunner().invoke(app, ["evaluate", "--help"], terminal_width=200)
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    assert all(n in text for n in SUITES.names())
