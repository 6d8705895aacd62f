"""The on-disk index: ``manifest.json`` + FAISS vectors + SQLite passages (with FTS5 for BM25).

Layout of an index directory::

    manifest.json                  the commit point: names the data files of the current build
    vectors-<build>.faiss          inner-product index over L2-normalised vectors (row i = passage row i)
    passages-<build>.sqlite        passages, documents, units, table records, and an FTS5 table for BM25
    units-<build>.faiss            unit and file vectors (row i = units row i; means of their passages)
    .lock                          held by the one process writing the index

A build writes new data files beside the old ones and then replaces
``manifest.json`` atomically, so readers and interrupted builds never see a
half-written index; the previous build's files are deleted afterwards. No pickle:
vectors are FAISS's own format, everything else is SQLite and JSON.

A table passage's :class:`ingest.core.tables.Table` is a JSON row of ``passage_tables``, keyed by the passage's
id, and comes back in ``Passage.table`` wherever passages are read. Like the ledger and the unit vectors it was
added without a schema bump: a build made before it has no such table, opens as before, and its passages
carry no table. An Office or CSV passage's :class:`ingest.core.records.Place` (slide, cell range, section) is a
JSON row of ``passage_places`` in the same way.
A scanned page's OCR (:mod:`ingest.ocr`) is kept the same way: each OCR'd passage's engine and confidence in
``passage_ocr`` (``Passage.ocr``), each document's OCR'd pages with their words' boxes as JSON in
``document_ocr`` (``Document.ocr_pages``: what the viewer highlights on a scanned page).

One process writes an index at a time (:mod:`retrieval.lock`); each build records how every file ended
(:mod:`retrieval.ledger`). A reader that opens the index while a writer switches builds retries with the new
manifest.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import logging
import math
import os
import sqlite3
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ingest.core.errors import IndexMismatchError, IndexMissingError
from ingest.core.records import Document, OcrNote, OcrPage, Passage, passage_id
from ingest.core.serialize import ocr_pages_from_list, ocr_pages_to_list, place_from_dict, place_to_dict
from ingest.core.tables import Table, table_from_json, table_to_json
from ingest.core.text import STOPWORDS
from retrieval.dense import FLAT, IVF, DenseConfig, VectorFile, build_dense, exact_among, read_dense
from retrieval.ledger import LEDGER_COLS, LEDGER_SCHEMA, FileEntry, ledger_row
from retrieval.units import Unit

log = logging.getLogger(__name__)

SCHEMA_VERSION = 2  # 2: passages.header, documents.meta/sections, FTS over text and header
MANIFEST = "manifest.json"

_PASSAGE_COLS = ("id", "doc_id", "source", "text", "char_start", "char_end", "page", "line_start", "line_end",
                 "kind", "symbol", "splitter", "header")
_SCHEMA = f"""
CREATE TABLE passages (row INTEGER PRIMARY KEY, {", ".join(c + (" TEXT UNIQUE" if c == "id" else "")
                                                          for c in _PASSAGE_COLS)});
CREATE TABLE documents (doc_id TEXT PRIMARY KEY, source TEXT, kind TEXT, language TEXT, text TEXT,
                        pages TEXT, empty_pages TEXT, page_count INTEGER, meta TEXT, sections TEXT);
CREATE VIRTUAL TABLE passages_fts USING fts5(text, header, tokenize='porter unicode61');
CREATE TABLE units (row INTEGER PRIMARY KEY, kind TEXT, doc_id TEXT, source TEXT, symbol TEXT, char_start INTEGER,
                    char_end INTEGER, line_start INTEGER, line_end INTEGER, members TEXT);
