"""The staging store: work a build has finished but not yet switched in, so that a build stopped at any
moment (Ctrl-C, SIGKILL, a power cut) resumes where it was.

One SQLite file, ``staging.db`` in the index directory, written only under the index's writer lock:

- ``files``: each file read, keyed by its source, with the sha256 of its bytes and the keys of what
  shaped its passages (``read_key``) and the bounds it was read under (``bounds_key``); its document
  and passages (with a table passage's :class:`Table`) as JSON, or why it was not indexed;
- ``vectors``: passage vectors as float32 blobs, keyed by the embedder (``space``) and the sha256 of
  the text embedded; ``file_vectors``: whole-document vectors of an extended embedder.

Each file and each batch of vectors is committed as it comes, so SQLite's journal leaves either all of
it or none after a crash. Readers of the index never look here; a build that switches in removes the
file. No pickle: JSON and float32 blobs.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ingest.core.records import Document, PageSpan, Passage, Section
from ingest.core.serialize import (
    ocr_note_from_dict,
    ocr_note_to_dict,
    ocr_pages_from_list,
    ocr_pages_to_list,
    place_from_dict,
    place_to_dict,
)
from ingest.core.tables import table_from_dict, table_to_dict

STAGING = "staging.db"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS files (source TEXT PRIMARY KEY, sha256 TEXT, read_key TEXT, bounds_key TEXT,
                                  outcome TEXT, reason TEXT, seconds REAL, document TEXT, passages TEXT);
CREATE TABLE IF NOT EXISTS vectors (space TEXT, text_hash TEXT, vector BLOB, PRIMARY KEY (space, text_hash));
CREATE TABLE IF NOT EXISTS file_vectors (space TEXT, doc_id TEXT, vector BLOB, PRIMARY KEY (space, doc_id));
"""


def key_of(value: object) -> str:
    """A short stable key for a JSON-able value (dict order does not matter).

    >>> key_of({"a": 1, "b": 2}) == key_of({"b": 2, "a": 1}), len(key_of([1]))
    (True, 16)
    """
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:16]


def text_hash(text: str) -> str:
    """The key of a text that was embedded.

    >>> text_hash("a") == text_hash("a") != text_hash("b")
    True
    """
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def document_json(d: Document) -> str:
    """A document as JSON text (:func:`document_from_json` reads it back)."""
    return json.dumps({"doc_id": d.doc_id, "source": d.source, "text": d.text, "kind": d.kind,
                       "pages": [[p.number, p.start, p.end] for p in d.pages], "language": d.language,
                       "empty_pages": list(d.empty_pages), "page_count": d.page_count, "meta": d.meta,
                       "sections": [[s.level, s.title, s.start] for s in d.sections],
                       "ocr_pages": ocr_pages_to_list(d.ocr_pages)})


def document_from_json(text: str) -> Document:
    """The document :func:`document_json` wrote.

    >>> d = Document("d-1", "a.txt", "hi", "text", meta={"title": "A"}, sections=(Section(1, "A", 0),))
    >>> document_from_json(document_json(d)) == d
    True
    """
    v = json.loads(text)
    return Document(doc_id=v["doc_id"], source=v["source"], text=v["text"], kind=v["kind"],
                    pages=tuple(PageSpan(*p) for p in v["pages"]), language=v["language"],
                    empty_pages=tuple(v["empty_pages"]), page_count=v["page_count"], meta=v["meta"],
                    sections=tuple(Section(*s) for s in v["sections"]),
                    ocr_pages=ocr_pages_from_list(v.get("ocr_pages") or ()))


_PASSAGE_FIELDS = ("id", "doc_id", "source", "text", "chars", "page", "lines", "kind", "symbol", "splitter", "header")


def passages_json(passages: Sequence[Passage]) -> str:
    """Passages as JSON text (:func:`passages_from_json` reads them back); a table passage's :class:`Table`
    follows its fields, then an Office passage's :class:`~ingest.core.records.Place` (after a null table)."""
    return json.dumps([[getattr(p, f) for f in _PASSAGE_FIELDS] + _passage_extras(p) for p in passages])


