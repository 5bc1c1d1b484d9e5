"""The README realism comparison: ``ideal`` vs ``chest_pa`` vs the 42 shared real chest radiographs.

1. imports ``../shared/data/radiographs/cxr_lungs_heart`` (256², minmax, heart → cardiomediastinum) into
   ``outputs/realism/real`` with ``xraylab import folder`` (skipped when present);
2. generates ``simulations/realism_cpu.yaml`` twice — preset ``chest_pa`` and preset ``ideal`` — into
   ``outputs/realism/<preset>`` (21 views each, α = −10…10°, 384² detector framed to 256²);
3. compares both with the real set (:mod:`xraylab.evaluate.realism`) and writes ``outputs/realism/report/``
   (realism.csv / .md / .png / .json) and ``docs/figures/realism.png``.

Run:  .venv/bin/python docs/make_realism_report.py [--workers 2] [--out outputs/realism]
(about 15 minutes on 2 CPU cores). Prints the markdown table for the README.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REAL = ROOT.parent / "shared" / "data" / "radiographs" / "cxr_lungs_heart"
SPEC = ROOT / "simulations" / "realism_cpu.yaml"


def xraylab(*args: str) -> None:
    cmd = [str(Path(sys.executable).parent / "xraylab"), *args]
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, cwd=ROOT)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "outputs" / "realism")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--figure", type=Path, default=ROOT / "docs" / "figures" / "realism.png")
    args = ap.parse_args()
    if not REAL.is_dir():
        sys.exit(f"{REAL}: the shared real radiographs are needed for this report")
    real = args.out / "real"
    if not (real / "manifest.parquet").is_file():
        xraylab("import", "folder", str(REAL), "--out", str(real), "--size", "256", "--normalize", "minmax",
                "--rename", "heart=cardiomediastinum", "--contact-sheet", "0", "--quiet")
    for preset in ("chest_pa", "ideal"):
        xraylab("generate", str(SPEC), "--out", str(args.out / preset), "--set", f"preset={preset}",
                "--set", f"name=realism_{preset}", "--workers", str(args.workers))

    from xraylab.evaluate.realism import load_set, table_markdown, write_report

    ref = load_set(real, 256, name="real")
    syn = [load_set(args.out / p, 256, name=p) for p in ("ideal", "chest_pa")]
    table = write_report(args.out / "report", ref, syn)
    args.figure.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(args.out / "report" / "realism.png", args.figure)
    print(table_markdown(table, [s.name for s in syn], len(ref.table), [len(s.table) for s in syn]))
    print(f"wrote {args.out / 'report'} and {args.figure}")


if __name__ == "__main__":
    main()
