"""Which passages of a source file make up one unit (function, method, class, module-level run).

The index builder averages the block vectors of each unit (SEA's mean aggregation; ``docs/METHODS.md``,
"Code splitting along the syntax tree (SEA)"), so a search can return a whole function or class, not only
a block of it.
"""

from __future__ import annotations

from collections.abc import Sequence

from ingest.code.languages import module_path
from ingest.core.records import Passage


def _common_prefix(symbols: Sequence[str]) -> str:
    """Longest dotted prefix shared by all ``symbols``.

    >>> _common_prefix(["m.A.f", "m.A.g", "m.A"])
    'm.A'
    """
    parts = [s.split(".") for s in symbols]
    common: list[str] = []
    for column in zip(*parts, strict=False):
        if len(set(column)) != 1:
            break
        common.append(column[0])
    return ".".join(common)


def code_units(passages: Sequence[Passage]) -> list[tuple[str, tuple[int, ...]]]:
    """Units of one file's passages, as ``(symbol, member indices)`` in source order.

    - Each run of consecutive AST passages sharing a symbol is a unit (a function, a method, a
      group of imports and constants, the blocks of a long function).
    - A symbol that prefixes others (a class, an impl block, a namespace) is one unit holding every
      passage under it: its header and all its members. The module itself is left to the file level.
    - Passages of files that fell back to line windows carry no symbol and belong to no unit (only
      to their file).

    >>> def p(i, sym):
    ...     return Passage(id=str(i), doc_id="d", source="m.py", text="x", chars=(i, i + 1), kind="code",
    ...                    symbol=sym, splitter="ast")
    >>> ps = [p(0, "m"), p(1, "m.A"), p(2, "m.A.f"), p(3, "m.A.f"), p(4, "m.g")]
    >>> code_units(ps)
    [('m', (0,)), ('m.A', (1, 2, 3)), ('m.A.f', (2, 3)), ('m.g', (4,))]
    """
    indexed = [(i, p.symbol) for i, p in enumerate(passages) if p.kind == "code" and p.symbol]
    if not indexed:
        return []
    symbols = [s for _, s in indexed]
    module = module_path(passages[indexed[0][0]].source)
    if not all(s == module or s.startswith(module + ".") for s in symbols):
        module = _common_prefix(symbols)
    distinct = set(symbols)
    containers = {s for s in distinct if s != module and any(o.startswith(s + ".") for o in distinct)}
    units: list[tuple[int, str, tuple[int, ...]]] = []  # (first member, symbol, members)
    for s in sorted(containers):
        members = tuple(i for i, sym in indexed if sym == s or sym.startswith(s + "."))
        units.append((members[0], s, members))
    everything = tuple(i for i, _ in indexed)
    run: list[int] = []
    for k, (i, sym) in enumerate(indexed):
        run.append(i)
        last = k + 1 == len(indexed) or indexed[k + 1][1] != sym
        if last:
            whole_module = sym == module and tuple(run) == everything
            if sym not in containers and not whole_module:
                units.append((run[0], sym, tuple(run)))
            run = []
    units.sort(key=lambda u: (u[0], -len(u[2])))
    return [(s, m) for _, s, m in units]
