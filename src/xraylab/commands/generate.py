"""``xraylab generate``: a synthetic dataset (images, masks, manifest) from a YAML spec."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer


def register(app: typer.Typer) -> None:
    """Add the ``generate`` command to ``app``."""

    @app.command("generate")
    def generate(
        spec: Path = typer.Argument(..., help="Generate spec (YAML), e.g. simulations/fok2024.yaml."),
        out: Path = typer.Option(..., "--out", "-o", help="Dataset folder (created; re-running resumes it)."),
        set_: List[str] = typer.Option([], "--set", help="Spec override key=value, e.g. --set geometry.rows=256 "
                                       "(detector pixels), --set render.downsample=2, --set physics.spectrum.kvp=90 "
                                       "(kV). Repeatable."),
        overwrite: bool = typer.Option(False, "--overwrite", help="Delete the dataset in OUT and start afresh."),
        shard: Optional[str] = typer.Option(None, "--shard", help="Render only shard i of n (i/n, 0-based), e.g. "
                                            "$SLURM_ARRAY_TASK_ID/8; then run --merge."),
        merge: bool = typer.Option(False, "--merge", help="Combine the shards rendered into OUT (final manifest, "
                                   "dataset.json, contact sheet)."),
        executor: str = typer.Option("local", "--executor", help="local (process pool) or ray."),
        workers: Optional[int] = typer.Option(None, "--workers", "-j", help="Worker processes (local) or CPUs of a "
                                              "local Ray instance; default: the cores available. 1 = in-process."),
        ray_address: Optional[str] = typer.Option(None, "--ray-address", help="Existing Ray cluster address "
                                                  "(e.g. auto or ray://head:10001); default: start a local one."),
        device: Optional[str] = typer.Option(None, "--device", help="Torch device (cpu, cuda, cuda:1); overrides "
                                             "render.device of the spec."),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
    ) -> None:
        """Render a synthetic X-ray dataset from SPEC into OUT.

        OUT gets images/<id>.png (16-bit), masks/<structure>/<id>.png, manifest.parquet (one row per image with
        every geometry and physics parameter), dataset.json and contact_sheet.png. Killing the run and running
        the same command again finishes it; --overwrite starts afresh. Spec format: src/xraylab/data/spec.py.
        """
        from xraylab.commands._common import resolve_device
        from xraylab.data.generate import generate as run_generate
        from xraylab.data.generate import merge as run_merge

        if merge:
            if shard is not None:
                from xraylab.errors import ConfigError

                raise ConfigError("--merge combines all shards; drop --shard")
            res = run_merge(spec, out, set_)
            typer.echo(f"merged {res.n_items} images into {out}/ (manifest.parquet, dataset.json, contact_sheet.png)")
            return
        res = run_generate(spec, out, set_, overwrite=overwrite, shard=shard, executor=executor, workers=workers,
                           ray_address=ray_address, device=resolve_device(device), progress=not quiet)
        what = f"shard {res.shard[0]}/{res.shard[1]}: " if res.shard else ""
        typer.echo(f"{what}{res.n_rendered} images rendered, {res.n_skipped} already complete, in {res.seconds:.1f} s")
        if res.shard:
            typer.echo(f"when every shard is done: xraylab generate {spec} --out {out} --merge")
        elif res.complete:
            typer.echo(f"dataset: {out}/ (manifest.parquet, dataset.json, contact_sheet.png)")
