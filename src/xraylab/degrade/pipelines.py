"""Label-aware augmentation strategies for the trainer.

Every strategy is a builder registered in :data:`AUGMENTATIONS` (a :class:`~xraylab.registry.Registry`);
``make_augmentation(strategy, **options)`` calls it and returns ``aug(image, mask, generator)``:

* ``image``: float ``[B, C, H, W]`` or ``[B, C, D, H, W]`` in [0, 1] (any device);
* ``mask``: labels with the same spatial shape (any dtype, any channel count) or ``None``;
* returns ``(image, mask, records)`` where ``records[i]`` lists the operations applied to
  sample ``i`` as dicts ``{"stage", "op", "params"[, "severity"]}``.

Spatial operations move masks with nearest-neighbour sampling; intensity operations
and corruptions never touch them. Samples are processed one by one with draws from
the single ``generator``, so a seed fixes the whole batch.

Built-in strategies (``options`` in brackets; every strategy also takes ``p_clean``, the
probability that a sample is returned untouched):

=================  ==================================================================
``none``           identity
``traditional``    one of GB / GN / HB / LB at a random level (Ward & Imran baselines)
``physics``        one X-ray physics corruption of random type and level
``dermoscopy``     one dermoscopy corruption of random type and level
``medmnistc``      MedMNIST-C style: one random corruption of ``modality`` [``modality``,
                   ``pool``]
``synthetic``      for training on synthetic radiographs: random affine, elastic, RAMP's
                   intensity stage, a blur / noise / brightness baseline [``p_affine``,
                   ``p_elastic``, ``p_traditional``, ``burnt_in``: probability (default 0)
                   of burnt-in annotations at a severity ~ U[1, 4], after the spatial
                   operations, so markers and text stay upright at the image edges]
``ramp``           RAMP, Table 1 (spatial + intensity + multi-corruption sampler)
                   [any :class:`~xraylab.degrade.ramp.RampConfig` field: ``p_ramp``,
                   ``k``, ``pool``, ``exclude`` (names or families), stage probabilities]
``ramp_intensity`` RAMP's intensity-focused comparison: intensity stage only
``ramp_geometric`` RAMP's geometric comparison: flips and elastic deformation only
``ramp_artifact``  RAMP's artifact-focused comparison: with p 0.85 one or two operators
                   from ghosting, stripe, bias field, motion blur (our reading of
                   "selected artifact-like perturbations")
``ramp_corruption`` RAMP's multi-corruption sampler alone (no spatial or intensity stage):
                   the "corruption only" configuration of RAMP Table 11
``ramp_single``    RAMP's sampler with one corruption (k = 1), no spatial or intensity stage
=================  ==================================================================

The 3D trainer's strategies (:mod:`xraylab.volumes.augment`) are these RAMP strategies with the voxel spacing
(option ``spacing_mm``): one per-sample loop and one sampler, :func:`xraylab.degrade.ramp.ramp_sample`, for 2D
and 3D.

Default pools hold :func:`xraylab.degrade.registry.defaults`: the ``opt_in`` corruptions (``burnt_in``)
enter a pool only when named in ``pool``, so adding one changes no existing strategy's draws.

Single-corruption strategies draw an integer level from the corruption's levels
(``discrete=True``, the paper's datasets) or a continuous severity in
``severity_range`` (default ``(0, N)``) when ``discrete=False``; their ``p_clean``
defaults to 0.2 (one clean share next to four levels), RAMP's to 0.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Sequence, cast

import torch

from xraylab.degrade import ramp, registry, rng
from xraylab.errors import ConfigError
from xraylab.registry import Registry

Records = list[list[dict[str, Any]]]
Augmentation = Callable[[torch.Tensor, "torch.Tensor | None", torch.Generator], tuple[torch.Tensor, Any, Records]]

TRADITIONAL = ("gaussian_blur", "gaussian_noise", "high_brightness", "low_brightness")
ARTIFACT_POOL = ("ct_ghosting", "ct_stripe", "ct_bias_field", "ct_motion_blur")
#: name -> strategy builder ``(**options) -> Augmentation``; the builders are registered below.
AUGMENTATIONS: Registry[Callable[..., Augmentation]] = Registry("augmentation strategy")


def _check_range(name: str, value: float) -> float:
    if not 0.0 <= float(value) <= 1.0:
        raise ConfigError(f"augmentation option '{name}' must be a probability in [0, 1], got {value!r}")
    return float(value)


class _Batchwise:
    """Runs a per-sample function over the batch; handles ``p_clean`` and stacking."""

    def __init__(self, per_sample: Callable, p_clean: float):
        self.per_sample = per_sample
        self.p_clean = _check_range("p_clean", p_clean)

    def __call__(self, image: torch.Tensor, mask: torch.Tensor | None, generator: torch.Generator):
        if image.dim() not in (4, 5) or not image.is_floating_point():
            raise ConfigError(
                f"augmentation expects a float [B, C, H, W] or [B, C, D, H, W] image, got {tuple(image.shape)}"
            )
        if mask is not None and (mask.shape[0] != image.shape[0] or mask.shape[2:] != image.shape[2:]):
            raise ConfigError(f"mask shape {tuple(mask.shape)} does not match image shape {tuple(image.shape)}")
        outs, masks, records = [], [], []
        for i in range(image.shape[0]):
            x = image[i : i + 1]
            m = mask[i : i + 1] if mask is not None else None
            if self.p_clean > 0 and rng.bernoulli(generator, self.p_clean):
                recs: list[dict[str, Any]] = []
            else:
                x, m, recs = self.per_sample(x, m, generator)
            outs.append(x)
            masks.append(m)
            records.append(recs)
        # with a mask given, per_sample returns a mask for every sample
        out_mask = torch.cat(cast("list[torch.Tensor]", masks), 0) if mask is not None else None
        return torch.cat(outs, 0), out_mask, records


def _single_corruption(pool: Sequence[str], discrete: bool, severity_range: tuple[float, float] | None):
    pool = list(pool)
    for n in pool:
        registry.get(n)  # validate names early

    def per_sample(x, m, g):
        name = pool[rng.randint(g, 0, len(pool) - 1)]
        op = registry.get(name)
        if discrete:
            sev = float(op.levels[rng.randint(g, 0, len(op.levels) - 1)])
        else:
            lo, hi = severity_range if severity_range is not None else (0.0, float(op.n_levels))
            sev = rng.uniform(g, lo, hi)
        x, m = op.apply_with_mask(x, m, sev, g)
        return x, m, [{"stage": "corruption", "op": name, "severity": sev, "params": op.params(sev)}]

    return per_sample


def _ramp(cfg: ramp.RampConfig):
    pool = cfg.corruption_pool()
    for n in pool:
        registry.get(n)
    if cfg.p_ramp > 0 and not pool:
        raise ConfigError(f"RAMP: the corruption pool is empty after exclude={list(cfg.exclude)}")

    def per_sample(x, m, g):
        return ramp.ramp_sample(x, m, g, cfg, pool)

    return per_sample


def _ramp_config(options: dict[str, Any], **fixed: Any) -> ramp.RampConfig:
    known = {f.name for f in dataclasses.fields(ramp.RampConfig)}
    bad = sorted(set(options) - known)
    if bad:
        raise ConfigError(f"unknown RAMP option(s) {', '.join(bad)}; valid: {', '.join(sorted(known))}")
    kw = {**fixed, **options}
    for key in ("k", "pool", "exclude"):
        v = kw.get(key)
        if isinstance(v, str):
            kw[key] = tuple(t.strip() for t in v.split(",") if t.strip())
        elif isinstance(v, int):
            kw[key] = (v,)
        elif v is not None and not isinstance(v, tuple):
            kw[key] = tuple(v)
    cfg = ramp.RampConfig(**kw)
    for f in dataclasses.fields(cfg):
        if f.name.startswith("p_"):
            _check_range(f.name, getattr(cfg, f.name))
    if not cfg.k or any(int(k) < 1 for k in cfg.k):
        raise ConfigError(f"RAMP option 'k' must be positive integers, got {cfg.k!r}")
    return cfg


def _single_corruption_strategy(strategy: str, options: dict[str, Any], default_pool: Sequence[str]) -> Augmentation:
    """One corruption per sample from ``options['pool']`` (else ``default_pool``); ``p_clean`` defaults to 0.2."""
    opts = dict(options)
    p_clean = opts.pop("p_clean", 0.2)
    discrete = bool(opts.pop("discrete", True))
    severity_range = opts.pop("severity_range", None)
    pool = opts.pop("pool", default_pool)
    if opts:
        raise ConfigError(f"strategy '{strategy}' got unknown option(s) {', '.join(sorted(opts))}")
    if isinstance(pool, str):
        pool = tuple(p.strip() for p in pool.split(","))
    if not pool:
        raise ConfigError(f"strategy '{strategy}': empty corruption pool")
    return _Batchwise(_single_corruption(pool, discrete, severity_range), p_clean)


def _ramp_strategy(options: dict[str, Any], **fixed: Any) -> Augmentation:
    """The RAMP pipeline with ``fixed`` config fields under the user's ``options``; ``p_clean`` 0."""
    opts = dict(options)
    p_clean = opts.pop("p_clean", 0.0)
    return _Batchwise(_ramp(_ramp_config(opts, **fixed)), p_clean)


