"""Burnt-in annotations: lead laterality markers, text blocks, rulers and arrows drawn into the pixels.

Real chest radiographs carry content that CT-derived synthetic radiographs never show: the radiographer's lead
"L" / "R" marker, text burnt in by the modality or the archive (institution, date and time, "PORTABLE",
"AP SUPINE", "ERECT"), measuring rulers and annotation arrows. A model trained on synthetic images alone may
read them as anatomy. :class:`BurntIn` (registered as ``burnt_in``) draws such items into ``[B, C, H, W]``
images in [0, 1], synthetic and real alike. It is physics-free: rasterised shapes are alpha-composited over the
image (bright = attenuating, so lead is near 1); nothing is projected. :func:`burn_in` returns, with the
image, the bool mask ``[B, 1, H, W]`` of every pixel it drew into; the registered corruption produces its image
through the same code, so image and mask agree exactly, and no pixel outside the mask changes.

Sizes are millimetres in the image plane, converted to pixels by assuming the image's longer side spans
``field_mm`` = 430 mm (the long side of a 35 x 43 cm or 43 x 43 cm detector, a 14 x 17 inch cassette), so a
level looks the same at any resolution; pass another ``field_mm`` for a smaller field. The sizes follow typical
practice rather than a standard: lead laterality letters are about 10-20 mm tall and are placed in an upper
corner of the field or beside the shoulder, away from the lungs; burnt-in text has a cap height of a few
millimetres on the full image (5-8 mm here) and runs along the top or bottom edge, white or light grey,
sometimes on a black label; radio-opaque rulers carry ticks every 10 mm (longer ones every 50 mm) and lie along
a side; annotation arrows are a few centimetres long.

=====  =======  =========  ======  =====  =======  ===========  =========  =====
level  markers  marker_mm  blocks  lines  text_mm  rulers or    ruler_mm   boxed
                                                   arrows
=====  =======  =========  ======  =====  =======  ===========  =========  =====
0      0        12         0       1      5        0            100        0.0
1      1        12         0       1      5        0            100        0.0
2      1        14         1       1      5        0            100        0.0
3      1        16         2       1      6        1            100        0.0
4      2        20         3       2      8        2            150        0.5
=====  =======  =========  ======  =====  =======  ===========  =========  =====

* ``markers``: lead letters ("L" or "R", drawn), bold, value 0.95-1.0, cap height ``marker_mm``; in an upper
  corner (its top 6 mm + 0-6 % of the height below the top border) or beside the shoulder (its top at 12-26 % of
  the height), its outer edge 6 mm + 0-8 % of the width from the left or right border: never near the centre.
* ``blocks``: text blocks along the top or bottom edge, ``lines`` lines each, cap height ``text_mm``, value
  0.75-1.0; a line is a projection ("PORTABLE", "AP SUPINE", "ERECT", ...; first lines 40 %), a date with or
  without time (25 %), an institution (20 %) or a ward and bed (15 %); further lines differ in kind from the
  line above.
* ``rulers or arrows``: a ruler (``ruler_mm`` x 0.8-1.2 long, 0.8 mm wide, ticks 3 / 6 mm) along a side edge,
  or an arrow (shaft 15-30 % of ``ruler_mm``, head 5 mm) in a lateral band pointing inwards; value 0.8-1.0.
* ``boxed``: probability that a marker or text block sits on a black label box (value 0.02).

Counts interpolate like every table entry; a fractional count ``n`` uses ``floor(n)`` items and one more with
probability ``n - floor(n)``, so augmentation can use continuous severities. All random numbers of a sample
(one fixed-length block per item slot: presence, letter, side, text, value, four candidate positions) are drawn
before the table is read, so one seed gives one layout at every severity and higher levels add to it. Each item
takes the first of its candidate positions (text: two on the drawn edge, then two on the other) that keeps it
1 mm clear of the items already placed (markers first, then text, then rulers and arrows), else the first
candidate. Each sample of a batch gets its own layout.

Letters are drawn with PIL's default font at the requested size (``ImageFont.load_default(size=...)``,
Pillow >= 10.1 with FreeType; otherwise the fixed-size bitmap font, scaled), supersampled 4x and
box-filtered, so edges are anti-aliased; coverage below 4 % is dropped.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont
from scipy import ndimage

from xraylab.degrade.base import Corruption
from xraylab.degrade.registry import register
from xraylab.degrade.rng import fresh_generator
from xraylab.errors import ConfigError

#: the image's longer side in millimetres (a 43 cm detector side)
FIELD_MM = 430.0
#: supersampling factor of the rasteriser
SS = 4
#: coverage below this is dropped, so faint anti-aliasing fringes neither change pixels nor enter the mask
FRINGE = 0.04
#: distance of every item from the image border and the gap kept between items, mm
MARGIN_MM, GAP_MM = 6.0, 1.0
#: value of the label boxes behind boxed items
BOX_VALUE = 0.02
#: candidate positions drawn per item
N_CANDIDATES = 4
#: item slots per sample (the largest counts of the table)
MAX_MARKERS, MAX_BLOCKS, MAX_LINES, MAX_LINEAR = 2, 3, 2, 2

PROJECTIONS = ("PORTABLE", "AP SUPINE", "AP ERECT", "PA ERECT", "ERECT", "SUPINE", "SEMI-ERECT", "AP SITTING")
INSTITUTIONS = ("GENERAL HOSPITAL", "DEPT OF RADIOLOGY", "CITY MEDICAL CENTRE", "CHEST UNIT", "X-RAY 2")
WARDS = ("ICU", "WARD", "ED", "CCU", "HDU")

# uniform draws per slot: fixed lengths, consumed whether or not the slot is used
_MARKER_DRAWS = 6 + 2 * N_CANDIDATES  # present, letter, side, band, value, box, candidates
_LINE_DRAWS = 7  # present, kind, five content draws
_BLOCK_DRAWS = 4 + 2 * N_CANDIDATES + MAX_LINES * _LINE_DRAWS  # present, edge, value, box, candidates, lines
_LINEAR_DRAWS = 6 + 2 * N_CANDIDATES  # present, ruler or arrow, side, length, value, angle, candidates
DRAWS_PER_SAMPLE = MAX_MARKERS * _MARKER_DRAWS + MAX_BLOCKS * _BLOCK_DRAWS + MAX_LINEAR * _LINEAR_DRAWS


# ---------------------------------------------------------------------------------------------- rasteriser
@functools.lru_cache(maxsize=128)
def _font(size: int) -> Any:
    """PIL's default font at ``size`` px (em); the fixed-size bitmap font where sizes are not supported."""
    try:
        return ImageFont.load_default(size=max(1, int(size)))
    except TypeError:  # Pillow < 10.1: load_default() takes no size
        return ImageFont.load_default()