def _passage_extras(p: Passage) -> list[Any]:
    """A passage's table, place and OCR note, in that order, each null when absent; trailing nulls left out."""
    extras = [table_to_dict(p.table) if p.table is not None else None,
              place_to_dict(p.place) if p.place is not None else None,
              ocr_note_to_dict(p.ocr) if p.ocr is not None else None]
    while extras and extras[-1] is None:
        extras.pop()
    return extras


def passages_from_json(text: str) -> list[Passage]:
    """The passages :func:`passages_json` wrote (staged before tables were records: without them).

    >>> from ingest.core.tables import Table
    >>> p = Passage("p-1", "d-1", "a.py", "x = 1", (0, 5), lines=(1, 1), kind="code", symbol="m", header="h")
    >>> t = Passage("p-2", "d-1", "a.pdf", "Cash 5", (9, 15), kind="table", table=Table("C", (), (), "million"))
    >>> from ingest.core.records import Place
    >>> o = Passage("p-3", "d-2", "m.xlsx", "a | 1", (0, 5), kind="table", place=Place("cells", 2, 2, "S", (1, 2)))
    >>> from ingest.core.records import OcrNote
    >>> s = Passage("p-4", "d-3", "scan.pdf", "Net", (0, 3), page=1, ocr=OcrNote("tesseract 5.3.0", 0.91))
    >>> passages_from_json(passages_json([p, t, o, s])) == [p, t, o, s]
    True
    """
    out = []
    for row in json.loads(text):
        v: dict[str, Any] = dict(zip(_PASSAGE_FIELDS, row[:len(_PASSAGE_FIELDS)], strict=True))
        v["chars"] = tuple(v["chars"])
        v["lines"] = tuple(v["lines"]) if v["lines"] is not None else None
        n = len(_PASSAGE_FIELDS)
        table = table_from_dict(row[n]) if len(row) > n and row[n] is not None else None
        place = place_from_dict(row[n + 1]) if len(row) > n + 1 and row[n + 1] is not None else None
        ocr = ocr_note_from_dict(row[n + 2]) if len(row) > n + 2 and row[n + 2] is not None else None
        out.append(Passage(**v, table=table, place=place, ocr=ocr))
    return out


@dataclass(frozen=True, slots=True)
class StagedFile:
    """A file read by an earlier, unfinished build."""

    source: str
    sha256: str
    read_key: str
    bounds_key: str
    outcome: str
    reason: str
    seconds: float
    document: Document | None
    passages: tuple[Passage, ...]


