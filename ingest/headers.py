"""Where a passage sits: its document's description and its section path, as one short header line.

A passage from page 87 of a filing does not say which company, year or section it comes from. The
header says it ("ACME, Inc. 10-K FY2019 · PART II › Item 8. Financial Statements"); it is embedded and
keyword-indexed with the passage text (:func:`ingest.split.embedding_text`), never quoted or cited. The
description comes from :mod:`ingest.describe`, the sections from :mod:`ingest.sections`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace

from ingest.core.protocols import DocumentDescriber
from ingest.core.records import Document, Passage
from ingest.core.text import one_line
from ingest.describe import MAX_DOC_LABEL_CHARS, general_description
from ingest.sections import SectionIndex, detect_sections, html_outline, locate_headings

HEADER_SCHEME = 1  # recorded in the splitter identity: bump when the header text changes
MAX_HEADER_CHARS = 200  # <= ~50 embedder tokens (measured: 240 let 10 of 3,724 filing passages overflow MiniLM 256)
MAX_PATH_CHARS = 120
MAX_PATH_ITEM_CHARS = 70


# -- the header line ---------------------------------------------------------------------------------------

def document_label(meta: Mapping[str, str]) -> str:
    """The document part of a header: "issuer form period" for reports, else the title.

    >>> document_label({"issuer": "3M", "form": "10-K", "period": "FY2018", "year": "2018", "title": "x"})
    '3M 10-K FY2018'
    >>> document_label({"title": "User Guide"}), document_label({"extractor": "pdfium"})
    ('User Guide', '')
    """
    if meta.get("issuer"):
        period = meta.get("period") or meta.get("year", "")
        parts = [meta["issuer"], meta.get("form", ""), period]
    else:
        parts = [meta.get("title", "")]
        if meta.get("form") or meta.get("period"):
            parts += [meta.get("form", ""), meta.get("period", "")]
    return one_line(" ".join(p for p in parts if p), MAX_DOC_LABEL_CHARS)


def path_label(path: Sequence[str]) -> str:
    """Section titles joined by " › ", outer ones dropped until it fits :data:`MAX_PATH_CHARS`.

    >>> path_label(["PART II", "Item 8. Financial Statements", "CONSOLIDATED BALANCE SHEETS"])
    'PART II › Item 8. Financial Statements › CONSOLIDATED BALANCE SHEETS'
    >>> path_label(["A" * 60, "B" * 60, "C"])
    'BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB › C'
    """
    items = [one_line(t, MAX_PATH_ITEM_CHARS) for t in path if t.strip()]
    while len(items) > 1 and len(" › ".join(items)) > MAX_PATH_CHARS:
        items.pop(0)
    return one_line(" › ".join(items), MAX_PATH_CHARS)


def passage_header(meta: Mapping[str, str], path: Sequence[str], extra: str = "") -> str:
    """One short line naming where a passage sits: document, section path, and ``extra`` (a table's caption
    and header row), joined by " · ", at most :data:`MAX_HEADER_CHARS` characters.

    >>> passage_header({"issuer": "3M", "form": "10-K", "period": "FY2018"},
    ...                ["Item 8. Financial Statements", "Consolidated Statement of Cash Flows"])
    '3M 10-K FY2018 · Item 8. Financial Statements › Consolidated Statement of Cash Flows'
    >>> passage_header({}, [], "Revenue | 2019 | 2018"), passage_header({}, [])
    ('Revenue | 2019 | 2018', '')
    >>> passage_header({"title": "Guide"}, ["Guide", "Install"])
    'Guide · Install'
    """
    label = document_label(meta)
    path = list(path)
    while path and one_line(path[0]).lower() == label.lower():  # a Markdown title heading: named once
        path.pop(0)
    parts = [label, path_label(path), one_line(extra)]
    return one_line(" · ".join(p for p in parts if p), MAX_HEADER_CHARS)


def add_headers(doc: Document, passages: Iterable[Passage]) -> list[Passage]:
    """Passages with their header set from the document's description and section path; a header already
    there (a table's caption and header row) is kept after them. Code passages are left as they are.
    """
    index = SectionIndex(doc.sections)
    out: list[Passage] = []
    for p in passages:
        if p.kind == "code":
            out.append(p)
            continue
        header = passage_header(doc.meta, index.path(p.chars[0]), p.header)
        out.append(replace(p, header=header) if header != p.header else p)
    return out


def describe_document(doc: Document, *, markup: str | None = None,
                      describer: DocumentDescriber | None = None) -> Document:
    """``doc`` with its description merged under the ``meta`` it has (what the loader set wins) and its
    sections detected when it has none; ``markup`` (an HTML page's source) gives the ``<title>`` and
    ``<h1>``-``<h6>`` headings. The description is the ``describer``'s (a profile's: a filing's issuer, form
    and period) when it recognises the document, else the general one (a title). Code documents are
    returned as they are.
    """
    if doc.kind == "code":
        return doc
    meta = dict(doc.meta)
    sections = doc.sections
    if markup is not None:
        title, headings = html_outline(markup)
        if title:
            meta.setdefault("title", title)
        if not sections:
            sections = locate_headings(doc.text, headings)
    if not sections and not doc.blocks:  # an Office file's headings are its own (a CSV has none)
        sections = detect_sections(doc)
    described = replace(doc, meta=meta, sections=sections)
    facts = describer.describe(described) if describer is not None else None
    if facts is None:
        facts = general_description(described)
    return replace(described, meta={**facts, **meta})
