"""Expand a spec's sweep into per-CT variants and resolve each variant's geometry and physics.

A *variant* is one combination of swept parameter values (``{"geometry.rotation_deg": -20, ...}``). Grid sweeps
take the cross product of the lists (in spec order, last parameter fastest); one-factor sweeps change one
parameter at a time around the base configuration; random sweeps draw ``samples`` values per grid point from a
generator seeded by ``(seed, subject, point, sample)``, so every item's draw is fixed by the spec alone,
whatever the sharding or executor.
"""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from xraylab.data.spec import GenerateSpec, ParamSpec, SweepSpec
from xraylab.errors import ConfigError
from xraylab.seeding import stable_int


@dataclass(frozen=True)
class Variant:
    """One sweep point for one CT."""

    index: int
    params: dict[str, Any]
    factor: str = ""  # one-factor sweeps: the parameter varied ("baseline" for the base configuration)
    point: int = 0  # grid / one-factor point index
    sample: int = 0  # random draw (or repeat) index


def split_param(name: str) -> tuple[str, str]:
    """``geometry.rotation_deg`` → (``geometry``, ``rotation_deg``); ``physics.spectrum.kvp`` → (``physics``, ...)."""
    from xraylab.physics.geometry import Geometry

    head, _, rest = name.partition(".")
    if head == "geometry" and rest:
        if rest not in Geometry.model_fields:
            raise ValueError(f"unknown geometry parameter {rest!r}; choose one of {', '.join(Geometry.model_fields)}")
        return "geometry", rest
    if head == "physics" and rest:
        return "physics", rest
    raise ValueError(f"parameter {name!r} must start with 'geometry.' (e.g. geometry.rotation_deg) or 'physics.' "
                     "(e.g. physics.spectrum.kvp)")


def _draw(p: ParamSpec, rng: np.random.Generator) -> Any:
    k = p.kind
    if k == "uniform":
        v = rng.uniform(*p.uniform)  # type: ignore[misc]
    elif k == "loguniform":
        lo, hi = p.loguniform  # type: ignore[misc]
        v = math.exp(rng.uniform(math.log(lo), math.log(hi)))
    elif k == "normal":
        v = rng.normal(*p.normal)  # type: ignore[misc]
    elif k == "randint":
        lo, hi = p.randint  # type: ignore[misc]
        v = int(rng.integers(lo, hi + 1))
    else:  # values / range / choice: uniform choice
        vals = p.grid_values()
        return vals[int(rng.integers(len(vals)))]
    if p.clip is not None and not isinstance(v, int):
        v = min(max(v, p.clip[0]), p.clip[1])
    return v if isinstance(v, int) else round(float(v), 6)


def _points(sweep: SweepSpec) -> list[tuple[dict[str, Any], str]]:
    """Grid / one-factor points as (params, factor)."""
    if sweep.grid:
        names = list(sweep.grid)
        lists = [sweep.grid[n].grid_values() for n in names]
        return [(dict(zip(names, combo)), "") for combo in itertools.product(*lists)]
    if sweep.one_factor:
        pts: list[tuple[dict[str, Any], str]] = [({}, "baseline")] if sweep.baseline else []
        for name, p in sweep.one_factor.items():
            pts += [({name: v}, name) for v in p.grid_values()]
        return pts
    return [({}, "")]


def expand_variants(sweep: SweepSpec, seed: int, subject: str) -> list[Variant]:
    """All variants of one CT (subject), in a fixed order."""
    out: list[Variant] = []
    n_samples = sweep.samples or 1
    subj = stable_int(subject)
    for pi, (params, factor) in enumerate(_points(sweep)):
        for si in range(n_samples):
            p = dict(params)
            if sweep.random:
                rng = np.random.default_rng([int(seed), subj, pi, si])
                for name, dist in sweep.random.items():
                    p[name] = _draw(dist, rng)
            out.append(Variant(index=len(out), params=p, factor=factor, point=pi, sample=si))
    return out


