"""The import graph of ``src/xraylab``: import cycles between modules and imports from a lower layer to a higher one.

Every ``import xraylab.…`` / ``from xraylab… import`` counts, at module level or inside a function. Layers (low to
high) follow docs/DEVELOPING.md: core modules, ``io``, ``physics``, ``devices``, ``render``, ``degrade``, ``data``,
``train``, ``evaluate``, ``volumes``, ``pipeline``, ``commands``/``cli``. An import may go down or stay in its layer.

Run:  .venv/bin/python scripts/import_graph.py        (prints the violations and cycles; exit 1 if any)
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "xraylab"
LAYERS = ["core", "io", "physics", "devices", "render", "degrade", "data", "train", "evaluate", "volumes", "pipeline",
          "commands"]
TOP = {"io", "physics", "devices", "render", "degrade", "data", "train", "evaluate", "volumes", "commands"}


def module_name(path: Path) -> str:
    rel = path.relative_to(SRC.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


# Top-level modules outside the core: analytic CT phantoms and image figures sit with io; the CLI with commands.
TOP_MODULES = {"phantoms": "io", "viz": "io", "pipeline": "pipeline", "cli": "commands"}


def layer(mod: str) -> str:
    parts = mod.split(".")
    if len(parts) < 2:
        return "core"
    if parts[1] in TOP:
        return parts[1]
    return TOP_MODULES.get(parts[1], "core")


def imports(path: Path, modules: set[str]) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out: set[str] = set()
    me = module_name(path)
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        for n in names:
            while n and n not in modules:
                n = n.rpartition(".")[0]
            if n and n != me and n.startswith("xraylab"):
                out.add(n)
    return out


def graph() -> dict[str, set[str]]:
    files = sorted(SRC.rglob("*.py"))
    modules = {module_name(p) for p in files}
    return {module_name(p): imports(p, modules) for p in files}


def violations(g: dict[str, set[str]]) -> list[tuple[str, str]]:
    """Imports from a lower layer to a higher one (package ``__init__`` re-exports of their own layer are fine)."""
    bad = []
    for a, deps in g.items():
        for b in deps:
            if LAYERS.index(layer(b)) > LAYERS.index(layer(a)):
                bad.append((a, b))
    return sorted(bad)


def cycles(g: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]
    sys.setrecursionlimit(10000)

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in g.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in g:
        if v not in index:
            visit(v)
    return out


def main() -> int:
    g = graph()
    bad, cyc = violations(g), cycles(g)
    for a, b in bad:
        print(f"upward: {a} ({layer(a)}) imports {b} ({layer(b)})")
    for c in cyc:
        print("cycle: " + " ↔ ".join(c))
    print(f"{len(g)} modules, {sum(len(v) for v in g.values())} imports: {len(bad)} upward, {len(cyc)} cycles")
    return 1 if bad or cyc else 0


if __name__ == "__main__":
    raise SystemExit(main())
