"""Names and one-line descriptions of the CT collection layouts (:mod:`xraylab.io.ct_collections`).

Kept apart from the readers, with no heavy imports, so that ``--help`` texts, spec models and error messages take
their list of layouts from here (the one place) without importing SimpleITK or torch.
"""

from __future__ import annotations

from typing import Literal, get_args

#: the layout names a generate spec's ``cts: [{dataset: DIR, layout: ...}]`` and ``xraylab import volumes
#: --layout`` accept
LayoutName = Literal["folder", "totalsegmentator", "abdomenct1k", "msd", "dicom", "nifti"]
LAYOUTS: tuple[str, ...] = get_args(LayoutName)

#: layout → what a local copy looks like (one line each)
LAYOUT_HELP: dict[str, str] = {
    "folder": "<case>/ct.nii.gz + <case>/labels.nii.gz [+ structures.csv]",
    "totalsegmentator": "<subject>/ct.nii.gz + <subject>/segmentations/<structure>.nii.gz, meta.csv splits",
    "abdomenct1k": "Image/Case_<n>_0000.nii.gz + Mask/Case_<n>.nii.gz",
    "msd": "Medical Segmentation Decathlon task: dataset.json + imagesTr/ + labelsTr/ (lungs from HU)",
    "dicom": "<subject>/.../<series>/*.dcm, LIDC-IDRI style; the CT series with most slices (lungs from HU)",
    "nifti": "every *.nii.gz / *.nii file is a subject [+ labels/<same name> + labels/structures.csv] "
             "(lungs from HU)",
}


def layout_help() -> str:
    """``name (what it looks like), ...`` for every layout, for ``--help`` texts and field descriptions."""
    return "; ".join(f"{name} ({LAYOUT_HELP[name]})" for name in LAYOUTS)


def check_layout(layout: str, what: str = "layout") -> str:
    """``layout`` if it names a layout, else a one-line :class:`~xraylab.errors.ConfigError` listing them."""
    from xraylab.errors import ConfigError

    if layout not in LAYOUTS:
        raise ConfigError(f"{what} {layout!r}: unknown CT collection layout; choose one of {', '.join(LAYOUTS)}")
    return layout