def check_parameter_names(spec: GenerateSpec, source: str) -> None:
    """Raise ``ConfigError`` for a sweep parameter that is neither ``geometry.<field>`` nor ``physics.<path>``."""
    for section in ("grid", "one_factor", "random"):
        for name in getattr(spec.sweep, section):
            try:
                split_param(name)
            except ValueError as exc:
                raise ConfigError(f"{source}: sweep.{section}.{name}: {exc}") from None
    from xraylab.physics.geometry import Geometry

    for name in spec.geometry:
        if name not in Geometry.model_fields:
            raise ConfigError(f"{source}: geometry.{name}: unknown geometry field; choose one of "
                              f"{', '.join(Geometry.model_fields)}")


# --------------------------------------------------------------------------- resolution
@dataclass
class Resolver:
    """Builds (and caches) the Geometry and PhysicsConfig of variants; errors name the spec and the field."""

    spec: GenerateSpec
    source: str
    _phys_cache: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        from xraylab.physics.presets import PRESETS

        try:
            PRESETS.get(self.spec.preset)
        except ConfigError as exc:
            raise ConfigError(f"{self.source}: preset: {exc}") from None

    def geometry(self, params: dict[str, Any]):
        from xraylab.physics.presets import resolve_geometry

        fields = dict(self.spec.geometry)
        fields.update({split_param(k)[1]: v for k, v in params.items() if k.startswith("geometry.")})
        try:
            return resolve_geometry(self.spec.preset, self.spec.geometry_preset, **fields)
        except ConfigError as exc:
            swept = {k: v for k, v in params.items() if k.startswith("geometry.")}
            where = f" (sweep values {swept})" if swept else ""
            raise ConfigError(f"{self.source}: {exc}{where}") from None

    def physics(self, params: dict[str, Any]):
        """The physics config of one variant: preset + the spec's ``physics`` + swept values, as typed pairs."""
        from xraylab.physics.presets import resolve_physics

        over = dict(self.spec.physics)
        over.update({split_param(k)[1]: v for k, v in params.items() if k.startswith("physics.")})
        key = json.dumps(over, sort_keys=True, default=str)
        if key not in self._phys_cache:
            try:
                self._phys_cache[key] = resolve_physics(self.spec.preset, list(over.items()))
            except ConfigError as exc:
                swept = {k: v for k, v in params.items() if k.startswith("physics.")}
                where = f"sweep values {swept}" if swept else "physics"
                raise ConfigError(f"{self.source}: {where}: {exc}") from None
        return self._phys_cache[key]


def flatten(d: Any, prefix: str) -> dict[str, Any]:
    """Flatten a model dump to ``prefix.a.b`` scalar columns; tuples of scalars become ``.0``, ``.1``;
    lists of mappings (e.g. filtration layers) become one JSON string; ``None`` sections stay ``None``."""
    out: dict[str, Any] = {}
    if isinstance(d, dict):
        for k, v in d.items():
            out.update(flatten(v, f"{prefix}.{k}"))
    elif isinstance(d, (list, tuple)):
        if all(not isinstance(x, (dict, list, tuple)) for x in d) and len(d) <= 4:
            for i, x in enumerate(d):
                out[f"{prefix}.{i}"] = x
        else:
            out[prefix] = json.dumps(d, sort_keys=True)
    else:
        out[prefix] = d
    return out


def physics_columns(cfg) -> dict[str, Any]:
    """Every physics parameter as its own ``physics.<path>`` column; an absent grid/scatter is ``.enabled = False``."""
    dump = cfg.model_dump(mode="json")
    for sec in ("grid", "scatter"):
        if dump.get(sec) is None:
            dump[sec] = {"enabled": False}
    return flatten(dump, "physics")


def geometry_columns(geom) -> dict[str, Any]:
    """Every geometry parameter as its own ``geometry.<field>`` column."""
    dump = geom.model_dump(mode="json")
    if dump.get("isocenter_mm") is None:
        dump["isocenter_mm"] = [None, None, None]
    return flatten(dump, "geometry")
