"""Which lung annotation convention matches a real set's masks: label statistics of synthetic vs real masks.

A synthetic mask must mean what its real counterpart means. Before any model is trained, the lung masks of a
synthetic dataset drawn in each convention of :data:`xraylab.io.structures.LUNG_CONVENTIONS` (columns ``lungs``,
``lung_field``, ``lung_field_scr`` — or ``left_*`` ∪ ``right_*``) are compared with a real set's lung masks on
statistics of the masks alone, per image (:func:`label_statistics`):

``heart_in_lungs``
    fraction of the heart (cardiomediastinum) mask's area that lies inside the lung mask, in [0, 1] (real fields
    drawn through the heart: about half; projected 3D lungs: about 0.9; SCR fields: 0);
``lungs_over_heart``
    fraction of the lung mask's area that lies over the heart mask, in [0, 1];
``heart_bottom``
    the heart's lowest row, measured from the lungs' top row, in units of the lung height, ≥ 0 (lungs that run
    below the diaphragm make it small: the heart ends at the diaphragm);
``lung_height_width``
    lung height / lung width (bounding box of the lung mask), > 0.

and two of the anatomy alone (the same for every lung convention, so they do not enter the score):

``cardiothoracic_ratio``
    width of the heart (cardiomediastinum) mask's bounding box / width of the lung mask's bounding box (the
    radiographic cardiothoracic ratio, with the lungs' outer edges standing for the inner thoracic width);
``lung_width_image``
    lung width / width of the image content (zero padding left out): how the thorax is framed.

Each convention is scored by ``Σ |median_syn − median_real| / (p90_real − p10_real)`` over the four convention
statistics (0: the medians agree; 1 per statistic: off by the real 10–90 % spread); the smallest score matches best.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from xraylab.errors import InputFileError
from xraylab.io.structures import LUNG_CONVENTIONS

CONVENTION_STATISTICS = ("heart_in_lungs", "lungs_over_heart", "heart_bottom", "lung_height_width")
ANATOMY_STATISTICS = ("cardiothoracic_ratio", "lung_width_image")
LABEL_STATISTICS = CONVENTION_STATISTICS + ANATOMY_STATISTICS


def label_statistics(lungs: np.ndarray, heart: np.ndarray, content_width: float | None = None) -> dict[str, float]:
    """The statistics of the module docstring for one image's boolean ``[H, W]`` lung and heart masks (NaN where
    a mask is empty). ``content_width``: width of the image content in pixels (default: the whole width)."""
    lungs, heart = lungs.astype(bool), heart.astype(bool)
    nan = float("nan")
    if not lungs.any() or not heart.any():
        return dict.fromkeys(LABEL_STATISTICS, nan)
    rows = np.nonzero(lungs.any(1))[0]
    cols = np.nonzero(lungs.any(0))[0]
    height = float(rows[-1] - rows[0] + 1)
    width = float(cols[-1] - cols[0] + 1)
    heart_last = float(np.nonzero(heart.any(1))[0][-1])
    both = float((lungs & heart).sum())
    heart_cols = np.nonzero(heart.any(0))[0]
    return {"heart_in_lungs": both / float(heart.sum()), "lungs_over_heart": both / float(lungs.sum()),
            "heart_bottom": (heart_last - rows[0] + 1) / height, "lung_height_width": height / width,
            "cardiothoracic_ratio": float(heart_cols[-1] - heart_cols[0] + 1) / width,
            "lung_width_image": width / float(content_width or lungs.shape[1])}


def _mask_columns(df: pd.DataFrame, lungs: str) -> list[str] | None:
    """The manifest columns holding lung masks named ``lungs`` (or its left + right halves), or None."""
    if f"mask:{lungs}" in df.columns:
        return [f"mask:{lungs}"]
    table = next((t for t in LUNG_CONVENTIONS.values() if t["lungs"] == lungs), None)
    if table is None:
        return None
    halves = [f"mask:{table[side]}" for side in ("left_lung", "right_lung")]
    return halves if all(h in df.columns for h in halves) else None


def clean_rows(folder: Path, split: str | None = None) -> pd.DataFrame:
    """The manifest rows of dataset ``folder`` that realism reports read: the ``split`` (None: all) and, for a
    degraded dataset, only the uncorrupted images."""
    from xraylab.data.manifest import read_manifest

    df = read_manifest(folder)
    if split is not None:
        df = df[df["split"] == split]
    if "corruption" in df.columns:
        df = df[df["corruption"].fillna("none") == "none"]
    return df


def set_label_statistics(folder: str | os.PathLike, lungs: str = "lungs", heart: Sequence[str] = (
        "cardiomediastinum", "heart"), split: str | None = None, size: int = 256) -> pd.DataFrame:
    """Per-image :func:`label_statistics` of dataset ``folder`` for lung structure ``lungs`` (rows: images).

    Masks are resized to ``size`` (aspect kept, :func:`xraylab.io.images.resize_pad`, nearest). Raises
    :class:`InputFileError` when the manifest has no such lung or heart column.
    """
    import torch

    from xraylab.evaluate.realism_stats import content_mask
    from xraylab.io.images import read_image, read_mask, resize_pad

    root = Path(folder)
    df = clean_rows(root, split)
    lung_cols = _mask_columns(df, lungs)
    heart_col = next((f"mask:{h}" for h in heart if f"mask:{h}" in df.columns), None)
    if lung_cols is None or heart_col is None:
        raise InputFileError(f"{root}: the manifest has no mask column for lungs {lungs!r} (or left/right halves) "
                             f"and heart ({'/'.join(heart)}); generate or import them first")

    def read(rel: str) -> np.ndarray:
        t = torch.from_numpy(np.ascontiguousarray(read_mask(root / rel), dtype=np.float32))
        return resize_pad(t, size, mode="nearest").numpy() > 0.5

    rows = []
    for rec in df.sort_values("image_id").to_dict("records"):
        rels = [rec[c] for c in lung_cols + [heart_col]]
        if any(not isinstance(r, str) or not (root / r).is_file() for r in rels):
            continue
        lung = np.zeros((size, size), dtype=bool)
        for r in rels[:-1]:
            lung |= read(r)
        im = np.asarray(read_image(root / rec["image"]), dtype=np.float32)
        im = im.mean(-1) if im.ndim == 3 else im
        img = resize_pad(torch.from_numpy(np.ascontiguousarray(im)), size).numpy()
        content = np.nonzero(content_mask(img).any(0))[0]
        cw = float(content[-1] - content[0] + 1) if content.size else None
        rows.append({"image_id": rec["image_id"], **label_statistics(lung, read(rels[-1]), cw)})
    return pd.DataFrame(rows, columns=["image_id", *LABEL_STATISTICS])


def available_conventions(folder: str | os.PathLike) -> dict[str, str]:
    """Lung convention → lung structure name, for the conventions dataset ``folder`` has masks of.

    A generated dataset's ``lungs`` / ``left_lung`` / ``right_lung`` follow the ``lung_convention`` its
    ``dataset.json`` records (``projected`` when it records none); ``lung_field`` etc. follow their own.
    """
    import json

    from xraylab.data.manifest import read_manifest

    root = Path(folder)
    df = read_manifest(root)
    try:
        plain = json.loads((root / "dataset.json").read_text(encoding="utf-8")).get("lung_convention") or "projected"
    except (OSError, ValueError):
        plain = "projected"
    found = {conv: t["lungs"] for conv, t in LUNG_CONVENTIONS.items()
             if conv != "projected" and _mask_columns(df, t["lungs"])}
    if _mask_columns(df, "lungs") and plain not in found:
        found[plain] = "lungs"
    return {c: found[c] for c in LUNG_CONVENTIONS if c in found}


def compare_conventions(real: pd.DataFrame, synthetic: dict[str, pd.DataFrame]) -> tuple[pd.DataFrame, str]:
    """Table (a row per statistic: real median and 10–90 % range, each convention's median; a last row with each
    convention's score) and the name of the best-matching convention (smallest score)."""
    rows, score = [], dict.fromkeys(synthetic, 0.0)
    for s in LABEL_STATISTICS:
        v = real[s].dropna() if s in real else pd.Series(dtype=float)
        if v.empty:
            continue
        lo, hi, med = (float(np.percentile(v, q)) for q in (10, 90, 50))
        row = {"statistic": s, "real_median": med, "real_p10": lo, "real_p90": hi}
        for name, t in synthetic.items():
            m = float(t[s].median())
            row[name] = m
            if s in CONVENTION_STATISTICS:
                score[name] += abs(m - med) / max(hi - lo, 1e-6)
        rows.append(row)
    rows.append({"statistic": "score", "real_median": 0.0, "real_p10": np.nan, "real_p90": np.nan, **score})
    best = min(score, key=lambda k: score[k])
    return pd.DataFrame(rows), best


def conventions_markdown(table: pd.DataFrame, best: str, n_real: int, n_syn: int) -> str:
    """The table as markdown with a closing line naming the best match."""
    names = [c for c in table.columns if c not in ("statistic", "real_median", "real_p10", "real_p90")]
    lines = [f"| label statistic | real median [10–90 %] (n={n_real}) | "
             + " | ".join(f"{n} (n={n_syn})" for n in names) + " |", "|" + "---|" * (2 + len(names))]
    for r in table.to_dict("records"):
        if r["statistic"] == "score":
            lines.append("| score (Σ over the first four of \\|Δ median\\| / real 10–90 % spread; 0 = same) | — | "
                         + " | ".join(f"{r[n]:.2f}" for n in names) + " |")
        else:
            lines.append(f"| {r['statistic']} | {r['real_median']:.3f} [{r['real_p10']:.3f} – {r['real_p90']:.3f}] | "
                         + " | ".join(f"{r[n]:.3f}" for n in names) + " |")
    return "\n".join(lines) + f"\n\nBest match to the real lung masks: **{best}**.\n"


def run_conventions(synthetic: str | os.PathLike, real: str | os.PathLike, out: str | os.PathLike,
                    real_lungs: str = "lungs", split: str | None = None, size: int = 256) -> tuple[pd.DataFrame, str]:
    """Compare every lung convention dataset ``synthetic`` has with ``real``'s lung masks; write
    ``conventions.csv`` and ``conventions.md`` into ``out``; return (table, best convention)."""
    convs = available_conventions(synthetic)
    if not convs:
        raise InputFileError(f"{synthetic}: no lung masks of any convention ({', '.join(LUNG_CONVENTIONS)}: "
                             "lungs, lung_field, lung_field_scr)")
    ref = set_label_statistics(real, real_lungs, split=split, size=size)
    syn = {conv: set_label_statistics(synthetic, name, split=split, size=size) for conv, name in convs.items()}
    table, best = compare_conventions(ref, syn)
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    table.to_csv(out_dir / "conventions.csv", index=False)
    n_syn = max(len(t) for t in syn.values())
    (out_dir / "conventions.md").write_text(conventions_markdown(table, best, len(ref), n_syn), encoding="utf-8")
    return table, best
