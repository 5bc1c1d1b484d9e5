"""``xraylab import volumes``: real CT volumes + label maps → a volume dataset (the 3D RAMP studies' input).

Kept apart from the radiograph layouts of :mod:`xraylab.commands.import_`: a volume dataset holds NIfTI CT + label
items (:mod:`xraylab.data.volume_dataset`), resampled to isotropic voxels, with labels mapped to the requested classes
through each source's own class table (:mod:`xraylab.data.volume_classes`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

VOLUME_LAYOUTS = ("folder", "totalsegmentator", "abdomenct1k")


def register_volume_import(sub: typer.Typer) -> None:
    """Add ``volumes`` to the ``import`` command group ``sub``."""

    @sub.command("volumes", short_help="CT volumes + label maps → a volume dataset (folder, totalsegmentator, "
                 "abdomenct1k layouts or a data manifest).")
    def import_volumes_cmd(
        source: Path = typer.Argument(..., metavar="SOURCE", help="Folder laid out as --layout expects, or a data "
                                      "manifest YAML (data_manifests/*.yaml: cases or layout + root, splits)."),
        out: Path = typer.Option(..., "--out", "-o", help="Output volume dataset folder (re-running resumes)."),
        classes: str = typer.Option(..., "--classes", help="Comma-separated output classes, label 1, 2, ... in "
                                    "this order, e.g. liver,spleen,kidney (kidney = left ∪ right)."),
        layout: str = typer.Option("folder", "--layout", help="Folder layout: folder (<case>/ct.nii.gz + "
                                   "<case>/labels.nii.gz), totalsegmentator (<subject>/ct.nii.gz + "
                                   "segmentations/<structure>.nii.gz, meta.csv splits) or abdomenct1k "
                                   "(Image/ + Mask/). Ignored for a manifest."),
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
            scan_layout,
        )
        from xraylab.errors import ConfigError

        if layout not in VOLUME_LAYOUTS:
            raise ConfigError(f"--layout {layout!r}: choose one of {', '.join(VOLUME_LAYOUTS)}")
        try:
            lo, hi = (float(v) for v in hu_window.split(","))
        except ValueError:
            raise ConfigError(f"--hu-window {hu_window!r}: give LOW,HIGH in HU, e.g. -250,350") from None
        names = [c.strip() for c in classes.split(",") if c.strip()]
        check_voxel_mm(voxel_mm)
        if source.is_file() and source.suffix in (".yaml", ".yml"):
            cases = cases_from_manifest(source)
        else:
            cases = scan_layout(layout, source)
        if split is not None:
            for c in cases:
                c.split = split
        manifest = import_volumes(VolumeImport(cases, names, voxel_mm, (lo, hi), seed), out, overwrite=overwrite,
                                  log=lambda m: typer.echo(m, err=True))
        typer.echo(f"{len(cases)} CT volume(s) imported: {manifest}")
