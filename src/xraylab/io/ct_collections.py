"""CT collections on disk: the folder layouts of public CT datasets, read as labelled CT subjects.

One :class:`Case` per subject (CT file or DICOM folder, its label map or per-structure mask files, the id → name
table, the dataset's own split). :func:`scan_layout` lists the cases of a local copy without reading voxels;
:func:`read_case` reads one as a :class:`~xraylab.io.ct.CTVolume` with its labels on the CT grid. Used by volume
imports (``xraylab import-volumes``) and by generate specs (``cts: [{dataset: DIR, layout: ...}]``).

Layouts:

``folder``            ``ROOT/<case>/ct.nii.gz`` (or ``image.nii.gz``, or a DICOM folder ``ct/``) with
                      ``labels.nii.gz`` (or ``seg.nii.gz``) and an optional ``structures.csv`` (id, structure);
                      without one, TotalSegmentator v2's "total" table
``totalsegmentator``  ``ROOT/<subject>/ct.nii.gz`` + ``ROOT/<subject>/segmentations/<structure>.nii.gz`` (binary
                      masks, TotalSegmentator v2 release); ``ROOT/meta.csv`` (``image_id;split``) gives splits
``abdomenct1k``       ``ROOT/Image/Case_<n>_0000.nii.gz`` + ``ROOT/Mask/Case_<n>.nii.gz`` (ids 1 liver,
                      2 kidney, 3 spleen, 4 pancreas); ``imagesTr``/``labelsTr`` folder names also work
``msd``               a Medical Segmentation Decathlon task (e.g. ``Task06_Lung``): ``ROOT/dataset.json`` lists the
                      ``training`` pairs (``imagesTr/<case>.nii.gz`` + ``labelsTr/<case>.nii.gz``) and the
                      unlabelled ``test`` images (split ``test``); its ``labels`` table (id → name, lower-cased,
                      non-alphanumerics → ``_``) names the label ids; macOS ``._*`` files are ignored
``dicom``             DICOM series folders, LIDC-IDRI style: ``ROOT/<subject>/<study>/<series>/*.dcm`` (any depth,
                      several series per folder allowed); per subject the CT series chosen by
                      :func:`xraylab.io.dicom_series.choose_ct_series` (CT, not a localizer, axial, most slices);
                      no labels
``nifti``             every ``ROOT/<id>.nii.gz`` (or ``.nii``) is a subject; optional ``ROOT/labels/<id>.nii.gz``
                      label maps with ``ROOT/labels/structures.csv``

Lungs: the MSD lung task labels only tumours, and ``dicom``/``nifti`` subjects usually have no labels at all, so
cases of these three layouts carry ``lung_labels="auto"``: the lungs come from the HU labeller of
:mod:`xraylab.io.lung_labels` where a case's labels have none (a generate spec's ``cts`` entry may still set its
own ``lung_labels``; a volume import adds them when an output class is a lung). Where each structure's label came
from is recorded in ``CTVolume.meta`` (``label_source``, ``label_sources``) and the manifests' ``label_source``.

Picking cases (:func:`pick_cases`): by id, or for ``dicom`` by a SeriesInstanceUID of the subject's folder
(that series replaces the rule's choice).
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np
import SimpleITK as sitk
import torch

from xraylab.errors import ConfigError, InputFileError
from xraylab.io.ct import CTVolume, align_labels, default_ct_paths, is_default_ct_name, load_ct, read_sitk
from xraylab.io.ct_layouts import LAYOUTS, check_layout  # noqa: F401 (LAYOUTS re-exported)

SPLITS = ("train", "val", "test")
#: AbdomenCT-1K's fixed label ids (Ma et al., TPAMI 2022)
ABDOMENCT1K_TABLE: dict[int, str] = {1: "liver", 2: "kidney", 3: "spleen", 4: "pancreas"}


@dataclass
class Case:
    """One source CT and how to read its labels.

    ``structures``: id -> name table of ``labels`` (a CSV path, a mapping, or None for the file's own /
    TotalSegmentator's); ``label_files``: structure name -> binary mask file (TotalSegmentator layout);
    ``class_map``: output class -> source names (None = TotalSegmentator names).
    """

    id: str
    ct: str
    labels: str | None = None
    structures: str | Mapping[int, str] | None = None
    label_files: dict[str, str] = field(default_factory=dict)
    class_map: dict[str, tuple[str, ...]] | None = None
    split: str | None = None
    pseudo_subjects: int = 0
    pseudo_val: int = 0
    label_source: str = "totalsegmentator"
    licence: str = ""
    # Newer fields: left out of describe() while unset, so that existing imports keep their fingerprint.
    lung_labels: str | None = None  # "auto": lungs from the HU labeller where the labels have none
    series: str | None = None  # DICOM: SeriesInstanceUID to read from the ``ct`` folder
    series_choices: dict[str, str] = field(default_factory=dict)  # DICOM: every series of the subject, UID → folder
    atlas: str | None = None  # "default": labels propagated from the embedded CT (io.label_propagation), HU lungs

    def describe(self) -> dict[str, Any]:
        """JSON-able fields (for fingerprints); the newer fields only when set."""
        d = {k: (dict(v) if isinstance(v, Mapping) else v) for k, v in self.__dict__.items()}
        for key in ("lung_labels", "series", "series_choices", "atlas"):
            if not d[key]:
                del d[key]
        return d


def _ijk(img: sitk.Image) -> np.ndarray:
    return np.ascontiguousarray(sitk.GetArrayFromImage(img).transpose(2, 1, 0))


def _atlas_case(case: Case) -> CTVolume:
    """The case's CT labelled by atlas propagation from the embedded CT, lungs from HU (its own labels unused)."""
    from xraylab.io.label_propagation import label_with_default_atlas

    if case.atlas != "default":
        raise ConfigError(f"case {case.id!r}: atlas {case.atlas!r} unknown; the one atlas shipped is 'default' "
                          "(the embedded chest CT)")
    return label_with_default_atlas(load_ct(case.ct, name=case.id, segment="never", series=case.series))


def read_case(case: Case, lungs: bool = False) -> CTVolume:
    """The case's CT (HU) with its source label map and id -> name table on the CT grid.

    ``case.atlas``: labels by atlas propagation (:func:`xraylab.io.label_propagation.label_ct`, lungs from HU).
    ``lungs``: add ``lung_left``/``lung_right`` from the HU labeller (:func:`xraylab.io.lung_labels.add_lung_labels`)
    when the case allows it (``lung_labels="auto"``) and its labels have no lung; ``meta["label_source"]`` then
    reads ``<case.label_source>+lungs:threshold`` and ``meta["label_sources"]`` gives each structure's source.
    """
    if is_default_ct_name(case.ct):
        ct_path, lab_path, table_path = default_ct_paths()
        return load_ct(ct_path, lab_path, table_path, name=case.id)
    if case.atlas:
        return _atlas_case(case)
    if case.label_files:
        vol = load_ct(case.ct, name=case.id, segment="never")
        ref = vol.to_sitk()
        lab = np.zeros(vol.shape, dtype=np.int16)
        table: dict[int, str] = {}
        for k, (name, path) in enumerate(sorted(case.label_files.items()), start=1):
            m = align_labels(ref, read_sitk(path, "label map"), Path(case.ct), Path(path))
            lab[_ijk(m) > 0] = k
            table[k] = name
        return replace(vol, labels=torch.from_numpy(lab), structures=table)
    hu_lungs = lungs and case.lung_labels == "auto"
    if case.labels is None and not hu_lungs:
        raise ConfigError(f"case {case.id!r}: no label map (labels: or segmentations/); a volume dataset needs labels"
                          + (" (ask for a lung class, lung_left/lung_right/lungs, to get lungs from HU)"
                             if case.lung_labels == "auto" else ""))
    vol = load_ct(case.ct, case.labels, case.structures, name=case.id, segment="never", series=case.series)
    if not hu_lungs:
        return vol
    from xraylab.io.lung_labels import LUNG_LEFT, LUNG_RIGHT, add_lung_labels, has_lung_labels

    if has_lung_labels(vol.structures):
        return vol
    own = {name: case.label_source for name in vol.structures.values()}
    out = add_lung_labels(replace(vol, meta={**vol.meta, "label_source": case.label_source}))
    return replace(out, meta={**out.meta, "label_sources": {**own, LUNG_LEFT: "lungs:threshold",
                                                            LUNG_RIGHT: "lungs:threshold"}})


def pick_cases(cases: Sequence[Case], wanted: Iterable[str] | None, root: str | Path) -> list[Case]:
    """The cases named in ``wanted`` (all when None), in ``cases`` order.

    A name is a case id or, for DICOM subjects, a SeriesInstanceUID of one of the subject's series (that series is
    read instead of the rule's choice). An unknown name raises a one-line :class:`ConfigError`.
    """
    if wanted is None:
        return list(cases)
    wanted = list(wanted)
    by_uid = {uid: (c, folder) for c in cases for uid, folder in c.series_choices.items()}
    ids = [c.id for c in cases]
    unknown = [w for w in wanted if w not in ids and w not in by_uid]
    if unknown:
        raise ConfigError(f"case(s) {', '.join(unknown)} not in {root} (has {', '.join(ids[:20])}"
                          f"{' …' if len(ids) > 20 else ''}); name a subject id or a DICOM SeriesInstanceUID")
    chosen: dict[str, Case] = {}
    for w in wanted:
        if w in ids:
            c = cases[ids.index(w)]
        else:
            owner, folder = by_uid[w]
            c = replace(owner, ct=folder, series=w)
        prev = chosen.get(c.id)
        if prev is not None and prev.series != c.series:
            raise ConfigError(f"cases: subject {c.id!r} of {root} named with two series ({prev.series} and "
                              f"{c.series}); name one series per subject")
        chosen[c.id] = c
    return [chosen[c.id] for c in cases if c.id in chosen]



# --------------------------------------------------------------------------- layouts
def _first(folder: Path, names: Sequence[str]) -> Path | None:
    return next((folder / n for n in names if (folder / n).exists()), None)


def scan_layout(layout: str, root: str | Path) -> list[Case]:
    """Cases of a local copy laid out as ``layout`` (one of :data:`~xraylab.io.ct_layouts.LAYOUTS`)."""
    root = Path(root)
    check_layout(layout, "volume layout")
    if not root.is_dir():
        raise InputFileError(f"{root}: dataset root not found; give the folder of a local copy")
    if layout in _SCANNERS:
        return _SCANNERS[layout](root)
    if layout == "folder":
        cases = []
        for d in sorted(p for p in root.iterdir() if p.is_dir()):
            ct = _first(d, ("ct.nii.gz", "ct.nii", "image.nii.gz", "ct.nrrd", "ct.mha", "ct", "slices"))
            lab = _first(d, ("labels.nii.gz", "labels.nii", "seg.nii.gz", "segmentation.nii.gz"))
            if ct is None or lab is None:
                continue
            table = d / "structures.csv"
            cases.append(Case(d.name, str(ct), str(lab), str(table) if table.is_file() else None))
        return _nonempty(cases, root, layout, "<case>/ct.nii.gz + <case>/labels.nii.gz")
    if layout == "totalsegmentator":
        splits = _totalseg_splits(root / "meta.csv")
        cases = []
        for d in sorted(p for p in root.iterdir() if p.is_dir()):
            seg = d / "segmentations"
            if not (d / "ct.nii.gz").is_file() or not seg.is_dir():
                continue
            files = {p.name.split(".")[0]: str(p) for p in seg.glob("*.nii*")}
            cases.append(Case(d.name, str(d / "ct.nii.gz"), label_files=files, split=splits.get(d.name)))
        return _nonempty(cases, root, layout, "<subject>/ct.nii.gz + <subject>/segmentations/<structure>.nii.gz")
    if layout == "abdomenct1k":
        img_dir = _first(root, ("Image", "images", "imagesTr", "imagesTs"))
        mask_dir = _first(root, ("Mask", "masks", "labelsTr", "labelsTs"))
        if img_dir is None or mask_dir is None:
            raise InputFileError(f"{root}: AbdomenCT-1K layout needs Image/ and Mask/ folders")
        cases = []
        for img in sorted(img_dir.glob("*.nii*")):
            stem = img.name.split(".")[0]
            cid = stem[:-5] if stem.endswith("_0000") else stem
            mask = _first(mask_dir, (f"{cid}.nii.gz", f"{cid}.nii"))
            if mask is not None:
                cases.append(Case(cid, str(img), str(mask), dict(ABDOMENCT1K_TABLE),
                                  label_source="abdomenct1k", licence="CC BY-NC-SA 4.0 (AbdomenCT-1K)"))
        return _nonempty(cases, root, layout, "Image/Case_<n>_0000.nii.gz + Mask/Case_<n>.nii.gz")
    raise AssertionError(layout)  # check_layout lists every layout; each has a branch or a scanner


def _nonempty(cases: list[Case], root: Path, layout: str, want: str) -> list[Case]:
    if not cases:
        raise InputFileError(f"{root}: no case found for layout '{layout}' (expected {want})")
    return cases


def _totalseg_splits(meta: Path) -> dict[str, str]:
    if not meta.is_file():
        return {}
    with open(meta, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh, delimiter=";"))
    return {r["image_id"]: r["split"] for r in rows if r.get("image_id") and r.get("split") in SPLITS}




