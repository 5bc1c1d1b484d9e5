"""``xraylab import``: real radiographs + masks in a public dataset's folder layout → an xraylab dataset.

One module per layout (``folder``, ``jsrt``, ``montgomery``, ``shenzhen``, ``chestx_det``) registers a
:class:`~xraylab.data.importers.base.Layout` in :data:`LAYOUTS`; :func:`import_dataset` does the shared work
(metadata, renames, unions, checks, subject-level splits, the one preprocessing
:func:`xraylab.io.preprocess.prepare_image`, writing through :class:`xraylab.data.writer.DatasetWriter`).

    >>> from xraylab.data.importers import import_dataset
    >>> import_dataset("folder", "../shared/data/radiographs/cxr_lungs_heart", "real",
    ...                rename=["heart=cardiomediastinum"], size=256)          # doctest: +SKIP
"""

from xraylab.data.importers.base import (
    LAYOUTS,
    EmptyMask,
    Layout,
    LayoutOption,
    MaskFile,
    MissingMask,
    PolygonMask,
    SourceItem,
)
from xraylab.data.importers.engine import ImportResult, import_dataset, parse_split
from xraylab.data.importers.readers import Radiograph, read_dicom, read_radiograph
from xraylab.io.images import read_mask

__all__ = [
    "LAYOUTS", "Layout", "LayoutOption", "SourceItem", "MaskFile", "PolygonMask", "EmptyMask", "MissingMask",
    "import_dataset", "ImportResult", "parse_split", "Radiograph", "read_radiograph", "read_dicom",
    "read_mask",
]