CREATE TABLE passage_tables (passage TEXT PRIMARY KEY, record TEXT NOT NULL);
CREATE TABLE passage_ocr (passage TEXT PRIMARY KEY, engine TEXT NOT NULL, confidence REAL NOT NULL);
CREATE TABLE document_ocr (doc_id TEXT PRIMARY KEY, pages TEXT NOT NULL);
CREATE TABLE passage_places (passage TEXT PRIMARY KEY, record TEXT NOT NULL);
CREATE INDEX passages_doc ON passages (doc_id, char_start);
"""


@dataclass(frozen=True)
class Manifest:
    """How an index was built; compared against the settings of whoever opens it."""

    schema: int
    build: str
    created: str
    embedder: dict[str, Any]
    splitter: dict[str, Any]
    dim: int
    metric: str
    files: dict[str, str]
    sources: list[dict[str, Any]]
    counts: dict[str, int]
    dense: dict[str, Any] = dataclasses.field(default_factory=lambda: {"kind": FLAT, "exact": True})

    def to_json(self) -> str:
        """Stable JSON text."""
        return json.dumps(self.__dict__, indent=2, sort_keys=True)

    @classmethod
    def read(cls, directory: Path) -> Manifest:
        """Load ``directory/manifest.json``.

        :raises IndexMissingError: no index there, or an unreadable manifest.
        """
        path = directory / MANIFEST
        if not path.is_file():
            raise IndexMissingError(f"{directory}: no docqa index here (build one with `docqa index PATH --index "
                                    f"{directory}`)")
        try:
            data = json.loads(path.read_text())
            # "dense" came later (a build without it is flat)
            manifest = cls(**{k: data[k] for k in cls.__dataclass_fields__ if k != "dense" or k in data})
        except (ValueError, KeyError, TypeError) as err:
            raise IndexMissingError(f"{path}: unreadable manifest ({err})") from err
        if manifest.schema != SCHEMA_VERSION:
            raise IndexMismatchError(f"{directory}: index schema {manifest.schema}, this docqa reads "
                                     f"{SCHEMA_VERSION}; rebuild it")
        return manifest


def identity_diff(built: dict[str, Any], wanted: dict[str, Any]) -> list[str]:
    """Keys whose values differ between two identities, as ``key: built -> wanted``.

    >>> identity_diff({"model": "a", "dim": 3}, {"model": "b", "dim": 3})
    ['model: a -> b']
    """
    keys = sorted(set(built) | set(wanted))
    return [f"{k}: {built.get(k)} -> {wanted.get(k)}" for k in keys if built.get(k) != wanted.get(k)]


def _passage_row(p: Passage) -> tuple[Any, ...]:
    lines = p.lines or (None, None)
    return (p.id, p.doc_id, p.source, p.text, p.chars[0], p.chars[1], p.page, lines[0], lines[1], p.kind,
            p.symbol, p.splitter, p.header)


def _row_passage(row: Sequence[Any]) -> Passage:
    """A passage from its columns, then its table's JSON record, its place's, and its OCR engine and
    confidence (or None)."""
    (pid, doc_id, source, text, cs, ce, page, ls, le, kind, symbol, splitter, header, record, place, ocr_engine,
     ocr_confidence) = row
    return Passage(id=pid, doc_id=doc_id, source=source, text=text, chars=(cs, ce), page=page,
                   lines=(ls, le) if ls is not None else None, kind=kind, symbol=symbol, splitter=splitter,
                   header=header or "", table=table_from_json(record) if record else None,
                   place=place_from_dict(json.loads(place)) if place else None,
                   ocr=OcrNote(ocr_engine, float(ocr_confidence)) if ocr_engine is not None else None)


def _has_table(db: sqlite3.Connection, name: str) -> bool:
    """Whether the build has table ``name`` (one made before it was added has not)."""
    return db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)).fetchone() is not None


def _ocr_pages(db: sqlite3.Connection, doc_id: str) -> tuple[OcrPage, ...]:
    """A document's OCR'd pages with their words' boxes (none for a build made before OCR)."""
    if not _has_table(db, "document_ocr"):
        return ()
    row = db.execute("SELECT pages FROM document_ocr WHERE doc_id = ?", (doc_id,)).fetchone()
    return ocr_pages_from_list(json.loads(row[0])) if row is not None else ()


def _search_params(selector: Any, *, nprobe: int | None = None) -> Any:
    """FAISS search parameters restricted by an ID selector (its type stubs do not declare the keyword); with
    ``nprobe``, for an IVF index."""
    import faiss

    if nprobe is not None:
        ivf: Any = faiss.SearchParametersIVF
        return ivf(sel=selector, nprobe=nprobe)
    make: Any = faiss.SearchParameters
    return make(sel=selector)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def document(reader: IndexReader, doc_id: str) -> Document | None:
    """One document of the build ``reader`` opened, with its full text (None if it has no such document)."""
    from ingest.core.records import PageSpan, Section

    row = reader._db.execute("SELECT doc_id, source, kind, language, text, pages, empty_pages, page_count, meta, "
                             "sections FROM documents WHERE doc_id = ?", (doc_id,)).fetchone()
    if row is None:
        return None
    d, s, k, lang, t, pg, ep, pc, meta, secs = row
    return Document(doc_id=d, source=s, text=t, kind=k, language=lang,
                    pages=tuple(PageSpan(*x) for x in json.loads(pg)), empty_pages=tuple(json.loads(ep)),
                    page_count=pc, meta=json.loads(meta or "{}"),
                    sections=tuple(Section(*x) for x in json.loads(secs or "[]")),
                    ocr_pages=_ocr_pages(reader._db, d))


def row_vectors(reader: IndexReader, rows: Sequence[int]) -> np.ndarray:
    """The stored vectors of passage ``rows`` (in the order given)."""
    if not rows:
        return np.zeros((0, reader.manifest.dim), dtype=np.float32)
    lo, hi = min(rows), max(rows) + 1
    block = np.asarray(reader._vectors.reconstruct_n(lo, hi - lo), dtype=np.float32)
    return block[np.asarray(rows, dtype=np.int64) - lo]