# --------------------------------------------------------------------------- layouts without (lung) labels
MSD_LICENCE = "CC BY-SA 4.0 (Medical Segmentation Decathlon)"
_NIFTI_SUFFIXES = (".nii.gz", ".nii")


def _junk(name: str) -> bool:
    """macOS resource forks (``._x.nii.gz``) and other hidden files."""
    return name.startswith(".")


def _nifti_id(path: Path) -> str:
    name = path.name
    return next(name[: -len(s)] for s in _NIFTI_SUFFIXES if name.endswith(s))


def structure_name(label: str) -> str:
    """An MSD label name as a structure name: lower case, runs of other characters → ``_`` (``Left Atrium`` →
    ``left_atrium``)."""
    return re.sub(r"[^0-9a-z]+", "_", str(label).lower()).strip("_")


def _msd_file(root: Path, rel: object, where: str) -> Path:
    from xraylab.io.paths import confined

    path = confined(root, str(rel), where)
    if not path.is_file():
        raise InputFileError(f"{where}: {path} is missing; complete the local copy or remove the entry")
    return path


def _scan_msd(root: Path) -> list[Case]:
    meta = root / "dataset.json"
    if not meta.is_file():
        raise InputFileError(f"{root}: no dataset.json; the 'msd' layout needs a Decathlon task folder (e.g. "
                             "Task06_Lung) with dataset.json, imagesTr/ and labelsTr/")
    try:
        raw = json.loads(meta.read_text(encoding="utf-8"))
        labels = {int(k): str(v) for k, v in (raw.get("labels") or {}).items()}
        training, test = list(raw.get("training") or []), list(raw.get("test") or [])
    except (ValueError, AttributeError, TypeError) as exc:
        raise InputFileError(f"{meta}: not a Decathlon dataset.json ({exc}); expected 'labels', 'training', 'test'"
                             ) from None
    modality = " ".join(str(v) for v in (raw.get("modality") or {}).values())
    if modality and "CT" not in modality.upper().split():
        raise InputFileError(f"{meta}: modality {modality!r}, not CT; xraylab reads CT tasks (e.g. Task06_Lung, "
                             "Task03_Liver)")
    table = {k: structure_name(v) for k, v in sorted(labels.items()) if k != 0}
    cases = []
    for i, pair in enumerate(training):
        if not isinstance(pair, Mapping) or "image" not in pair or "label" not in pair:
            raise InputFileError(f"{meta}: training[{i}] needs 'image' and 'label'")
        if _junk(Path(str(pair["image"])).name):
            continue
        img = _msd_file(root, pair["image"], f"{meta}: training[{i}].image")
        lab = _msd_file(root, pair["label"], f"{meta}: training[{i}].label")
        cases.append(Case(_nifti_id(img), str(img), str(lab), dict(table), label_source="msd", licence=MSD_LICENCE,
                          lung_labels="auto"))
    for i, rel in enumerate(test):
        if _junk(Path(str(rel)).name):
            continue
        img = _msd_file(root, rel, f"{meta}: test[{i}]")
        cases.append(Case(_nifti_id(img), str(img), split="test", label_source="none", licence=MSD_LICENCE,
                          lung_labels="auto"))
    return _unique(_nonempty(cases, root, "msd", "dataset.json listing imagesTr/<case>.nii.gz"), root)


