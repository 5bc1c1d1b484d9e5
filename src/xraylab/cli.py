"""The ``xraylab`` command line: one app, one sub-command per stage.

Each sub-command lives in its own module under :mod:`xraylab.commands` and
exposes ``register(app)``. Heavy imports (torch, diffdrr, ...) happen inside
the commands, so ``xraylab --help`` stays fast. Any :class:`XRayLabError` is
printed on one line and the process exits with status 2.
"""

from __future__ import annotations

import importlib
import sys

import typer

from xraylab.errors import XRayLabError

app = typer.Typer(
    name="xraylab",
    help=(
        "Physics-based X-ray simulation from CT and robustness studies for medical imaging.\n\n"
        "Stages: render (one radiograph + masks from a CT), generate (a synthetic dataset from a YAML spec), "
        "degrade (corrupted copies of a dataset), train (segmentation / classification), evaluate "
        "(robustness suites), run (chain stages from one spec), demo (the quick-start job on the embedded CT)."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

COMMAND_MODULES = ("render", "generate", "degrade", "train", "evaluate", "run", "demo", "import_")

for _name in COMMAND_MODULES:
    try:
        _mod = importlib.import_module(f"xraylab.commands.{_name}")
    except ModuleNotFoundError as _exc:  # a stage not built yet
        if _exc.name != f"xraylab.commands.{_name}":
            raise
        continue
    _mod.register(app)


def main() -> None:
    """Console-script entry point: run the app, turning xraylab errors into one-line messages."""
    try:
        code = app(standalone_mode=False)  # returns the code of a typer.Exit instead of raising it
    except XRayLabError as exc:
        typer.echo(f"xraylab: error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        typer.echo("xraylab: interrupted", err=True)
        sys.exit(130)
    except Exception as exc:  # click usage errors
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        raise
    if isinstance(code, int) and code:
        sys.exit(code)


if __name__ == "__main__":
    main()
