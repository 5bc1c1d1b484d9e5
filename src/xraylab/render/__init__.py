"""Where an X-ray is rendered: one scene (CT → volumes → projector), one view, one writer.

* :mod:`xraylab.render.scene` — :class:`Scene` (:func:`load_scene` for a CT a user names, through the volume
  cache; :func:`build_scene` for an in-memory CT; :func:`cached_scene` for a caller's own loader, as the generate
  workers use) and :meth:`Scene.render`, the one call that ray traces a view and runs the physics chain;
* :mod:`xraylab.render.view` — :func:`render_view` and :func:`view_arrays` (the arrays that get written, at an
  output size, with the framing crop);
* :mod:`xraylab.render.write` — :func:`write_view` / :func:`render_ct`: the ``xraylab render`` output folder;
* :mod:`xraylab.render.dicom` — DICOM DX files of a rendered view.
"""

from xraylab.render.scene import Scene, build_scene, cached_scene, load_ct_named, load_scene
from xraylab.render.view import (
    DATASET_LAYERS,
    FOR_PROCESSING_SCALE,
    RenderResult,
    ViewArrays,
    crop_box,
    detector_geometry,
    for_processing_png,
    framing_box,
    render_view,
    view_arrays,
)
from xraylab.render.write import check_render_out, render_ct, write_view

__all__ = [
    "DATASET_LAYERS", "FOR_PROCESSING_SCALE", "RenderResult", "Scene", "ViewArrays", "build_scene", "cached_scene",
    "check_render_out", "crop_box", "detector_geometry", "for_processing_png", "framing_box", "load_ct_named",
    "load_scene", "render_ct", "render_view", "view_arrays", "write_view",
]