class IndexWriter:
    """Writes one new build beside the current one, document by document, and switches to it on :meth:`commit`.

    The caller holds :func:`retrieval.lock.writer_lock`. Passages go into the new SQLite file as they come (one
    transaction, committed at the end); vectors are appended to a spill file beside it
    (``vectors-<build>.spill.tmp``, raw float32 rows: :class:`retrieval.dense.VectorFile`), from which
    :meth:`commit` makes the FAISS index chunk by chunk, so the build never holds the vectors in memory twice.
    Until the manifest is replaced, readers see the previous build; on any failure (or :meth:`abort`) the new
    files and the spill file are removed (a killed build's are removed by :func:`tidy` before the next one).

    :param directory: the index directory.
    :param dim: the vectors' dimension.
    :param dense: when the dense index becomes approximate, and the recall it is tuned for
        (:mod:`retrieval.dense`; default: :class:`DenseConfig()`).
    :param previous: the current build, whose trained IVF centroids an approximate index may reuse.
    """

    def __init__(self, directory: Path, dim: int, *, dense: DenseConfig | None = None,
                 previous: IndexReader | None = None) -> None:
        self.directory, self.dim = directory, dim
        self.dense, self.previous = dense or DenseConfig(), previous
        self.build = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]
        self.files = {"vectors": f"vectors-{self.build}.faiss", "passages": f"passages-{self.build}.sqlite",
                      "units": f"units-{self.build}.faiss"}
        self._tmp = {k: directory / (name + ".tmp") for k, name in self.files.items()}
        self._tmp["spill"] = directory / f"vectors-{self.build}.spill.tmp"  # removed by abort and commit
        self.rows = 0
        self._sources: list[dict[str, Any]] = []
        self._per_doc: dict[str, int] = {}
        self._con: sqlite3.Connection | None = None
        self._spill: VectorFile | None = None
        for stale in directory.glob("vectors-*.spill.tmp"):  # a killed build's (the caller holds the lock)
            with contextlib.suppress(OSError):
                stale.unlink()
        try:
            self._spill = VectorFile(self._tmp["spill"], dim)
            self._con = sqlite3.connect(self._tmp["passages"])
            self._con.executescript(_SCHEMA + LEDGER_SCHEMA)
        except BaseException:
            self.abort()
            raise

    def add_document(self, d: Document) -> None:
        """Store one document (its passages come through :meth:`add_passages`)."""
        assert self._con is not None
        self._con.execute("INSERT INTO documents VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", (
            d.doc_id, d.source, d.kind, d.language, d.text,
            json.dumps([[s.number, s.start, s.end] for s in d.pages]), json.dumps(list(d.empty_pages)),
            d.page_count, json.dumps(d.meta, sort_keys=True),
            json.dumps([[s.level, s.title, s.start] for s in d.sections])))
        if d.ocr_pages:
            self._con.execute("INSERT INTO document_ocr (doc_id, pages) VALUES (?, ?)",
                              (d.doc_id, json.dumps(ocr_pages_to_list(d.ocr_pages))))
        self._sources.append({"source": d.source, "doc_id": d.doc_id, "kind": d.kind, "pages": d.page_count,
                              "empty_pages": list(d.empty_pages), "meta": d.meta,
                              "ocr_pages": [p.number for p in d.ocr_pages]})

    def add_passages(self, passages: Sequence[Passage], vectors: np.ndarray) -> int:
        """Store passages with their vectors (rows aligned); returns the row of the first."""
        assert self._con is not None and self._spill is not None
        if len(passages) != len(vectors):
            raise ValueError(f"{len(passages)} passages but {len(vectors)} vectors")
        first = self.rows
        self._con.executemany(f"INSERT INTO passages (row, {', '.join(_PASSAGE_COLS)}) "
                              f"VALUES (?{', ?' * len(_PASSAGE_COLS)})",
                              ((first + i, *_passage_row(p)) for i, p in enumerate(passages)))
        self._con.executemany("INSERT INTO passages_fts (rowid, text, header) VALUES (?, ?, ?)",
                              ((first + i, p.text, p.header) for i, p in enumerate(passages)))
        self._con.executemany("INSERT INTO passage_tables (passage, record) VALUES (?, ?)",
                              ((p.id, table_to_json(p.table)) for p in passages if p.table is not None))
        self._con.executemany("INSERT INTO passage_places (passage, record) VALUES (?, ?)",
                              ((p.id, json.dumps(place_to_dict(p.place))) for p in passages if p.place is not None))
        self._con.executemany("INSERT INTO passage_ocr (passage, engine, confidence) VALUES (?, ?, ?)",
                              ((p.id, p.ocr.engine, p.ocr.confidence) for p in passages if p.ocr is not None))
        if len(passages):
            self._spill.append(np.asarray(vectors, dtype=np.float32).reshape(len(passages), self.dim))
        for p in passages:
            self._per_doc[p.doc_id] = self._per_doc.get(p.doc_id, 0) + 1
        self.rows += len(passages)
        return first

    def commit(self, *, embedder: dict[str, Any], splitter: dict[str, Any], units: Sequence[Unit] = (),
               unit_vectors: np.ndarray | None = None, files: Sequence[FileEntry] = ()) -> Manifest:
        """Write the unit vectors and the ledger, then switch the manifest to this build (the commit point)."""
        import faiss

        assert self._con is not None and self._spill is not None
        if unit_vectors is None:
            unit_vectors = np.zeros((0, self.dim), dtype=np.float32)
        if len(units) != len(unit_vectors):
            raise ValueError(f"{len(units)} units but {len(unit_vectors)} unit vectors")
        directory, tmp = self.directory, self._tmp
        try:
            con = self._con
            con.executemany("INSERT INTO units VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", (
                (i, u.kind, u.doc_id, u.source, u.symbol, u.chars[0], u.chars[1], *(u.lines or (None, None)),
                 json.dumps(list(u.members))) for i, u in enumerate(units)))
            con.executemany(f"INSERT OR REPLACE INTO files ({', '.join(LEDGER_COLS)}) "
                            f"VALUES ({', '.join('?' * len(LEDGER_COLS))})", (ledger_row(e) for e in files))
            con.commit()
            con.close()
            self._con = None
            previous = self.previous
            dense_index, dense_info = build_dense(
                self._spill, self.dense, previous=previous._vectors if previous is not None else None,
                previous_build=previous.manifest.build if previous is not None else "")
            faiss.write_index(dense_index, str(tmp["vectors"]))
            del dense_index
            self._spill.remove()
            units_index = faiss.IndexFlatIP(self.dim)
            if len(unit_vectors):
                units_index.add(np.ascontiguousarray(unit_vectors, dtype=np.float32))
            faiss.write_index(units_index, str(tmp["units"]))
            for name in ("passages", "vectors", "units"):
                _fsync(tmp[name])
            for name in ("passages", "vectors", "units"):
                os.replace(tmp[name], directory / self.files[name])
            manifest = Manifest(
                schema=SCHEMA_VERSION, build=self.build,
                created=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), embedder=embedder, splitter=splitter,
                dim=self.dim, metric="inner_product", files=self.files,
                sources=[{**s, "passages": self._per_doc.get(s["doc_id"], 0)} for s in self._sources],
                counts={"documents": len(self._sources), "passages": self.rows}, dense=dense_info,
            )
            tmp_manifest = directory / (MANIFEST + ".tmp")
            tmp_manifest.write_text(manifest.to_json())
            _fsync(tmp_manifest)
            os.replace(tmp_manifest, directory / MANIFEST)  # the commit point
            _fsync(directory)
        except BaseException:
            self.abort()
            raise
        _remove_stale(directory, keep=set(self.files.values()))
        return manifest

    def abort(self) -> None:
        """Drop this build's files (those the manifest does not name)."""
        if self._con is not None:
            with contextlib.suppress(sqlite3.Error):
                self._con.close()
            self._con = None
        if self._spill is not None:
            self._spill.close()
        for leftover in (*self._tmp.values(), *(self.directory / name for name in self.files.values())):
            with contextlib.suppress(FileNotFoundError):
                if not _is_current(self.directory, leftover.name):
                    leftover.unlink()


