"""Unit and file vectors: the mean of their passages' vectors (SEA's mean aggregation; ``docs/METHODS.md``,
"Code splitting along the syntax tree (SEA)").

A *unit* is a function, method, class or run of module-level code (which passages make one is
decided by :func:`ingest.code.code_units`); a *file* is a whole document, code or prose. Each gets
the mean of its passages' vectors, L2-normalised, so search can return a whole function or file
as well as a block. No training is involved (SEA's mean pooling). SEA's best variant adds a trained
attention layer to the mean, and its reference code weights that mean by the number of blocks, so
long code outweighs the attention term; neither is used here.

An embedder extended for long inputs (``EmbedSettings.extension`` other than "none", issue 4) embeds each
document whole instead (:func:`whole_document_vectors`): one pass over up to its extended length, so the
file vector sees the text in context rather than averaging short blocks. File vectors rank documents
for coarse-to-fine search (:meth:`retrieval.search.Searcher.search` with ``docs``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from ingest.code import code_units
from ingest.core.records import Document, Passage, line_span
from ingest.core.vectors import mean_unit_vectors

UnitKind = Literal["unit", "file"]


@dataclass(frozen=True, slots=True)
class Unit:
    """A function/class/file-level span of a document and the passage rows it averages."""

    kind: UnitKind
    doc_id: str
    source: str
    symbol: str | None
    chars: tuple[int, int]  # [start, end) in Document.text
    lines: tuple[int, int] | None  # 1-based inclusive; None for PDFs
    members: tuple[int, ...]  # passage rows


def _span(passages: Sequence[Passage], rows: Sequence[int]) -> tuple[tuple[int, int], tuple[int, int] | None]:
    members = [passages[r] for r in rows]
    chars = (min(p.chars[0] for p in members), max(p.chars[1] for p in members))
    if all(p.lines is not None for p in members):
        lines = (min(p.lines[0] for p in members if p.lines), max(p.lines[1] for p in members if p.lines))
        return chars, lines
    return chars, None


def whole_documents(identity: Mapping[str, object]) -> bool:
    """Whether an embedder with this identity embeds documents whole for file vectors (it is extended).

    >>> whole_documents({"extension": "pi"}), whole_documents({"extension": "none"}), whole_documents({})
    (True, False, False)
    """
    return identity.get("extension", "none") != "none"


def whole_document_vectors(embedder: object, documents: Sequence[Document]) -> dict[str, np.ndarray]:
    """doc_id -> the vector of the whole document text (:func:`ingest.extend.embed_documents`: documents
    longer than the embedder's extended length are cut into sections of that length and pooled)."""
    from ingest.extend import embed_documents

    docs = [d for d in documents if d.text.strip()]
    if not docs:
        return {}
    vecs = embed_documents(embedder, [d.text for d in docs])  # type: ignore[arg-type]
    return {d.doc_id: v for d, v in zip(docs, vecs, strict=True)}


def build_units(documents: Sequence[Document], passages: Sequence[Passage], vectors: np.ndarray,
                file_vectors: Mapping[str, np.ndarray] | None = None) -> tuple[list[Unit], np.ndarray]:
    """Units of every code document, then one file unit per document, with their mean vectors.

    Rows of ``vectors`` align with ``passages``. All ``unit`` rows come before all ``file`` rows, so
    each level is one contiguous row range of the returned matrix. A document in ``file_vectors``
    gets that vector for its file row instead of the mean of its passages.
    """
    rows_by_doc: dict[str, list[int]] = {}
    for row, p in enumerate(passages):
        rows_by_doc.setdefault(p.doc_id, []).append(row)
    units: list[Unit] = []
    files: list[Unit] = []
    for doc in documents:
        rows = rows_by_doc.get(doc.doc_id, [])
        if not rows:
            continue
        if doc.kind == "code":
            local = [passages[r] for r in rows]
            for symbol, members in code_units(local):
                member_rows = tuple(rows[m] for m in members)
                chars, lines = _span(passages, member_rows)
                units.append(Unit("unit", doc.doc_id, doc.source, symbol, chars, lines, member_rows))
        lines = None if doc.pages else line_span(doc.text, 0, len(doc.text))
        files.append(Unit("file", doc.doc_id, doc.source, None, (0, len(doc.text)), lines, tuple(rows)))
    everything = units + files
    out = mean_unit_vectors(vectors, [u.members for u in everything])
    for row, u in enumerate(everything):
        if u.kind == "file" and file_vectors and u.doc_id in file_vectors:
            out[row] = file_vectors[u.doc_id]
    return everything, out
