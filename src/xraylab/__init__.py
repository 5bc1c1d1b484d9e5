"""xraylab: physics-based X-ray simulation from CT and robustness studies for medical-imaging models.

The names a notebook needs (imported on first use, so ``import xraylab`` stays light):

* CTs — :func:`load_ct` (NIfTI / NRRD / MHA / DICOM folder + label map), :func:`load_default_ct` (the embedded
  chest CT with TotalSegmentator labels), :class:`CTVolume`;
* scenes — :func:`load_scene` (a CT a user names, through the volume cache), :func:`build_scene` (an in-memory
  CT), :class:`Scene` with :meth:`Scene.render` and :meth:`Scene.view`;
* geometry and physics — :class:`Geometry`, :func:`preset_geometry`, :func:`resolve_preset`,
  :func:`resolve_physics`, :class:`PhysicsConfig`, :class:`XRaySimulator`;
* differentiable rendering — :class:`RadiographModule` (pose and physics parameters → image layers);
* output — :func:`view_arrays` (what gets written, at an output size), :func:`write_view` (an ``xraylab render``
  folder), :func:`generate` (a dataset from a generate spec).

Examples that run: ``docs/API.md``.
"""

from __future__ import annotations

from xraylab._version import __version__
from xraylab.lazy import lazy_exports

_API = {
    "CTVolume": "xraylab.io.ct", "load_ct": "xraylab.io.ct", "load_default_ct": "xraylab.io.ct",
    "Scene": "xraylab.render.scene", "build_scene": "xraylab.render.scene", "load_scene": "xraylab.render.scene",
    "Geometry": "xraylab.physics.geometry", "preset_geometry": "xraylab.physics.geometry",
    "PhysicsConfig": "xraylab.physics.config", "resolve_preset": "xraylab.physics.presets",
    "resolve_physics": "xraylab.physics.presets", "XRaySimulator": "xraylab.physics.simulator",
    "RadiographModule": "xraylab.render.module", "view_arrays": "xraylab.render.view",
    "write_view": "xraylab.render.write", "generate": "xraylab.data.generate",
}

__all__ = ["__version__", *sorted(_API)]


__getattr__, __dir__ = lazy_exports(__name__, _API)