def _without_baselines(modality: str) -> tuple[str, ...]:
    """The default corruptions tagged ``modality`` except the traditional baselines."""
    return tuple(n for n in registry.defaults(modality) if n not in TRADITIONAL)


@AUGMENTATIONS.register("none")
def _none(**options: Any) -> Augmentation:
    """Identity (only ``p_clean`` is accepted, and changes nothing)."""
    opts = dict(options)
    p_clean = opts.pop("p_clean", 0.0)
    if opts:
        raise ConfigError(f"strategy 'none' takes no option(s) {', '.join(opts)}")
    return _Batchwise(lambda x, m, g: (x, m, []), p_clean)


@AUGMENTATIONS.register("traditional")
def _traditional(**options: Any) -> Augmentation:
    """One of GB / GN / HB / LB at a random level (Ward & Imran baselines)."""
    return _single_corruption_strategy("traditional", options, TRADITIONAL)


@AUGMENTATIONS.register("physics")
def _physics(**options: Any) -> Augmentation:
    """One X-ray physics corruption of random type and level."""
    return _single_corruption_strategy("physics", options, _without_baselines("xray"))


@AUGMENTATIONS.register("dermoscopy")
def _dermoscopy(**options: Any) -> Augmentation:
    """One dermoscopy corruption of random type and level."""
    return _single_corruption_strategy("dermoscopy", options, _without_baselines("dermoscopy"))


