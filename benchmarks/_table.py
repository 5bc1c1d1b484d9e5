"""Printing of the benchmark scripts' result tables (markdown for the README, or aligned plain text)."""

from __future__ import annotations

from typing import Sequence


def print_table(head: Sequence[str], lines: Sequence[Sequence[str]], markdown: bool) -> None:
    """Print ``lines`` (rows of cell strings) under ``head`` as a markdown table or as aligned columns."""
    if markdown:
        print("| " + " | ".join(head) + " |")
        print("|" + "---|" * len(head))
        for c in lines:
            print("| " + " | ".join(c) + " |")
        return
    widths = [max(len(h), *(len(c[i]) for c in lines)) for i, h in enumerate(head)]
    print("  ".join(h.ljust(w) for h, w in zip(head, widths)))
    for c in lines:
        print("  ".join(x.ljust(w) for x, w in zip(c, widths)))
