"""Per-image metadata tables (``items.json`` or CSV): subject id, view, licence, ... keyed by image file name.

Accepted forms:

* JSON: a list of objects each naming its image (key ``image``, ``file``, ``file_name``, ``filename``, ``name``
  or ``image_id``), or one object mapping image name → object;
* CSV (comma or tab separated, header row) with one of those key columns.

Images are matched by file name, then by file stem (so ``a.png`` in the table matches ``a.jpg`` on disk).
Well-known keys are mapped onto manifest columns: ``patient``/``patient_id``/``subject``/``subject_id``/
``PatientID`` → ``subject_id``, ``license``/``licence`` → ``licence``, ``view``/``projection``/``ViewPosition``
→ ``view``, ``split`` → the dataset's own split. Everything else becomes a column of its own (lists and objects
as JSON text); a key that collides with a column xraylab writes is stored as ``meta:<key>``.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from xraylab.errors import InputFileError

KEY_FIELDS = ("image", "file", "file_name", "filename", "name", "image_id", "path")
SUBJECT_FIELDS = ("patient", "patient_id", "patientid", "subject", "subject_id", "case")
LICENCE_FIELDS = ("license", "licence")
VIEW_FIELDS = ("view", "projection", "viewposition", "view_position")
#: columns the importer writes itself; metadata keys with these names are stored as meta:<key>
RESERVED = {"image_id", "subject_id", "split", "image", "height", "width", "source_height", "source_width",
            "source_file", "source_dataset", "pixel_spacing_mm", "source_pixel_spacing_mm", "photometric",
            "inverted", "normalize", "side_check", "source_split"}


def _value(v: Any) -> Any:
    """Metadata values as text (lists/objects as JSON): parquet columns need one type across all images."""
    if v is None or isinstance(v, str):
        return v
    if isinstance(v, (bool, int, float)):
        return json.dumps(v)  # text, so a column never mixes numbers and text across images
    return json.dumps(v, sort_keys=True)


def _load_json(path: Path) -> list[dict[str, Any]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputFileError(f"{path}: cannot read metadata JSON ({exc})") from exc
    if isinstance(data, dict):
        if all(isinstance(v, dict) for v in data.values()):
            return [{"image": k, **v} for k, v in data.items()]
        for key in ("items", "images", "data"):
            if isinstance(data.get(key), list):
                data = data[key]
                break
    if not isinstance(data, list) or not all(isinstance(d, dict) for d in data):
        raise InputFileError(f"{path}: metadata JSON must be a list of objects (one per image) or an object "
                             "mapping image name → object")
    return data


def _load_csv(path: Path) -> list[dict[str, Any]]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise InputFileError(f"{path}: cannot read metadata CSV ({exc})") from exc
    try:
        dialect = csv.Sniffer().sniff(text.splitlines()[0] if text else ",", delimiters=",\t;")
    except csv.Error:
        dialect = csv.excel
    rows = list(csv.DictReader(text.splitlines(), dialect=dialect))
    return [{k.strip(): (v.strip() if isinstance(v, str) else v) for k, v in r.items() if k} for r in rows]


class Metadata:
    """A metadata table: :meth:`lookup` gives the mapped fields of one image (empty dict when it is not listed)."""

    def __init__(self, rows: list[dict[str, Any]], source: str) -> None:
        self.source = source
        self.by_name: dict[str, dict[str, Any]] = {}
        self.by_stem: dict[str, dict[str, Any]] = {}
        for i, row in enumerate(rows):
            lower = {str(k).lower(): k for k in row}
            key_field = next((lower[k] for k in KEY_FIELDS if k in lower), None)
            if key_field is None:
                raise InputFileError(f"{source}: entry {i} names no image (give one of the keys "
                                     f"{', '.join(KEY_FIELDS)})")
            name = Path(str(row[key_field])).name
            if name in self.by_name:
                raise InputFileError(f"{source}: image {name!r} is listed twice")
            self.by_name[name] = row
            self.by_stem.setdefault(Path(name).stem, row)
            self._key_field = key_field

    @classmethod
    def load(cls, path: str | Path) -> "Metadata":
        path = Path(path)
        if not path.is_file():
            raise InputFileError(f"{path}: metadata file not found")
        rows = _load_csv(path) if path.suffix.lower() in (".csv", ".tsv", ".txt") else _load_json(path)
        return cls(rows, str(path))

    def unmatched(self, image_names) -> list[str]:
        """The listed images that none of ``image_names`` (file names) matches, by name or stem."""
        names = {Path(n).name for n in image_names}
        stems = {Path(n).stem for n in image_names}
        return sorted(n for n in self.by_name if n not in names and Path(n).stem not in stems)

    def __len__(self) -> int:
        return len(self.by_name)

    def raw(self, image_name: str) -> dict[str, Any] | None:
        return self.by_name.get(Path(image_name).name) or self.by_stem.get(Path(image_name).stem)

    def lookup(self, image_name: str) -> dict[str, Any]:
        """Mapped fields: ``subject_id``, ``licence``, ``view``, ``source_split`` and other columns."""
        row = self.raw(image_name)
        if row is None:
            return {}
        out: dict[str, Any] = {}
        for k, v in row.items():
            lk = str(k).lower()
            if lk in KEY_FIELDS:
                continue
            if v is None or (isinstance(v, str) and not v.strip()):
                continue
            if lk in SUBJECT_FIELDS and "subject_id" not in out:
                if isinstance(v, (dict, list)):
                    raise InputFileError(f"{self.source}: image {image_name!r}: {k!r} is a {type(v).__name__}, not a "
                                         "subject id; give a text or a number")
                out["subject_id"] = str(v)
            elif lk in LICENCE_FIELDS:
                out["licence"] = str(v)
            elif lk in VIEW_FIELDS:
                out["view"] = str(v)
            elif lk == "split":
                out["source_split"] = str(v).strip().lower()
            else:
                col = str(k)
                if col in RESERVED or col.startswith(("mask:", "sha256:")):
                    col = f"meta:{col}"
                out[col] = _value(v)
        return out


def find_metadata_file(root: Path) -> Path | None:
    """``items.json``, ``metadata.json``, ``items.csv`` or ``metadata.csv`` in ``root`` (first found)."""
    for name in ("items.json", "metadata.json", "items.csv", "metadata.csv"):
        p = root / name
        if p.is_file():
            return p
    return None
