"""Conversations of the web UI, kept per index in one SQLite file (no pickle: answers are stored as JSON).

Each conversation belongs to an index directory (its resolved path is the key) and holds its turns:
the question as asked, the standalone question that was answered, the :class:`Answer` (text, citations
with their passages and quotes, warnings, trace, draft) and the run details the UI shows. A
conversation also keeps its own settings overrides (``{"answer": {"top_k": 3}}``), validated by the
caller with ``Settings.replace``. The default file is ``<cache root>/conversations.sqlite``.

>>> import tempfile, pathlib
>>> store = ConversationStore(pathlib.Path(tempfile.mkdtemp()) / "c.sqlite")
>>> cid = store.create("/idx")
>>> store.rename(cid, "Harbor report"); [c.title for c in store.conversations("/idx")]
['Harbor report']
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ingest.core import serialize
from ingest.core.records import Answer, Passage

DEFAULT_TITLE = "New conversation"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    index_dir TEXT NOT NULL,
    title TEXT NOT NULL,
    overrides TEXT NOT NULL DEFAULT '{}',
    created REAL NOT NULL,
    updated REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS conversations_by_index ON conversations(index_dir, updated);
CREATE TABLE IF NOT EXISTS turns (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    asked TEXT NOT NULL,
    standalone TEXT NOT NULL,
    answer TEXT NOT NULL,
    details TEXT NOT NULL DEFAULT '{}',
    created REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS turns_by_conversation ON turns(conversation_id, id);
"""


@dataclass(frozen=True, slots=True)
class ConversationInfo:
    """One conversation in a list."""

    id: int
    title: str
    updated: float
    turns: int


@dataclass(frozen=True, slots=True)
class Turn:
    """One question and its answer.

    :param asked: the question as the user wrote it.
    :param standalone: the question that was searched and answered (a follow-up rewritten to stand alone).
    :param details: run details beside the answer (settings used, queue wait, rewrite note), JSON-able.
    """

    asked: str
    standalone: str
    answer: Answer
    details: dict[str, Any] = field(default_factory=dict)


def index_key(directory: str | os.PathLike[str]) -> str:
    """The key of an index directory: its resolved path."""
    return str(Path(directory).expanduser().resolve())


class ConversationStore:
    """Conversations in one SQLite file; every method opens its own connection (safe across threads)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._db() as db:
            db.executescript(_SCHEMA)

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=30)
        try:
            db.execute("PRAGMA foreign_keys = ON")
            with db:  # one transaction: committed, or rolled back on error
                yield db
        finally:
            db.close()

    def conversations(self, index_dir: str | os.PathLike[str]) -> list[ConversationInfo]:
        """The conversations of an index, most recently used first."""
        with self._db() as db:
            rows = db.execute(
                "SELECT c.id, c.title, c.updated, COUNT(t.id) FROM conversations c "
                "LEFT JOIN turns t ON t.conversation_id = c.id WHERE c.index_dir = ? "
                "GROUP BY c.id ORDER BY c.updated DESC, c.id DESC", (index_key(index_dir),)).fetchall()
        return [ConversationInfo(int(i), str(t), float(u), int(n)) for i, t, u, n in rows]

    def create(self, index_dir: str | os.PathLike[str], *, title: str = DEFAULT_TITLE,
               overrides: dict[str, dict[str, Any]] | None = None) -> int:
        """A new conversation; returns its id."""
        now = time.time()
        with self._db() as db:
            cur = db.execute("INSERT INTO conversations (index_dir, title, overrides, created, updated) "
                             "VALUES (?, ?, ?, ?, ?)",
                             (index_key(index_dir), title, json.dumps(overrides or {}), now, now))
            return int(cur.lastrowid or 0)

    def title(self, conversation_id: int) -> str:
        """The conversation's title ("" when it does not exist)."""
        with self._db() as db:
            row = db.execute("SELECT title FROM conversations WHERE id = ?", (conversation_id,)).fetchone()
        return str(row[0]) if row else ""

    def rename(self, conversation_id: int, title: str) -> None:
        """Give a conversation a new title (blank titles are refused with ValueError)."""
        title = " ".join(title.split())
        if not title:
            raise ValueError("a conversation needs a title")
        with self._db() as db:
            db.execute("UPDATE conversations SET title = ? WHERE id = ?", (title[:200], conversation_id))

    def delete(self, conversation_id: int) -> None:
        """Delete a conversation and its turns."""
        with self._db() as db:
            db.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,))

    def overrides(self, conversation_id: int) -> dict[str, dict[str, Any]]:
        """The conversation's settings overrides (``{}`` when none)."""
        with self._db() as db:
            row = db.execute("SELECT overrides FROM conversations WHERE id = ?", (conversation_id,)).fetchone()
        return json.loads(row[0]) if row else {}

    def set_overrides(self, conversation_id: int, overrides: dict[str, dict[str, Any]]) -> None:
        """Replace the conversation's settings overrides (validate them first)."""
        with self._db() as db:
            db.execute("UPDATE conversations SET overrides = ? WHERE id = ?", (json.dumps(overrides),
                                                                                 conversation_id))

    def turns(self, conversation_id: int) -> list[Turn]:
        """The conversation's turns, oldest first."""
        with self._db() as db:
            rows = db.execute("SELECT asked, standalone, answer, details FROM turns WHERE conversation_id = ? "
                              "ORDER BY id", (conversation_id,)).fetchall()
        return [Turn(a, s, answer_from_dict(json.loads(ans)), json.loads(d)) for a, s, ans, d in rows]

    def add_turn(self, conversation_id: int, turn: Turn) -> None:
        """Append a turn; a conversation still called :data:`DEFAULT_TITLE` is named after its first question."""
        now = time.time()
        with self._db() as db:
            db.execute("INSERT INTO turns (conversation_id, asked, standalone, answer, details, created) "
                       "VALUES (?, ?, ?, ?, ?, ?)",
                       (conversation_id, turn.asked, turn.standalone, json.dumps(answer_to_dict(turn.answer)),
                        json.dumps(turn.details, default=str), now))
            db.execute("UPDATE conversations SET updated = ?, title = CASE WHEN title = ? THEN ? ELSE title END "
                       "WHERE id = ?", (now, DEFAULT_TITLE, short_title(turn.asked), conversation_id))


