"""The shared name registry (xraylab.registry) and the preset family on it."""

from __future__ import annotations

import pytest

from xraylab.errors import ConfigError
from xraylab.registry import Registry


def test_register_get_create_names_and_unknown_name_lists_choices():
    reg: Registry = Registry("widget")

    @reg.register("b")
    def make_b(x=1):
        return ("b", x)

    reg.register("a", lambda: "a")
    assert reg.names() == ["b", "a"] and "a" in reg and len(reg) == 2
    assert reg.create("b", x=3) == ("b", 3)
    with pytest.raises(ConfigError, match="unknown widget 'c'; choose one of: b, a"):
        reg.get("c")
    with pytest.raises(ValueError, match="registered twice"):
        reg.register("a", lambda: "other")


def test_builtin_modules_are_loaded_on_first_lookup():
    reg: Registry = Registry("preset", builtin_modules=("xraylab.physics.presets",))
    # The module registers into its own registry; loading it must not fail and must happen once.
    assert reg.names() == []
    from xraylab.physics.presets import PRESETS

    assert {"chest_pa", "bedside_ap", "fok2024", "ideal"} <= set(PRESETS.names())
