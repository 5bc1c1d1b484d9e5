"""``xraylab import <layout>``: real radiographs + masks → an xraylab dataset (one sub-command per layout).

The sub-commands are built from the layout registry (:data:`xraylab.data.importers.LAYOUTS`): every layout gets
the common options below plus its own (``--scr`` for jsrt, ``--annotations`` for chestx_det, ...), and its
``--help`` shows the folder tree it expects.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any, List, Optional

import typer


def _common_parameters() -> list[inspect.Parameter]:
    P = inspect.Parameter
    kw = P.KEYWORD_ONLY

    def opt(name: str, annotation: Any, default: Any) -> inspect.Parameter:
        return P(name, kw, default=default, annotation=annotation)

    return [
        P("root", P.POSITIONAL_OR_KEYWORD, annotation=Path, default=typer.Argument(
            ..., metavar="ROOT", help="Source folder laid out as this layout expects (see above).")),
        opt("out", Path, typer.Option(..., "--out", "-o", help="Output dataset folder (created; re-running the same "
                                      "command resumes an interrupted import).")),
        opt("size", str, typer.Option("256", "--size", help="Output image size in pixels: N (square) or HxW; aspect "
                                       "ratio kept, zero padding (as generated datasets). 0 keeps each image's own "
                                       "grid.")),
        opt("normalize", str, typer.Option("minmax", "--normalize", help="Intensity normalisation to [0, 1]: minmax, "
                                           "percentile (0.5-99.5 %, robust to burnt-in labels) or none (input "
                                           "already in [0, 1]).")),
        opt("split", str, typer.Option("test", "--split", help="Subject-level split: a split name (default test: "
                                       "real sets are usually the test set), fractions such as train=0.8,val=0.2 "
                                       "(seeded by --seed), or source (the dataset's own split).")),
        opt("seed", int, typer.Option(0, "--seed", help="Seed (integer) of the subject-level split.")),
        opt("rename", List[str], typer.Option([], "--rename", help="Structure rename FROM=TO, e.g. "
                                              "heart=cardiomediastinum; repeatable.")),
        opt("define", List[str], typer.Option([], "--define", help="STRUCTURE=TEXT: what a structure's masks mean, "
                                              "recorded in dataset.json structure_definitions; repeatable.")),
        opt("structures", Optional[str], typer.Option(None, "--structures", help="Comma-separated output structures "
                                                      "to keep (default: all, including the unions lungs and "
                                                      "clavicles).")),
        opt("allow_missing_masks", bool, typer.Option(False, "--allow-missing-masks", help="Import images that lack "
                                                      "a mask (that mask column is left empty) instead of stopping.")),
        opt("skip_unmasked", bool, typer.Option(False, "--skip-unmasked", help="Leave out images that lack a mask "
                                                "(listed in dataset.json).")),
        opt("metadata", Optional[Path], typer.Option(None, "--metadata", help="items.json or CSV naming each image "
                                                     "(key image) with patient (→ subject_id), view, license, ...")),
        opt("licence", Optional[str], typer.Option(None, "--licence", help="Licence text for images whose metadata "
                                                   "names none (default: the layout's).")),
        opt("swap_sides", bool, typer.Option(False, "--swap-sides", help="Exchange left_* and right_* masks (for "
                                             "sets named by image side rather than patient side).")),
        opt("name", Optional[str], typer.Option(None, "--name", help="Dataset name in dataset.json (default: the "
                                                "source folder's name).")),
        opt("limit", Optional[int], typer.Option(None, "--limit", help="Import only the first N images (by id).")),
        opt("contact_sheet", int, typer.Option(25, "--contact-sheet", help="Images on contact_sheet.png (0 = none).")),
        opt("overwrite", bool, typer.Option(False, "--overwrite", help="Delete the dataset in OUT and start afresh.")),
        opt("quiet", bool, typer.Option(False, "--quiet", "-q", help="No progress bar.")),
    ]


def _layout_parameters(layout_cls: Any) -> list[inspect.Parameter]:
    params = []
    for o in layout_cls.options:
        annotation = List[str] if o.type in (list, list[str], List[str]) else o.type
        default = list(o.default) if isinstance(o.default, (list, tuple)) else o.default
        params.append(inspect.Parameter(o.name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation,
                                        default=typer.Option(default, o.flag, help=o.help)))
    return params


def run_import(layout: str, kwargs: dict[str, Any], layout_option_names: list[str]) -> None:
    """Run one import from parsed command-line values and print a summary (warnings for reversed sides)."""
    from xraylab.data.importers import import_dataset

    layout_options = {k: kwargs.pop(k) for k in layout_option_names}
    structures = kwargs.pop("structures")
    quiet = kwargs.pop("quiet")
    size = kwargs.pop("size")
    res = import_dataset(
        layout, kwargs.pop("root"), kwargs.pop("out"),
        size=size, structures=[s.strip() for s in structures.split(",") if s.strip()] if structures else None,
        progress=not quiet, layout_options=layout_options, **kwargs,
    )
    info = res.info
    counts = info["counts"]
    per_split = ", ".join(f"{k} {v}" for k, v in counts["per_split"].items())
    typer.echo(f"{res.n_written} images imported, {res.n_skipped} already complete, in {res.seconds:.1f} s: "
               f"{counts['images']} images of {counts['subjects']} subjects ({per_split}); structures "
               f"{', '.join(res.structures) or 'none'}")
    sc = info.get("side_check", {})
    if sc.get("reversed"):
        typer.echo(f"warning: {sc['reversed']} image(s) have right_* masks to the right of left_* masks (first: "
                   f"{', '.join(sc['reversed_ids'][:3])}); if the whole set is named by image side, re-run with "
                   "--swap-sides --overwrite", err=True)
    if info.get("missing_masks"):
        typer.echo("note: images without some masks: " + ", ".join(f"{s} {len(v)}" for s, v in
                                                                   info["missing_masks"].items()), err=True)
    typer.echo(f"dataset: {res.out}/ (manifest.parquet, dataset.json, contact_sheet.png)")


def _make_command(layout_cls: Any):
    names = [o.name for o in layout_cls.options]
    layout = layout_cls.name

    def command(**kwargs: Any) -> None:
        run_import(layout, dict(kwargs), names)

    params = _common_parameters() + _layout_parameters(layout_cls)
    command.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    command.__name__ = f"import_{layout}"
    command.__doc__ = _layout_help(layout_cls)
    return command


def _layout_help(layout_cls: Any) -> str:
    text = f"{layout_cls.summary}.\n\n{layout_cls.description}"
    if layout_cls.source_split_note:
        text += f"\n\nDataset's own split (--split source): {layout_cls.source_split_note}."
    if layout_cls.manifest:
        text += f"\n\nWhere to obtain it, licence, expected files: data_manifests/{layout_cls.manifest}."
    return text


def group_help() -> str:
    from xraylab.data.importers import LAYOUTS

    lines = "\n\n".join(f"{name}: {cls.summary}" for name, cls in LAYOUTS.items())
    return (
        "Import real radiographs + masks into an xraylab dataset (images/, masks/<structure>/, manifest.parquet, "
        "dataset.json) with the conventions and the one preprocessing of generated datasets: 16-bit PNG in [0, 1], "
        "air dark and bone bright (MONOCHROME1 inverted), aspect kept with zero padding, masks nearest; DICOM VOI "
        "LUT applied and pixel spacing kept (pixel_spacing_mm, NaN when unknown); subject-level splits; "
        "lungs = left_lung ∪ right_lung.\n\n"
        f"Layouts ({', '.join(LAYOUTS.names())}):\n\n{lines}\n\n"
        "Example: xraylab import folder ../shared/data/radiographs/cxr_lungs_heart --out real_cxr "
        "--rename heart=cardiomediastinum"
    )


def register(app: typer.Typer) -> None:
    """Add the ``import`` command group (one sub-command per registered layout) to ``app``."""
    from xraylab.data.importers import LAYOUTS

    sub = typer.Typer(name="import", no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                      help=group_help())
    for name, cls in LAYOUTS.items():
        sub.command(name, short_help=cls.summary)(_make_command(cls))
    from xraylab.commands.import_volumes import register_volume_import

    register_volume_import(sub)
    app.add_typer(sub, name="import", short_help="Real radiographs + masks → an xraylab dataset (layouts: "
                  f"{', '.join(LAYOUTS.names())}).")