class Staging:
    """The staging store of an index directory (created on first use).

    :param directory: the index directory.
    :param create: make the file if it is missing (a plan only looks: False).
    """

    def __init__(self, directory: Path, *, create: bool = True) -> None:
        self.path = directory / STAGING
        self._create = create
        self._con: sqlite3.Connection | None = None
        if self.path.is_file():
            try:
                self._con = sqlite3.connect(self.path)
                self._con.executescript(_SCHEMA)
            except sqlite3.DatabaseError:  # a damaged staging file holds nothing worth keeping
                self.remove()

    def _writable(self) -> sqlite3.Connection:
        """The connection, opening (creating) the file on the first write."""
        if self._con is None:
            if not self._create:
                raise RuntimeError(f"{self.path}: opened to look only")
            self._con = sqlite3.connect(self.path)
            self._con.executescript(_SCHEMA)
        return self._con

    def file(self, source: str, sha256: str) -> StagedFile | None:
        """What an earlier build staged for ``source`` with these bytes (None: nothing)."""
        if self._con is None or not sha256:
            return None
        row = self._con.execute("SELECT source, sha256, read_key, bounds_key, outcome, reason, seconds, document, "
                                "passages FROM files WHERE source = ? AND sha256 = ?", (source, sha256)).fetchone()
        if row is None:
            return None
        src, sha, read_key, bounds_key, outcome, reason, seconds, doc, parts = row
        return StagedFile(src, sha, read_key, bounds_key, outcome, reason, float(seconds),
                          document_from_json(doc) if doc else None,
                          tuple(passages_from_json(parts)) if parts else ())

    def outcome(self, source: str, sha256: str) -> tuple[str, str, float] | None:
        """``(outcome, reason, seconds)`` of a staged file, without reading its document back."""
        if self._con is None or not sha256:
            return None
        row = self._con.execute("SELECT outcome, reason, seconds FROM files WHERE source = ? AND sha256 = ?",
                                (source, sha256)).fetchone()
        return (row[0], row[1], float(row[2])) if row else None

    def put_file(self, source: str, sha256: str, read_key: str, bounds_key: str, outcome: str, reason: str,
                 seconds: float, document: Document | None, passages: Sequence[Passage]) -> None:
        """Stage one file read (committed at once)."""
        con = self._writable()
        with con:
            con.execute("INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", (
                source, sha256, read_key, bounds_key, outcome, reason, seconds,
                document_json(document) if document is not None else None,
                passages_json(passages) if document is not None else None))

    def vectors(self, space: str, hashes: Iterable[str]) -> dict[str, np.ndarray]:
        """Staged vectors of these text hashes (those there are)."""
        if self._con is None:
            return {}
        out: dict[str, np.ndarray] = {}
        wanted = list(dict.fromkeys(hashes))
        for start in range(0, len(wanted), 500):
            chunk = wanted[start:start + 500]
            marks = ",".join("?" * len(chunk))
            for h, blob in self._con.execute(f"SELECT text_hash, vector FROM vectors WHERE space = ? AND text_hash "
                                             f"IN ({marks})", (space, *chunk)):
                out[h] = np.frombuffer(blob, dtype=np.float32)
        return out

    def put_vectors(self, space: str, vectors: Mapping[str, np.ndarray]) -> None:
        """Stage vectors by text hash (committed at once)."""
        con = self._writable()
        with con:
            con.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?, ?)",
                                  ((space, h, np.asarray(v, dtype=np.float32).tobytes()) for h, v in vectors.items()))

    def file_vector(self, space: str, doc_id: str) -> np.ndarray | None:
        """A staged whole-document vector."""
        if self._con is None:
            return None
        row = self._con.execute("SELECT vector FROM file_vectors WHERE space = ? AND doc_id = ?",
                                (space, doc_id)).fetchone()
        return np.frombuffer(row[0], dtype=np.float32) if row else None

    def put_file_vector(self, space: str, doc_id: str, vector: np.ndarray) -> None:
        """Stage a whole-document vector (committed at once)."""
        con = self._writable()
        with con:
            con.execute("INSERT OR REPLACE INTO file_vectors VALUES (?, ?, ?)",
                              (space, doc_id, np.asarray(vector, dtype=np.float32).tobytes()))

    def counts(self) -> dict[str, Any]:
        """How much is staged (files by outcome, vectors)."""
        if self._con is None:
            return {}
        files = dict(self._con.execute("SELECT outcome, COUNT(*) FROM files GROUP BY outcome").fetchall())
        (vectors,) = self._con.execute("SELECT COUNT(*) FROM vectors").fetchone()
        return {"files": files, "vectors": vectors}

    @property
    def empty(self) -> bool:
        """Whether nothing is staged."""
        if self._con is None:
            return True
        return not any(self._con.execute(f"SELECT 1 FROM {t} LIMIT 1").fetchone()
                       for t in ("files", "vectors", "file_vectors"))

    def close(self) -> None:
        """Close the file (kept for the next build)."""
        if self._con is not None:
            self._con.close()
            self._con = None

    def remove(self) -> None:
        """Close and delete the file (its work is in the index now, or no longer wanted)."""
        self.close()
        for suffix in ("", "-journal", "-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                Path(str(self.path) + suffix).unlink()

    def __enter__(self) -> Staging:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