def write_index(directory: Path, documents: Sequence[Document], passages: Sequence[Passage], vectors: np.ndarray,
                *, embedder: dict[str, Any], splitter: dict[str, Any], units: Sequence[Unit] = (),
                unit_vectors: np.ndarray | None = None, files: Sequence[FileEntry] = ()) -> Manifest:
    """Write a complete new build into ``directory`` and switch the manifest to it (all in memory at once;
    :class:`IndexWriter` takes a build document by document).

    The caller holds :func:`retrieval.lock.writer_lock`. Rows of ``vectors`` align with ``passages``; rows of
    ``unit_vectors`` with ``units`` (unit/file aggregates, :mod:`retrieval.units`).
    """
    if len(passages) != len(vectors):
        raise ValueError(f"{len(passages)} passages but {len(vectors)} vectors")
    writer = IndexWriter(directory, int(vectors.shape[1]))
    try:
        for d in documents:
            writer.add_document(d)
        writer.add_passages(passages, vectors)
    except BaseException:
        writer.abort()
        raise
    return writer.commit(embedder=embedder, splitter=splitter, units=units, unit_vectors=unit_vectors, files=files)


def _is_current(directory: Path, name: str) -> bool:
    try:
        return name in json.loads((directory / MANIFEST).read_text())["files"].values()
    except (OSError, ValueError, KeyError):
        return False


def _remove_stale(directory: Path, keep: set[str]) -> None:
    for path in directory.iterdir():
        if path.name.startswith(("vectors-", "passages-", "units-")) and path.name not in keep:
            with contextlib.suppress(OSError):
                path.unlink()


def tidy(directory: Path) -> None:
    """Remove what interrupted builds left (data files the manifest does not name, a half-written manifest).

    The caller holds :func:`retrieval.lock.writer_lock`.
    """
    try:
        keep = set(Manifest.read(directory).files.values())
    except (IndexMissingError, IndexMismatchError):
        return
    with contextlib.suppress(FileNotFoundError):
        (directory / (MANIFEST + ".tmp")).unlink()
    _remove_stale(directory, keep=keep)


# Words of a question's framing ("how can I", "what would") match nearly every passage, so keyword
# queries drop them with the function words.
_QUERY_STOPWORDS = STOPWORDS | {"can", "could", "if", "me", "my", "so", "will", "would"}


def fts_query(text: str) -> str:
    """An FTS5 MATCH expression that ORs the words of a free-text query (stopwords dropped).

    User text never reaches FTS5's query syntax: each word is a quoted string.

    >>> fts_query('What is "NEAR" the AND-gate?')
    '"near" OR "gate"'
    >>> fts_query("the of")
    ''
    """
    import re

    words = [w.lower() for w in re.findall(r"\w+", text)]
    kept = [w for w in dict.fromkeys(words) if w not in _QUERY_STOPWORDS]
    return " OR ".join(f'"{w}"' for w in kept)


BM25_BY_DOCUMENT = 64  # keyword search inside at most this many documents runs one document at a time
EXACT_SCOPE_ROWS = 50_000  # an approximate index's scoped search below this many rows scores them all exactly
_OPEN_ATTEMPTS = 5  # manifest reads when a concurrent writer keeps switching builds under a reader


