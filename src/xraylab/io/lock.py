"""One writer per output folder: a lock file holding the writer's pid, host and start time.

``<folder>/.xraylab/lock`` is the exclusive lock of a writer (generate, degrade, import, train). Shards of one
sharded ``generate`` write into the same folder at the same time by design: each takes a *shared* lock
``<folder>/.xraylab/lock.shared-<host>-<pid>``, which excludes an exclusive writer but not other shards.

Both are created with ``O_CREAT | O_EXCL`` (atomic on local filesystems and NFSv3+). A lock is *stale* when its
host is this machine and its process is gone (or the pid now belongs to a process that started later, read
from ``/proc/<pid>/stat``), or when it is empty or unreadable and older than ``GARBAGE_AGE_S`` (a writer killed
while creating it); a stale lock is removed and taken over. A lock held by this very process (a call
that failed earlier in the same interpreter) is re-used. A live holder — or one on another host, whose state
cannot be checked — makes :func:`acquire` raise a one-line :class:`~xraylab.errors.BusyError` that names the
holder and the lock file to delete if that process is gone. Exclusive and shared lockers each create their
own file first and check the other kind second, so two racing writers cannot both miss each other.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import socket
import sys
import weakref
from pathlib import Path
from typing import Any

from xraylab.errors import BusyError

STATE_DIR = ".xraylab"
LOCK_FILE = f"{STATE_DIR}/lock"
SHARED_PREFIX = "lock.shared-"


GARBAGE_AGE_S = 10.0  # an empty or unreadable lock older than this is a writer killed while creating it


def _age_s(path: Path) -> float:
    import time

    try:
        return time.time() - path.stat().st_mtime
    except OSError:
        return 0.0


def _host() -> str:
    return socket.gethostname()


def _proc_start(pid: int) -> str | None:
    """Start time of process ``pid`` in clock ticks since boot (Linux ``/proc``), or None."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text.rsplit(")", 1)[-1].split()[19] if ")" in text else None


def pid_alive(pid: int) -> bool:
    """True when a process ``pid`` exists on this machine."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True


def _holder_alive(info: dict[str, Any]) -> bool:
    """False when the holder recorded in ``info`` is certainly gone (same host, dead or reused pid)."""
    if info.get("host") != _host():
        return True  # cannot look at another machine's processes
    pid = int(info.get("pid") or 0)
    if not pid_alive(pid):
        return False
    start = info.get("start")
    return start is None or _proc_start(pid) in (None, start)


def _read(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {}  # being written, or garbage: treated as held by an unknown process on this host


def describe(info: dict[str, Any]) -> str:
    """``pid 123 on host, started …, running 'xraylab generate …'`` for an error message."""
    text = f"pid {info.get('pid', '?')} on {info.get('host', '?')}"
    if info.get("started"):
        text += f", started {info['started']}"
    if info.get("command"):
        text += f", running '{info['command']}'"
    return text


class FolderLock:
    """The writer lock of ``folder`` (exclusive, or shared among the shards of one job); see the module doc."""

    def __init__(self, folder: str | os.PathLike, shared: bool = False) -> None:
        self.folder = Path(folder)
        self.shared = shared
        self.path = self.folder / (f"{STATE_DIR}/{SHARED_PREFIX}{_host()}-{os.getpid()}" if shared else LOCK_FILE)
        self.held = False

    def _create(self) -> bool:
        info = {"pid": os.getpid(), "host": _host(), "start": _proc_start(os.getpid()),
                "started": _dt.datetime.now().isoformat(timespec="seconds"),
                "command": " ".join(["xraylab", *sys.argv[1:]])[:200], "shared": self.shared}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(info, fh)
        return True

    def _busy(self, path: Path, info: dict[str, Any]) -> BusyError:
        return BusyError(f"{self.folder}: another xraylab process is writing this folder ({describe(info)}); wait "
                         f"for it to finish, or, if that process is gone, delete {path} and run again")

    def _check(self, path: Path) -> None:
        """Raise when ``path`` is a live foreign lock; remove it when stale; ignore our own."""
        info = _read(path)
        if info is None:
            return
        if info and info.get("host") == _host() and int(info.get("pid") or 0) == os.getpid():
            return
        if (info and not _holder_alive(info)) or (not info and _age_s(path) > GARBAGE_AGE_S):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            return
        raise self._busy(path, info or {"pid": "unknown"})

    def acquire(self) -> "FolderLock":
        """Take the lock or raise :class:`BusyError`; returns self."""
        if self.held:
            return self
        excl = self.folder / LOCK_FILE
        for _ in range(3):
            if self._create():
                break
            self._check(self.path)  # stale or our own: removed / re-used
            info = _read(self.path)
            if info and int(info.get("pid") or 0) == os.getpid() and info.get("host") == _host():
                break  # our own lock from an earlier call in this process
        else:
            raise self._busy(self.path, _read(self.path) or {})
        self.held = True
        try:
            if self.shared:
                self._check(excl)
            else:
                for p in sorted(self.path.parent.glob(SHARED_PREFIX + "*")):
                    self._check(p)
        except BusyError:
            self.release()
            raise
        weakref.finalize(self, _unlink_if_ours, self.path)
        return self

    def release(self) -> None:
        """Remove the lock file when this process holds it."""
        if self.held:
            _unlink_if_ours(self.path)
            self.held = False

    def __enter__(self) -> "FolderLock":
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def _unlink_if_ours(path: Path) -> None:
    """Remove our lock file, and the state folder when that leaves it empty (a run that wrote nothing)."""
    info = _read(path)
    if info and int(info.get("pid") or 0) == os.getpid() and info.get("host") == _host():
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        with contextlib.suppress(OSError):
            path.parent.rmdir()
