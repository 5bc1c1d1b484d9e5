"""What every import layout shares: the source-item record, mask references, the layout base class, the registry.

A *layout* knows one folder convention of a public dataset (or the generic ``images/`` + ``masks/<structure>/``
one). Its :meth:`Layout.scan` lists the source items — image file, masks per structure, subject id, metadata,
official split — without reading any pixels; :func:`xraylab.data.importers.engine.import_dataset` does the rest
(renames, unions, checks, splits, preprocessing, writing) the same way for every layout.

Layouts register themselves in :data:`LAYOUTS` (an :class:`xraylab.registry.Registry`) under their ``name``;
the ``xraylab import`` sub-commands and their ``--help`` texts are built from the registry.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, ClassVar, Iterable, Mapping, Sequence

from xraylab.errors import ConfigError, InputFileError
from xraylab.registry import Registry

BUILTIN_LAYOUT_MODULES = tuple(
    f"xraylab.data.importers.{m}"
    for m in ("folder", "jsrt", "montgomery", "shenzhen", "chestx_det", "isic2016", "ph2", "ham10000")
)

#: name → layout class; filled by the built-in layout modules (imported on first look-up).
LAYOUTS: Registry[type["Layout"]] = Registry("import layout", builtin_modules=BUILTIN_LAYOUT_MODULES)

_ID_BAD = re.compile(r"[^A-Za-z0-9._-]+")
_NAME_BAD = re.compile(r"[^a-z0-9_]+")


def sanitize_id(text: str) -> str:
    """A file-name-safe id: runs of characters other than letters, digits, ``.``, ``_``, ``-`` become ``_``."""
    out = _ID_BAD.sub("_", str(text)).strip("._")
    return out or "item"


def canonical_structure(name: str) -> str:
    """``"Left Lung"`` / ``"left-lung"`` → ``"left_lung"`` (lower case, runs of other characters → ``_``)."""
    out = _NAME_BAD.sub("_", str(name).strip().lower()).strip("_")
    if not out:
        raise ConfigError(f"structure name {name!r}: needs at least one letter or digit")
    return out


# --------------------------------------------------------------------------- mask references
@dataclass(frozen=True)
class MaskFile:
    """A mask stored as an image file (foreground as :func:`xraylab.io.images.read_mask` reads it)."""

    path: Path


@dataclass(frozen=True)
class PolygonMask:
    """A mask given as polygons in the image's pixel coordinates (``[[x, y], ...]`` each, x = column)."""

    polygons: tuple[tuple[tuple[float, float], ...], ...]
    source: str = ""


@dataclass(frozen=True)
class EmptyMask:
    """The structure is known to be absent from this image (e.g. no finding of that category): an all-zero mask."""


@dataclass(frozen=True)
class MissingMask:
    """No mask was found; ``looked_for`` says where (for the error message)."""

    looked_for: str


MaskRef = MaskFile | PolygonMask | EmptyMask | MissingMask


def mask_ref(found: Path | None, looked_for: str) -> MaskRef:
    """``MaskFile(found)`` when a mask file was found, else ``MissingMask(looked_for)`` (the error names it)."""
    return MaskFile(found) if found is not None else MissingMask(looked_for)


# --------------------------------------------------------------------------- source items
@dataclass
class SourceItem:
    """One source image before import.

    ``item_id``: the output id (file-name safe, unique); ``image``: the source file; ``masks``: structure
    (canonical name) → :data:`MaskRef`; ``subject_id``: patient id when the layout knows it (metadata may
    override it); ``source_split``: the dataset's own split (``train``/``val``/``test``) when it has one;
    ``meta``: further manifest columns (``view``, ``licence``, ``label``, ...); ``reader``: a custom reader
    (default: :func:`~xraylab.data.importers.readers.read_radiograph`); ``spacing_mm``: the source pixel spacing
    when the file does not carry it.
    """

    item_id: str
    image: Path
    masks: dict[str, MaskRef] = field(default_factory=dict)
    subject_id: str | None = None
    source_split: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    reader: Callable[[Path], Any] | None = None
    spacing_mm: float | None = None

    def __post_init__(self) -> None:
        self.item_id = sanitize_id(self.item_id)  # ids come from file names: made file-name safe here, once


@dataclass(frozen=True)
class LayoutOption:
    """An extra command-line option of one layout (``--flag VALUE``), passed to the layout's constructor."""

    name: str  # python identifier, the constructor keyword
    flag: str  # e.g. "--scr"
    type: Any  # str, int, bool, Path, Optional[Path], List[str] ...
    default: Any
    help: str


