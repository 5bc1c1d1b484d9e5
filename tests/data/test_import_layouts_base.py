"""What the importer base owns: registration by name, id sanitising, the id check, mask references, folder search."""

from __future__ import annotations

import pytest

from xraylab.data.importers.base import (
    LAYOUTS,
    Layout,
    MaskFile,
    MissingMask,
    SourceItem,
    find_folder,
    mask_ref,
)
from xraylab.errors import InputFileError


def test_subclass_with_a_name_registers_and_scan_checks_ids(tmp_path):
    class Twice(Layout):
        name = "test_twice_layout"

        def find_items(self, root):
            return [SourceItem("a b", root / "a b.png"), SourceItem("a_b", root / "a_b.jpg")]

    try:
        assert LAYOUTS.get("test_twice_layout") is Twice
        with pytest.raises(InputFileError, match="'a_b' is also the id of"):
            Twice().scan(tmp_path)
    finally:
        LAYOUTS._entries.pop("test_twice_layout", None)  # keep the CLI's layout list as shipped


def test_mask_ref_and_find_folder(tmp_path):
    assert mask_ref(tmp_path / "m.png", "x") == MaskFile(tmp_path / "m.png")
    assert mask_ref(None, "looked here") == MissingMask("looked here")
    (tmp_path / "a" / "b" / "CXR_png").mkdir(parents=True)
    assert find_folder(tmp_path, lambda d: (d / "CXR_png").is_dir(), "x") == tmp_path / "a" / "b"
    with pytest.raises(InputFileError, match="no Z/ folder found at ROOT or up to 1 levels below; hint"):
        find_folder(tmp_path, lambda d: (d / "Z").is_dir(), "Z/ folder", "hint", depth=1)
