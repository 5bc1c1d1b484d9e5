#!/usr/bin/env bash
# Rebuild the README's "Training and robustness evaluation" figures from a real (toy-scale) pipeline run:
#   docs/make_pipeline_figures.sh [WORKDIR]      (default WORKDIR: outputs/pipeline_readme; ~10-15 min on 2 CPUs)
# Runs simulations/pipeline_readme.yaml with `xraylab run` (completed steps are skipped on a re-run), then copies
# the training curve, the rotation boxplot and the corruption figure into docs/figures/ (PNG, each <= 300 KB).
# The tables for the README are in WORKDIR/evaluate/summary.md.
set -euo pipefail
cd "$(dirname "$0")/.."
WORK="${1:-outputs/pipeline_readme}"
XRAYLAB="${XRAYLAB:-.venv/bin/xraylab}"
PYTHON="${PYTHON:-.venv/bin/python}"
"$XRAYLAB" run simulations/pipeline_readme.yaml --workdir "$WORK"
"$PYTHON" - "$WORK" <<'PY'
import shutil
import sys
from pathlib import Path

from PIL import Image

work, figs = Path(sys.argv[1]), Path("docs/figures")
copies = {
    "train_curve.png": work / "train_syn_all" / "curves.png",
    "rotation_dice_boxplot.png": work / "evaluate" / "figures" / "rotation_dice_boxplot.png",
    "corruption_dice_vs_severity.png": work / "evaluate" / "figures" / "corruption_dice_vs_severity.png",
}
for name, src in copies.items():
    dst = figs / name
    shutil.copyfile(src, dst)
    while dst.stat().st_size > 300_000:  # shrink oversized figures (keeps the aspect ratio)
        with Image.open(dst) as im:
            im = im.convert("RGB").resize((int(im.width * 0.8), int(im.height * 0.8)), Image.LANCZOS)
        im.save(dst, optimize=True)
    print(f"{dst} ({dst.stat().st_size // 1024} KB) <- {src}")
PY
echo "tables: $WORK/evaluate/summary.md"
