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


def _is_volume_spec(spec: Path) -> bool:
    """True when SPEC is a 3D training spec (``task: segmentation_3d``); unreadable specs are left to the 2D path."""
    try:
        from xraylab.specs import read_yaml_mapping
        from xraylab.volumes.spec import is_volume_spec

        return is_volume_spec(read_yaml_mapping(spec, "training"))
    except ConfigError:
        return False


def _train_volume(spec: Path, out: Path | None, data: list[str], epochs: int | None, device: str | None,
                  steps: int | None, threads: int | None, sets: list[str]) -> None:
    from xraylab.volumes.spec import load_volume_spec
    from xraylab.volumes.train import fit_volume

    paths = _parse_data(data)
    if len(paths) > 1:
        raise ConfigError(f"--data: a segmentation_3d spec takes one volume dataset, got {sorted(paths)}")
    parsed = load_volume_spec(spec, next(iter(paths.values()), None), sets, epochs=epochs, device=device,
                              steps_per_epoch=steps, cpu_threads=threads)
    run_dir = out or Path("runs") / "train" / parsed.name
    r = fit_volume(parsed, run_dir, log=lambda m: typer.echo(m, err=True))
    typer.echo(f"{r.run_dir}: {r.epochs_done} epoch(s); best val Dice {r.best_val_dice:.4f} at epoch {r.best_epoch} "
               "(checkpoints/best.pt)")


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
        """Train a model from SPEC; writes metrics.csv, checkpoints/{best,last}.pt and curves.png to --out.

        A spec with ``task: segmentation_3d`` trains a 3D model on a volume dataset (xraylab.volumes.train).
        """
        if _is_volume_spec(spec):
            _train_volume(spec, out, data, epochs, device, steps_per_epoch, threads, set_)
            return
        from xraylab.commands._common import resolve_device
        from xraylab.io.paths import confined, safe_name
        from xraylab.train.spec import load_spec
        from xraylab.train.trainer import fit

        parsed = load_spec(
            spec, _parse_data(data), set_, epochs=epochs, device=resolve_device(device), num_workers=num_workers,
            steps_per_epoch=steps_per_epoch, cpu_threads=threads,
        )
        runs = Path("runs") / "train"
        run_dir = out or confined(runs, safe_name(parsed.name, f"{spec}: name"), f"{spec}: name")
        if resume and not (run_dir / "checkpoints" / "last.pt").is_file():
            from xraylab.errors import ConfigError

            raise ConfigError(f"{run_dir}: --resume, but there is no run to continue (no checkpoints/last.pt); drop "
                              "--resume to start one, or give the --out of the run to continue")
        result = fit(parsed, run_dir, resume=resume, progress=progress)
        typer.echo(
            f"{result.run_dir}: {result.epochs_done} epoch(s), {result.stopped}; best {result.monitor} "
            f"{result.best_metric:.4f} at epoch {result.best_epoch} (checkpoints/best.pt)"
        )