@AUGMENTATIONS.register("medmnistc")
def _medmnistc(**options: Any) -> Augmentation:
    """MedMNIST-C style: one random default corruption of ``modality`` (default ``xray``), baselines included."""
    opts = dict(options)
    modality = opts.pop("modality", "xray")
    return _single_corruption_strategy("medmnistc", opts, tuple(registry.defaults(modality)))


@AUGMENTATIONS.register("ramp")
def _ramp_full(**options: Any) -> Augmentation:
    """RAMP, Table 1: spatial + intensity stages and the multi-corruption sampler."""
    return _ramp_strategy(options)


@AUGMENTATIONS.register("ramp_intensity")
def _ramp_intensity(**options: Any) -> Augmentation:
    """RAMP's intensity-focused comparison: the intensity stage only."""
    return _ramp_strategy(options, spatial=False, intensity=True, p_ramp=0.0)


@AUGMENTATIONS.register("ramp_geometric")
def _ramp_geometric(**options: Any) -> Augmentation:
    """RAMP's geometric comparison: flips and elastic deformation only."""
    return _ramp_strategy(options, spatial=True, intensity=False, p_ramp=0.0)


@AUGMENTATIONS.register("ramp_artifact")
def _ramp_artifact(**options: Any) -> Augmentation:
    """RAMP's artifact-focused comparison: one or two of ghosting, stripe, bias field, motion blur."""
    return _ramp_strategy(options, spatial=False, intensity=False, pool=ARTIFACT_POOL, k=(1, 2))


