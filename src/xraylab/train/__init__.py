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

_EXPORTS = {
    "fit": "xraylab.train.trainer",
    "RunResult": "xraylab.train.trainer",
    "load_spec": "xraylab.train.spec",
    "parse_spec": "xraylab.train.spec",
    "TrainSpec": "xraylab.train.spec",
    "build_model": "xraylab.train.models",
    "load_model": "xraylab.train.checkpoint",
    "fgsm": "xraylab.train.adversarial",
    "pgd": "xraylab.train.adversarial",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
