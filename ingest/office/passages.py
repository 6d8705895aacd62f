"""Cutting an Office file's or a CSV's blocks into passages, each with its place.

Consecutive blocks of one group (a slide, a section's paragraphs, a table, a sheet) and one kind are packed into
a passage while it fits the token budget; a block over the budget alone is cut by the prose splitter, each piece
keeping the block's place. A passage's place covers its blocks (rows ``12``-``30`` of ``Sheet1``, paragraphs 3-5
of section 4.2). A table passage that does not start at its table's header row carries that row in its header,
so every passage of a sheet says what its columns are; a table passage carries its
:class:`~ingest.core.tables.Table` record (:mod:`ingest.office.grid`), as a PDF table's passages do.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import reduce

from ingest.core.records import Block, Document, Passage, Place, passage_id
from ingest.core.tables import Table
from ingest.office.grid import grid_caption, grid_table

SPLITTER = "office"
SAMPLE_CHARS = 4000  # the characters a group's token rate is measured on (a tokenizer is slow on megabyte lines)


def pack_blocks(blocks: tuple[Block, ...], tokens: list[int], budget: int) -> list[list[int]]:
    """Runs of block indices: consecutive blocks of one group and kind, at most ``budget`` tokens together
    (a newline between blocks counted as one); a block over the budget is a run alone.

    >>> p = Place("slide", 1, 1)
    >>> bs = tuple(Block(0, 1, p, g) for g in (1, 1, 1, 2))
    >>> pack_blocks(bs, [3, 3, 3, 1], 7), pack_blocks(bs, [9, 1, 1, 1], 7)
    ([[0, 1], [2], [3]], [[0], [1, 2], [3]])
    """
    runs: list[list[int]] = []
    used = 0
    for i, block in enumerate(blocks):
        last = blocks[runs[-1][-1]] if runs else None
        if last is not None and last.group == block.group and last.kind == block.kind and \
                used + 1 + tokens[i] <= budget:
            runs[-1].append(i)
            used += 1 + tokens[i]
            continue
        runs.append([i])
        used = tokens[i]
    return runs


def estimated_tokens(doc: Document, count_tokens: Callable[[str], int], *, sample: int = 20) -> list[int]:
    """Tokens of each block, estimated from characters at the rate measured on the first ``sample`` blocks of its
    group (one tokenizer call per group, not one per row: a sheet has rows by the hundred thousand).

    >>> from ingest.core.records import Block, Place
    >>> rows = (Block(0, 3, Place("cells", 1, 1), 1, "table"), Block(4, 11, Place("cells", 2, 2), 1, "table"))
    >>> estimated_tokens(Document("d", "a.csv", "a b\\nc d e f", "csv", blocks=rows), lambda t: len(t.split()))
    [2, 4]
    """
    rates: dict[int, float] = {}
    out = []
    for i, b in enumerate(doc.blocks):
        if b.group not in rates:
            chunk = [x for x in doc.blocks[i:i + sample] if x.group == b.group]
            text = doc.text[chunk[0].start:min(chunk[-1].end, chunk[0].start + SAMPLE_CHARS)]
            rates[b.group] = max(1, count_tokens(text)) / max(1, len(text))
        out.append(max(1, round((b.end - b.start) * rates[b.group])))
    return out


def block_passages(doc: Document, *, budget: int, count_tokens: Callable[[str], int],
                   split_text: Callable[[str], list[tuple[int, int]]],
                   cut_line: Callable[[str], list[tuple[int, int]]]) -> list[Passage]:
    """The passages of a document with blocks (see the module's description).

    Blocks are packed by their estimated tokens (:func:`estimated_tokens`); each run is then counted once, and
    halved while it is over the budget, so no passage goes over it.

    :param budget: tokens per passage (``[split] chunk_tokens``).
    :param count_tokens: the embedder's token counter.
    :param split_text: the prose splitter's character ranges of a text (a slide or paragraph over the budget).
    :param cut_line: character ranges cutting one over-long line (a table row over the budget) at about the budget.
    """
    blocks = doc.blocks
    tokens = estimated_tokens(doc, count_tokens)
    group_start = {b.group: i for i, b in reversed(list(enumerate(blocks)))}
    group_span = {b.group: (blocks[group_start[b.group]].start, b.end) for b in blocks}  # the whole sheet or table
    captions: dict[int, Table] = {}  # per group: its header row read once
    out: list[Passage] = []
    todo = pack_blocks(blocks, tokens, budget)
    todo.reverse()
    while todo:
        run = todo.pop()
        first, last = blocks[run[0]], blocks[run[-1]]
        text = doc.text[first.start:last.end]
        if len(run) > 1 and count_tokens(text) > budget:  # estimated under, counted over: halve it
            half = len(run) // 2
            todo += [run[half:], run[:half]]
            continue
        place = reduce(Place.merge, (blocks[i].place for i in run[1:]), first.place)
        header = first.header if first.kind == "table" and group_start[first.group] != run[0] else ""
        spans = [(first.start, last.end)]
        if len(run) == 1 and (tokens[run[0]] > 2 * budget or count_tokens(text) > budget):
            cut = cut_line if first.kind == "table" and "\n" not in text else split_text
            spans = [(first.start + a, first.start + b) for a, b in cut(text)]
        for a, b in spans:
            piece = doc.text[a:b]
            table = None
            if first.kind == "table" and len(spans) == 1:  # whole rows (not the pieces of a row cut to fit)
                if first.group not in captions:
                    captions[first.group] = grid_caption(first.header, group_span[first.group])
                table = grid_table(piece, captions[first.group])
            out.append(Passage(id=passage_id(doc.source, (a, b), piece), doc_id=doc.doc_id, source=doc.source,
                               text=piece, chars=(a, b), kind=first.kind, splitter=SPLITTER, header=header,
                               table=table, place=place))
    return out
