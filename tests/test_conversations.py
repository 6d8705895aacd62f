"""The UI's conversation store: per index, JSON in SQLite, answers rebuilt whole, Markdown export."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from app.conversations import (
    DEFAULT_TITLE,
    ConversationStore,
    Turn,
    answer_from_dict,
    answer_to_dict,
    to_markdown,
)
from ingest.core.records import Answer, AnswerWarning, Citation, Passage, StageTrace, WarningKind

PDF = Passage(id="p-1", doc_id="d1", source="/srv/uploads/report.pdf", text="Intro. The Trust funded it in 2019.",
              chars=(100, 135), page=2)
CODE = Passage(id="p-2", doc_id="d2", source="src/lamp.py", text="def burn():\n    return 11\n", chars=(40, 66),
               lines=(12, 13), kind="code", symbol="lamp.burn")


def _answer(question: str = "Who funded it?") -> Answer:
    return Answer(question=question, text="The Trust funded it [1]. The lamp burns 11 hours [2].",
                  citations=(Citation(1, PDF, quote="The Trust funded it in 2019.", quote_chars=(7, 35),
                                      supported=True),
                             Citation(2, CODE, quote="return 11", quote_chars=(16, 25))),
                  passages=(PDF, CODE), mode="retrieve",
                  trace=(StageTrace("retrieve", "hybrid", seconds=0.1, details=("2 candidates",)),
                         StageTrace("generate", "m", seconds=1.5, prompt_tokens=300, completion_tokens=20, calls=1)),
                  warnings=(AnswerWarning(WarningKind.UNSUPPORTED_SENTENCE, "It is red."),), model="m",
                  draft="The Trust funded it. It is red.", first_token_seconds=0.4)


def test_answers_round_trip_through_json() -> None:
    answer = _answer()
    back = answer_from_dict(json.loads(json.dumps(answer_to_dict(answer))))
    assert back.citations == answer.citations
    assert back.trace == answer.trace and back.warnings == answer.warnings
    assert (back.text, back.mode, back.model, back.draft, back.timings, back.tokens) == (
        answer.text, answer.mode, answer.model, answer.draft, answer.timings, answer.tokens)
    assert back.passages == (PDF, CODE)  # the cited passages (uncited context is not kept)


def test_conversations_are_kept_per_index_and_survive_a_new_store(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    store = ConversationStore(path)
    first = store.create(tmp_path / "idx")
    other = store.create(tmp_path / "other")
    store.add_turn(first, Turn("Who funded it?", "Who funded it?", _answer(), {"queue wait (s)": 0.5}))
    store.add_turn(first, Turn("When?", "When did the Trust fund it?", _answer("When did the Trust fund it?")))
    reopened = ConversationStore(path)  # a reload, or a restarted server
    listed = reopened.conversations(str(tmp_path / "idx") + "/")  # the same directory, spelled differently
    assert [(c.id, c.title, c.turns) for c in listed] == [(first, "Who funded it?", 2)]
    assert [c.id for c in reopened.conversations(tmp_path / "other")] == [other]
    turns = reopened.turns(first)
    assert [(t.asked, t.standalone) for t in turns] == [("Who funded it?", "Who funded it?"),
                                                         ("When?", "When did the Trust fund it?")]
    assert turns[0].details == {"queue wait (s)": 0.5}
    assert turns[1].answer.citations[1].passage.lines == (12, 13)


def test_rename_delete_and_settings(tmp_path: Path) -> None:
    store = ConversationStore(tmp_path / "c.sqlite")
    cid = store.create("/idx")
    assert store.title(cid) == DEFAULT_TITLE
    store.rename(cid, "  Harbor   report ")
    assert store.title(cid) == "Harbor report"
    with pytest.raises(ValueError, match="title"):
        store.rename(cid, "   ")
    store.add_turn(cid, Turn("Q?", "Q?", _answer()))
    assert store.title(cid) == "Harbor report"  # a chosen title is kept
    store.set_overrides(cid, {"answer": {"top_k": 3}})
    assert store.overrides(cid) == {"answer": {"top_k": 3}}
    store.delete(cid)
    assert store.conversations("/idx") == [] and store.turns(cid) == []
    with sqlite3.connect(tmp_path / "c.sqlite") as db:
        assert db.execute("SELECT COUNT(*) FROM turns").fetchone() == (0,)  # the turns went with it


def test_stored_as_plain_json_text(tmp_path: Path) -> None:
    store = ConversationStore(tmp_path / "c.sqlite")
    cid = store.create("/idx")
    store.add_turn(cid, Turn("Q?", "Q?", _answer()))
    with sqlite3.connect(tmp_path / "c.sqlite") as db:
        (raw,) = db.execute("SELECT answer FROM turns").fetchone()
    assert isinstance(raw, str) and json.loads(raw)["citations"][0]["quote"] == "The Trust funded it in 2019."


def test_markdown_export_has_questions_answers_warnings_and_quoted_sources() -> None:
    turns = [Turn("Who funded it?", "Who funded it?", _answer()),
             Turn("When?", "When did the Trust fund it?", _answer())]
    md = to_markdown("Harbor", turns, label=lambda p: p.label.replace("/srv/uploads/", ""))
    assert md.startswith("# Harbor\n")
    assert "## 2. When?" in md and "*Answered as:* When did the Trust fund it?" in md
    assert "> warning: unsupported sentence: It is red." in md
    assert '- [1] report.pdf p.2: "The Trust funded it in 2019."' in md
    assert '- [2] src/lamp.py:12-13 (lamp.burn): "return 11"' in md
    assert "/srv/uploads" not in md
