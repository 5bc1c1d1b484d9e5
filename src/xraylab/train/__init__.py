"""The shared trainer: segmentation and classification on mixed real and synthetic datasets.

Modules: :mod:`~xraylab.train.spec` (YAML spec), :mod:`~xraylab.train.mixing` (datasets, splits,
ratios), :mod:`~xraylab.data.datasets` (torch Dataset), :mod:`~xraylab.train.models` (model factory),
:mod:`~xraylab.train.losses`, :mod:`~xraylab.train.metrics`, :mod:`~xraylab.train.augment`,
:mod:`~xraylab.train.adversarial` (FGSM/PGD), :mod:`~xraylab.train.loop` (epoch),
:mod:`~xraylab.train.trainer` (``fit``, resume), :mod:`~xraylab.train.checkpoint` (``load_model``),
:mod:`~xraylab.train.records` (run directory files).

The names below are imported lazily so that ``import xraylab.train`` stays cheap.
"""

from __future__ import annotations

from xraylab.lazy import lazy_exports

_MODULES = {  # module -> the public names it gives
    "xraylab.train.trainer": ("fit", "RunResult"),
    "xraylab.train.spec": ("load_spec", "parse_spec", "TrainSpec"),
    "xraylab.train.models": ("build_model",),
    "xraylab.train.checkpoint": ("load_model",),
    "xraylab.train.adversarial": ("fgsm", "pgd"),
}
_EXPORTS = {name: module for module, names in _MODULES.items() for name in names}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
