"""Helpers for the dataset-generation tests: tiny specs and file-tree hashes."""

from __future__ import annotations

import copy
import hashlib
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
SIMULATIONS = REPO / "simulations"

# A spec small enough for CI: the default CT coarsened 4x, a 24 x 24 detector, 64 samples per ray.
TINY: dict[str, Any] = {
    "name": "tiny",
    "seed": 5,
    "cts": ["default"],
    "structures": ["clavicles", "lungs", "heart"],
    "preset": "chest_pa",
    "geometry": {"rows": 24, "cols": 24},
    "sweep": {"grid": {"geometry.rotation_deg": [-20, -10, 0, 10, 20]}},
    "render": {"downsample": 4, "n_points": 64},
    "output": {"size": 32, "contact_sheet": 6},
}


def tiny_spec(**changes: Any) -> dict[str, Any]:
    spec = copy.deepcopy(TINY)
    for k, v in changes.items():
        spec[k] = v
    return spec


def write_spec(folder: Path, spec: dict[str, Any], name: str = "spec.yaml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    p = folder / name
    p.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    return p


def tree_hashes(folder: Path) -> dict[str, str]:
    """relative path → SHA-256 of every file under ``folder`` (hidden state included)."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def temporaries(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.name.endswith(".tmp") or ".partial" in p.name]
