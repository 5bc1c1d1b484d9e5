"""``xraylab train SPEC.yaml``: train a segmentation or classification model from a spec."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from xraylab.errors import ConfigError


def _parse_data(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        name, sep, folder = item.partition("=")
        if not sep or not name or not folder:
            raise ConfigError(f"--data {item!r}: expected NAME=DIR, e.g. --data real=outputs/jsrt")
        out[name.strip()] = folder.strip()
    return out


def register(app: typer.Typer) -> None:
    @app.command("train")
    def train(
        spec: Path = typer.Argument(..., help="training spec (YAML), e.g. simulations/train_smoke_segmentation.yaml"),
        out: Optional[Path] = typer.Option(None, "--out", "-o", help="run directory (default: runs/train/<spec name>)"),
        data: list[str] = typer.Option(
            [], "--data", "-d", help="dataset folder for a spec dataset, NAME=DIR (repeatable)"
        ),
        resume: bool = typer.Option(False, "--resume", help="continue the run in --out from checkpoints/last.pt"),
        epochs: Optional[int] = typer.Option(None, "--epochs", help="override the spec's number of epochs (count)"),
        device: Optional[str] = typer.Option(None, "--device", help="auto | cpu | cuda | cuda:N (overrides the spec)"),
        num_workers: Optional[int] = typer.Option(None, "--workers", help="data-loader worker processes (count)"),
        steps_per_epoch: Optional[int] = typer.Option(
            None, "--steps-per-epoch", help="cap on training batches per epoch (count)"
        ),
        threads: Optional[int] = typer.Option(
            None, "--threads", help="torch CPU threads during the run (count; 1 is fastest on a busy machine)"
        ),
        progress: bool = typer.Option(True, "--progress/--no-progress", help="show a progress bar per epoch"),
        set_: list[str] = typer.Option([], "--set", help="spec override key.path=value (repeatable), e.g. "
                                       "--set optimizer.lr=0.01 --set data.0.ratio=0.5"),
    ) -> None:
        """Train a model from SPEC; writes metrics.csv, checkpoints/{best,last}.pt and curves.png to --out."""
        from xraylab.train.spec import load_spec
        from xraylab.train.trainer import fit

        parsed = load_spec(
            spec, _parse_data(data), set_, epochs=epochs, device=device, num_workers=num_workers,
            steps_per_epoch=steps_per_epoch, cpu_threads=threads,
        )
        run_dir = out or Path("runs") / "train" / parsed.name
        result = fit(parsed, run_dir, resume=resume, progress=progress)
        typer.echo(
            f"{result.run_dir}: {result.epochs_done} epoch(s), {result.stopped}; best {result.monitor} "
            f"{result.best_metric:.4f} at epoch {result.best_epoch} (checkpoints/best.pt)"
        )