class Layout:
    """Base class of the import layouts: owns registration, option handling and the id check.

    A subclass sets the class attributes (a non-empty ``name`` registers it in :data:`LAYOUTS`) and implements
    :meth:`find_items`; :meth:`scan` calls it and checks that the ids are unique.
    """

    name: ClassVar[str] = ""
    #: one line for the command list
    summary: ClassVar[str] = ""
    #: longer help: the expected folder tree, where subject ids / licences / splits come from
    description: ClassVar[str] = ""
    #: the data manifest describing the dataset (relative to the repository's data_manifests/)
    manifest: ClassVar[str | None] = None
    options: ClassVar[tuple[LayoutOption, ...]] = ()
    #: what each canonical structure name means in this dataset (recorded in dataset.json)
    structure_definitions: ClassVar[dict[str, str]] = {}
    #: structure renames applied unless the command line gives its own
    default_rename: ClassVar[dict[str, str]] = {}
    #: licence of images that carry none in their metadata
    default_licence: ClassVar[str | None] = None
    #: what the dataset's own split means (shown in --help and dataset.json), or None if it has none
    source_split_note: ClassVar[str | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.__dict__.get("name"):
            LAYOUTS.register(cls.name, cls)

    def __init__(self, **options: Any) -> None:
        known = {o.name: o for o in self.options}
        unknown = sorted(set(options) - set(known))
        if unknown:
            raise ConfigError(f"layout {self.name!r}: unknown option(s) {', '.join(unknown)}; it takes "
                              f"{', '.join(o.flag for o in self.options) or 'no extra options'}")
        for o in self.options:
            setattr(self, o.name, options.get(o.name, o.default))

    def option_values(self) -> dict[str, Any]:
        """The layout's options as JSON-able values (for the fingerprint and dataset.json)."""
        out: dict[str, Any] = {}
        for o in self.options:
            v = getattr(self, o.name)
            if isinstance(v, Path):
                v = str(v)
            elif isinstance(v, (list, tuple)):
                v = [str(x) for x in v]
            out[o.name] = v
        return out

    def scan(self, root: Path) -> list[SourceItem]:
        """The source items under ``root`` (no pixels read); an InputFileError when two share an id."""
        items = self.find_items(root)
        unique_ids(items, root)
        return items

    def find_items(self, root: Path) -> list[SourceItem]:  # pragma: no cover - abstract
        raise NotImplementedError


# --------------------------------------------------------------------------- helpers for layouts
def require_dir(path: Path, what: str, hint: str = "") -> Path:
    """``path`` if it is a folder; otherwise an InputFileError naming it and ``what`` it should hold."""
    if not path.is_dir():
        raise InputFileError(f"{path}: {what} folder not found{'; ' + hint if hint else ''}")
    return path


def find_folder(root: Path, holds: Callable[[Path], bool], expected: str, hint: str = "", depth: int = 2) -> Path:
    """``root`` or the first sub-folder at most ``depth`` levels below it (sorted, breadth first) for which
    ``holds(folder)`` is true; otherwise an InputFileError saying what was ``expected`` there (and ``hint``)."""
    for level in range(depth + 1):
        pattern = "/".join(["*"] * level)
        for cand in ([root] if level == 0 else sorted(root.glob(pattern))):
            if cand.is_dir() and holds(cand):
                return cand
    raise InputFileError(f"{root}: no {expected} found at ROOT or up to {depth} levels below"
                         + (f"; {hint}" if hint else ""))


def list_files(folder: Path, exts: Iterable[str], recursive: bool = False) -> list[Path]:
    """Files of ``folder`` whose suffix (case-insensitive) is in ``exts``, hidden files skipped, sorted by path."""
    exts = {e.lower() for e in exts}
    it = folder.rglob("*") if recursive else folder.iterdir()
    return sorted(p for p in it if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in exts)


def index_by_stem(files: Iterable[Path]) -> dict[str, list[Path]]:
    """stem → files with that stem (several when only the extension differs)."""
    out: dict[str, list[Path]] = {}
    for p in files:
        out.setdefault(p.stem, []).append(p)
    return out


def find_mask(folder: Path, image_name: str, exts: Sequence[str], suffixes: Sequence[str] = ("",)) -> Path | None:
    """The mask for ``image_name`` in ``folder``: the same file name first, then ``<stem><suffix><ext>`` for each
    suffix and extension (case-insensitive extension match)."""
    exact = folder / image_name
    if exact.is_file():
        return exact
    stem = Path(image_name).stem
    for suffix in suffixes:
        for ext in exts:
            for cand in (folder / f"{stem}{suffix}{ext}", folder / f"{stem}{suffix}{ext.upper()}"):
                if cand.is_file():
                    return cand
    return None


def unique_ids(items: list[SourceItem], root: Path) -> None:
    """Raise when two items got the same output id (e.g. ``a.png`` and ``a.jpg``)."""
    seen: dict[str, Path] = {}
    for it in items:
        if it.item_id in seen:
            raise InputFileError(f"{it.image}: image id {it.item_id!r} is also the id of {seen[it.item_id]}; "
                                 f"rename one of them (ids come from file names) under {root}")
        seen[it.item_id] = it.image


def mapping_option(values: Sequence[str] | Mapping[str, str] | None, flag: str) -> dict[str, str]:
    """``["a=b", "c=d"]`` (or ``"a=b,c=d"`` entries) → ``{"a": "b", "c": "d"}``; a ConfigError naming ``flag``."""
    if values is None:
        return {}
    if isinstance(values, Mapping):
        return {str(k): str(v) for k, v in values.items()}
    out: dict[str, str] = {}
    for entry in values:
        for part in _split_top_level(str(entry)):
            if not part.strip():
                continue
            if "=" not in part:
                raise ConfigError(f"{flag} {part!r}: use NAME=VALUE, e.g. {flag} heart=cardiomediastinum")
            k, v = part.split("=", 1)
            if not k.strip() or not v.strip():
                raise ConfigError(f"{flag} {part!r}: both sides of '=' must be non-empty")
            out[k.strip()] = v.strip()
    return out


def _split_top_level(text: str) -> list[str]:
    """Split at commas that start a new ``key=`` pair (so values may hold commas: ``a=x, y,b=z``)."""
    parts: list[str] = []
    for chunk in text.split(","):
        if parts and "=" not in chunk:
            parts[-1] += "," + chunk
        else:
            parts.append(chunk)
    return parts
