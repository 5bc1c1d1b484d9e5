"""``xraylab run PIPELINE.yaml``: chain generate, degrade, train and evaluate steps from one spec."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def register(app: typer.Typer) -> None:
    """Add the ``run`` command to ``app``."""

    @app.command("run")
    def run(
        spec: Path = typer.Argument(..., help="pipeline spec (YAML), e.g. simulations/pipeline_smoke.yaml"),
        workdir: Optional[Path] = typer.Option(
            None, "--workdir", "-w", help="folder for step outputs (a path; overrides the spec's workdir)"
        ),
        steps: Optional[str] = typer.Option(
            None, "--steps", help="comma-separated step names to run (default: all; their inputs must exist)"
        ),
        force: bool = typer.Option(
            False, "--force", help="run steps even when recorded complete (stages still resume partial work)"
        ),
        dry_run: bool = typer.Option(False, "--dry-run", help="list the steps and whether each would run; run nothing"),
    ) -> None:
        """Run the steps of SPEC in order; steps whose outputs are complete are skipped.

        Each step is one stage (import, generate, degrade, train, evaluate) with its own spec or options and an output
        folder (default WORKDIR/<step name>); ${STEP.out} refers to an earlier step's output. Spec format:
        src/xraylab/pipeline.py.
        """
        from xraylab.pipeline import load_pipeline, run_pipeline

        pipe = load_pipeline(spec, workdir=workdir)
        only = [s.strip() for s in steps.split(",") if s.strip()] if steps else None
        results = run_pipeline(pipe, only=only, force=force, dry_run=dry_run, log=lambda m: typer.echo(m, err=True))
        ran = sum(r.status == "ran" for r in results)
        skipped = sum(r.status == "skipped" for r in results)
        if dry_run:
            typer.echo(f"{sum(r.status == 'planned' for r in results)} step(s) would run, "
                       f"{sum(r.status == 'done' for r in results)} complete")
        else:
            typer.echo(f"{pipe.spec.name}: {ran} step(s) ran, {skipped} skipped; outputs in {pipe.workdir}")
