"""The ``xraylab`` command line: one app, one sub-command per stage.

Each sub-command lives in its own module under :mod:`xraylab.commands` and
exposes ``register(app)``. Heavy imports (torch, diffdrr, ...) happen inside
the commands, so ``xraylab --help`` stays fast. Any :class:`XRayLabError` is
printed on one line and the process exits with status 2; an operating-system error
(disk full, read-only filesystem, permission denied, a file where a folder is
needed, ...) is printed on one line naming the path and what to do, status 74
(``EX_IOERR`` of sysexits.h).
"""

from __future__ import annotations

import errno
import importlib
import os
import sys
from typing import Any

import typer

from xraylab.errors import XRayLabError

HELP = (
    "Physics-based X-ray simulation from CT and robustness studies for medical imaging.\n\n"
    "Stages: render (one radiograph + masks from a CT), generate (a synthetic dataset from a YAML spec), "
    "degrade (corrupted copies of a dataset), train (segmentation / classification), evaluate "
    "(robustness suites), run (chain stages from one spec), demo (the quick-start job on the embedded CT); "
    "import (real radiographs or CT volumes in), label (labels for a CT without them), realism (synthetic vs real)."
)

COMMAND_MODULES = ("render", "generate", "degrade", "train", "evaluate", "run", "demo", "import_", "realism",
                   "label")


def build_app(command: str | None = None) -> typer.Typer:
    """The typer app with every sub-command, or only ``command``'s (its module alone is imported: a single
    ``xraylab render`` does not pay for importing the other stages)."""
    app = typer.Typer(name="xraylab", help=HELP, no_args_is_help=True, add_completion=False,
                      pretty_exceptions_enable=False)

    @app.callback()
    def _root() -> None:  # keeps a one-command app a group: `xraylab render ...` stays `render ...`
        pass

    modules = COMMAND_MODULES if command is None else (_module_of(command),)
    for name in modules:
        try:
            mod = importlib.import_module(f"xraylab.commands.{name}")
        except ModuleNotFoundError as exc:  # a stage not built yet
            if exc.name != f"xraylab.commands.{name}":
                raise
            continue
        mod.register(app)
    return app


_APP: typer.Typer | None = None


def __getattr__(name: str) -> Any:
    """``xraylab.cli.app``: the full app, built on first use."""
    global _APP
    if name == "app":
        if _APP is None:
            _APP = build_app()
        return _APP
    raise AttributeError(name)


def _module_of(command: str) -> str:
    """The :data:`COMMAND_MODULES` name of a sub-command (``import`` lives in ``import_``)."""
    return "import_" if command == "import" else command


def _app_for(argv: list[str]) -> typer.Typer:
    """Only the invoked sub-command's app when ``argv`` starts with a known command, else the full app."""
    if argv and _module_of(argv[0]) in COMMAND_MODULES:
        return build_app(argv[0])
    return __getattr__("app")


OS_ERROR_EXIT = 74  # EX_IOERR, sysexits.h

# What to do about each operating-system error a run can meet while reading inputs or writing outputs.
_OS_ADVICE = {
    errno.ENOSPC: "the disk is full; free space (or choose --out on another disk) and run the same command again "
                  "to resume",
    errno.EDQUOT: "the disk quota is exhausted; free space and run the same command again to resume",
    errno.EROFS: "the filesystem is read-only; choose an --out on a writable disk",
    errno.EACCES: "permission denied; check the permissions of that path or choose another --out",
    errno.EPERM: "operation not permitted; check the permissions of that path or choose another --out",
    errno.ENOTDIR: "a part of that path is a file, not a folder; remove the file or choose another path",
    errno.EEXIST: "a file is in the way where a folder or new file is needed; remove it or choose another path",
    errno.EISDIR: "that path is a folder where a file is needed; give a file",
    errno.ENOENT: "check the path",
    errno.ENAMETOOLONG: "the name is too long for the filesystem; choose a shorter path",
    errno.EMFILE: "too many open files; raise the limit (ulimit -n) or use fewer --workers",
    errno.EIO: "input/output error from the disk; check the disk and run the same command again",
}


