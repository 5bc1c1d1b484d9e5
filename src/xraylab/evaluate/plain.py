"""Plain evaluation: one checkpoint scored on one dataset, no spec needed (sim-to-real testing).

``xraylab evaluate --model CKPT --data DATASET --out DIR`` and a ``xraylab run`` step
``evaluate: {model: CKPT, data: DATASET, split: test}`` both call :func:`run_plain`.

What is scored (:func:`plan_structures`):

* every class of the model whose mask the dataset has (``mask:<class>``), or the classes named in
  ``structures``; ``map`` scores a model class against a differently named mask
  (``{heart: cardiomediastinum}``);
* the union class ``lungs``: when the model predicts ``left_lung`` and ``right_lung`` but no ``lungs``,
  the union of the two predicted masks is scored against ``mask:lungs`` (or ``map``'s name for ``lungs``),
  else against the union of the true left and right masks. It is scored by default whenever both sides are.
  (A model that predicts ``lungs`` itself is scored against ``mask:lungs``, else the union of the true sides.)

Scoring is :func:`xraylab.evaluate.engine.score_segmentation`, the scorer of every suite, with the trainer's
preprocessing (:func:`xraylab.data.datasets.load_sample`: channels as the checkpoint's ``in_channels``, resize with
zero padding to its ``image_size``, bilinear for images, nearest for masks), so metrics are computed on the
model's input grid. Metrics are those of :mod:`xraylab.metrics` (MONAI definitions): Dice, HD, HD95. A row
without a mask file for a structure is listed with NaN scores and left out of the summary (the policy of every
scorer).
Distances are in mm when the row has a pixel spacing > 0 (first of
:data:`~xraylab.evaluate.data.SPACING_COLUMNS`; imported datasets: ``pixel_spacing_mm`` of the stored image),
scaled by the resize to the model grid; otherwise in pixels of the model grid (column ``unit``).

Outputs in the run folder::

    per_image.csv / .parquet   one row per image x structure (PER_IMAGE_COLUMNS)
    summary.csv / summary.md   mean ± SD over images per structure (and unit), n
    predictions.png            contact sheet: true (solid) and predicted (dashed) contours
    results.parquet            the same scores in the long format of spec runs (suite ``test``)
    evaluate.json              resolved options, model info, package versions
"""

from __future__ import annotations

import io
import json
import os
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Literal, Mapping, Sequence

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from xraylab.errors import ConfigError, InputFileError
from xraylab.evaluate.targets import Target

UNION = "lungs"
UNION_PARTS = ("left_lung", "right_lung")
SUITE = "test"
PER_IMAGE_COLUMNS = [
    "image_id", "subject_id", "split", "structure", "target", "dice", "hd", "hd95", "unit", "spacing_mm",
    "pred_pixels", "true_pixels", "stray_components", "stray_pixels",
]
SUMMARY_COLUMNS = [
    "structure", "target", "unit", "n", "dice_mean", "dice_sd", "hd_mean", "hd_sd", "hd95_mean", "hd95_sd",
    "stray_components_mean", "stray_pixels_mean",
]