def short_title(question: str, *, limit: int = 60) -> str:
    """A conversation title from its first question.

    >>> short_title("What   does the report say about the harbor lights and who paid for the survey in 2019?")
    'What does the report say about the harbor lights and who…'
    """
    text = " ".join(question.split())
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + "…"


def answer_to_dict(answer: Answer) -> dict[str, Any]:
    """A JSON-able record of ``answer`` from which :func:`answer_from_dict` rebuilds it: the one serialisation
    (:func:`ingest.core.serialize.answer_to_dict`), cited passages whole, uncited context passages left out."""
    return serialize.answer_to_dict(answer, context=False)


def answer_from_dict(data: dict[str, Any]) -> Answer:
    """The :class:`Answer` recorded by :func:`answer_to_dict` (or by the store's first format, which named the text
    ``text`` and held each citation's passage inside it)."""
    if "answer" not in data and "text" in data:  # the first format: convert it
        data = _from_first_format(data)
    return serialize.answer_from_dict(data)


def _from_first_format(data: dict[str, Any]) -> dict[str, Any]:
    passages: dict[str, dict[str, Any]] = {}
    citations = []
    for c in data["citations"]:
        passages.setdefault(c["passage"]["id"], {"n": c["number"], **c["passage"]})
        citations.append({"n": c["number"], "passage_id": c["passage"]["id"], "quote": c["quote"],
                          "quote_chars": c["quote_chars"], "supported": c["supported"]})
    return {**data, "answer": data["text"], "citations": citations, "passages": list(passages.values()),
            "warnings": [{"kind": w["kind"], "detail": w["detail"]} for w in data["warnings"]]}


def to_markdown(title: str, turns: list[Turn], *, label: Callable[[Passage], str] = lambda p: p.label,
                scrub: Callable[[str], str] = lambda text: text) -> str:
    """A conversation as Markdown: each question, the standalone question when it differs, the answer,
    its warnings and its sources with the supporting quotes.

    :param label: how a cited passage is named (the UI hides server paths of uploaded files).
    :param scrub: applied to answers and warnings (which may quote such paths).
    """
    out = [f"# {title}", ""]
    for i, turn in enumerate(turns, 1):
        out += [f"## {i}. {turn.asked}", ""]
        if turn.standalone != turn.asked:
            out += [f"*Answered as:* {turn.standalone}", ""]
        out += [scrub(turn.answer.text), ""]
        out += [f"> warning: {scrub(str(w))}" for w in turn.answer.warnings]
        if turn.answer.warnings:
            out.append("")
        if turn.answer.citations:
            out.append("Sources:")
            for c in turn.answer.citations:
                where = label(c.passage) + (f" ({c.passage.symbol})" if c.passage.symbol else "")
                quote = f': "{" ".join(c.quote.split())}"' if c.quote else ""
                out.append(f"- [{c.number}] {where}{quote}")
            out.append("")
    return "\n".join(out).rstrip() + "\n"