def os_error_message(exc: OSError) -> str:
    """One line for an ``OSError``: the path(s) it names, the system's reason and what to do."""
    where = ""
    if exc.filename is not None:
        where = os.fsdecode(exc.filename)
        if exc.filename2 is not None:
            where += f" -> {os.fsdecode(exc.filename2)}"
        where += ": "
    reason = exc.strerror or str(exc) or type(exc).__name__
    advice = _OS_ADVICE.get(exc.errno or -1, "check that path and run the same command again")
    return " ".join(f"{where}{reason}; {advice}".split())


def _click_classes() -> tuple[tuple[type, ...], tuple[type, ...], tuple[type, ...]]:
    """(UsageError, NoArgsIsHelpError, ClickException) classes of click and of typer's vendored copy."""
    usage: list[type] = []
    no_args: list[type] = []
    click_exc: list[type] = []
    for name in ("typer._click.exceptions", "click.exceptions"):
        try:
            mod = importlib.import_module(name)
        except ImportError:
            continue
        usage += [mod.UsageError]
        click_exc += [mod.ClickException]
        no_args += [c for c in (getattr(mod, "NoArgsIsHelpError", None),) if c is not None]
    return tuple(usage), tuple(no_args), tuple(click_exc)


def quiet_library_warnings() -> None:
    """Hide library warnings that are not the user's concern (each would put lines before every message)."""
    import warnings

    # timm's model modules call torch.jit.interface at import (torch ≥ 2.10 deprecates it): two lines on every
    # train/evaluate run that the user can do nothing about.
    warnings.filterwarnings("ignore", message=r"`torch\.jit\.interface` is deprecated", category=FutureWarning)


def main() -> None:
    """Console-script entry point: run the app, turning xraylab errors into one-line messages."""
    quiet_library_warnings()
    try:
        app = _app_for(sys.argv[1:])
        code = app(standalone_mode=False)  # returns the code of a typer.Exit instead of raising it
    except XRayLabError as exc:
        typer.echo("xraylab: error: " + " ".join(str(exc).split()), err=True)
        sys.exit(exc.exit_code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except OSError as exc:
        typer.echo(f"xraylab: error: {os_error_message(exc)}", err=True)
        sys.exit(OS_ERROR_EXIT)
    except (typer.Abort, KeyboardInterrupt):
        typer.echo("xraylab: interrupted", err=True)
        sys.exit(130)
    except RuntimeError as exc:
        if not str(exc).startswith("Symlink loop"):
            raise
        typer.echo(f"xraylab: error: {exc}: a link that points back at itself; remove or fix it", err=True)
        sys.exit(2)
    except Exception as exc:  # click usage errors (typer vendors click as typer._click)
        usage, no_args, click_exc = _click_classes()
        err: Any = exc  # one of the click exception classes below (typed per module, so checked at run time)
        if isinstance(exc, usage) and not isinstance(exc, no_args):
            ctx = getattr(err, "ctx", None)
            where = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
            typer.echo("xraylab: error: " + " ".join(err.format_message().split()) + where, err=True)
            sys.exit(err.exit_code)
        if isinstance(exc, click_exc):
            err.show()
            sys.exit(err.exit_code)
        raise
    if code == 130:  # typer turns Ctrl-C (click's Abort) into exit status 130 without a word
        typer.echo("xraylab: interrupted", err=True)
    if isinstance(code, int) and code:
        sys.exit(code)


def console() -> None:
    """The ``xraylab`` program (console script and ``python -m xraylab.cli``): :func:`main` in a process of its
    own, whose start-up imports run without full garbage collections and whose exit skips the collector's
    last full scan (:mod:`xraylab.startup`)."""
    from xraylab.startup import defer_full_gc, freeze_for_exit

    defer_full_gc()
    try:
        main()
    finally:
        freeze_for_exit()


if __name__ == "__main__":
    console()