class PlainSpec(BaseModel):
    """Options of a plain evaluation (the CLI's ``--model/--data/--out`` form, a pipeline step's plain form)."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(description="train run folder (uses checkpoints/best.pt) or .pt checkpoint")
    data: str = Field(description="dataset folder holding manifest.parquet")
    output: str = Field(description="run folder for per_image.csv, summary.md, predictions.png")
    split: str | None = Field(None, description="manifest split to score (e.g. test); null = every row")
    structures: list[str] | None = Field(
        None, description="model classes to score (and 'lungs'); null = those the dataset has masks for")
    map: dict[str, str] = Field(
        default_factory=dict, description="model class -> dataset structure to score it against")
    device: str = Field("cpu", description="torch device, e.g. cpu or cuda:0")
    batch_size: int = Field(16, ge=1, description="images per inference batch (count)")
    max_images: int | None = Field(None, gt=0, description="score at most this many images (count)")
    sheet_images: int = Field(12, ge=0, description="images on predictions.png (count; 0 = no sheet)")
    dice_empty: Literal["score", "nan"] = Field("score", description="Dice policy for an empty true mask")
    hd_empty: Literal["max", "nan", "monai"] = Field("max", description="HD/HD95 policy for empty masks")


def parse_map(items: Sequence[str] | Mapping[str, str] | None) -> dict[str, str]:
    """``["heart=cardiomediastinum"]`` (``--map``) or a mapping -> ``{"heart": "cardiomediastinum"}``."""
    if items is None:
        return {}
    if isinstance(items, Mapping):
        return {str(k): str(v) for k, v in items.items()}
    out: dict[str, str] = {}
    for item in items:
        name, eq, other = str(item).partition("=")
        if not eq or not name.strip() or not other.strip():
            raise ConfigError(f"--map {item!r} must look like CLASS=STRUCTURE (e.g. heart=cardiomediastinum)")
        out[name.strip()] = other.strip()
    return out


def split_names(items: Sequence[str] | None) -> list[str] | None:
    """Structure names from repeated and/or comma-separated values (None = not given)."""
    if not items:
        return None
    names = [s.strip() for item in items for s in str(item).split(",") if s.strip()]
    return list(dict.fromkeys(names)) or None


def union_possible(classes: Sequence[str]) -> bool:
    """True when ``lungs`` can be scored as the union of the predicted left and right lungs."""
    return all(p in classes for p in UNION_PARTS) and UNION not in classes


def plan_structures(
    classes: Sequence[str],
    available: Sequence[str],
    structures: Sequence[str] | None = None,
    mapping: Mapping[str, str] | None = None,
    dataset: str = "dataset",
) -> list[Target]:
    """What to score: :class:`Target` per structure, in model-class order (``lungs`` last).

    ``classes``: the model's classes; ``available``: the dataset's mask structures. Raises
    :class:`ConfigError` for a name the model cannot predict and :class:`InputFileError` for a mask the
    dataset lacks (both naming what there is).
    """
    classes = list(classes)
    have = set(available)
    mapping = dict(mapping or {})
    union = union_possible(classes)
    scoreable = classes + ([UNION] if union else [])
    listing = ", ".join(classes) + (f" (and {UNION} = {' + '.join(UNION_PARTS)})" if union else "")
    have_text = ", ".join(f"mask:{s}" for s in available) or "no mask columns"
    for name, other in mapping.items():
        if name not in scoreable:
            raise ConfigError(f"--map {name}={other}: the model has no class {name!r}; its classes are {listing}")
        if other not in have:
            raise InputFileError(
                f"{dataset}: --map {name}={other}: the dataset has no mask:{other} (it has {have_text})")

    candidates: dict[str, Target | None] = {}
    for c in classes:
        t = mapping.get(c, c)
        candidates[c] = Target(c, (c,), (t,)) if t in have else None
        sides = tuple(mapping.get(p, p) for p in UNION_PARTS)
        if c == UNION and candidates[c] is None and c not in mapping and all(s in have for s in sides):
            candidates[c] = Target(c, (c,), sides)  # a lungs class against the union of the true sides
    if union:
        t = mapping.get(UNION, UNION)
        sides = tuple(mapping.get(p, p) for p in UNION_PARTS)
        if t in have:
            candidates[UNION] = Target(UNION, UNION_PARTS, (t,))
        elif UNION not in mapping and all(s in have for s in sides):
            candidates[UNION] = Target(UNION, UNION_PARTS, sides)
        else:
            candidates[UNION] = None

    if structures is None:
        out = [t for t in candidates.values() if t is not None]
        if not out:
            raise InputFileError(
                f"{dataset}: the dataset has masks for none of the model's classes ({listing}); it has {have_text}; "
                "score a class against another mask with --map CLASS=STRUCTURE"
            )
        return out
    out = []
    for name in dict.fromkeys(structures):
        if name not in candidates:
            raise ConfigError(f"unknown structure {name!r}: the model predicts {listing}")
        found = candidates[name]
        if found is None:
            want = mapping.get(name, name)
            extra = f" or the union of mask:{' and mask:'.join(UNION_PARTS)}" if name == UNION else ""
            raise InputFileError(
                f"{dataset}: no mask:{want}{extra} to score {name!r} against (it has {have_text}); "
                f"use --map {name}=STRUCTURE"
            )
        out.append(found)
    return out


def row_spacing(rows: pd.DataFrame) -> np.ndarray:
    """Native pixel spacing (mm) per row, ``[N]``, NaN where unknown (missing, NaN or <= 0).

    Taken from the first of :data:`~xraylab.evaluate.data.SPACING_COLUMNS` that has a value for the row.
    """
    from xraylab.evaluate.data import SPACING_COLUMNS

    out = np.full(len(rows), np.nan)
    for col in SPACING_COLUMNS:
        if col in rows.columns:
            v = pd.to_numeric(rows[col], errors="coerce").to_numpy(dtype=np.float64)
            v = np.where(np.isfinite(v) & (v > 0), v, np.nan)
            out = np.where(np.isnan(out), v, out)
    return out


def select_rows(folder: str | Path, split: str | None, max_images: int | None) -> pd.DataFrame:
    """Manifest rows of ``folder`` sorted by ``image_id`` (one split, at most ``max_images``)."""
    from xraylab.evaluate.data import load_rows

    rows = load_rows(folder, None)
    if split is not None:
        have = sorted(str(s) for s in pd.unique(rows["split"].dropna()))
        rows = rows[rows["split"] == split].reset_index(drop=True)
        if rows.empty:
            raise InputFileError(
                f"{folder}: no rows with split {split!r} (splits: {', '.join(have) or 'none'}); "
                "omit --split to score every row"
            )
    if max_images is not None:
        rows = rows.iloc[:max_images].reset_index(drop=True)
    rows.attrs["folder"] = str(folder)
    return rows


@dataclass
class SheetTile:
    image: np.ndarray
    predicted: list[np.ndarray]
    true: list[np.ndarray]
    caption: str


def sheet_structures(targets: Sequence[Target]) -> list[int]:
    """Indices of the targets drawn on the contact sheet: all but a union whose parts are drawn already."""
    names = {t.structure for t in targets}
    return [i for i, t in enumerate(targets)
            if not (len(t.pred) > 1 and all(p in names for p in t.pred))]


def sheet_indices(n: int, count: int) -> list[int]:
    """Up to ``count`` row indices spread evenly over ``range(n)``."""
    if n == 0 or count <= 0:
        return []
    return sorted(set(np.linspace(0, n - 1, min(count, n)).round().astype(int).tolist()))


def score(
    model,
    rows: pd.DataFrame,
    folder: str | Path,
    targets: Sequence[Target],
    *,
    batch_size: int = 16,
    device: str = "cpu",
    dice_empty: str = "score",
    hd_empty: str = "max",
    sheet: Sequence[int] = (),
) -> tuple[pd.DataFrame, list[SheetTile]]:
    """Score ``model`` (:class:`~xraylab.evaluate.models.EvalModel`) on ``rows``: per-image rows and sheet tiles.

    Scores come from :func:`xraylab.evaluate.engine.score_segmentation`, the scorer of every suite: a row without
    a true mask file for a structure keeps NaN scores (and ``-1`` stray counts) and is not counted in the summary.
    ``sheet``: row indices to keep images and masks of for the contact sheet.
    """
    from xraylab.evaluate.engine import score_segmentation
    from xraylab.viz import short_caption

    native = row_spacing(rows)
    keep = set(sheet)
    frames, tiles = [], []
    metrics = ("dice", "hd", "hd95", "stray_components", "stray_pixels")
    for batch in score_segmentation(
        model, rows, folder, targets, metrics, batch_size=batch_size, device=device, dice_empty=dice_empty,
        hd_empty=hd_empty, spacing=np.repeat(native[:, None], 2, axis=1),
    ):
        meta, m, pred, true, eff = batch.rows, batch.metrics, batch.pred, batch.true, batch.spacing
        assert eff is not None  # a spacing (NaN where unknown) was passed in
        known = np.all(np.isfinite(eff), axis=1)
        d = m["dice"]
        b, k = d.shape
        frames.append(pd.DataFrame({
            "image_id": np.repeat(meta["image_id"].astype(str).to_numpy(), k),
            "subject_id": np.repeat(meta["subject_id"].astype(str).to_numpy(), k),
            "split": np.repeat(meta["split"].astype(str).to_numpy(), k),
            "structure": np.tile([t.structure for t in targets], b),
            "target": np.tile([t.target for t in targets], b),
            "dice": d.reshape(-1),
            "hd": m["hd"].reshape(-1),
            "hd95": m["hd95"].reshape(-1),
            "unit": np.repeat(np.where(known, "mm", "px"), k),
            "spacing_mm": np.repeat(np.where(known, eff.mean(axis=1), np.nan), k),
            "pred_pixels": pred.flatten(2).sum(-1).numpy().reshape(-1).astype(np.int64),
            "true_pixels": true.flatten(2).sum(-1).numpy().reshape(-1).astype(np.int64),
            "stray_components": np.nan_to_num(m["stray_components"], nan=-1).astype(np.int64).reshape(-1),
            "stray_pixels": np.nan_to_num(m["stray_pixels"], nan=-1).astype(np.int64).reshape(-1),
            # carried for the long-format results, dropped from per_image
            "_angle": np.repeat(meta["angle"].to_numpy(dtype=float), k),
            "_angle_group": np.repeat(meta["angle_group"].to_numpy(dtype=object), k),
            "_corruption": np.repeat(meta["corruption"].to_numpy(dtype=object), k),
            "_severity": np.repeat(meta["severity"].to_numpy(dtype=float), k),
        }))
        for j in range(b):
            if batch.start + j in keep:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)
                    mean_dice = float(np.nanmean(d[j])) if k else float("nan")
                tiles.append(SheetTile(
                    image=batch.images[j].mean(dim=0).numpy(),
                    predicted=[pred[j, i].numpy() for i in range(k)],
                    true=[true[j, i].numpy() for i in range(k)],
                    caption=f"{short_caption(meta['image_id'].iloc[j])}\nDice {mean_dice:.2f}",
                ))
    if not frames:
        raise InputFileError(f"{folder}: no rows to score")
    return pd.concat(frames, ignore_index=True), tiles


def summarise(per_image: pd.DataFrame) -> pd.DataFrame:
    """Mean and SD (ddof 1; NaN for one image) over images per structure, target and unit; ``n``: images scored
    (rows without a true mask file are listed in per_image with NaN scores and not counted)."""
    order = list(dict.fromkeys(per_image["structure"]))
    g = per_image.groupby(["structure", "target", "unit"], sort=False)
    out = g.agg(
        n=("dice", "count"),
        dice_mean=("dice", "mean"), dice_sd=("dice", "std"),
        hd_mean=("hd", "mean"), hd_sd=("hd", "std"),
        hd95_mean=("hd95", "mean"), hd95_sd=("hd95", "std"),
        stray_components_mean=("stray_components", lambda v: v[v >= 0].mean()),
        stray_pixels_mean=("stray_pixels", lambda v: v[v >= 0].mean()),
    ).reset_index()
    out["_o"] = out["structure"].map({s: i for i, s in enumerate(order)})
    return out.sort_values(["_o", "unit"], kind="stable").drop(columns="_o").reset_index(drop=True)[SUMMARY_COLUMNS]


def long_results(per_image: pd.DataFrame, model_name: str) -> pd.DataFrame:
    """``per_image`` in the long format of spec runs (:data:`~xraylab.evaluate.engine.ROW_COLUMNS`)."""
    from xraylab.evaluate.engine import ROW_COLUMNS

    base = pd.DataFrame({
        "model": model_name, "suite": SUITE, "subject": per_image["subject_id"], "image": per_image["image_id"],
        "class": per_image["structure"], "angle": per_image["_angle"], "angle_group": per_image["_angle_group"],
        "corruption": per_image["_corruption"], "severity": per_image["_severity"], "attack": None,
        "epsilon": np.nan, "target": None, "prediction": None,
    })
    parts = [base.assign(metric="dice", value=per_image["dice"].to_numpy())]
    for m in ("hd", "hd95"):
        parts.append(base.assign(metric=m + "_" + per_image["unit"], value=per_image[m].to_numpy()))
    df = pd.concat(parts, ignore_index=True)[ROW_COLUMNS]
    for c in ("angle", "severity", "epsilon", "value"):
        df[c] = pd.to_numeric(df[c], errors="coerce").astype("float64")
    for c in ("model", "suite", "subject", "image", "class", "angle_group", "corruption", "attack", "metric",
              "target", "prediction"):
        df[c] = df[c].astype("string")
    return df


def _fmt(mean: float, sd: float, digits: int) -> str:
    if not np.isfinite(mean):
        return "–"
    return f"{mean:.{digits}f} ± {sd:.{digits}f}" if np.isfinite(sd) else f"{mean:.{digits}f}"


def _summary_markdown(summary: pd.DataFrame, spec: PlainSpec, model, rows: pd.DataFrame, sheet: bool) -> str:
    from xraylab.evaluate.report import to_markdown

    disp = pd.DataFrame({
        "structure": summary["structure"],
        "scored against": ["mask:" + t.replace("+", " ∪ mask:") for t in summary["target"]],
        "n": summary["n"],
        "Dice": [_fmt(a, b, 3) for a, b in zip(summary["dice_mean"], summary["dice_sd"])],
        "HD": [_fmt(a, b, 2) + f" {u}" for a, b, u in zip(summary["hd_mean"], summary["hd_sd"], summary["unit"])],
        "HD95": [_fmt(a, b, 2) + f" {u}" for a, b, u in zip(summary["hd95_mean"], summary["hd95_sd"], summary["unit"])],
        "stray regions / image": [f"{v:.2f}" for v in summary["stray_components_mean"]],
    })
    split = f"split `{spec.split}`" if spec.split is not None else "all rows"
    lines = [
        f"# Evaluation of `{model.name}` on `{Path(spec.data).name}`",
        "",
        f"- model: `{spec.model}` (task {model.task}, classes {', '.join(model.classes)}, input "
        f"{model.image_size} × {model.image_size} px, {model.in_channels} channel(s))",
        f"- dataset: `{spec.data}`, {split}, {len(rows)} images; device `{spec.device}`",
        "",
        "Mean ± SD over images (SD with n − 1); HD and HD95 in mm where the image has a pixel spacing "
        "(scaled to the model's input grid), else in pixels of the model's input grid. Metrics follow MONAI: "
        f"empty-mask policies Dice `{spec.dice_empty}`, HD `{spec.hd_empty}`. Per image: `per_image.csv`.",
        "",
        to_markdown(disp),
        "",
    ]
    if sheet:
        lines += ["![predicted (dashed) and true (solid) contours](predictions.png)", "",
                  "*Predicted (dashed) and true (solid) contours, one colour per structure.*", ""]
    return "\n".join(lines)


def run_plain(spec: PlainSpec, model=None, log: Callable[[str], None] = print) -> Path:
    """Score ``spec.model`` (or the ready :class:`~xraylab.evaluate.models.EvalModel` ``model``) on ``spec.data``.

    Writes the files listed in the module docstring to ``spec.output`` and returns that folder.
    """
    from xraylab.data.manifest import structures_of
    from xraylab.evaluate.models import load_model_spec
    from xraylab.io.atomic import remove_temporaries_of, write_bytes, write_text
    from xraylab.versions import package_versions
    from xraylab.viz import contour_sheet, short_caption

    t0 = time.perf_counter()
    rows = select_rows(spec.data, spec.split, spec.max_images)
    if model is None:
        model = load_model_spec(model_label(spec.model), spec.model, spec.device)
    if not model.is_segmentation:
        raise ConfigError(f"{spec.model}: a {model.task} model; plain evaluation scores segmentation models")
    targets = plan_structures(model.classes, structures_of(rows), spec.structures, spec.map, dataset=spec.data)
    sheet = sheet_indices(len(rows), spec.sheet_images)
    per_image, tiles = score(
        model, rows, spec.data, targets, batch_size=spec.batch_size, device=spec.device,
        dice_empty=spec.dice_empty, hd_empty=spec.hd_empty, sheet=sheet,
    )
    out = Path(spec.output)
    out.mkdir(parents=True, exist_ok=True)
    for name in OUTPUT_FILES:  # only our own files' leftovers: --out may be a shared folder
        remove_temporaries_of(out / name)
    table = per_image[PER_IMAGE_COLUMNS]
    write_text(out / "per_image.csv", table.to_csv(index=False))
    buf = io.BytesIO()
    table.to_parquet(buf, index=False)
    write_bytes(out / "per_image.parquet", buf.getvalue())
    summary = summarise(table)
    write_text(out / "summary.csv", summary.to_csv(index=False))
    results = long_results(per_image, model.name)
    buf = io.BytesIO()
    results.to_parquet(buf, index=False)
    write_bytes(out / "results.parquet", buf.getvalue())
    if tiles:
        shown = sheet_structures(targets)
        contour_sheet(
            out / "predictions.png", [t.image for t in tiles], [[t.predicted[i] for i in shown] for t in tiles],
            [[t.true[i] for i in shown] for t in tiles], [targets[i].structure for i in shown],
            captions=[t.caption for t in tiles], title=short_caption(f"{model.name} on {Path(spec.data).name}", 60),
        )
    info = {k: v for k, v in model.info.items() if isinstance(v, (str, int, float, bool, list, dict, type(None)))}
    meta = {
        "mode": "plain", "spec": spec.model_dump(), "model": info, "rows": len(rows),
        "structures": [{"structure": t.structure, "pred": list(t.pred), "true": list(t.true)} for t in targets],
        "versions": package_versions(),
    }
    write_text(out / "evaluate.json", json.dumps(meta, indent=2, sort_keys=True, default=str) + "\n")
    write_text(out / "summary.md", _summary_markdown(summary, spec, model, rows, bool(tiles)))
    log(f"test: {len(rows)} images x {len(targets)} structures in {time.perf_counter() - t0:.1f} s")
    return out


# Every file run_plain writes into its output folder.
OUTPUT_FILES = ("per_image.csv", "per_image.parquet", "summary.csv", "results.parquet", "predictions.png",
                "evaluate.json", "summary.md")


def model_label(path: str | os.PathLike) -> str:
    """A short model name: the run folder's name (also for ``<run>/checkpoints/best.pt``), else the file stem."""
    p = Path(path)
    if p.suffix == ".pt":
        return p.parent.parent.name if p.parent.name == "checkpoints" and p.parent.parent.name else p.stem
    return p.name or str(p)


def parse_plain(data: Mapping, where: str = "<evaluate>", base: str | os.PathLike | None = None) -> PlainSpec:
    """Validate plain-evaluation options (one-line :class:`ConfigError` naming the field and ``where``);
    relative ``model``, ``data`` and ``output`` resolve against ``base`` (default: the current folder)."""
    from xraylab.specs import validate_spec

    spec = validate_spec(PlainSpec, dict(data), where, "evaluate")
    root = Path(base) if base is not None else Path.cwd()

    def ab(p: str) -> str:
        q = Path(os.path.expanduser(p))
        return str(q if q.is_absolute() else (root / q).resolve())

    return spec.model_copy(update={"model": ab(spec.model), "data": ab(spec.data), "output": ab(spec.output)})