class IndexReader:
    """Read access to one build of an index (the one the manifest named when it was opened).

    Once open, it keeps reading that build even after a writer replaces it: its SQLite file stays
    open and its vectors are in memory, so a search never sees a build change half-way.
    """

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        for attempt in range(_OPEN_ATTEMPTS):
            self.manifest = Manifest.read(self.directory)
            try:
                self._open_build()
                return
            except (IndexMissingError, sqlite3.OperationalError, RuntimeError) as err:
                # a writer may have switched builds and deleted these files after we read the manifest
                if attempt + 1 == _OPEN_ATTEMPTS or Manifest.read(self.directory).build == self.manifest.build:
                    if isinstance(err, IndexMissingError):
                        raise
                    raise IndexMissingError(f"{self.directory}: cannot open build {self.manifest.build} "
                                            f"({err})") from err

    def _open_build(self) -> None:
        db_path = self.directory / self.manifest.files["passages"]
        vec_path = self.directory / self.manifest.files["vectors"]
        if not db_path.is_file() or not vec_path.is_file():
            raise IndexMissingError(f"{self.directory}: index files missing ({db_path.name}, {vec_path.name})")
        db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, check_same_thread=False)
        try:
            db.execute("SELECT 1 FROM passages LIMIT 1").fetchall()  # opens the file now, while it exists
            vectors = read_dense(str(vec_path), self.manifest.dense.get("kind", FLAT))
            units: Any = None  # unit/file vectors; indexes built before they existed have none
            unit_rows: dict[str, tuple[int, int]] = {}
            units_name = self.manifest.files.get("units")
            if units_name and (self.directory / units_name).is_file():
                units = read_dense(str(self.directory / units_name), FLAT)
                for kind, lo, hi in db.execute("SELECT kind, MIN(row), MAX(row) + 1 FROM units GROUP BY kind"):
                    unit_rows[kind] = (int(lo), int(hi))
        except BaseException:
            db.close()
            raise
        self._db, self._vectors, self._units, self._unit_rows = db, vectors, units, unit_rows
        self._doc_index = db.execute("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = 'passages_doc'"
                                     ).fetchone() is not None  # builds before it find a document's rows by a scan
        has_tables = db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'passage_tables'"
                                ).fetchone() is not None
        has_places = db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'passage_places'"
                                ).fetchone() is not None
        has_ocr = _has_table(db, "passage_ocr")
        columns = ", ".join(f"passages.{c}" for c in _PASSAGE_COLS)
        # a passage's columns, its table record and its place (NULL for a passage without one, or a build made
        # before them)
        self._select = (f"SELECT passages.row, {columns}, "
                        + ("passage_tables.record" if has_tables else "NULL") + ", "
                        + ("passage_places.record" if has_places else "NULL") + ", "
                        + ("passage_ocr.engine, passage_ocr.confidence" if has_ocr else "NULL, NULL") + " FROM passages"
                        + (" LEFT JOIN passage_tables ON passage_tables.passage = passages.id" if has_tables else "")
                        + (" LEFT JOIN passage_places ON passage_places.passage = passages.id" if has_places else "")
                        + (" LEFT JOIN passage_ocr ON passage_ocr.passage = passages.id" if has_ocr else ""))

    def close(self) -> None:
        """Release the SQLite connection."""
        self._db.close()

    def __len__(self) -> int:
        return int(self._vectors.ntotal)

    @property
    def approximate(self) -> bool:
        """Whether the dense index is approximate (IVF: :mod:`retrieval.dense`)."""
        return self.manifest.dense.get("kind", FLAT) == IVF

    def _scoped_nprobe(self, allowed: int) -> int | None:
        """Lists an IVF search restricted to ``allowed`` rows probes: more as the scope is a smaller part of the
        index, so that about as many in-scope vectors are scanned as an unscoped search scans (None: flat)."""
        if not self.approximate:
            return None
        nprobe, nlist = int(self._vectors.nprobe), int(self._vectors.nlist)
        return min(nlist, max(nprobe, math.ceil(nprobe * len(self) / max(allowed, 1))))

    def check_embedder(self, identity: dict[str, Any]) -> None:
        """Refuse to serve queries embedded differently from the index.

        :raises IndexMismatchError: names what differs and how to fix it.
        """
        diff = identity_diff(self.manifest.embedder, identity)
        if diff:
            raise IndexMismatchError(f"{self.directory}: built with a different embedder ({'; '.join(diff)}); "
                                     "open it with the embedder it was built with, or rebuild it")

    def dense(self, query_vector: np.ndarray, k: int, *, rows: Sequence[int] | None = None) -> list[tuple[int, float]]:
        """Rows and inner-product scores of the ``k`` nearest vectors (among ``rows`` when given)."""
        import faiss

        if len(self) == 0 or k <= 0 or (rows is not None and not len(rows)):
            return []
        query = np.asarray(query_vector, dtype=np.float32).reshape(1, -1)
        if rows is None:
            scores, found = self._vectors.search(query, min(k, len(self)))
        elif self.approximate and len(rows) <= EXACT_SCOPE_ROWS:
            return exact_among(self._vectors, query, rows, k)  # IVF would probe lists holding none of them
        else:
            allowed = np.asarray(sorted(rows), dtype=np.int64)
            params = _search_params(faiss.IDSelectorBatch(allowed), nprobe=self._scoped_nprobe(len(allowed)))
            scores, found = self._vectors.search(query, min(k, len(allowed)), params=params)
        return [(int(r), float(s)) for r, s in zip(found[0], scores[0], strict=True) if r >= 0]

    def bm25(self, query: str, k: int, *, doc_ids: Sequence[str] | None = None) -> list[tuple[int, float]]:
        """Rows and BM25 scores (higher is better) from FTS5 (only passages of ``doc_ids`` when given)."""
        expr = fts_query(query)
        if not expr or k <= 0 or (doc_ids is not None and not doc_ids):
            return []
        if doc_ids is None:
            cur = self._db.execute(
                "SELECT rowid, -bm25(passages_fts) FROM passages_fts WHERE passages_fts MATCH ? "
                "ORDER BY bm25(passages_fts) LIMIT ?", (expr, k))
        elif self._by_document(doc_ids):
            return self._bm25_by_document(expr, k, doc_ids, "1", [])
        else:
            marks = ",".join("?" * len(doc_ids))
            cur = self._db.execute(
                "SELECT passages_fts.rowid, -bm25(passages_fts) FROM passages_fts JOIN passages "
                f"ON passages.row = passages_fts.rowid WHERE passages_fts MATCH ? AND passages.doc_id IN ({marks}) "
                "ORDER BY bm25(passages_fts) LIMIT ?", (expr, *doc_ids, k))
        return [(int(r), float(s)) for r, s in cur]

    def _by_document(self, doc_ids: Sequence[str] | None) -> bool:
        """Whether a keyword search inside ``doc_ids`` is faster one document at a time (few documents, and a
        build with the ``passages_doc`` index to find each one's rows)."""
        return doc_ids is not None and 0 < len(doc_ids) <= BM25_BY_DOCUMENT and self._doc_index

    def _bm25_by_document(self, expr: str, k: int, doc_ids: Sequence[str], where: str,
                          params: Sequence[Any]) -> list[tuple[int, float]]:
        """BM25 inside each document's row range (FTS5 seeks the range instead of ranking every match of the
        whole index), merged best first; ``where`` and ``params`` further restrict ``passages``."""
        found: list[tuple[int, float]] = []
        for doc_id in dict.fromkeys(doc_ids):
            lo, hi = self._db.execute("SELECT MIN(row), MAX(row) FROM passages WHERE doc_id = ?", (doc_id,)).fetchone()
            if lo is None:
                continue
            cur = self._db.execute(
                "SELECT passages_fts.rowid, -bm25(passages_fts) FROM passages_fts JOIN passages "
                "ON passages.row = passages_fts.rowid WHERE passages_fts MATCH ? "
                f"AND passages_fts.rowid BETWEEN ? AND ? AND passages.doc_id = ? AND {where} "
                "ORDER BY bm25(passages_fts) LIMIT ?",
                (expr, lo, hi, doc_id, *params, k))
            found += [(int(r), float(s)) for r, s in cur]
        return sorted(found, key=lambda hit: (-hit[1], hit[0]))[:k]

    def document_rows(self, doc_ids: Sequence[str]) -> list[int]:
        """Passage rows of the documents ``doc_ids``."""
        if not doc_ids:
            return []
        marks = ",".join("?" * len(doc_ids))
        return [int(r) for (r,) in self._db.execute(f"SELECT row FROM passages WHERE doc_id IN ({marks})",
                                                     list(doc_ids))]

    def passages(self, rows: Sequence[int]) -> list[Passage]:
        """Passages for rows, in the order given."""
        if not rows:
            return []
        marks = ",".join("?" * len(rows))
        cur = self._db.execute(f"{self._select} WHERE passages.row IN ({marks})", list(rows))
        by_row = {r[0]: _row_passage(r[1:]) for r in cur}
        return [by_row[r] for r in rows if r in by_row]

    def document_passages(self, doc_id: str) -> list[Passage]:
        """Every passage of one document, in document order (one query on the ``passages_doc`` index)."""
        cur = self._db.execute(f"{self._select} WHERE passages.doc_id = ? ORDER BY passages.char_start, "
                               "passages.char_end, passages.row", (doc_id,))
        return [_row_passage(r[1:]) for r in cur]

    def passage_by_id(self, passage_id: str) -> Passage | None:
        """The passage with this id (None: no such passage)."""
        row = self._db.execute(f"{self._select} WHERE passages.id = ?", (passage_id,)).fetchone()
        return _row_passage(row[1:]) if row is not None else None

    def document_summaries(self) -> list[dict[str, Any]]:
        """Each document without its text: doc_id, source, kind, language, pages, chars, passages."""
        counts = {s["doc_id"]: int(s.get("passages", 0)) for s in self.manifest.sources}
        cur = self._db.execute("SELECT doc_id, source, kind, language, page_count, length(text) FROM documents")
        return [{"doc_id": d, "source": s, "kind": k, "language": lang, "pages": pc, "chars": n,
                 "passages": counts.get(d, 0)} for d, s, k, lang, pc, n in cur]

    def all_passages(self) -> list[Passage]:
        """Every passage in row order (the whole corpus in memory: for tools and tests, not for serving)."""
        cur = self._db.execute(f"{self._select} ORDER BY passages.row")
        return [_row_passage(r[1:]) for r in cur]

    def table(self, passage_id: str) -> Table | None:
        """The table record of a table passage (None: not a table passage, no such passage, or a build made
        before table records)."""
        row = self._db.execute(f"{self._select} WHERE passages.id = ?", (passage_id,)).fetchone()
        return _row_passage(row[1:]).table if row is not None else None

    def vectors(self) -> np.ndarray:
        """All vectors, row-aligned with :meth:`all_passages`."""
        n = len(self)
        if n == 0:
            return np.zeros((0, self.manifest.dim), dtype=np.float32)
        return np.asarray(self._vectors.reconstruct_n(0, n), dtype=np.float32)

    @property
    def has_units(self) -> bool:
        """Whether this build has unit and file vectors (indexes built before them do not)."""
        return self._units is not None

    @property
    def unit_count(self) -> int:
        """Unit and file vectors stored (0 for a build without them)."""
        return int(self._units.ntotal) if self._units is not None else 0

    def unit_dense(self, query_vector: np.ndarray, k: int, *, level: str) -> list[tuple[int, float]]:
        """Unit rows of kind ``level`` ("unit" or "file") and inner-product scores, best first.

        :raises IndexMismatchError: the index has no unit vectors (built by an older docqa).
        """
        import faiss

        if self._units is None:
            raise IndexMismatchError(f"{self.directory}: index has no unit/file vectors (built by an older docqa); "
                                     "rebuild it to search by unit or file")
        lo, hi = self._unit_rows.get(level, (0, 0))
        if hi <= lo or k <= 0:
            return []
        params = _search_params(faiss.IDSelectorRange(lo, hi))
        scores, rows = self._units.search(np.asarray(query_vector, dtype=np.float32).reshape(1, -1),
                                          min(k, hi - lo), params=params)
        return [(int(r), float(s)) for r, s in zip(rows[0], scores[0], strict=True) if r >= 0]

    def file_vectors(self) -> dict[str, np.ndarray]:
        """Each document's file-level vector by doc_id (empty for an index without unit vectors)."""
        lo, hi = self._unit_rows.get("file", (0, 0))
        if self._units is None or hi <= lo:
            return {}
        vecs = np.asarray(self._units.reconstruct_n(lo, hi - lo), dtype=np.float32)
        ids = dict(self._db.execute("SELECT row, doc_id FROM units WHERE kind = 'file'"))
        return {ids[lo + i]: vecs[i] for i in range(hi - lo) if lo + i in ids}

    def units(self, rows: Sequence[int]) -> list[Unit]:
        """Unit records for unit rows, in the order given."""
        if not rows:
            return []
        marks = ",".join("?" * len(rows))
        cur = self._db.execute(f"SELECT row, kind, doc_id, source, symbol, char_start, char_end, line_start, line_end, "
                               f"members FROM units WHERE row IN ({marks})", list(rows))
        by_row = {r: Unit(kind, d, src, sym, (cs, ce), (ls, le) if ls is not None else None,
                          tuple(json.loads(m)))
                  for r, kind, d, src, sym, cs, ce, ls, le, m in cur}
        return [by_row[r] for r in rows if r in by_row]

    def unit_passages(self, rows: Sequence[int]) -> list[Passage]:
        """Units as passages spanning the whole function or file (``splitter`` is "unit" or "file")."""
        out: list[Passage] = []
        for u in self.units(rows):
            text, kind = self._db.execute("SELECT substr(text, ?, ?), kind FROM documents WHERE doc_id = ?",
                                          (u.chars[0] + 1, u.chars[1] - u.chars[0], u.doc_id)).fetchone()
            out.append(Passage(id=passage_id(u.source, u.chars, text), doc_id=u.doc_id, source=u.source, text=text,
                               chars=u.chars, lines=u.lines, kind="code" if kind == "code" else "prose",
                               symbol=u.symbol, splitter=u.kind))
        return out

    def documents(self) -> list[Document]:
        """Every document, with its full extracted text."""
        from ingest.core.records import PageSpan, Section

        cur = self._db.execute("SELECT doc_id, source, kind, language, text, pages, empty_pages, page_count, meta, "
                               "sections FROM documents")
        return [Document(doc_id=d, source=s, text=t, kind=k, language=lang,
                         pages=tuple(PageSpan(*x) for x in json.loads(pg)), empty_pages=tuple(json.loads(ep)),
                         page_count=pc, meta=json.loads(meta or "{}"),
                         sections=tuple(Section(*x) for x in json.loads(secs or "[]")),
                         ocr_pages=_ocr_pages(self._db, d))
                for d, s, k, lang, t, pg, ep, pc, meta, secs in cur]

    # -- scoped search (retrieval/scope.py) -------------------------------------------------------------------
    @staticmethod
    def _scope_where(doc_ids: Sequence[str] | None, kinds: Sequence[str],
                     pages: tuple[int, int] | None) -> tuple[str, list[Any]]:
        """SQL conditions on ``passages`` (joined by AND, "1" when none) and their parameters."""
        conditions: list[str] = ["1"]
        params: list[Any] = []
        if doc_ids is not None:
            conditions.append(f"passages.doc_id IN ({','.join('?' * len(doc_ids))})")
            params += list(doc_ids)
        if kinds:
            conditions.append(f"passages.kind IN ({','.join('?' * len(kinds))})")
            params += list(kinds)
        if pages is not None:
            conditions.append("passages.page BETWEEN ? AND ?")
            params += [pages[0], pages[1]]
        return " AND ".join(conditions), params

    def scope_rows(self, *, doc_ids: Sequence[str] | None = None, kinds: Sequence[str] = (),
                   pages: tuple[int, int] | None = None) -> list[int]:
        """Passage rows inside a scope: of ``doc_ids`` (None: all), of ``kinds`` (empty: all), whose page is in
        the inclusive range ``pages`` (None: any; passages without a page fall outside every range)."""
        if doc_ids is not None and not doc_ids:
            return []
        where, params = self._scope_where(doc_ids, kinds, pages)
        return [int(r) for (r,) in self._db.execute(f"SELECT row FROM passages WHERE {where} ORDER BY row", params)]

    def scope_has_rows(self, *, doc_ids: Sequence[str] | None = None, kinds: Sequence[str] = (),
                       pages: tuple[int, int] | None = None) -> bool:
        """Whether any passage is inside the scope (as for :meth:`scope_rows`; one row read, not all)."""
        if doc_ids is not None and not doc_ids:
            return False
        where, params = self._scope_where(doc_ids, kinds, pages)
        return self._db.execute(f"SELECT 1 FROM passages WHERE {where} LIMIT 1", params).fetchone() is not None

    def bm25_scoped(self, query: str, k: int, *, doc_ids: Sequence[str] | None = None, kinds: Sequence[str] = (),
                    pages: tuple[int, int] | None = None) -> list[tuple[int, float]]:
        """:meth:`bm25` restricted by SQL to the passages of a scope (as for :meth:`scope_rows`)."""
        expr = fts_query(query)
        if not expr or k <= 0 or (doc_ids is not None and not doc_ids):
            return []
        if doc_ids is not None and self._by_document(doc_ids):
            where, params = self._scope_where(None, kinds, pages)
            return self._bm25_by_document(expr, k, doc_ids, where, params)
        where, params = self._scope_where(doc_ids, kinds, pages)
        cur = self._db.execute(
            "SELECT passages_fts.rowid, -bm25(passages_fts) FROM passages_fts JOIN passages "
            f"ON passages.row = passages_fts.rowid WHERE passages_fts MATCH ? AND {where} "
            "ORDER BY bm25(passages_fts) LIMIT ?", (expr, *params, k))
        return [(int(r), float(s)) for r, s in cur]


