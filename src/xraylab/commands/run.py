"""``xraylab run SPEC.yaml``: chain import, generate, degrade, train and evaluate steps from one pipeline spec, or
run a 3D RAMP CT study spec (``simulations/ramp_ct_*.yaml``, recognised by its ``strategies:`` section)."""

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

        A RAMP CT study spec (simulations/ramp_ct_cpu.yaml: import -> 3D training per strategy -> 3D degrade ->
        evaluation tables) runs as a whole and resumes the same way; --steps/--force/--dry-run do not apply to it.

        Each step is one stage (import, generate, degrade, train, evaluate) with its own spec or options and an output
        folder (default WORKDIR/<step name>); ${STEP.out} refers to an earlier step's output. Spec format:
        src/xraylab/pipeline.py.
        """
        from xraylab.pipeline import load_pipeline, run_pipeline
        from xraylab.specs import read_yaml_mapping

        if "strategies" in read_yaml_mapping(spec, "pipeline spec"):
            from xraylab.volumes.experiment import run_experiment

            if steps or force or dry_run:
                raise typer.BadParameter("--steps/--force/--dry-run do not apply to a RAMP CT study spec")
            summary = run_experiment(spec, workdir=workdir, log=lambda m: typer.echo(m, err=True))
            typer.echo(f"wrote {summary}")
            return
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
