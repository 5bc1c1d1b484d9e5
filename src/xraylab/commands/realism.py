"""``xraylab realism SYNTHETIC REAL --out DIR``: realism report of one dataset against another (both with masks)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def register(app: typer.Typer) -> None:
    """Add the ``realism`` command to ``app``."""

    @app.command(
        "realism",
        help=(
            "Compare SYNTHETIC with REAL (two dataset folders with manifest.parquet and lung + heart masks): "
            "region intensity histograms, lung/heart contrast, rib-edge contrast, lung noise, lung-boundary "
            "sharpness (real 10-90 % range vs synthetic median) and a classifier two-sample test (cross-validated "
            "AUC, 0.5 = indistinguishable). Writes realism.csv, realism.md, realism.png and realism.json; when "
            "SYNTHETIC has lung masks of the annotation conventions (lungs, lung_field, lung_field_scr) also "
            "conventions.md: their lung/heart label statistics against REAL's masks and which one matches."
        ),
    )
    def realism(
        synthetic: Path = typer.Argument(..., help="dataset folder of the images to assess (a path)"),
        real: Path = typer.Argument(..., help="reference dataset folder, e.g. an `xraylab import` of real images"),
        out: Path = typer.Option(..., "--out", "-o", help="output folder for the report (created)"),
        size: int = typer.Option(256, "--size", min=32, max=2048, help="common image size, pixels (aspect kept)"),
        split: Optional[str] = typer.Option(None, "--split", help="use only this split of both sets (default: all)"),
        limit: Optional[int] = typer.Option(None, "--limit", min=2, help="at most N images per set (seeded choice)"),
        lungs: Optional[str] = typer.Option(None, "--lungs", help="lung mask structure (default: lungs, or "
                                            "left_lung + right_lung)"),
        heart: Optional[str] = typer.Option(None, "--heart", help="heart mask structure (default: "
                                            "cardiomediastinum, else heart)"),
        seed: int = typer.Option(0, "--seed", help="seed (integer) of --limit and the cross-validation folds"),
    ) -> None:
        from xraylab.evaluate.realism import run_realism

        run_realism(synthetic, real, out, size=size, split=split, limit=limit, lungs=lungs, heart=heart, seed=seed)
        typer.echo((out / "realism.md").read_text(encoding="utf-8"))
        if (out / "conventions.md").is_file():
            typer.echo((out / "conventions.md").read_text(encoding="utf-8"))
        typer.echo(f"wrote {out / 'realism.csv'}, realism.md, realism.png, realism.json"
                   + (", conventions.csv, conventions.md" if (out / "conventions.md").is_file() else ""))