@functools.lru_cache(maxsize=256)
def _cap_box(font: Any) -> tuple[int, int]:
    """(top, height) of the capital "H" of ``font``: its inked rows, relative to the ``y`` it is drawn at, px.

    Measured on a drawing, as a bitmap font's bounding box includes the line spacing above the capitals.
    """
    box = font.getbbox("H")
    img = Image.new("L", (int(box[2]) + 4, int(box[3]) + 4))
    ImageDraw.Draw(img).text((2, 2), "H", fill=255, font=font)
    rows = np.flatnonzero(np.asarray(img).max(axis=1) >= 128)
    if not len(rows):  # too small to ink half a pixel
        return int(box[1]), max(1, int(box[3] - box[1]))
    return int(rows[0]) - 2, int(rows[-1] - rows[0] + 1)


def _fonted(cap_px: float) -> Any:
    """The default font whose capitals are closest to ``cap_px`` high (one correction from a 0.72 cap/em guess)."""
    size = max(1, round(cap_px / 0.72))
    font = _font(size)
    if isinstance(font, ImageFont.FreeTypeFont):
        size2 = max(1, round(size * cap_px / _cap_box(font)[1]))
        if size2 != size:
            font = _font(size2)
    return font


def _downsample(img: Image.Image | np.ndarray) -> np.ndarray:
    """Box-filter a supersampled ``L`` image by :data:`SS`: coverage in [0, 1], fringe dropped, cropped tight."""
    a = np.asarray(img, dtype=np.float32) / 255.0
    h, w = a.shape
    hp, wp = -(-h // SS) * SS, -(-w // SS) * SS
    a = np.pad(a, ((0, hp - h), (0, wp - w)))
    cov = a.reshape(hp // SS, SS, wp // SS, SS).mean(axis=(1, 3))
    cov[cov < FRINGE] = 0.0
    rows, cols = np.flatnonzero(cov.any(1)), np.flatnonzero(cov.any(0))
    if not len(rows):
        return np.zeros((0, 0), np.float32)
    return np.ascontiguousarray(cov[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1])


def text_coverage(lines: Sequence[str], cap_px: float, bold: bool = False) -> np.ndarray:
    """Anti-aliased coverage ``[h, w]`` in [0, 1] of left-aligned ``lines`` whose capitals are ``cap_px`` high.

    Lines are 1.5 cap heights apart; ``bold`` thickens strokes by 6 % of the cap height per side (the glyphs are
    drawn that much smaller, so a bold capital is still ``cap_px`` high). The array is cropped to the drawn
    pixels (``[0, 0]`` when nothing is left after dropping the fringe).
    """
    target = float(cap_px) * SS
    r = max(1, round(0.06 * target)) if bold else 0
    glyph = max(1.0, target - 2 * r)
    font = _fonted(glyph)
    top, cap = _cap_box(font)
    pitch = max(1, round(1.5 * cap))
    pad = cap + 2
    width = max(int(font.getbbox(t)[2]) for t in lines) if lines else 1
    img = Image.new("L", (width + 2 * pad, pitch * (len(lines) - 1) + cap + 2 * pad))
    draw = ImageDraw.Draw(img)
    for i, line in enumerate(lines):
        draw.text((pad, pad + i * pitch - top), line, fill=255, font=font)
    factor = glyph / cap
    if abs(factor - 1.0) > 0.05:  # a fixed-size font: scale the drawing to the requested height
        size = (max(1, round(img.width * factor)), max(1, round(img.height * factor)))
        img = img.resize(size, Image.Resampling.NEAREST if factor > 1 else Image.Resampling.BOX)
    if not bold:
        return _downsample(img)
    return _downsample(ndimage.maximum_filter(np.asarray(img), size=2 * r + 1))


def ruler_coverage(length_mm: float, px_per_mm: float, ticks_left: bool = False) -> np.ndarray:
    """A vertical ruler ``length_mm`` long: 0.8 mm spine, ticks every 10 mm (3 mm; 6 mm every 50 mm).

    Ticks point right of the spine (``ticks_left`` mirrors it, for a ruler on the right edge).
    """
    s = px_per_mm * SS
    lw = max(1, round(0.8 * s))
    short, long_ = round(3.0 * s), round(6.0 * s)
    length = max(lw, round(length_mm * s))
    img = Image.new("L", (lw + long_ + 1, length + lw))
    draw = ImageDraw.Draw(img)
    draw.rectangle((0, 0, lw - 1, length + lw - 1), fill=255)
    for i in range(int(length_mm // 10.0) + 1):
        y = round(i * 10.0 * s)
        draw.rectangle((0, y, lw - 1 + (long_ if i % 5 == 0 else short), y + lw - 1), fill=255)
    if ticks_left:
        img = img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    return _downsample(img)


def arrow_coverage(shaft_mm: float, angle: float, px_per_mm: float, head_mm: float = 5.0) -> np.ndarray:
    """An arrow: shaft ``shaft_mm`` long and 1.2 mm wide, head ``head_mm`` long and 0.8 ``head_mm`` wide.

    ``angle`` (radians) is the direction it points, counter-clockwise from the +x axis of the image.
    """
    s = px_per_mm * SS
    hw, hh = 0.6 * s, 0.4 * head_mm * s
    shaft, tip = shaft_mm * s, (shaft_mm + head_mm) * s
    shapes = [[(0.0, -hw), (shaft, -hw), (shaft, hw), (0.0, hw)], [(shaft, -hh), (tip, 0.0), (shaft, hh)]]
    c, sn = math.cos(angle), math.sin(angle)
    turned = [[(x * c + y * sn, -x * sn + y * c) for x, y in poly] for poly in shapes]  # image y points down
    xs = [p[0] for poly in turned for p in poly]
    ys = [p[1] for poly in turned for p in poly]
    x0, y0 = min(xs) - 2, min(ys) - 2
    img = Image.new("L", (math.ceil(max(xs) - x0) + 3, math.ceil(max(ys) - y0) + 3))
    draw = ImageDraw.Draw(img)
    for poly in turned:
        draw.polygon([(x - x0, y - y0) for x, y in poly], fill=255)
    return _downsample(img)


# ---------------------------------------------------------------------------------------------- layout
@dataclass
class _Item:
    """One drawn item: coverage, its value and an optional label box ``pad`` px around it."""

    cov: np.ndarray
    value: float
    boxed: bool = False
    pad: int = 0

    @property
    def shape(self) -> tuple[int, int]:
        h, w = self.cov.shape
        return (h + 2 * self.pad, w + 2 * self.pad) if self.boxed else (h, w)


class _Canvas:
    """Premultiplied "over" compositing of items into alpha ``A`` and colour ``C`` (``[H, W]`` float32)."""

    def __init__(self, h: int, w: int, gap_px: float):
        self.A = np.zeros((h, w), np.float32)
        self.C = np.zeros((h, w), np.float32)
        self.gap = gap_px
        self.taken: list[tuple[float, float, float, float]] = []

    def _free(self, y0: int, x0: int, h: int, w: int) -> bool:
        g = self.gap
        return all(
            y0 + h + g <= top or bottom + g <= y0 or x0 + w + g <= left or right + g <= x0
            for top, left, bottom, right in self.taken
        )

    def place(self, item: _Item, candidates: Sequence[tuple[int, int]]) -> None:
        """Draw ``item`` at the first candidate ``(y0, x0)`` clear of the placed items, else at the first."""
        h, w = item.shape
        if h == 0 or w == 0:
            return
        y0, x0 = next((c for c in candidates if self._free(c[0], c[1], h, w)), candidates[0])
        self.taken.append((y0, x0, y0 + h, x0 + w))
        if item.boxed:
            self._paint(np.ones((h, w), np.float32), BOX_VALUE, y0, x0)
            y0, x0 = y0 + item.pad, x0 + item.pad
        self._paint(item.cov, item.value, y0, x0)

    def _paint(self, cov: np.ndarray, value: float, y0: int, x0: int) -> None:
        H, W = self.A.shape
        h, w = cov.shape
        ys, xs, ye, xe = max(0, y0), max(0, x0), min(H, y0 + h), min(W, x0 + w)
        if ys >= ye or xs >= xe:
            return
        a = cov[ys - y0 : ye - y0, xs - x0 : xe - x0]
        self.C[ys:ye, xs:xe] = value * a + self.C[ys:ye, xs:xe] * (1.0 - a)
        self.A[ys:ye, xs:xe] = a + self.A[ys:ye, xs:xe] * (1.0 - a)


def _active(slot: int, count: float, u: float) -> bool:
    """Slot ``slot`` (0-based) is used at a fractional ``count``: all below ``floor(count)``, the next with
    probability ``count - floor(count)`` (decided by the uniform draw ``u``)."""
    whole = math.floor(count + 1e-9)
    return slot < whole or (slot == whole and u < count - whole)


def _clamp(v: float, lo: float, hi: float) -> int:
    return int(round(min(max(v, lo), max(lo, hi))))


#: kinds of text line and the probability that a block's first line is of each kind
LINE_KINDS = ("projection", "date", "institution", "ward")
_FIRST_LINE_P = (0.40, 0.25, 0.20, 0.15)


def _line_kind(u: float, previous: int | None) -> int:
    """Index into :data:`LINE_KINDS`: weighted for a block's first line, else uniform over the other kinds."""
    if previous is None:
        edges = np.cumsum(_FIRST_LINE_P)
        return min(int(np.count_nonzero(u >= edges)), len(LINE_KINDS) - 1)
    return (previous + 1 + int(u * (len(LINE_KINDS) - 1))) % len(LINE_KINDS)


def _text_line(kind: int, a: float, b: float, c: float, d: float, e: float) -> str:
    """One line of burnt-in text of kind ``LINE_KINDS[kind]`` from the uniform draws ``a`` ... ``e``."""
    if LINE_KINDS[kind] == "projection":
        return PROJECTIONS[int(a * len(PROJECTIONS))]
    if LINE_KINDS[kind] == "date":
        day, month, year = 1 + int(a * 28), 1 + int(b * 12), 2005 + int(c * 20)
        date = f"{day:02d}/{month:02d}/{year}" if d < 0.5 else f"{year}-{month:02d}-{day:02d}"
        return date + (f" {int(e * 48) % 24:02d}:{int(e * 2880) % 60:02d}" if e < 0.5 else "")
    if LINE_KINDS[kind] == "institution":
        return INSTITUTIONS[int(a * len(INSTITUTIONS))]
    return f"{WARDS[int(a * len(WARDS))]} BED {1 + int(b * 24)}"


def _pairs(u: Sequence[float]) -> list[tuple[float, float]]:
    return [(u[2 * i], u[2 * i + 1]) for i in range(N_CANDIDATES)]


def _compose(u: Sequence[float], p: dict[str, float], h: int, w: int, px_per_mm: float) -> _Canvas:
    """Lay out and draw one sample's items from its ``DRAWS_PER_SAMPLE`` uniform draws ``u``."""
    k = px_per_mm
    m = MARGIN_MM * k
    canvas = _Canvas(h, w, GAP_MM * k)
    off = 0
    for slot in range(MAX_MARKERS):
        present, letter, side, band, value, box, *cand = u[off : off + _MARKER_DRAWS]
        off += _MARKER_DRAWS
        if not _active(slot, p["markers"], present):
            continue
        cap = p["marker_mm"] * k
        item = _Item(text_coverage(["L" if letter < 0.5 else "R"], cap, bold=True), 0.95 + 0.05 * value,
                     box < p["boxed"], max(1, round(0.3 * cap)))
        ih, iw = item.shape
        spots = []
        for fx, fy in _pairs(cand):
            x = m + fx * 0.08 * w if side < 0.5 else w - m - iw - fx * 0.08 * w
            y = m + fy * 0.06 * h if band < 0.6 else 0.12 * h + fy * 0.14 * h
            spots.append((_clamp(y, 0, h - ih), _clamp(x, 0, w - iw)))
        canvas.place(item, spots)
    for slot in range(MAX_BLOCKS):
        present, edge, value, box, *rest = u[off : off + _BLOCK_DRAWS]
        off += _BLOCK_DRAWS
        cand, line_draws = rest[: 2 * N_CANDIDATES], rest[2 * N_CANDIDATES :]
        if not _active(slot, p["text_blocks"], present):
            continue
        lines: list[str] = []
        kind: int | None = None
        for j in range(MAX_LINES):
            lp, ku, a, b, c, d, e = line_draws[j * _LINE_DRAWS : (j + 1) * _LINE_DRAWS]
            if j == 0 or _active(j, p["text_lines"], lp):
                kind = _line_kind(ku, kind)
                lines.append(_text_line(kind, a, b, c, d, e))
        cap = p["text_mm"] * k
        item = _Item(text_coverage(lines, cap), 0.75 + 0.25 * value, box < p["boxed"], max(1, round(0.4 * cap)))
        ih, iw = item.shape
        spots = []
        for i, (fx, fy) in enumerate(_pairs(cand)):
            top = (edge < 0.5) == (i < N_CANDIDATES // 2)  # the drawn edge first, then the other one
            y = m + fy * 0.03 * h if top else h - m - ih - fy * 0.03 * h
            spots.append((_clamp(y, 0, h - ih), _clamp(m + fx * (w - 2 * m - iw), 0, w - iw)))
        canvas.place(item, spots)
    for slot in range(MAX_LINEAR):
        present, shape, side, length, value, angle, *cand = u[off : off + _LINEAR_DRAWS]
        off += _LINEAR_DRAWS
        if not _active(slot, p["rulers"], present):
            continue
        left = side < 0.5
        ruler = shape < 0.5
        if ruler:
            cov = ruler_coverage(p["ruler_mm"] * (0.8 + 0.4 * length), k, ticks_left=not left)
        else:
            tilt = (angle - 0.5) * math.radians(70.0)
            cov = arrow_coverage(p["ruler_mm"] * (0.15 + 0.15 * length), (0.0 if left else math.pi) + tilt, k)
        item = _Item(cov, 0.8 + 0.2 * value)
        ih, iw = item.shape
        band = 0.03 * w if ruler else max(0.0, 0.25 * w - iw - m)
        spots = []
        for fx, fy in _pairs(cand):
            x = m + fx * band if left else w - m - iw - fx * band
            spots.append((_clamp(0.12 * h + fy * (0.76 * h - ih), 0, h - ih), _clamp(x, 0, w - iw)))
        canvas.place(item, spots)
    return canvas


def _burn(
    x: torch.Tensor, p: dict[str, float], g: torch.Generator, field_mm: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Draw one layout per sample of ``x`` ``[B, C, H, W]``; return the image and the bool mask ``[B, 1, H, W]``."""
    h, w = x.shape[-2:]
    px_per_mm = max(h, w) / field_mm
    alphas, colours = [], []
    for _ in range(x.shape[0]):
        u = torch.rand(DRAWS_PER_SAMPLE, generator=g, device=g.device, dtype=torch.float64).tolist()
        canvas = _compose(u, p, h, w, px_per_mm)
        alphas.append(canvas.A)
        colours.append(canvas.C)
    A = torch.from_numpy(np.stack(alphas))[:, None].to(x.device, x.dtype)
    C = torch.from_numpy(np.stack(colours))[:, None].to(x.device, x.dtype)
    added = A > 0
    return torch.where(added, x * (1.0 - A) + C, x), added


@register
class BurntIn(Corruption):
    """Burnt-in annotations (module docstring: level table, sizes, placement): lead L/R markers, text blocks,
    rulers and arrows alpha-composited over the image; ``field_mm`` is the image's longer side in mm."""

    name = "burnt_in"
    modalities = ("xray",)
    adds = "burnt_in"
    opt_in = True
    description = "burnt-in lead L/R markers, text, rulers and arrows (physics-free overlay with its mask)"
    table = {
        "markers": (0.0, 1.0, 1.0, 1.0, 2.0),
        "marker_mm": (12.0, 12.0, 14.0, 16.0, 20.0),
        "text_blocks": (0.0, 0.0, 1.0, 2.0, 3.0),
        "text_lines": (1.0, 1.0, 1.0, 1.0, 2.0),
        "text_mm": (5.0, 5.0, 5.0, 6.0, 8.0),
        "rulers": (0.0, 0.0, 0.0, 1.0, 2.0),
        "ruler_mm": (100.0, 100.0, 100.0, 100.0, 150.0),
        "boxed": (0.0, 0.0, 0.0, 0.0, 0.5),
    }

    def __init__(self, field_mm: float = FIELD_MM):
        if not (math.isfinite(field_mm) and field_mm > 0):
            raise ConfigError(f"corruption 'burnt_in': field_mm must be a positive length in mm, got {field_mm!r}")
        self.field_mm = float(field_mm)

    def _apply(self, x, p, g):
        return _burn(x, p, g, self.field_mm)[0]

    def apply_with_added(
        self, image: torch.Tensor, severity: float, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The image :meth:`apply` gives for the same generator state, and the bool mask ``[B, 1, H, W]`` of the
        pixels drawn into (all ``False`` at severity 0)."""
        self.check(image)
        p = self.params(severity)
        if float(severity) == 0.0:
            blank = torch.zeros((image.shape[0], 1, *image.shape[2:]), dtype=torch.bool, device=image.device)
            return image.clone(), blank
        g = generator if generator is not None else fresh_generator()
        out, added = _burn(image, p, g, self.field_mm)
        return out.to(image.dtype).clamp_(0.0, 1.0), added


def burn_in(
    image: torch.Tensor,
    severity: float,
    generator: torch.Generator | None = None,
    field_mm: float = FIELD_MM,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Burn annotations into ``image`` (float ``[B, C, H, W]`` in [0, 1]) at ``severity`` in [0, 4].

    Returns ``(image_out, added_mask)``: ``image_out`` as the ``burnt_in`` corruption gives it for the same
    generator state (and ``field_mm``, the image's longer side in mm), ``added_mask`` bool ``[B, 1, H, W]``,
    true exactly where something was drawn; outside it ``image_out`` equals ``image`` bit for bit.
    """
    return BurntIn(field_mm).apply_with_added(image, severity, generator)
