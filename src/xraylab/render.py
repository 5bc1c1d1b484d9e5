"""Render one CT into a folder: physical layers, projected masks, the radiograph, a preview, metadata.

Used by ``xraylab render`` and ``xraylab demo``. The folder is assembled under
a temporary name beside the target and renamed at the end, so an interrupted or
failed render leaves no output folder behind.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from xraylab.errors import ConfigError
from xraylab.io.ct import CTVolume
from xraylab.io.images import write_mask_png, write_png16
from xraylab.io.structures import expand_structure_list
from xraylab.physics.config import PhysicsConfig
from xraylab.physics.geometry import Geometry
from xraylab.physics.projector import Projection, Projector
from xraylab.versions import package_versions


@dataclass
class RenderResult:
    """What :func:`render_ct` produced: the projection, the simulator layers and the output folder."""

    projection: Projection
    layers: dict[str, torch.Tensor]
    out: Path | None
    seconds: dict[str, float]


def resolve_physics(preset: str, overrides: Sequence[str] = ()) -> PhysicsConfig:
    """The physics config of ``preset`` with ``key.sub=value`` overrides applied (``ConfigError`` on bad input)."""
    from xraylab.physics.config import apply_overrides
    from xraylab.physics.presets import preset_config

    return apply_overrides(preset_config(preset), list(overrides))


def simulate_layers(
    projection: Projection,
    cfg: PhysicsConfig,
    seed: int = 0,
    device: str | torch.device = "cpu",
    projector: Projector | None = None,
) -> tuple[dict[str, torch.Tensor], dict]:
    """Run the X-ray physics chain on a projection; returns (layers ``[B, 1, H, W]``, resolved config dict).

    ``projector`` re-renders shifted source points when the focal spot is in its exact mode.
    """
    from xraylab.physics.simulator import XRaySimulator

    sim = XRaySimulator(cfg, device=device)
    gen = torch.Generator(device=torch.device(device)).manual_seed(int(seed))
    render = (lambda g: projector.project(g).materials) if projector is not None else None
    layers = sim.simulate(projection.materials, projection.geometries[0], generator=gen, render=render)
    return layers, {"physics": cfg.model_dump(mode="json"), "stage_seconds": sim.stage_times}


def _staging_dir(out: Path) -> Path:
    return out.parent / f".{out.name}.partial-{os.getpid()}"


def render_ct(
    ct: CTVolume,
    geometry: Geometry,
    out: str | os.PathLike | None,
    structures: Sequence[str] = (),
    preset: str = "chest_pa",
    overrides: Sequence[str] = (),
    renderer: str = "trilinear",
    seed: int = 0,
    device: str | torch.device = "cpu",
    overwrite: bool = False,
    progress: bool = True,
) -> RenderResult:
    """Project ``ct`` with ``geometry``, simulate the radiograph and write everything to ``out``.

    Output (when ``out`` is given): ``layers.npz`` (float32 ``material/<m>`` g/cm², ``path/<s>`` mm and the
    physics layers), ``image.png`` (16-bit radiograph), ``masks/<structure>.png``, ``preview.png`` (image with
    mask outlines) and ``metadata.json`` (resolved geometry, physics, CT, versions).
    """
    structures = expand_structure_list(structures)
    out_path = Path(out) if out is not None else None
    if out_path is not None and out_path.exists() and any(out_path.iterdir()) and not overwrite:
        raise ConfigError(f"{out_path}: output folder exists and is not empty; choose another --out or pass --overwrite")
    times: dict[str, float] = {}
    # The physics config owns the focal spot; keep the geometry's record of it equal.
    physics = resolve_physics(preset, overrides)
    geometry = geometry.model_copy(update={"focal_spot_mm": physics.focal_spot.size_mm})
    t0 = time.perf_counter()
    projector = Projector(ct, structures=structures, renderer=renderer, device=device)  # type: ignore[arg-type]
    projection = projector.project(geometry, progress=progress)
    times["ray_tracing"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    layers, physics_meta = simulate_layers(projection, physics, seed, device, projector)
    times["physics"] = time.perf_counter() - t0
    result = RenderResult(projection, layers, out_path, times)
    if out_path is None:
        return result

    stage = _staging_dir(out_path)
    shutil.rmtree(stage, ignore_errors=True)
    try:
        stage.mkdir(parents=True)
        arrays = {k: v[0, 0].float().cpu().numpy() for k, v in projection.layers().items()}
        arrays.update({f"physics/{k}": v[0, 0].float().cpu().numpy() for k, v in layers.items()})
        buf = io.BytesIO()
        np.savez_compressed(buf, **arrays)
        (stage / "layers.npz").write_bytes(buf.getvalue())
        image = layers["image"][0, 0].float().cpu().numpy()
        write_png16(stage / "image.png", image)
        masks = {s: m[0, 0].cpu().numpy() for s, m in projection.masks().items()}
        for s, m in masks.items():
            write_mask_png(stage / "masks" / f"{s}.png", m)
        from xraylab.viz import contact_sheet

        contact_sheet(
            stage / "preview.png", [image], [list(masks.values())],
            captions=[f"{ct.name}  {geometry.view}  α={geometry.rotation_deg:g}°  {preset}"],
            ncols=1, tile_inches=5.0, legend=list(masks) or None,
        )
        meta = {
            "ct": {"name": ct.name, "source": ct.source, "shape": list(ct.shape), "spacing_mm": list(ct.spacing)},
            "geometry": geometry.model_dump(mode="json"),
            "preset": preset,
            "overrides": list(overrides),
            "renderer": renderer,
            "structures": structures,
            "seed": seed,
            "seconds": times,
            "versions": package_versions(),
            **physics_meta,
        }
        (stage / "metadata.json").write_text(json.dumps(meta, indent=2, default=str) + "\n", encoding="utf-8")
        if out_path.exists():
            shutil.rmtree(out_path)
        out_path.parent.mkdir(parents=True, exist_ok=True)
        os.replace(stage, out_path)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return result
