"""Shared test fixtures: the embedded default CT, the real data in ../shared/data, temp dirs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("XRAYLAB_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session", autouse=True)
def _volume_cache(tmp_path_factory: pytest.TempPathFactory):
    """Point the xraylab cache (``XRAYLAB_CACHE``: CT volumes, physics tables) at a session temp folder, for
    in-process and CLI subprocess tests alike, so the suite never writes into the user's ``~/.cache/xraylab``."""
    old = os.environ.get("XRAYLAB_CACHE")
    os.environ["XRAYLAB_CACHE"] = str(tmp_path_factory.mktemp("xraylab_cache"))
    yield
    if old is None:
        os.environ.pop("XRAYLAB_CACHE", None)
    else:
        os.environ["XRAYLAB_CACHE"] = old


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Path of ../shared/data; skips the test with a reason when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real test data not found at {SHARED_DATA} (set XRAYLAB_SHARED_DATA to its location)")
    return SHARED_DATA


@pytest.fixture()
def sandbox(tmp_path, monkeypatch):
    """A temp working folder W = tmp_path/w (relative outputs land there, the CLI runs in it); yields W."""
    w = tmp_path / "w"
    w.mkdir()
    monkeypatch.chdir(w)
    return w
