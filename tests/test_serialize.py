"""The one plain-JSON form of records (ingest/core/serialize.py): round trips, and the store keeps every field."""

from __future__ import annotations

import json
from pathlib import Path

from app.conversations import ConversationStore, Turn
from ingest.core import serialize
from ingest.core.records import (
    Answer,
    AnswerWarning,
    Calculation,
    Citation,
    Operand,
    Passage,
    Ranked,
    StageTrace,
    WarningKind,
)

P1 = Passage("p-1", "d1", "report.pdf", "Revenue 6,489\nPP&E 253 282", (10, 38), page=40, kind="table",
             splitter="table", header="ACME 10-K FY2019 › Statements")
P2 = Passage("p-2", "d2", "src/x.py", "def f():\n    return 1\n", (0, 22), lines=(3, 4), kind="code", symbol="x.f",
             splitter="ast")
P3 = Passage("p-3", "d1", "report.pdf", "Uncited context.", (40, 56), page=41)
CALC = Calculation(label="turnover 2019", formula="revenue / PP&E", worked="6,489 / 253",
                   operands=(Operand("revenue", "6,489", 1, "$", "million", "Revenue 6,489"),
                             Operand("PP&E", "253", 1, "$", "million", "PP&E 253 282")),
                   result=25.6482213, unit="", text="25.65", places=2)
ANSWER = Answer(question="What is the turnover?", text="25.65 [1], see [2].",
                citations=(Citation(1, P1, "Revenue 6,489", (0, 13), True), Citation(2, P2, None, None, None)),
                passages=(P1, P2, P3), mode="retrieve",
                trace=(StageTrace("followup", "llm", 0.1, prompt_tokens=9, calls=1, outcome="rewritten",
                                  details=("asked: 'And the turnover?'",)), StageTrace("retrieve", "hybrid")),
                warnings=(AnswerWarning(WarningKind.UNSUPPORTED_SENTENCE, "see [2]."),), dropped_citations=(7,),
                model="scripted", draft="raw draft", first_token_seconds=0.25, calculation=CALC)


def _json(d: object) -> object:
    return json.loads(json.dumps(d))


def test_every_record_round_trips_through_plain_json():
    for p in (P1, P2, P3):
        assert serialize.passage_from_dict(_json(serialize.passage_to_dict(p))) == p  # type: ignore[arg-type]
    hit = Ranked(P2, 0.75)
    assert serialize.hit_from_dict(_json(serialize.hit_to_dict(3, hit))) == hit  # type: ignore[arg-type]
    assert serialize.calculation_from_dict(_json(serialize.calculation_to_dict(CALC))) == CALC  # type: ignore[arg-type]
    assert serialize.answer_from_dict(_json(serialize.answer_to_dict(ANSWER))) == ANSWER  # type: ignore[arg-type]


def test_answer_without_context_keeps_the_cited_passages_only():
    d = serialize.answer_to_dict(ANSWER, context=False)
    assert [p["id"] for p in d["passages"]] == ["p-1", "p-2"] and d["calculation"]["operands"][0]["n"] == 1
    back = serialize.answer_from_dict(_json(d))  # type: ignore[arg-type]
    assert back.passages == (P1, P2) and back.citations == ANSWER.citations and back.calculation == CALC


def test_answer_to_dict_is_the_records_own_to_dict_and_hits_rank_from_one():
    assert ANSWER.to_dict() == serialize.answer_to_dict(ANSWER)
    assert CALC.to_dict() == serialize.calculation_to_dict(CALC)
    hits = serialize.hits_to_list([Ranked(P1, 2.0), Ranked(P2, 1.0)])
    assert [(h["rank"], h["id"], h["label"]) for h in hits] == [(1, "p-1", "report.pdf p.40"),
                                                               (2, "p-2", "src/x.py:3-4")]


def test_the_conversation_store_keeps_the_calculation_and_every_field(tmp_path: Path):
    store = ConversationStore(tmp_path / "c.sqlite")
    cid = store.create("/idx")
    store.add_turn(cid, Turn("And the turnover?", ANSWER.question, ANSWER, {"queue wait (s)": 0.1}))
    (turn,) = store.turns(cid)
    assert turn.answer.calculation == CALC
    assert turn.answer == serialize.answer_from_dict(_json(serialize.answer_to_dict(ANSWER, context=False)))  # type: ignore[arg-type]


def test_the_store_reads_turns_it_wrote_in_its_first_format(tmp_path: Path):
    import sqlite3

    first = {"question": "q", "text": "It is red [1].", "mode": "retrieve", "model": "m", "draft": "It is red [1].",
             "first_token_seconds": None, "dropped_citations": [],
             "citations": [{"number": 1, "passage": {"id": "p-3", "doc_id": "d1", "source": "report.pdf",
                                                     "text": "Uncited context.", "chars": [40, 56], "page": 41,
                                                     "lines": None, "kind": "prose", "symbol": None,
                                                     "splitter": "recursive", "header": ""},
                            "quote": "context", "quote_chars": [9, 16], "supported": True}],
             "warnings": [{"kind": "unsupported_sentence", "detail": "x"}],
             "trace": [{"name": "retrieve", "method": "hybrid", "seconds": 0.1, "prompt_tokens": 0,
                        "completion_tokens": 0, "embedder_tokens": 0, "calls": 0, "outcome": "ok", "details": []}]}
    store = ConversationStore(tmp_path / "c.sqlite")
    cid = store.create("/idx")
    with sqlite3.connect(store.path) as db:
        db.execute("INSERT INTO turns (conversation_id, asked, standalone, answer, details, created) "
                   "VALUES (?, 'q', 'q', ?, '{}', 0)", (cid, json.dumps(first)))
    (turn,) = store.turns(cid)
    assert turn.answer.text == "It is red [1]." and turn.answer.citations[0].passage == P3
    assert turn.answer.citations[0].quote_chars == (9, 16) and turn.answer.warnings[0].detail == "x"
