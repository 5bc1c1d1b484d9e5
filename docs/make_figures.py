"""Make the README figures of the physics chain from the embedded default CT.

* ``docs/figures/presets.png``: one CT rendered with each physics preset (chest_pa, bedside_ap, fok2024, ideal):
  the for-presentation image (the presets' clinical processing), the collimated field of ``collimation.field:
  auto`` included (unexposed rows white).
* ``docs/figures/ablation.png``: a strip of physics ablations around chest_pa (kVp, grid, scatter, dose) on the
  *for-processing* image −ln(I/I₀), all shown with one fixed window (that of the chest_pa image), so that the
  physics differences are not equalised away by the display processing.

The CT is projected once per geometry; the physics chain runs on the 2D layers for each variant.
Run:  .venv/bin/python docs/make_figures.py [--size 256] [--out docs/figures]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from xraylab.io.ct import load_default_ct
from xraylab.physics.presets import resolve_preset
from xraylab.render import build_scene
from xraylab.viz import contact_sheet

PRESETS = ("chest_pa", "bedside_ap", "fok2024", "ideal")
ABLATIONS = (
    ("chest_pa (120 kVp, 12:1 grid)", []),
    ("70 kVp", ["spectrum.kvp=70"]),
    ("90 kVp", ["spectrum.kvp=90"]),
    ("150 kVp", ["spectrum.kvp=150"]),
    ("no grid", ["grid=none"]),
    ("no scatter", ["scatter=none"]),
    ("no grid, no scatter", ["grid=none", "scatter=none"]),
    ("0.2 mAs (noise)", ["spectrum.mas=0.2"]),
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "figures")
    args = ap.parse_args()
    ct = load_default_ct()

    scene = build_scene(ct, renderer="trilinear", n_points=500)

    def render(preset: str, overrides=()):
        geom, physics = resolve_preset(preset, overrides, geometry={"rows": args.size, "cols": args.size})
        return scene.render(geom, physics), geom

    def image(preset: str, overrides=()):
        result, geom = render(preset, overrides)
        return result.layers["image"][0, 0].numpy(), geom

    images, captions = [], []
    for preset in PRESETS:
        img, g = image(preset)
        images.append(img)
        captions.append(f"{preset}\nSID {g.sid_mm:.0f} mm, {g.view}")
    contact_sheet(args.out / "presets.png", images, captions=captions, ncols=len(PRESETS), tile_inches=2.6)

    images, captions = [], []
    window = None
    for caption, overrides in ABLATIONS:
        result, _ = render("chest_pa", overrides)
        fp = result.layers["for_processing"][0, 0].numpy()
        if window is None:  # the reference's 1–99 % range inside the exposed field, kept for every variant
            inside = fp[result.layers["field"][0, 0].numpy() > 0.98]
            window = np.percentile(inside, [1.0, 99.0])
        images.append(np.clip((fp - window[0]) / (window[1] - window[0]), 0.0, 1.0))
        captions.append(caption)
    contact_sheet(args.out / "ablation.png", images, captions=captions, ncols=4, tile_inches=2.4)
    print(f"wrote {args.out / 'presets.png'} and {args.out / 'ablation.png'}")


if __name__ == "__main__":
    main()
