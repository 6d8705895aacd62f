"""The one plain-JSON form of docqa's records: passages, search hits, citations, calculations and answers.

Every interface writes these forms through the functions here (the CLI's ``--json``, the HTTP API, the MCP
server, the conversation store), so they cannot drift apart; the ``*_from_dict`` functions read them back.
Pure functions over :mod:`ingest.core.records`; the output holds only ``dict``, ``list``, ``str``, ``int``,
``float``, ``bool`` and ``None``.

>>> from ingest.core.records import Passage, Ranked
>>> p = Passage("p-1", "d", "a.txt", "Hello.", (0, 6), lines=(1, 1))
>>> hit_to_dict(1, Ranked(p, 0.5))["label"], passage_from_dict(passage_to_dict(p)) == p
('a.txt:1', True)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ingest.core.records import (
    Answer,
    AnswerWarning,
    Calculation,
    Citation,
    OcrNote,
    OcrPage,
    OcrWord,
    Operand,
    Passage,
    Place,
    Ranked,
    StageTrace,
    WarningKind,
)
from ingest.core.tables import table_from_dict, table_to_dict

JSON = dict[str, Any]


def _pair(value: Sequence[int] | None) -> tuple[int, int] | None:
    if value is None:
        return None
    if len(value) != 2:
        raise ValueError(f"expected a [start, end] pair, got {list(value)!r}")
    return int(value[0]), int(value[1])


def passage_to_dict(p: Passage) -> JSON:
    """Every field of a passage, plus its ``label`` ("report.pdf p.3", "src/x.py:10-42"); a table passage's
    ``table`` is its :class:`~ingest.core.tables.Table` record (:func:`~ingest.core.tables.table_to_dict`)."""
    return {"id": p.id, "doc_id": p.doc_id, "source": p.source, "label": p.label, "text": p.text,
            "chars": list(p.chars), "page": p.page, "lines": list(p.lines) if p.lines else None, "kind": p.kind,
            "symbol": p.symbol, "splitter": p.splitter, "header": p.header,
            "table": table_to_dict(p.table) if p.table is not None else None,
            "place": place_to_dict(p.place) if p.place is not None else None,
            "ocr": ocr_note_to_dict(p.ocr) if p.ocr is not None else None}


def ocr_note_to_dict(note: OcrNote) -> JSON:
    """That a passage was read by OCR: ``{"engine": ..., "confidence": ...}``.

    >>> ocr_note_from_dict(ocr_note_to_dict(OcrNote("tesseract 5.3.0", 0.93)))
    OcrNote(engine='tesseract 5.3.0', confidence=0.93)
    """
    return {"engine": note.engine, "confidence": note.confidence}


def ocr_note_from_dict(d: Mapping[str, Any]) -> OcrNote:
    """The note :func:`ocr_note_to_dict` wrote."""
    return OcrNote(str(d["engine"]), float(d["confidence"]))


def ocr_pages_to_list(pages: Sequence[OcrPage]) -> list[Any]:
    """A document's OCR'd pages, compactly: ``[number, engine, confidence, [[start, end, left, bottom, right,
    top, confidence], ...]]`` per page (a page holds hundreds of words).

    >>> pages = (OcrPage(2, "tesseract 5", 0.9, (OcrWord(0, 4, (10.0, 700.0, 40.5, 712.0), 0.9),)),)
    >>> ocr_pages_from_list(ocr_pages_to_list(pages)) == pages
    True
    """
    return [[p.number, p.engine, p.confidence, [[w.start, w.end, *w.box, w.confidence] for w in p.words]]
            for p in pages]


def ocr_pages_from_list(value: Sequence[Any]) -> tuple[OcrPage, ...]:
    """The pages :func:`ocr_pages_to_list` wrote."""
    return tuple(OcrPage(int(n), str(engine), float(conf),
                         tuple(OcrWord(int(w[0]), int(w[1]), (float(w[2]), float(w[3]), float(w[4]), float(w[5])),
                                       float(w[6])) for w in words))
                 for n, engine, conf, words in value)


def place_to_dict(place: Place) -> JSON:
    """A passage's :class:`Place` (slide, cell range, section) with the text its citation shows.

    >>> place_to_dict(Place("slide", 7, 7))["text"], place_from_dict(place_to_dict(Place("cells", 2, 9, "S", (1, 3))))
    ('slide 7', Place(unit='cells', first=2, last=9, sheet='S', columns=(1, 3), section=''))
    """
    return {"unit": place.unit, "first": place.first, "last": place.last, "sheet": place.sheet,
            "columns": list(place.columns) if place.columns else None, "section": place.section,
            "text": place.text()}


def place_from_dict(d: Mapping[str, Any]) -> Place:
    """The place :func:`place_to_dict` wrote (``text`` is derived, so it is not read)."""
    if d["unit"] not in ("slide", "cells", "paragraphs", "table"):
        raise ValueError(f"unknown place unit {d['unit']!r}")
    return Place(d["unit"], int(d["first"]), int(d["last"]), str(d.get("sheet", "")), _pair(d.get("columns")),
                 str(d.get("section", "")))


def passage_from_dict(d: Mapping[str, Any]) -> Passage:
    """The passage :func:`passage_to_dict` wrote (``label`` is derived, so it is not read)."""
    chars = _pair(d["chars"])
    assert chars is not None
    return Passage(id=d["id"], doc_id=d["doc_id"], source=d["source"], text=d["text"], chars=chars,
                   page=d.get("page"), lines=_pair(d.get("lines")), kind=d.get("kind", "prose"),
                   symbol=d.get("symbol"), splitter=d.get("splitter", "recursive"), header=d.get("header", ""),
                   table=table_from_dict(d["table"]) if d.get("table") else None,
                   place=place_from_dict(d["place"]) if d.get("place") else None,
                   ocr=ocr_note_from_dict(d["ocr"]) if d.get("ocr") else None)


def hit_to_dict(rank: int, hit: Ranked) -> JSON:
    """One search hit: its 1-based ``rank``, its ``score`` and its passage (:func:`passage_to_dict`)."""
    return {"rank": rank, "score": hit.score, **passage_to_dict(hit.passage)}


def hits_to_list(hits: Sequence[Ranked]) -> list[JSON]:
    """Search hits, best first, ranked from 1."""
    return [hit_to_dict(i, h) for i, h in enumerate(hits, 1)]


def hit_from_dict(d: Mapping[str, Any]) -> Ranked:
    """The hit :func:`hit_to_dict` wrote (its rank is its place in the list)."""
    return Ranked(passage_from_dict(d), float(d["score"]))


def citation_to_dict(c: Citation) -> JSON:
    """A citation: its ``n`` marker, where its passage sits (an Office passage's ``place`` too), the citation
    check's quote and verdict, and for a quote in a table passage the table cells it holds (:func:`quoted_cells`)."""
    p = c.passage
    return {"n": c.number, "passage_id": p.id, "source": p.source, "page": p.page,
            "lines": list(p.lines) if p.lines else None, "symbol": p.symbol, "label": c.label, "quote": c.quote,
            "quote_chars": list(c.quote_chars) if c.quote_chars else None, "supported": c.supported,
            "cells": quoted_cells(c), "place": place_to_dict(p.place) if p.place is not None else None}


def quoted_cells(c: Citation) -> list[JSON]:
    """The table cells inside a citation's quote: each cell's row, text, ``[start, end)`` in the passage text and
    exact value (a decimal string); empty for prose, or a quote not located.

    >>> from decimal import Decimal
    >>> from ingest.core.tables import Table, TableCell, TableRow
    >>> row = TableRow("Total revenue", (TableCell("1,204", 14, 19, Decimal(1204)),), 0, 19)
    >>> p = Passage("p", "d", "r.pdf", "Total revenue 1,204", (0, 19), kind="table", table=Table("", (), (row,)))
    >>> quoted_cells(Citation(1, p, "revenue 1,204", (6, 19)))
    [{'row': 'Total revenue', 'text': '1,204', 'chars': [14, 19], 'value': '1204'}]
    """
    table = c.passage.table
    if table is None or c.quote_chars is None:
        return []
    return [{"row": row.name, "text": cell.text, "chars": [cell.start, cell.end],
             "value": None if cell.value is None else str(cell.value)} for row, cell in table.cells_in(*c.quote_chars)]


def citation_from_dict(d: Mapping[str, Any], passages: Mapping[str, Passage]) -> Citation:
    """The citation :func:`citation_to_dict` wrote; ``passages`` by id holds the passage it cites.

    :raises ValueError: the cited passage is not among ``passages``.
    """
    passage = passages.get(d["passage_id"])
    if passage is None:
        raise ValueError(f"citation [{d['n']}] cites passage {d['passage_id']!r}, which the record does not hold")
    return Citation(number=int(d["n"]), passage=passage, quote=d.get("quote"), quote_chars=_pair(d.get("quote_chars")),
                    supported=d.get("supported"))


def calculation_to_dict(calc: Calculation) -> JSON:
    """A computed figure: formula, worked values, result, and each operand with the passage ``n`` it was found in."""
    return {"label": calc.label, "formula": calc.formula, "worked": calc.worked, "result": calc.result,
            "unit": calc.unit, "text": calc.text, "places": calc.places,
            "operands": [{"name": o.name, "value": o.value, "unit": o.unit, "scale": o.scale, "n": o.citation,
                          "quote": o.quote, "span": list(o.span) if o.span else None} for o in calc.operands]}


def calculation_from_dict(d: Mapping[str, Any]) -> Calculation:
    """The calculation :func:`calculation_to_dict` wrote."""
    operands = tuple(Operand(name=o["name"], value=o["value"], citation=int(o["n"]), unit=o.get("unit", ""),
                             scale=o.get("scale", ""), quote=o.get("quote", ""), span=_pair(o.get("span")))
                     for o in d["operands"])
    return Calculation(label=d["label"], formula=d["formula"], worked=d["worked"], operands=operands,
                       result=float(d["result"]), unit=d["unit"], text=d["text"], places=d.get("places"))


def trace_to_dict(s: StageTrace) -> JSON:
    """One stage's trace."""
    return {"name": s.name, "method": s.method, "seconds": s.seconds, "prompt_tokens": s.prompt_tokens,
            "completion_tokens": s.completion_tokens, "embedder_tokens": s.embedder_tokens, "calls": s.calls,
            "outcome": s.outcome, "details": list(s.details), "cached_tokens": s.cached_tokens}


def trace_from_dict(d: Mapping[str, Any]) -> StageTrace:
    """The stage trace :func:`trace_to_dict` wrote."""
    return StageTrace(name=d["name"], method=d.get("method", ""), seconds=float(d.get("seconds", 0.0)),
                      prompt_tokens=int(d.get("prompt_tokens", 0)),
                      completion_tokens=int(d.get("completion_tokens", 0)),
                      embedder_tokens=int(d.get("embedder_tokens", 0)), calls=int(d.get("calls", 0)),
                      outcome=d.get("outcome", "ok"), details=tuple(d.get("details", ())),
                      cached_tokens=int(d.get("cached_tokens", 0)))


def warning_to_dict(w: AnswerWarning) -> JSON:
    """A warning: its kind, its detail, and the message a reader sees."""
    return {"kind": str(w.kind), "detail": w.detail, "message": str(w)}


def warning_from_dict(d: Mapping[str, Any]) -> AnswerWarning:
    """The warning :func:`warning_to_dict` wrote."""
    return AnswerWarning(WarningKind(d["kind"]), d["detail"])


def answer_to_dict(answer: Answer, *, context: bool = True) -> JSON:
    """An answer: the checked text, its citations, the numbered passages the model read (``n``, then every
    passage field), warnings, the trace and the views rendered from it (timings, tokens, notes), the draft, and
    the calculation when one was computed.

    :param context: keep every passage the model read; False keeps only the cited ones (what a store needs to
        show the answer again; :func:`answer_from_dict` then rebuilds ``passages`` from them).
    """
    cited = {c.passage.id for c in answer.citations}
    passages = [{"n": i, **passage_to_dict(p)} for i, p in enumerate(answer.passages, 1) if context or p.id in cited]
    held = {p.id for p in answer.passages}
    passages += [{"n": None, **passage_to_dict(c.passage)} for c in answer.citations if c.passage.id not in held]
    return {
        "question": answer.question,
        "answer": answer.text,
        "mode": answer.mode,
        "citations": [citation_to_dict(c) for c in answer.citations],
        "passages": passages,
        "warnings": [warning_to_dict(w) for w in answer.warnings],
        "trace": [trace_to_dict(s) for s in answer.trace],
        "dropped_citations": list(answer.dropped_citations),
        "timings": answer.timings,
        "tokens": answer.tokens,
        "model": answer.model,
        "notes": list(answer.notes),
        "draft": answer.draft,
        "first_token_seconds": answer.first_token_seconds,
    } | ({"calculation": calculation_to_dict(answer.calculation)} if answer.calculation is not None else {})


def answer_from_dict(d: Mapping[str, Any]) -> Answer:
    """The answer :func:`answer_to_dict` wrote (``passages``: those the record holds with a number ``n``)."""
    rows = [(row.get("n"), passage_from_dict(row)) for row in d.get("passages", ())]
    by_id = {p.id: p for _, p in rows}
    return Answer(question=d["question"], text=d["answer"],
                  citations=tuple(citation_from_dict(c, by_id) for c in d["citations"]),
                  passages=tuple(p for n, p in rows if n is not None), mode=d.get("mode", "retrieve"),
                  trace=tuple(trace_from_dict(s) for s in d.get("trace", ())),
                  warnings=tuple(warning_from_dict(w) for w in d.get("warnings", ())),
                  dropped_citations=tuple(d.get("dropped_citations", ())), model=d.get("model", ""),
                  draft=d.get("draft", ""), first_token_seconds=d.get("first_token_seconds"),
                  calculation=calculation_from_dict(d["calculation"]) if d.get("calculation") else None)
