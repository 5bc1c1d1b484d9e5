"""The one dataset writer: every stage that writes a dataset folder (generate, degrade, import) goes through it.

A dataset folder written by :class:`DatasetWriter`::

    <files of the items>              any relative paths (images/…, masks/…, layers/…)
    manifest.parquet                  one row per item, built from the items' records only (written by ``finish``)
    dataset.json                      the job's info + ``stage``, ``counts``, ``versions``, ``complete: true``
    contact_sheet.png                 optional, from the ``contact_sheet`` hook of ``finish``
    .xraylab/job.json                 ``kind`` and ``fingerprint`` of the job that owns the folder (+ ``job`` info)
    .xraylab/records/<item_id>.json   one record (the item's manifest row with ``sha256:<column>``) per complete item

The protocol, the same for every stage:

* **Ownership.** A folder is *ours* when it holds ``.xraylab/job.json``. A new writer on an existing folder with
  another fingerprint (or kind) raises a one-line :class:`~xraylab.errors.ConfigError` unless ``overwrite``; a
  non-empty folder that is not ours is never written into, scanned or deleted (``overwrite`` included). A folder
  holding only ``.xraylab/`` is one another shard of the same job is starting in, and is accepted.
* **One writer.** The writer takes the folder's lock (:mod:`xraylab.io.lock`: ``.xraylab/lock`` with pid, host
  and start time; stale locks of dead processes are taken over) before reading or changing its state, and
  releases it in :meth:`~DatasetWriter.finish`, :meth:`~DatasetWriter.close` or when collected. A second writer
  gets a one-line :class:`~xraylab.errors.BusyError` naming the holder. Writers with ``clean_temporaries=False``
  (the shards of one sharded job) share the folder (``.xraylab/lock.shared-<host>-<pid>``) but exclude an
  exclusive writer; :meth:`~DatasetWriter.finish` of an attached writer (``--merge``) takes the exclusive lock.
* **Items.** :meth:`DatasetWriter.write_item` writes the item's files atomically (temporary name, then rename),
  then its record atomically: the record is written last, so an item is complete exactly when its record exists
  (and, for :meth:`DatasetWriter.is_done`, the files it lists exist). A kill at any point leaves at most
  temporaries and orphan files of an incomplete item, which a re-run rewrites.
* **Resume.** A re-run skips the items that :meth:`~DatasetWriter.is_done` and writes the rest; stale
  temporaries (only ``.<name>.<pid>.tmp`` names, only inside our folder) are removed when the writer opens the
  folder (``clean_temporaries=True``) and, file by file, before each file is written.
* **Finish.** :meth:`DatasetWriter.finish` writes ``manifest.parquet`` from the records (rows in the given order
  of item ids; every listed item must be complete), calls the contact-sheet hook, then writes ``dataset.json``
  last, so a folder with ``dataset.json`` holds a complete dataset.

Worker processes attach to a folder prepared by the parent with :meth:`DatasetWriter.open` (no checks, no
cleanup, so shards and pool workers never delete each other's temporaries).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import re
import shutil
from pathlib import Path, PurePosixPath
from typing import Any, Callable, Mapping, Sequence

from xraylab.errors import ConfigError
from xraylab.io.lock import FolderLock, pid_alive
from xraylab.io.ownership import LEGACY_MARKER as LEGACY_FINGERPRINT_FILE  # generate's state before this writer
from xraylab.io.ownership import MARKER as JOB_FILE
from xraylab.io.ownership import STATE_DIR, check_not_inside_inputs, check_replaceable

RECORDS_DIR = f"{STATE_DIR}/records"
SHA_PREFIX = "sha256:"
_BAD_ID = re.compile(r"[/\\\x00]")


def _json_default(value: Any) -> Any:
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (_dt.datetime, _dt.date)):
        return value.isoformat()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise TypeError(f"manifest value {value!r} of type {type(value).__name__} cannot be stored in a record")


def record_json(row: Mapping[str, Any]) -> str:
    """The text of a record: the row as one JSON line (NaN kept, numpy scalars as Python numbers)."""
    return json.dumps(dict(row), allow_nan=True, default=_json_default) + "\n"


class DatasetWriter:
    """Owns one output dataset folder: its state, per-item atomic writes and records, resume, manifest, metadata.

    ``kind`` names the stage (``"generate"``, ``"degrade"``, ``"import"``, …); ``fingerprint`` is a hash of
    everything that determines the outputs. ``job`` (optional, JSON-able) is stored beside the fingerprint and
    named in the mismatch error (e.g. ``{"seed": 3}`` → "seed: 3 → 9"). ``clean_temporaries=False`` keeps the
    folder-wide temporary cleanup off (shards writing into one folder at the same time). ``inputs``: the files
    and folders the job reads; an ``out`` inside one is refused and ``overwrite`` never deletes one, the working
    folder or a folder xraylab did not make (:mod:`xraylab.io.ownership`).
    """

    def __init__(
        self,
        out: str | os.PathLike,
        *,
        kind: str,
        fingerprint: str,
        overwrite: bool = False,
        job: Mapping[str, Any] | None = None,
        clean_temporaries: bool = True,
        inputs: Sequence[str | os.PathLike] = (),
    ) -> None:
        out = Path(out)
        self.inputs = list(inputs)
        check_not_inside_inputs(out, self.inputs)
        self._setup(out, kind, fingerprint, dict(job or {}))
        self._remove_abandoned_trash()
        if out.exists() and not out.is_dir():
            raise ConfigError(f"{out}: --out is a file, not a folder; choose another --out")
        if out.is_dir() and self._read_state() is None and any(p.name != STATE_DIR for p in out.iterdir()):
            raise ConfigError(f"{out}: folder is not empty and is not an xraylab dataset (no {JOB_FILE}); refusing "
                              "to write into or delete it — choose another --out")
        # One writer per folder (shards of one job share it): taken before the state is read or changed.
        self._lock = FolderLock(out, shared=not clean_temporaries).acquire()
        try:
            self._prepare(overwrite, clean_temporaries)
        except BaseException:
            self._lock.release()
            raise

    def _prepare(self, overwrite: bool, clean_temporaries: bool) -> None:
        out, kind, fingerprint = self.out, self.kind, self.fingerprint
        state = self._read_state()
        if overwrite and state is not None:
            check_replaceable(out, self.inputs)
            # Rename first, then delete: a kill mid-deletion leaves no half-deleted dataset under OUT.
            trash = out.parent / f".{out.name}.deleting-{os.getpid()}"
            os.replace(out, trash)
            self._lock.held = False  # its file moved with the folder
            self._lock.acquire()
            shutil.rmtree(trash)
            state = None
        if state is not None and (state.get("kind") != kind or state.get("fingerprint") != fingerprint):
            raise ConfigError(f"{out}: folder holds a {state.get('kind', 'generate')} dataset made from a different "
                              f"spec or settings{self._difference(state)}; pass --overwrite to start afresh or "
                              "choose another --out")
        (out / RECORDS_DIR).mkdir(parents=True, exist_ok=True)
        if state is None or not (out / JOB_FILE).is_file():
            from xraylab.io.atomic import write_text

            write_text(out / JOB_FILE, json.dumps({"fingerprint": fingerprint, "job": self.job, "kind": kind},
                                                  indent=2, sort_keys=True, default=str) + "\n")
        if clean_temporaries:
            self.remove_stale_temporaries()

    def close(self) -> None:
        """Release the folder's writer lock (also done by :meth:`finish`, and when the writer is collected)."""
        self._lock.release()

    # ------------------------------------------------------------------ construction helpers
    def _setup(self, out: Path, kind: str, fingerprint: str, job: dict[str, Any]) -> None:
        self.out = out
        self.kind = kind
        self.fingerprint = fingerprint
        self.job = job
        self._tmp_index: dict[Path, dict[str, list[Path]]] = {}
        self._lock = FolderLock(out)  # not held until acquired

    @classmethod
    def open(cls, out: str | os.PathLike) -> "DatasetWriter":
        """Attach to a folder a :class:`DatasetWriter` already prepared (in a worker process): no checks, no cleanup."""
        self = cls.__new__(cls)
        self._setup(Path(out), "", "", {})
        state = self._read_state()
        if state is None:
            raise ConfigError(f"{out}: no {JOB_FILE} here; the dataset writer must prepare the folder first")
        self.kind, self.fingerprint = state.get("kind", ""), state.get("fingerprint", "")
        self.job = state.get("job") or {}
        return self

    def _read_state(self) -> dict[str, Any] | None:
        for rel, legacy in ((JOB_FILE, False), (LEGACY_FINGERPRINT_FILE, True)):
            p = self.out / rel
            if p.is_file():
                try:
                    state = json.loads(p.read_text(encoding="utf-8"))
                except (OSError, ValueError) as exc:
                    raise ConfigError(f"{p}: unreadable dataset state ({exc}); delete the folder or choose another "
                                      "--out") from exc
                if legacy:
                    state = {"kind": "generate", "fingerprint": state.get("fingerprint"), "job": {}}
                return state
        return None

    def _difference(self, state: Mapping[str, Any]) -> str:
        old, new = state.get("job") or {}, self.job
        keys = sorted(set(old) | set(new))
        diffs = [f"{k}: {old.get(k)!r} → {new.get(k)!r}" for k in keys if old.get(k) != new.get(k)]
        if state.get("kind") != self.kind:
            diffs.insert(0, f"kind: {state.get('kind')!r} → {self.kind!r}")
        return f" ({'; '.join(diffs)})" if diffs else ""

    def _remove_abandoned_trash(self) -> None:
        """Finish deleting ``.<out>.deleting-<pid>`` folders an earlier --overwrite was killed in."""
        pattern = re.compile(rf"^\.{re.escape(self.out.name)}\.deleting-\d+$")
        if self.out.parent.is_dir():
            for p in self.out.parent.glob(f".{self.out.name}.deleting-*"):
                if pattern.match(p.name) and p.is_dir() and not _alive(int(p.name.rsplit("-", 1)[1])):
                    shutil.rmtree(p, ignore_errors=True)

    # ------------------------------------------------------------------ paths
    def record_path(self, item_id: str) -> Path:
        """``.xraylab/records/<item_id>.json``."""
        if not item_id or _BAD_ID.search(item_id) or item_id.startswith("."):
            raise ConfigError(f"item id {item_id!r}: must be non-empty, not start with '.' and hold no '/' or '\\'")
        return self.out / RECORDS_DIR / f"{item_id}.json"

    def path(self, rel: str) -> Path:
        """The absolute path of a relative dataset path (refuses absolute paths, '..' and the state folder)."""
        pp = PurePosixPath(rel)
        if not rel or pp.is_absolute() or ".." in pp.parts or "\\" in rel or pp.parts[0] == STATE_DIR:
            raise ConfigError(f"dataset file {rel!r}: must be a relative path inside the dataset, outside {STATE_DIR}/")
        return self.out / pp

    # ------------------------------------------------------------------ items
    def is_done(self, item_id: str, files: Sequence[str] = ()) -> bool:
        """True when the item's record exists (and every listed relative file exists)."""
        if not self.record_path(item_id).is_file():
            return False
        return all((self.out / f).is_file() for f in files)

    def done_ids(self) -> set[str]:
        """Ids of the items that have a record (one folder listing)."""
        try:
            with os.scandir(self.out / RECORDS_DIR) as it:
                return {e.name[:-5] for e in it if e.name.endswith(".json") and not e.name.startswith(".")}
        except FileNotFoundError:
            return set()

    def write_file(self, rel: str, data: bytes) -> str:
        """Atomically write ``data`` to ``rel`` (removing that file's stale temporaries first); return its SHA-256."""
        from xraylab.io.atomic import write_bytes

        path = self.path(rel)
        self._remove_temporaries_of(path)
        write_bytes(path, data)
        return hashlib.sha256(data).hexdigest()

    def _remove_temporaries_of(self, path: Path) -> None:
        from xraylab.io.atomic import remove_temporaries_of, temporaries_in

        index = self._tmp_index.get(path.parent)
        if index is None:  # one listing per folder per writer, not one per file
            index = self._tmp_index[path.parent] = temporaries_in(path.parent)
        remove_temporaries_of(path, index)

    def write_item(self, item_id: str, files: Mapping[str, bytes], row: Mapping[str, Any]) -> dict[str, Any]:
        """Write the item's ``files`` (relative path → bytes), then its record; return the recorded row.

        Every column of ``row`` whose value is one of the written paths gets a ``sha256:<column>`` column (in the
        order of ``files``). The record is written last: the item is complete once this returns.
        """
        from xraylab.io.atomic import write_text

        rec = self.record_path(item_id)
        out = dict(row)
        for rel, data in files.items():
            digest = self.write_file(rel, data)
            for col, val in row.items():
                if isinstance(val, str) and val == rel and not col.startswith(SHA_PREFIX):
                    out[SHA_PREFIX + col] = digest
        text = record_json(out)
        self._remove_temporaries_of(rec)
        write_text(rec, text)
        return out

    def records(self, item_ids: Sequence[str] | None = None) -> list[dict[str, Any]]:
        """The records of ``item_ids`` that are complete, in that order (default: every record, sorted by id)."""
        ids = sorted(self.done_ids()) if item_ids is None else item_ids
        rows = []
        for i in ids:
            p = self.record_path(i)
            try:
                rows.append(json.loads(p.read_text(encoding="utf-8")))
            except FileNotFoundError:
                continue
        return rows

    # ------------------------------------------------------------------ folder-level outputs
    def remove_stale_temporaries(self) -> int:
        """Delete the ``.<name>.<pid>.tmp`` temporaries left anywhere in our folder; return how many."""
        from xraylab.io.atomic import remove_stale_temporaries

        self._tmp_index.clear()
        return remove_stale_temporaries(self.out)

    def write_manifest(self, order: Sequence[str] | None = None, name: str | None = None) -> int:
        """Write a (possibly partial) manifest of the complete items among ``order``; return its row count."""
        import pandas as pd

        from xraylab.data.manifest import MANIFEST_NAME, write_manifest

        rows = self.records(order)
        if rows:
            write_manifest(self.out, pd.DataFrame(rows), name or MANIFEST_NAME, sort=False)
        return len(rows)

    def finish(
        self,
        info: Mapping[str, Any],
        order: Sequence[str] | None = None,
        contact_sheet: Callable[[Path, list[dict]], Path | None] | None = None,
        *,
        counts: Callable[[list[dict]], Mapping[str, Any]] | None = None,
    ) -> Path:
        """Write ``manifest.parquet`` (rows in ``order`` of item ids, default sorted ids), the contact sheet (hook
        called with the folder and the rows) and ``dataset.json`` (``info`` + stage, counts, versions), last.

        ``dataset.json["counts"]`` is ``{"items": n}`` updated with ``counts(rows)`` and ``info["counts"]``.
        Every item in ``order`` must be complete. Returns the manifest path.
        """
        import pandas as pd

        from xraylab.data.manifest import MANIFEST_NAME, write_dataset_json, write_manifest
        from xraylab.versions import package_versions

        if not self._lock.held:  # a writer attached with open() (e.g. --merge): the folder must be ours alone now
            self._lock = FolderLock(self.out).acquire()
        ids = sorted(self.done_ids()) if order is None else list(order)
        if not ids:
            raise ConfigError(f"{self.out}: no items were written; nothing to finish")
        done = self.done_ids()
        missing = [i for i in ids if i not in done]
        if missing:
            raise ConfigError(f"{self.out}: {len(missing)} of {len(ids)} items are not complete (first: {missing[0]}); "
                              "run the same command again to resume")
        rows = self.records(ids)
        path = write_manifest(self.out, pd.DataFrame(rows), MANIFEST_NAME, sort=False)
        if contact_sheet is not None:
            contact_sheet(self.out, rows)
        meta = dict(info)
        meta.setdefault("stage", self.kind)
        meta["counts"] = {"items": len(rows), **dict(counts(rows) if counts else {}), **dict(meta.get("counts") or {})}
        meta["versions"] = package_versions()
        meta["complete"] = True
        write_dataset_json(self.out, meta)
        self.close()
        return path


def _alive(pid: int) -> bool:
    """True when a process ``pid`` other than this one exists on this machine (its --overwrite deletion may still be
    running)."""
    return pid != os.getpid() and pid_alive(pid)
