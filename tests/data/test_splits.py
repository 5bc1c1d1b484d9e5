"""Subject-level splits: seeded, complete, and a subject never lands in two splits."""

from __future__ import annotations

from collections import Counter

import pytest

from xraylab.data.splits import assign_splits, split_counts


@pytest.mark.parametrize("n", [1, 2, 3, 7, 20, 116])
@pytest.mark.parametrize("seed", [0, 1, 42])
def test_every_subject_gets_exactly_one_split(n, seed):
    subjects = [f"s{i:03d}" for i in range(n)]
    fractions = {"train": 0.7, "val": 0.15, "test": 0.15}
    out = assign_splits(subjects, fractions, seed)
    assert set(out) == set(subjects)
    assert set(out.values()) <= {"train", "val", "test"}
    # The subjects per split are the counts split_counts decides.
    assert Counter(out.values()) == {k: v for k, v in split_counts(n, fractions).items() if v}


def test_split_is_seeded_and_order_independent():
    subs = [f"case{i}" for i in range(30)]
    f = {"train": 0.6, "val": 0.2, "test": 0.2}
    a = assign_splits(subs, f, 3)
    assert a == assign_splits(list(reversed(subs)), f, 3)
    assert a != assign_splits(subs, f, 4)


def test_counts_follow_fractions():
    assert split_counts(116, {"train": 0.83, "val": 0.0, "test": 0.17}) == {"train": 96, "val": 0, "test": 20}
    assert split_counts(3, {"train": 0.34, "val": 0.33, "test": 0.33}) == {"train": 1, "val": 1, "test": 1}
    assert split_counts(1, {"train": 0.8, "val": 0.1, "test": 0.1}) == {"train": 1, "val": 0, "test": 0}
    assert sum(split_counts(10, {"train": 1, "val": 1, "test": 1}).values()) == 10


def test_fixed_subjects_keep_their_split():
    subs = [f"c{i}" for i in range(10)]
    out = assign_splits(subs, {"train": 1.0, "val": 0.0, "test": 0.0}, 0, fixed={"c3": "test"})
    assert out["c3"] == "test" and all(v == "train" for k, v in out.items() if k != "c3")
