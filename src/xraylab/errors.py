"""Typed errors raised for bad input.

Every error carries a message that names the offending file or field and says
what to do about it. The CLI catches :class:`XRayLabError`, prints its message
on one line and exits with a non-zero status.
"""

from __future__ import annotations


class XRayLabError(Exception):
    """Base class of every error xraylab raises on purpose."""

    exit_code = 2


class InputFileError(XRayLabError):
    """A file or folder given as input is missing, unreadable or malformed."""


class LabelMapError(InputFileError):
    """A label map does not fit its CT (grid mismatch, bad ids)."""


class StructureError(XRayLabError):
    """An unknown structure or structure-group name was requested."""


class ConfigError(XRayLabError):
    """A configuration value or YAML spec field is invalid."""


class SegmentationUnavailableError(XRayLabError):
    """A label map is needed but neither one nor local TotalSegmentator weights exist."""


class TrainingError(XRayLabError):
    """A training run cannot continue (NaN loss, missing checkpoint, ...)."""


class PathEscapeError(ConfigError):
    """A path built from user input (a name, an id, a manifest entry) resolves outside the folder it must stay in."""


class BusyError(XRayLabError):
    """Another process holds the writer lock of an output folder (one writer per dataset or run folder)."""


class WriteConflictError(XRayLabError):
    """A file being written vanished under the writer (another process cleaned the folder)."""