def _scan_nifti(root: Path) -> list[Case]:
    lab_dir = root / "labels"
    table = lab_dir / "structures.csv"
    cases = []
    for img in sorted(p for p in root.iterdir() if p.is_file() and p.name.endswith(_NIFTI_SUFFIXES)):
        if _junk(img.name):
            continue
        cid = _nifti_id(img)
        lab = _first(lab_dir, (f"{cid}.nii.gz", f"{cid}.nii")) if lab_dir.is_dir() else None
        cases.append(Case(cid, str(img), str(lab) if lab else None, str(table) if lab and table.is_file() else None,
                          label_source="label_map" if lab else "none", lung_labels="auto"))
    return _unique(_nonempty(cases, root, "nifti", "<id>.nii.gz files [+ labels/<id>.nii.gz]"), root)


def _scan_dicom(root: Path) -> list[Case]:
    from xraylab.io.dicom_series import choose_ct_series, list_series

    cases, without = [], []
    for d in sorted(p for p in root.iterdir() if p.is_dir() and not _junk(p.name)):
        series = list_series(d)
        ct = choose_ct_series(series)
        if ct is None:
            without.append((d, series))
            continue
        cases.append(Case(d.name, ct.folder, series=ct.uid or None,  # GDCM gives "" for a series without a UID
                          series_choices={s.uid: s.folder for s in series if s.uid},
                          label_source="none", lung_labels="auto"))
    if not cases:
        seen = "; ".join(f"{d.name}: " + (", ".join(s.describe() for s in ss[:3]) or "no DICOM series")
                         for d, ss in without[:3])
        raise InputFileError(f"{root}: no CT series found in any subject folder ({seen or 'no subject folders'}); "
                             "give the folder that holds one folder per subject with axial CT DICOM series")
    return cases


def _unique(cases: list[Case], root: Path) -> list[Case]:
    ids = [c.id for c in cases]
    twice = sorted({i for i in ids if ids.count(i) > 1})
    if twice:
        raise InputFileError(f"{root}: case id(s) {', '.join(twice[:5])} appear twice (e.g. both .nii and .nii.gz); "
                             "keep one file per case")
    return cases


_SCANNERS: dict[str, Callable[[Path], list[Case]]] = {"msd": _scan_msd, "nifti": _scan_nifti, "dicom": _scan_dicom}
