"""``xraylab import volumes``: real CT volumes + label maps → a volume dataset (the 3D RAMP studies' input).

Kept apart from the radiograph layouts of :mod:`xraylab.commands.import_`: a volume dataset holds NIfTI CT + label
items (:mod:`xraylab.data.volume_dataset`), resampled to isotropic voxels, with labels mapped to the requested classes
through each source's own class table (:mod:`xraylab.data.volume_classes`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from xraylab.io.ct_layouts import LAYOUTS, check_layout, layout_help


def register_volume_import(sub: typer.Typer) -> None:
    """Add ``volumes`` to the ``import`` command group ``sub``."""

    @sub.command("volumes", short_help=f"CT volumes + label maps → a volume dataset ({', '.join(LAYOUTS)} "
                 "layouts or a data manifest).")
    def import_volumes_cmd(
        source: Path = typer.Argument(..., metavar="SOURCE", help="Folder laid out as --layout expects, or a data "
                                      "manifest YAML (data_manifests/*.yaml: cases or layout + root, splits)."),
        out: Path = typer.Option(..., "--out", "-o", help="Output volume dataset folder (re-running resumes)."),
        classes: str = typer.Option(..., "--classes", help="Comma-separated output classes, label 1, 2, ... in "
                                    "this order, e.g. liver,spleen,kidney (kidney = left ∪ right)."),
        layout: str = typer.Option("folder", "--layout", help=f"Folder layout: {layout_help()}. Ignored for a "
                                   "manifest."),
        cases: Optional[str] = typer.Option(None, "--cases", help="Comma-separated case ids to import (default: "
                                            "all); for the dicom layout a SeriesInstanceUID picks that series of "
                                            "its subject instead of the CT series with most slices."),
        voxel_mm: float = typer.Option(1.5, "--voxel-mm", help="Isotropic voxel size after resampling, mm."),
        hu_window: str = typer.Option("-250,350", "--hu-window", help="HU window LOW,HIGH mapped to [0, 1]."),
        split: Optional[str] = typer.Option(None, "--split", help="Put every case in this split (train, val or "
                                            "test); default: the source's own split, else train."),
        seed: int = typer.Option(0, "--seed", help="Seed of the pseudo-subject deformations."),
        overwrite: bool = typer.Option(False, "--overwrite", help="Delete the dataset in OUT and start afresh."),
    ) -> None:
        """Import CT volumes with label maps into a volume dataset (images/*.nii.gz in [0, 1], labels/*.nii.gz
        uint8, LPS, isotropic voxels; manifest.parquet, dataset.json with kind: volume)."""
        from xraylab.data.volume_import import (
            VolumeImport,
            cases_from_manifest,
            check_voxel_mm,
            import_volumes,
            pick_cases,
            scan_layout,
        )
        from xraylab.errors import ConfigError

        check_layout(layout, "--layout")
        try:
            lo, hi = (float(v) for v in hu_window.split(","))
        except ValueError:
            raise ConfigError(f"--hu-window {hu_window!r}: give LOW,HIGH in HU, e.g. -250,350") from None
        names = [c.strip() for c in classes.split(",") if c.strip()]
        check_voxel_mm(voxel_mm)
        if source.is_file() and source.suffix in (".yaml", ".yml"):
            found = cases_from_manifest(source)
        else:
            found = scan_layout(layout, source)
        wanted = [c.strip() for c in cases.split(",") if c.strip()] if cases is not None else None
        found = pick_cases(found, wanted, source)
        if split is not None:
            for c in found:
                c.split = split
        manifest = import_volumes(VolumeImport(found, names, voxel_mm, (lo, hi), seed), out, overwrite=overwrite,
                                  log=lambda m: typer.echo(m, err=True))
        typer.echo(f"{len(found)} CT volume(s) imported: {manifest}")
