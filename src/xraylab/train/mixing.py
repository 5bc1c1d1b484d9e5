"""Data mixing: read every dataset of a spec, keep its train/val rows, resolve classes, plan epochs.

Each dataset of the spec is a folder with ``manifest.parquet`` (:mod:`xraylab.data.manifest`). Its
``split`` column decides where a row goes (``train`` / ``val``; ``test`` rows are never read, RAMP
§3.5); ``where`` filters rows (e.g. Fok's Syn_cen = ``angle_group: [Center]`` or ``subset:center: [true]``);
``ratio`` fixes the share of each training epoch drawn from the dataset. Everything that can be checked before training
is checked here: columns, labels, subject-level splits and that every referenced file exists.

The mixed tables carry ``_dataset`` (dataset name), ``_root`` (its folder) and ``_target`` (class
index, classification-like tasks) next to the manifest's own columns.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from xraylab.data.manifest import MASK_PREFIX, read_manifest, structures_of
from xraylab.errors import ConfigError, InputFileError
from xraylab.train.spec import DatasetSpec, TrainSpec

TASK_COLUMN = {"classification": None, "severity": "severity", "type": "corruption"}
SPLITS = ("train", "val", "test")


@dataclass
class MixedData:
    """Training and validation rows of all datasets, with the resolved output classes."""

    train: pd.DataFrame
    val: pd.DataFrame
    classes: list[str]
    image_columns: list[str]  # the file columns every row references (image + masks)
    notes: list[str] = field(default_factory=list)  # decisions worth a line in the log (validation fallbacks)


def _target_column(spec: TrainSpec) -> str | None:
    if spec.task == "segmentation":
        return None
    return spec.label_column if spec.task == "classification" else TASK_COLUMN[spec.task]


def _load_one(i: int, ds: DatasetSpec, spec: TrainSpec, notes: list[str]) -> pd.DataFrame:
    where = f"data[{i}] ({ds.name})"
    if ds.path is None:
        raise ConfigError(f"{where}: no dataset folder; set data[{i}].path in the spec or pass --data {ds.name}=DIR")
    root = Path(ds.path)
    df = read_manifest(root)
    for col, values in ds.where.items():
        if col not in df.columns:
            raise ConfigError(f"{where}.where: manifest {root} has no column {col!r} (has {', '.join(df.columns)})")
        df = df[df[col].isin(values)]
    bad = sorted(set(df["split"].astype(str)) - set(SPLITS))
    if bad:
        raise InputFileError(f"{root}: unknown split value(s) {bad}; use train / val / test")
    _check_subjects(df, root)
    if ds.val_fraction is not None and not (df["split"] == "val").any():
        df = _carve_val(df, ds.val_fraction, spec.seed, ds.name, notes, ds.val_group)
    keep = []
    if ds.train:
        keep.append("train")
    if ds.val:
        keep.append("val")
    df = df[df["split"].isin(keep)].copy()
    df["_dataset"] = ds.name
    df["_root"] = str(root)
    return df


def _subject_groups(df: pd.DataFrame) -> pd.Series:
    """The unit of a subject-level split: ``source_subject_id`` where present (a pseudo-subject stays with the
    CT it was deformed from), else ``subject_id``."""
    if "source_subject_id" in df.columns:
        return df["source_subject_id"].fillna(df["subject_id"]).astype(str)
    return df["subject_id"].astype(str)


def _check_subjects(df: pd.DataFrame, root: Path) -> None:
    per_subject = df.groupby(_subject_groups(df))["split"].nunique()
    crossing = per_subject[per_subject > 1]
    if len(crossing):
        raise InputFileError(
            f"{root}: subject(s) {', '.join(map(str, crossing.index[:5]))} appear in more than one split; "
            "splits must be subject-level"
        )


# Columns that tell views of one subject apart, in order of preference, for a single-subject validation split.
VIEW_COLUMNS = ("angle_deg", "image_id")
DEFAULT_VAL_FRACTION = 0.1


def _carve_val(df: pd.DataFrame, fraction: float, seed: int, name: str, notes: list[str],
               group: str = "source") -> pd.DataFrame:
    """Move a seeded ``fraction`` of the train subjects (at least one) to ``val``.

    ``group``: ``source`` holds out whole source CTs (with their pseudo-subjects), ``subject`` single anatomies
    (``subject_id``).

    With a single training subject (e.g. one CT rendered at many angles) subjects cannot be split: a seeded
    ``fraction`` of its *views* goes to ``val`` instead — whole values of ``angle_deg`` when the manifest has it
    (every view of a held-out angle), else single images — and a note says so.
    """
    train = df["split"] == "train"
    groups = _subject_groups(df) if group == "source" else df["subject_id"].astype(str)
    train_subjects = np.array(sorted(groups[train].unique()))
    rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
    df = df.copy()
    if len(train_subjects) >= 2:
        n_val = min(len(train_subjects) - 1, max(1, round(fraction * len(train_subjects))))
        val_subjects = set(rng.choice(train_subjects, size=n_val, replace=False))
        df.loc[groups.isin(val_subjects) & train, "split"] = "val"
        return df
    column = next((c for c in VIEW_COLUMNS if c in df.columns and df.loc[train, c].nunique() >= 2), None)
    if column is None:
        return df
    values = np.array(sorted(df.loc[train, column].unique()))
    n_val = min(len(values) - 1, max(1, round(fraction * len(values))))
    held = set(rng.choice(values, size=n_val, replace=False).tolist())
    df.loc[df[column].isin(held) & train, "split"] = "val"
    shown = ", ".join(str(v) for v in sorted(held)[:6]) + (" …" if len(held) > 6 else "")
    notes.append(f"dataset {name!r} has one subject ({train_subjects[0] if len(train_subjects) else '?'}): "
                 f"validation uses held-out views ({column} in {{{shown}}}, {n_val} of {len(values)}), "
                 "not held-out subjects")
    return df


def _resolve_classes(spec: TrainSpec, table: pd.DataFrame, first_structures: list[str]) -> list[str]:
    if spec.task == "segmentation":
        return list(spec.structures) if spec.structures else first_structures
    col = _target_column(spec)
    values = table[col]
    if spec.task == "severity":
        levels = pd.to_numeric(values, errors="coerce")
        if levels.isna().any() or (levels < 0).any() or (levels % 1 != 0).any():
            raise InputFileError("column 'severity' must hold integer levels >= 0 (0 = clean)")
        default = [str(k) for k in range(max(4, int(levels.max())) + 1)]
    elif spec.task == "type":
        others = sorted(set(values.astype(str)) - {"none"})
        default = ["none"] + others
    else:
        default = sorted(set(values.astype(str)))
    return list(spec.classes) if spec.classes else default


def _check_columns(spec: TrainSpec, df: pd.DataFrame, i: int, classes: list[str] | None) -> list[str]:
    ds = spec.data[i]
    where = f"data[{i}] ({ds.name}, {ds.path})"
    if spec.task == "segmentation":
        wanted = classes or structures_of(df)
        if not wanted:
            raise ConfigError(f"{where}: manifest has no mask:<structure> columns; segmentation needs masks")
        missing = [s for s in wanted if MASK_PREFIX + s not in df.columns]
        if missing:
            raise ConfigError(
                f"{where}: manifest has no mask column(s) {', '.join(MASK_PREFIX + s for s in missing)} "
                f"(structures); it has {', '.join(structures_of(df)) or 'none'}"
            )
        return [MASK_PREFIX + s for s in wanted]
    col = _target_column(spec)
    if col not in df.columns:
        field = "label_column" if spec.task == "classification" else f"task {spec.task}"
        raise ConfigError(f"{where}: manifest has no column {col!r} needed by {field}")
    if df[col].isna().any():
        raise InputFileError(f"{where}: column {col!r} has empty values")
    return []


def _check_files(table: pd.DataFrame, columns: list[str]) -> None:
    missing = []
    for col in columns:
        for root, rel in zip(table["_root"], table[col]):
            if rel is None or (isinstance(rel, float) and np.isnan(rel)) or not (Path(root) / str(rel)).is_file():
                missing.append(f"{Path(root) / str(rel)} ({col})")
    if missing:
        raise InputFileError(
            f"{len(missing)} file(s) named by the manifests are missing, e.g. {'; '.join(missing[:3])}; "
            "regenerate the dataset or fix the manifest"
        )


def load_mixed_data(spec: TrainSpec, check_files: bool = True) -> MixedData:
    """Read, filter and check every dataset of ``spec``; raise one clear error on any problem."""
    frames = []
    notes: list[str] = []
    structures = list(spec.structures) if spec.structures else None
    columns: list[str] = []
    for i, ds in enumerate(spec.data):
        df = _load_one(i, ds, spec, notes)
        columns = _check_columns(spec, df, i, structures)
        if spec.task == "segmentation" and structures is None:
            structures = [c[len(MASK_PREFIX) :] for c in columns]  # the first dataset's structures
        frames.append(df)
    table = pd.concat(frames, ignore_index=True)
    first_structures = structures or []
    classes = _resolve_classes(spec, table, first_structures)
    if spec.task != "segmentation":
        col = _target_column(spec)
        labels = table[col].map(lambda v: str(int(v)) if spec.task == "severity" else str(v))
        unknown = sorted(set(labels) - set(classes))
        if unknown:
            raise ConfigError(f"classes: label(s) {unknown} of column {col!r} are not in classes {classes}")
        table["_target"] = labels.map({c: k for k, c in enumerate(classes)}).astype("int64")
        if len(classes) < 2:
            raise ConfigError(f"{spec.task}: need at least two classes, found {classes} in column {col!r}")
    image_columns = ["image"] + columns
    if check_files:
        _check_files(table, image_columns)
    if not (table["split"] == "val").any():
        table = _fallback_val(table, spec, notes)
    train = table[table["split"] == "train"].reset_index(drop=True)
    val = table[table["split"] == "val"].reset_index(drop=True)
    if train.empty:
        raise ConfigError("no training rows: the datasets have no split == 'train' rows after filtering")
    if val.empty:
        raise ConfigError(
            "no validation rows: the datasets with val: true have no split == 'val' rows and none could be carved "
            "(a dataset with val: true and train: false needs its own 'val' rows, e.g. `xraylab import --split "
            "train=0.8,val=0.2`; a training dataset needs at least two images); add validation rows"
        )
    return MixedData(train=train, val=val, classes=classes, image_columns=image_columns, notes=notes)


def _fallback_val(table: pd.DataFrame, spec: TrainSpec, notes: list[str]) -> pd.DataFrame:
    """No ``val`` rows anywhere: carve :data:`DEFAULT_VAL_FRACTION` from the first dataset with ``val: true``
    that allows it (subjects, or views of a single subject), with a note — never a crash on one subject."""
    for ds in spec.data:
        if not ds.val:
            continue
        part = table["_dataset"] == ds.name
        carved = _carve_val(table[part], ds.val_fraction or DEFAULT_VAL_FRACTION, spec.seed, ds.name, notes,
                            ds.val_group)
        if (carved["split"] == "val").any():
            if not any(ds.name in n for n in notes):
                notes.append(f"no split == 'val' rows: validation uses held-out subjects of dataset {ds.name!r} "
                             f"(fraction {ds.val_fraction or DEFAULT_VAL_FRACTION})")
            table = table.copy()
            table.loc[part, "split"] = carved["split"].to_numpy()
            return table
    return table


def _balanced_draw(train: pd.DataFrame, rng: np.random.Generator) -> np.ndarray:
    """``len(train)`` row indices drawn with replacement, each row with probability ∝ 1 / (rows of its class).

    Every class then fills about the same share of an epoch; ``_target`` is the class index column.
    """
    target = train["_target"].to_numpy()
    _, inverse, counts = np.unique(target, return_inverse=True, return_counts=True)
    weights = 1.0 / counts[inverse]
    return rng.choice(len(train), size=len(train), replace=True, p=weights / weights.sum())


def epoch_indices(train: pd.DataFrame, spec: TrainSpec, epoch: int) -> np.ndarray:
    """Row indices of ``train`` for one training epoch, shuffled with a generator seeded by (seed, epoch).

    Without ratios every row appears once. With ratios the epoch has as many samples as the training
    table, dataset ``d`` contributing ``round(N * ratio_d / Σ ratio)`` of them (drawn without
    replacement while it has rows, then cycling through fresh permutations). ``steps_per_epoch`` makes the
    epoch exactly ``steps_per_epoch * batch_size`` samples: truncated, or extended by further shuffles.
    ``balance_classes`` replaces the draw by a class-balanced one with replacement.
    """
    rng = np.random.default_rng([spec.seed, epoch, 7])
    ratios = {d.name: d.ratio for d in spec.data if d.train}
    base = None
    if spec.balance_classes:
        order = _balanced_draw(train, rng)
        base = order
    elif all(r is None for r in ratios.values()):
        order = rng.permutation(len(train))
        base = np.arange(len(train))
    else:
        n_total = len(train)
        total_ratio = sum(r for r in ratios.values() if r is not None)
        parts = []
        for name, r in ratios.items():
            rows = np.flatnonzero(train["_dataset"].to_numpy() == name)
            n = round(n_total * (r or 0.0) / total_ratio)
            if n == 0 or len(rows) == 0:
                continue
            reps = -(-n // len(rows))
            drawn = np.concatenate([rng.permutation(rows) for _ in range(reps)])[:n]
            parts.append(drawn)
        if not parts:
            raise ConfigError(
                "data: no training rows to sample — every dataset with a ratio has zero train rows or ratio 0; "
                "check the datasets' split columns and `where` filters"
            )
        base = np.concatenate(parts)
        order = rng.permutation(base)
    if spec.steps_per_epoch is not None:
        n = spec.steps_per_epoch * spec.batch_size
        while len(order) < n:  # a longer epoch than the set: further shuffles of the same draw
            order = np.concatenate([order, rng.permutation(base)])
        order = order[:n]
    return order
