"""The README's contrast figure: the shared contrast-enhanced chest CT rendered with iodinated blood (materials
contrast: auto, which finds the enhancement) and with the old rule (contrast: never: enhanced blood is soft tissue
at its HU's Schneider density, or bone where no skeleton labels exist), and their difference in the
for-processing image −ln(I/I₀).

The CT's blood pool is labelled by atlas propagation from the embedded CT (``xraylab label``; vessels and heart).
Needs ``../shared/data/ct/chest_contrast`` (skips with a message when absent).

Run:  .venv/bin/python docs/make_contrast_figure.py        → docs/figures/contrast.png, a markdown line of numbers
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
CT = ROOT.parent / "shared" / "data" / "ct" / "chest_contrast" / "ct.nii.gz"
OUT = ROOT / "docs" / "figures" / "contrast.png"


def main() -> int:
    if not CT.is_file():
        print(f"skipped: {CT} not found (the shared contrast CT; see data_manifests/)", file=sys.stderr)
        return 0
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from xraylab.io.ct import load_ct, load_default_ct
    from xraylab.io.label_propagation import label_ct
    from xraylab.physics.presets import resolve_preset
    from xraylab.render import build_scene

    ct = label_ct(load_ct(CT, segment="never").downsample(2), [load_default_ct(2)])
    rows = []
    images = {}
    for mode in ("never", "auto"):
        geom, physics = resolve_preset("chest_pa", [f"materials.contrast={mode}"], {"rows": 256, "cols": 256})
        scene = build_scene(ct, materials=physics.materials)
        r = scene.render(geom, physics, seed=0)
        images[mode] = (r.layers["image"][0, 0].numpy(), r.layers["for_processing"][0, 0].numpy())
        vol = scene.projector.volumes
        rows.append((mode, [n for n, p in zip(vol.material_names, vol.material_present) if p]))
    diff = images["auto"][1] - images["never"][1]
    fig, ax = plt.subplots(1, 3, figsize=(13, 4.6))
    for a, (title, img) in zip(ax, (("contrast: never (enhanced blood as soft tissue)", images["never"][0]),
                                    ("contrast: auto (iodinated blood)", images["auto"][0]))):
        a.imshow(img, cmap="gray", vmin=0, vmax=1)
        a.set_title(title, fontsize=9)
        a.axis("off")
    lim = float(np.abs(diff).max()) or 1.0
    im = ax[2].imshow(diff, cmap="coolwarm", vmin=-lim, vmax=lim)
    ax[2].set_title("Δ −ln(I/I₀), auto − never", fontsize=9)
    ax[2].axis("off")
    fig.colorbar(im, ax=ax[2], fraction=0.046)
    fig.tight_layout()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(OUT, dpi=90)
    changed = diff[np.abs(diff) > 0.01]
    mean = float(changed.mean()) if changed.size else 0.0
    print(f"materials: {rows}; pixels changed by > 0.01: {changed.size}, mean change {mean:+.3f}, "
          f"min {diff.min():+.3f}, max {diff.max():+.3f}")
    print(OUT)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
