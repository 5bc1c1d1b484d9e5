"""Write the physics tables shipped with the package (``src/xraylab/physics/seed_tables/``).

Runs, in this process and with an empty temporary cache, ``xraylab demo`` and ``xraylab render default`` at
256² and at the preset's own size, then copies every table entry they looked up
(:data:`xraylab.physics.table_cache.USED`: spectra, off-axis spectra for the heel effect, μ/ρ and μen/ρ tables,
grid transmissions) into the seed folder with a ``manifest.json`` naming each entry's arguments and the library
versions they were computed with. A later first run finds them there instead of importing spekpy / xraydb.
Rerun it after changing a memoised table function or upgrading spekpy / xraydb
(``tests/physics/test_table_cache.py`` says so when the seeds no longer match).

    python scripts/make_seed_tables.py
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from pathlib import Path


def _run(argv: list[str]) -> None:
    from xraylab import cli

    sys.argv = ["xraylab", *argv]
    try:
        cli.main()
    except SystemExit as exc:
        if exc.code:
            raise


def main() -> None:
    from xraylab.physics import table_cache

    seed = table_cache.SEED_DIR
    with tempfile.TemporaryDirectory(prefix="xraylab_seed_") as tmp:
        os.environ["XRAYLAB_CACHE"] = str(Path(tmp) / "cache")
        table_cache.SEED_DIR = Path(tmp) / "no_seeds"  # compute everything afresh
        table_cache.RECORD_USED = True
        _run(["demo", "--out", str(Path(tmp) / "demo"), "--quiet"])
        _run(["render", "default", "--rows", "256", "--cols", "256", "--out", str(Path(tmp) / "r256")])
        _run(["render", "default", "--out", str(Path(tmp) / "r_preset")])
        computed = Path(tmp) / "cache" / "tables"
        if seed.exists():
            shutil.rmtree(seed)
        entries = {}
        for name, args in sorted(table_cache.USED.items()):
            (seed / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(computed / name, seed / name)
            entries[name] = repr(args)
    manifest = {"libraries": table_cache._library_versions(), "entries": entries}
    (seed / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    size = sum(p.stat().st_size for p in seed.rglob("*") if p.is_file())
    print(f"wrote {len(entries)} entries ({size / 1024:.0f} kB) to {seed}")


if __name__ == "__main__":
    main()
