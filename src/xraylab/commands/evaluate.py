"""``xraylab evaluate``: run the robustness suites of a spec, or score one checkpoint on one dataset.

Two forms:

* ``xraylab evaluate SPEC.yaml [--set key.path=value ...]``: the suites SPEC enables
  (:func:`xraylab.evaluate.runner.run_evaluation`);
* ``xraylab evaluate --model CKPT --data DATASET --out DIR [--split test] [--structures ...] [--map A=B]``:
  plain per-image Dice / HD / HD95 of one model on one dataset (:func:`xraylab.evaluate.plain.run_plain`);
  on a volume dataset, the 3D model's per-volume Dice / HD95 and the RAMP Table 5 row
  (:func:`xraylab.volumes.evaluate.evaluate_plain`).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, List, Optional

import typer

from xraylab.errors import ConfigError, XRayLabError
from xraylab.evaluate.suites import suite_list


def register(app: typer.Typer) -> None:
    """Add the ``evaluate`` command to ``app``."""

    @app.command(
        "evaluate",
        help=(
            f"Evaluate models on the {suite_list()} suites of SPEC, or (no SPEC) score one checkpoint on one "
            "dataset: --model CKPT --data DATASET --out DIR."
        ),
    )
    def evaluate(
        spec: Optional[Path] = typer.Argument(
            None, help="evaluate spec (YAML); relative paths resolve against its folder. Omit it for the plain form"),
        model: Optional[Path] = typer.Option(
            None, "--model", "-m", help="plain form: checkpoint, a train run folder or a .pt file (a path)"),
        data: Optional[Path] = typer.Option(
            None, "--data", "-d", help="plain form: dataset folder holding manifest.parquet (a path)"),
        output: Optional[Path] = typer.Option(
            None, "--output", "--out", "-o", help="run folder (a path; overrides the spec's output)"),
        split: Optional[str] = typer.Option(
            None, "--split", help="plain form: manifest split to score, e.g. test (default: every row)"),
        structures: Optional[List[str]] = typer.Option(
            None, "--structures", "-s",
            help="plain form: model classes to score, repeated or comma-separated; 'lungs' = union of left_lung "
                 "and right_lung (default: the classes the dataset has masks for, plus lungs)"),
        map_: Optional[List[str]] = typer.Option(
            None, "--map", help="plain form: CLASS=STRUCTURE scores a model class against mask:STRUCTURE "
                                "(e.g. heart=cardiomediastinum); repeatable"),
        set_: Optional[List[str]] = typer.Option(
            None, "--set", help="key.path=value override of the spec (or of the plain options); repeatable"),
        device: Optional[str] = typer.Option(None, "--device", help="torch device, e.g. cpu or cuda:0"),
        batch_size: Optional[int] = typer.Option(
            None, "--batch-size", min=1, help="images per inference batch (count)"),
        max_images: Optional[int] = typer.Option(
            None, "--max-images", min=1, help="score at most this many images per suite / dataset (count; quick runs)"),
        sheet_images: Optional[int] = typer.Option(
            None, "--sheet-images", min=0, help="plain form: images on predictions.png (count; default 12)"),
    ) -> None:
        """Run the robustness suites that SPEC enables, or the plain evaluation of one checkpoint."""
        log = lambda m: typer.echo(m, err=True)  # noqa: E731
        try:
            from xraylab.commands._common import resolve_device

            device = resolve_device(device)
            if spec is not None:
                plain_only = {"--model": model, "--data": data, "--split": split, "--structures": structures,
                              "--map": map_, "--sheet-images": sheet_images}
                given = [k for k, v in plain_only.items() if v]
                if given:
                    raise ConfigError(f"{', '.join(given)}: options of the plain form (no SPEC); give either SPEC "
                                      "or --model/--data/--out")
                from xraylab.evaluate.runner import run_evaluation
                from xraylab.evaluate.spec import load_spec

                s = load_spec(spec, set_ or [], output=output.resolve() if output is not None else None,
                              device=device, batch_size=batch_size, max_images=max_images)
                out = run_evaluation(s, log=log)
                typer.echo(f"{out / 'summary.md'}")
                return
            missing = [k for k, v in (("--model", model), ("--data", data), ("--out", output)) if v is None]
            if missing:
                raise ConfigError(f"give an evaluate SPEC, or {', '.join(missing)} for the plain form "
                                  "(xraylab evaluate --model CKPT --data DATASET --out DIR)")
            from xraylab.data.volume_dataset import is_volume_dataset

            if is_volume_dataset(data):  # type: ignore[arg-type]
                from xraylab.volumes.evaluate import evaluate_plain

                summary = evaluate_plain(model, data, output, split=split, device=device or "auto",  # type: ignore
                                         log=log)
                typer.echo(f"{summary}")
                return
            from xraylab.evaluate.plain import PlainSpec, parse_map, parse_plain, run_plain, split_names
            from xraylab.overrides import apply_overrides

            raw: dict[str, Any] = {"model": str(model), "data": str(data), "output": str(output), "split": split,
                                   "structures": split_names(structures), "map": parse_map(map_)}
            for key, value in (("device", device), ("batch_size", batch_size), ("max_images", max_images),
                               ("sheet_images", sheet_images)):
                if value is not None:
                    raw[key] = value
            raw = apply_overrides(raw, set_ or [], model=PlainSpec)
            out = run_plain(parse_plain(raw, where="xraylab evaluate"), log=log)
            typer.echo(f"{out / 'summary.md'}")
        except XRayLabError as exc:
            # one line and the error's status, under `xraylab` (cli.main) and typer's CliRunner alike
            # (typer.Exit would be returned, not raised, by cli.main's non-standalone app call)
            typer.echo(f"xraylab: error: {exc}", err=True)
            sys.exit(exc.exit_code)
