"""The metrics of :mod:`xraylab.metrics` under their older evaluation name (re-exports; implemented there once)."""

from xraylab.metrics import *  # noqa: F403
from xraylab.metrics import __all__  # noqa: F401