class Reader(Protocol):
    """What search, scope, whole-document reading and the servers read from an index: an :class:`IndexReader`,
    or several searched as one (:class:`retrieval.multi.MultiReader`). Rows are the reader's own numbering."""

    directory: Path
    manifest: Manifest

    def __len__(self) -> int: ...
    @property
    def has_units(self) -> bool: ...
    def check_embedder(self, identity: dict[str, Any]) -> None: ...
    def dense(self, query_vector: np.ndarray, k: int, *,
              rows: Sequence[int] | None = None) -> list[tuple[int, float]]: ...
    def bm25(self, query: str, k: int, *, doc_ids: Sequence[str] | None = None) -> list[tuple[int, float]]: ...
    def bm25_scoped(self, query: str, k: int, *, doc_ids: Sequence[str] | None = None, kinds: Sequence[str] = (),
                    pages: tuple[int, int] | None = None) -> list[tuple[int, float]]: ...
    def scope_rows(self, *, doc_ids: Sequence[str] | None = None, kinds: Sequence[str] = (),
                   pages: tuple[int, int] | None = None) -> list[int]: ...
    def scope_has_rows(self, *, doc_ids: Sequence[str] | None = None, kinds: Sequence[str] = (),
                       pages: tuple[int, int] | None = None) -> bool: ...
    def passages(self, rows: Sequence[int]) -> list[Passage]: ...
    def document_passages(self, doc_id: str) -> list[Passage]: ...
    def passage_by_id(self, passage_id: str) -> Passage | None: ...
    def document_summaries(self) -> list[dict[str, Any]]: ...
    def all_passages(self) -> list[Passage]: ...
    def documents(self) -> list[Document]: ...
    def unit_dense(self, query_vector: np.ndarray, k: int, *, level: str) -> list[tuple[int, float]]: ...
    def units(self, rows: Sequence[int]) -> list[Unit]: ...
    def unit_passages(self, rows: Sequence[int]) -> list[Passage]: ...
    def close(self) -> None: ...


