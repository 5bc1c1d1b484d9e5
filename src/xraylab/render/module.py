"""A radiograph of one scene as a ``torch.nn.Module``: pose and physics parameters in, image layers out.

For notebooks, registration and physics fitting: ``RadiographModule(scene, geometry, physics)(pose=…, params=…)``
ray traces the scene (the torch march when gradients are needed) and runs the physics chain, with gradients to the
pose tensors (:data:`xraylab.physics.geometry.POSE_KEYS`: ``rotation_deg``, ``translation_mm``, …) and to the
differentiable physics parameters (:data:`xraylab.physics.differentiable.PARAM_KEYS`: ``mas``, ``kvp``,
``filtration``, ``scatter_amplitude``, ``focal_spot``, ``blur_mm``). Without pose and parameters it returns the
layers :meth:`xraylab.render.scene.Scene.render` returns for the same geometry, physics and seed.
"""

from __future__ import annotations

import torch
from torch import nn

from xraylab.physics.config import PhysicsConfig
from xraylab.physics.geometry import Geometry
from xraylab.render.scene import Scene


class RadiographModule(nn.Module):
    """``forward(pose=None, params=None, seed=None) -> {layer: [1, 1, H, W]}`` for one scene and geometry.

    ``geometry``: the base (posed) geometry; ``pose`` tensors replace or add to its pose. ``physics``: the resolved
    config (:func:`xraylab.physics.presets.resolve_physics`). The collimation (``field: auto``) is fixed from the
    base geometry, so the field does not jump while a pose is optimised. ``seed``: noise seed of each call
    (default: the constructor's). Layers as :meth:`Scene.render` (``image`` in [0, 1], ``for_processing``
    −ln(I/I₀), ``normalized``, ``primary``, ``scatter``, …); gradients flow from every layer but ``image``.
    """

    def __init__(self, scene: Scene, geometry: Geometry, physics: PhysicsConfig, seed: int = 0):
        super().__init__()
        from xraylab.physics.fov import auto_collimation, valid_rays
        from xraylab.physics.simulator import XRaySimulator
        from xraylab.render.view import detector_geometry

        self.scene, self.geometry, self.seed = scene, geometry, int(seed)
        self.simulator = XRaySimulator(physics, device=scene.device)
        self._detector = detector_geometry(geometry)
        self._valid = valid_rays(scene.ct, geometry)
        self._collimation, self.field = auto_collimation(physics.collimation, self._detector, self._valid,
                                                         physics.focal_spot)

    def forward(self, pose: dict[str, torch.Tensor] | None = None, params: dict[str, torch.Tensor] | None = None,
                seed: int | None = None) -> dict[str, torch.Tensor]:
        projection = self.scene.projector.project(self.geometry, pose=pose)
        gen = torch.Generator(device=self.scene.device).manual_seed(self.seed if seed is None else int(seed))

        def rerender(g) -> dict:  # exact focal-spot mode: the posed geometry, shifted source (g: Geometry)
            return self.scene.projector.project(
                self.geometry.model_copy(update={"source_offset_mm": g.source_offset_mm}), pose=pose).materials

        layers = self.simulator.simulate(projection.materials, self._detector, generator=gen, render=rerender,
                                         collimation=self._collimation, params=params)
        layers["for_processing"] = -torch.log(layers["normalized"].clamp_min(1e-6))
        layers["valid"] = self._valid.to(device=self.scene.device, dtype=torch.float32).view(1, 1, *self._valid.shape)
        return layers
