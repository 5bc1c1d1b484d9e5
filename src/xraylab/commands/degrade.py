"""``xraylab degrade``: write a corrupted copy of a dataset, or list the registered corruptions."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from xraylab.errors import ConfigError


def _split(text: str | None) -> list[str] | None:
    if text is None or not text.strip():
        return None
    return [t.strip() for t in text.split(",") if t.strip()]


def list_corruptions(modality: str | None = None) -> str:
    """Text table of the registered corruptions: name, modalities, levels, parameters per level."""
    from xraylab.degrade import registry

    lines = []
    for n in registry.names(modality):
        op = registry.get(n)
        lines.append(f"{n}  [{', '.join(op.modalities)}]  levels {','.join(map(str, op.levels))}  - {op.description}")
        for k, vals in op.table.items():
            lines.append(f"    {k:<18s} " + "  ".join(f"L{i}={v:.4g}" for i, v in enumerate(vals)))
    return "\n".join(lines)


def register(app: typer.Typer) -> None:
    """Add the ``degrade`` command to ``app``."""

    @app.command("degrade")
    def degrade(
        dataset: Optional[Path] = typer.Argument(
            None, help="Dataset folder with manifest.parquet (images as PNG, intensities in [0, 1]; or a volume "
                       "dataset of CT NIfTI volumes: the 13 RAMP operators in 3D, lengths in mm)."
        ),
        out: Optional[Path] = typer.Option(None, "--out", help="Output dataset folder (created; re-runs resume)."),
        corruptions: Optional[str] = typer.Option(
            None, "--corruptions",
            help="Comma-separated corruption names (see --list; default: all of --modality but the opt-in ones "
                 "such as burnt_in, which adds a mask:burnt_in column when named).",
        ),
        levels: Optional[str] = typer.Option(
            None, "--levels", help="Comma-separated integer severity levels (default: every level of each corruption)."
        ),
        mode: str = typer.Option(
            "all", "--mode", help="'all' (every corruption x level) or 'random' (one draw per image)."
        ),
        seed: int = typer.Option(0, "--seed", help="Random seed (integer) for noise fields and random draws."),
        modality: Optional[str] = typer.Option(
            None,
            "--modality",
            help="xray, dermoscopy or ct: default corruption set (default: from the image channels).",
        ),
        include_clean: bool = typer.Option(
            True,
            "--include-clean/--no-clean",
            help="Also write a clean copy of each image (corruption 'none', level 0).",
        ),
        list_: bool = typer.Option(False, "--list", help="List the registered corruptions with their levels and exit."),
        overwrite: bool = typer.Option(
            False, "--overwrite", help="Delete the degraded dataset in OUT (one made by another job) and start afresh."
        ),
        split: Optional[str] = typer.Option(
            None, "--split", help="Volume datasets only: degrade only this split (e.g. test; default: every row)."
        ),
    ) -> None:
        """Write degraded copies of DATASET (corruption x severity level) with a manifest and a contact sheet."""
        if list_:
            typer.echo(list_corruptions(modality))
            return
        if dataset is None or out is None:
            raise ConfigError("degrade needs DATASET and --out DIR (or --list)")
        lv = _split(levels)
        try:
            lv_int = [int(v) for v in lv] if lv else None
        except ValueError:
            raise ConfigError(f"--levels must be comma-separated integers, got '{levels}'") from None
        from xraylab.data.volume_dataset import is_volume_dataset

        if is_volume_dataset(dataset):
            if mode != "all":
                raise ConfigError("--mode random: volume datasets take every corruption x level (--mode all)")
            from xraylab.data.volume_degrade import degrade_volumes

            manifest = degrade_volumes(dataset, out, _split(corruptions), lv_int, seed, include_clean, split,
                                       overwrite, log=lambda m: typer.echo(m, err=True))
            typer.echo(f"wrote the degraded volumes to {manifest.parent} (manifest.parquet, NIfTI volumes)")
            return
        if split is not None:
            raise ConfigError("--split applies to volume datasets only")
        from xraylab.data.degrade_job import DegradeJob, run_degrade

        job = DegradeJob(
            dataset=dataset, out=out, corruptions=_split(corruptions), levels=lv_int, mode=mode, seed=seed,
            include_clean=include_clean, modality=modality, overwrite=overwrite,
        )
        df = run_degrade(job)
        typer.echo(f"wrote {len(df)} images to {out} (manifest.parquet, contact_sheet.png)")
