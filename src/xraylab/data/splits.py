"""Seeded subject-level train/val/test split: every image of a subject (CT) lands in the same split."""

from __future__ import annotations

import math
from typing import Iterable, Mapping

import numpy as np

SPLITS = ("train", "val", "test")


def split_counts(n: int, fractions: Mapping[str, float]) -> dict[str, int]:
    """Subjects per split by largest remainder of ``n · fraction`` (fractions renormalised to sum 1).

    A split with a non-zero fraction gets at least one subject when there are enough subjects; with a single
    subject it goes to the split with the largest fraction.
    """
    total = sum(fractions[s] for s in SPLITS)
    exact = {s: n * fractions[s] / total for s in SPLITS}
    counts = {s: int(math.floor(exact[s])) for s in SPLITS}
    order = sorted(SPLITS, key=lambda s: (-(exact[s] - counts[s]), -fractions[s], SPLITS.index(s)))
    for s in order[: n - sum(counts.values())]:
        counts[s] += 1
    # Give each requested split one subject when possible, taking from the largest.
    for s in SPLITS:
        if fractions[s] > 0 and counts[s] == 0:
            donor = max(SPLITS, key=lambda d: (counts[d], fractions[d]))
            if counts[donor] > 1:
                counts[donor] -= 1
                counts[s] += 1
    return counts


def assign_splits(
    subjects: Iterable[str],
    fractions: Mapping[str, float],
    seed: int,
    fixed: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Map each subject id to ``train``/``val``/``test``.

    Subjects in ``fixed`` keep their split; the others are shuffled with ``numpy.random.default_rng(seed)``
    (after sorting, so the result does not depend on input order) and cut by :func:`split_counts`.
    """
    fixed = dict(fixed or {})
    subs = sorted(set(subjects))
    free = [s for s in subs if s not in fixed]
    rng = np.random.default_rng(int(seed))
    perm = [free[i] for i in rng.permutation(len(free))]
    counts = split_counts(len(free), fractions)
    out = {s: fixed[s] for s in subs if s in fixed}
    i = 0
    for split in SPLITS:
        for s in perm[i : i + counts[split]]:
            out[s] = split
        i += counts[split]
    return out
