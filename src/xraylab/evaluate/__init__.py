"""Robustness evaluation: metrics, suites (the :data:`~xraylab.evaluate.suites.SUITES` registry), tables, plots.

Entry points: :func:`run_evaluation` (a validated :class:`EvaluateSpec`), :func:`load_spec`,
and the CLI ``xraylab evaluate SPEC.yaml``; :func:`run_plain` (a :class:`PlainSpec`, one checkpoint on one
dataset) and the CLI ``xraylab evaluate --model CKPT --data DATASET --out DIR``. Metrics live in
:mod:`xraylab.metrics` (re-exported as :mod:`xraylab.evaluate.metrics`); the scorer is
:func:`xraylab.evaluate.engine.score_segmentation`.

The names below are imported lazily, so reading the suite names (``xraylab --help``) stays cheap.
"""

from __future__ import annotations

from xraylab.lazy import lazy_exports

_EXPORTS = {
    "EvalModel": "xraylab.evaluate.models",
    "from_module": "xraylab.evaluate.models",
    "run_evaluation": "xraylab.evaluate.runner",
    "PlainSpec": "xraylab.evaluate.plain",
    "parse_plain": "xraylab.evaluate.plain",
    "run_plain": "xraylab.evaluate.plain",
    "apply_run_options": "xraylab.evaluate.spec",
    "EvaluateSpec": "xraylab.evaluate.spec",
    "load_spec": "xraylab.evaluate.spec",
    "parse_spec": "xraylab.evaluate.spec",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