@AUGMENTATIONS.register("ramp_corruption")
def _ramp_corruption(**options: Any) -> Augmentation:
    """RAMP's multi-corruption sampler alone (RAMP Table 11, "corruption only")."""
    return _ramp_strategy(options, spatial=False, intensity=False)


@AUGMENTATIONS.register("ramp_single")
def _ramp_single(**options: Any) -> Augmentation:
    """RAMP's sampler with one corruption per sample (k = 1), no spatial or intensity stage."""
    return _ramp_strategy(options, spatial=False, intensity=False, k=(1,))


@AUGMENTATIONS.register("synthetic")
def _synthetic(**options: Any) -> Augmentation:
    """Strong standard augmentation for training on synthetic radiographs (as synthetic-to-real work does, e.g.
    SyntheX): a random affine (rotation ±10°, scale 0.85–1.15, shift ±8 %: crop and zoom; no flip, which would
    swap left and right lungs) with probability ``p_affine`` (0.8), an elastic deformation with ``p_elastic``
    (0.3), RAMP's intensity stage (gamma, window, histogram, local contrast, sharpening) and one of Ward & Imran's
    blur / noise / brightness baselines with ``p_traditional`` (0.5). ``p_clean`` (default 0.1).

    ``burnt_in`` (default 0): probability of burnt-in annotations (lead markers, text, rulers, arrows;
    :mod:`xraylab.degrade.annotations`) at a severity drawn from U[1, 4], applied after the spatial operations so
    they stay upright at the image edges, before the intensity stage; masks are left as they are. At 0 nothing
    is drawn from the generator for it, so results equal those without the option."""
    opts = dict(options)
    p_clean = opts.pop("p_clean", 0.1)
    p_affine = _check_range("p_affine", opts.pop("p_affine", 0.8))
    p_elastic = _check_range("p_elastic", opts.pop("p_elastic", 0.3))
    p_trad = _check_range("p_traditional", opts.pop("p_traditional", 0.5))
    p_burnt = _check_range("burnt_in", opts.pop("burnt_in", 0.0))
    if opts:
        raise ConfigError(f"strategy 'synthetic' got unknown option(s) {', '.join(sorted(opts))}")
    cfg = ramp.RampConfig(spatial=False, p_ramp=0.0)
    traditional = _single_corruption(TRADITIONAL, True, None)
    burnt = _single_corruption(("burnt_in",), False, (1.0, float(registry.get("burnt_in").n_levels)))

    def per_sample(x, m, g):
        recs: list[Any] = []
        if x.dim() == 4 and rng.bernoulli(g, p_affine):
            x, m, rec = ramp.random_affine(x, m, g)
            recs.append(rec)
        if rng.bernoulli(g, p_elastic):
            x, m, rec = ramp.elastic(x, m, g, cfg.elastic_alpha, cfg.elastic_sigma, cfg.spacing_mm)
            recs.append(rec)
        if p_burnt > 0 and x.dim() == 4 and rng.bernoulli(g, p_burnt):  # no draw at all when off
            x, m, more = burnt(x, m, g)
            recs += more
        x, more = ramp.intensity_stage(x, g, cfg)
        recs += more
        if rng.bernoulli(g, p_trad):
            x, m, more = traditional(x, m, g)
            recs += more
        return x.clamp(0.0, 1.0), m, recs

    return _Batchwise(per_sample, p_clean)


def make_augmentation(strategy: str, **options: Any) -> Augmentation:
    """Build the augmentation callable for ``strategy`` (see the module docstring)."""
    return AUGMENTATIONS.create(strategy, **options)
