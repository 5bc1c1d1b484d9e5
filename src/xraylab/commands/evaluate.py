"""``xraylab evaluate SPEC.yaml``: run the robustness suites a spec enables."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def register(app: typer.Typer) -> None:
    """Add the ``evaluate`` command to ``app``."""

    @app.command("evaluate")
    def evaluate(
        spec: Path = typer.Argument(..., help="evaluate spec (YAML); relative paths resolve against its folder"),
        output: Optional[Path] = typer.Option(None, "--output", "-o", help="run folder (overrides the spec's output; a path)"),
        device: Optional[str] = typer.Option(None, "--device", help="torch device, e.g. cpu or cuda:0 (overrides the spec)"),
        batch_size: Optional[int] = typer.Option(None, "--batch-size", help="images per inference batch (count)"),
        max_images: Optional[int] = typer.Option(None, "--max-images", help="evaluate at most this many images per suite (count; quick runs)"),
    ) -> None:
        """Evaluate models on the rotation, corruption, classification and adversarial suites of SPEC."""
        from xraylab.evaluate.runner import run_evaluation
        from xraylab.evaluate.spec import load_spec, parse_spec

        s = load_spec(spec)
        data = s.model_dump()
        if output is not None:
            data["output"] = str(output.resolve())
        if device is not None:
            data["device"] = device
        if batch_size is not None:
            data["batch_size"] = batch_size
        if max_images is not None:
            for name in ("rotation", "corruption", "classification", "adversarial"):
                if data.get(name):
                    data[name]["max_images"] = max_images
        out = run_evaluation(parse_spec(data, where=str(spec)), log=lambda m: typer.echo(m, err=True))
        typer.echo(f"{out / 'summary.md'}")
