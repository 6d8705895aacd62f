"""The per-file ledger of a build: how each file ended, and how to tell whether it changed since.

It is the ``files`` table of the build's SQLite file, written by :class:`retrieval.store.IndexWriter` and read
by the next build's plan (:mod:`retrieval.build`) and by ``docqa status``.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from retrieval.store import IndexReader


@dataclass(frozen=True, slots=True)
class FileEntry:
    """One file of the ledger: how it ended in the build that holds it, and how to tell it changed.

    ``outcome`` is "indexed", "skipped" (a reason the loader gives: empty, binary, corrupt, ...), or
    "timeout", "memory", "crash" (a bound tripped, or the reader failed): :attr:`status` groups the last
    three as "failed". ``read_key`` names what shaped its passages (splitter, PDF extractor), ``bounds_key``
    the bounds it was read under (a failed file is read again when they change).
    """

    source: str
    outcome: str
    reason: str = ""
    doc_id: str | None = None
    size: int = 0
    mtime_ns: int = 0
    sha256: str = ""
    read_key: str = ""
    bounds_key: str = ""
    extractor: str = ""  # the PDF extractor that read it ("" for other files)
    kind: str = ""
    pages: int = 0
    empty_pages: tuple[int, ...] = ()
    passages: int = 0
    seconds: float = 0.0

    @property
    def status(self) -> str:
        """ "indexed", "skipped" or "failed".

        >>> FileEntry("a.pdf", "timeout").status, FileEntry("b.txt", "skipped").status
        ('failed', 'skipped')
        """
        return self.outcome if self.outcome in ("indexed", "skipped") else "failed"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields, with :attr:`status`."""
        return {"source": self.source, "status": self.status, "outcome": self.outcome, "reason": self.reason,
                "pages": self.pages, "empty_pages": list(self.empty_pages), "passages": self.passages,
                "seconds": round(self.seconds, 3), "size": self.size, "kind": self.kind, "doc_id": self.doc_id}


LEDGER_COLS = tuple(FileEntry.__dataclass_fields__)
LEDGER_SCHEMA = ("CREATE TABLE IF NOT EXISTS files ("
                  + ", ".join(c + (" TEXT PRIMARY KEY" if c == "source" else "") for c in LEDGER_COLS) + ");")


def ledger_row(e: FileEntry) -> tuple[Any, ...]:
    return tuple(json.dumps(list(e.empty_pages)) if c == "empty_pages" else getattr(e, c) for c in LEDGER_COLS)


def _row_ledger(row: Sequence[Any]) -> FileEntry:
    values = dict(zip(LEDGER_COLS, row, strict=True))
    values["empty_pages"] = tuple(json.loads(values["empty_pages"] or "[]"))
    return FileEntry(**values)


def ledger(reader: IndexReader) -> list[FileEntry]:
    """The per-file ledger of the build ``reader`` opened (empty for a build made before ledgers)."""
    try:
        cur = reader._db.execute(f"SELECT {', '.join(LEDGER_COLS)} FROM files ORDER BY rowid")
    except sqlite3.OperationalError:  # no such table: an older build
        return []
    return [_row_ledger(r) for r in cur]
