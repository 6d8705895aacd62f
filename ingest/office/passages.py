"""Cutting an Office file's or a CSV's blocks into passages, each with its place.

Consecutive blocks of one group (a slide, a section's paragraphs, a table, a sheet) and one kind are packed into
a passage while it fits the token budget; a block over the budget alone is cut by the prose splitter, each piece
keeping the block's place. A passage's place covers its blocks (rows ``12``-``30`` of ``Sheet1``, paragraphs 3-5
of section 4.2). A table passage that does not start at its table's header row carries that row in its header,
so every passage of a sheet says what its columns are.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import reduce

from ingest.core.records import Block, Document, Passage, Place, passage_id

SPLITTER = "office"


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


def block_passages(doc: Document, *, budget: int, count_tokens: Callable[[str], int],
                   split_text: Callable[[str], list[tuple[int, int]]]) -> list[Passage]:
    """The passages of a document with blocks (see the module's description).

    :param budget: tokens per passage (``[split] chunk_tokens``).
    :param count_tokens: the embedder's token counter.
    :param split_text: the prose splitter's character ranges of a text (for a block over the budget).
    """
    blocks = doc.blocks
    tokens = [count_tokens(doc.text[b.start:b.end]) for b in blocks]
    group_start = {b.group: i for i, b in reversed(list(enumerate(blocks)))}
    out: list[Passage] = []
    for run in pack_blocks(blocks, tokens, budget):
        first, last = blocks[run[0]], blocks[run[-1]]
        place = reduce(Place.merge, (blocks[i].place for i in run[1:]), first.place)
        header = first.header if first.kind == "table" and group_start[first.group] != run[0] else ""
        spans = [(first.start, last.end)]
        if len(run) == 1 and tokens[run[0]] > budget:
            spans = [(first.start + a, first.start + b) for a, b in split_text(doc.text[first.start:first.end])]
        for a, b in spans:
            text = doc.text[a:b]
            out.append(Passage(id=passage_id(doc.source, (a, b), text), doc_id=doc.doc_id, source=doc.source,
                               text=text, chars=(a, b), kind=first.kind, splitter=SPLITTER, header=header,
                               place=place))
    return out