class DocPassages(Mapping[str, Sequence[Passage]]):
    """Each document's passages in document order, read from the index when a document is asked for; the
    ``keep`` most recently read are kept. Nothing reads the whole corpus: iterating yields doc ids only.

    :param reader: the open index.
    :param keep: documents kept in memory.
    """

    def __init__(self, reader: Reader, *, keep: int = 64) -> None:
        import threading
        from collections import OrderedDict

        self.reader, self.keep = reader, keep
        self._ids = sorted(str(s["doc_id"]) for s in reader.manifest.sources if s.get("passages"))
        self._known = frozenset(self._ids)
        self._cache: OrderedDict[str, list[Passage]] = OrderedDict()
        self._lock = threading.Lock()

    def __getitem__(self, doc_id: str) -> list[Passage]:
        with self._lock:
            if doc_id in self._cache:
                self._cache.move_to_end(doc_id)
                return self._cache[doc_id]
        if doc_id not in self._known:
            raise KeyError(doc_id)
        passages = self.reader.document_passages(doc_id)
        with self._lock:
            self._cache[doc_id] = passages
            while len(self._cache) > self.keep:
                self._cache.popitem(last=False)
        return passages

    def __iter__(self) -> Iterator[str]:
        return iter(self._ids)

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, doc_id: object) -> bool:
        return doc_id in self._known
