"""Robustness evaluation: metrics, suites (rotation, corruption, classification, adversarial), tables, plots.

Entry points: :func:`run_evaluation` (a validated :class:`EvaluateSpec`), :func:`load_spec`,
and the CLI ``xraylab evaluate SPEC.yaml``. Metrics live in :mod:`xraylab.evaluate.metrics`.
"""

from xraylab.evaluate.models import EvalModel, from_module
from xraylab.evaluate.runner import run_evaluation
from xraylab.evaluate.spec import EvaluateSpec, load_spec, parse_spec

__all__ = ["EvalModel", "EvaluateSpec", "from_module", "load_spec", "parse_spec", "run_evaluation"]
