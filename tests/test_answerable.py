"""The evidence check (generation/answerable.py): question types, candidates, key terms near the answer, and the
verifier withholding an answer whose evidence does not answer the question, on every backend."""

from __future__ import annotations

import dataclasses

import pytest

from generation.answer import Draft, Verifier
from generation.answerable import (
    AnswerabilitySettings,
    abstain_reason,
    assess_answer,
    has_candidate,
    question_type,
    specific_terms,
)
from generation.citations import is_abstention, parse_citations
from generation.prompt import NOT_FOUND
from ingest.core.records import Passage, WarningKind
from ingest.core.settings import AnswerSettings
from tests.fakes import ScriptedLLM, pipeline_over

P1 = "The Kittiwake entered service in April 1962. It carries 210 passengers and a crew of six."
P2 = "The chief safety officer is Hannelore Brisk. She introduced monthly lifeboat drills."
P3 = "Ticket prices will rise by three percent next year to pay for new engines."


def _ps() -> list[Passage]:
    return [Passage(id=f"p{i}", doc_id="d", source="review.pdf", text=t, chars=(i * 100, i * 100 + len(t)), page=i)
            for i, t in enumerate((P1, P2, P3), 1)]


@pytest.mark.parametrize(("question", "kind"), [
    ("When did the Kittiwake enter service?", "date"),
    ("In which year was the ferry built?", "date"),
    ("How many passengers does it carry?", "number"),
    ("How long is the crossing?", "number"),
    ("What percentage will prices rise?", "number"),
    ("Who is the chief safety officer?", "person"),
    ("By whom were the drills introduced?", "person"),
    ("Where was the ferry built?", "place"),
    ("In what city is the yard?", "place"),
    ("What did the safety officer introduce?", "any"),
    ("Why will prices rise?", "any"),
])
def test_question_type_from_wording(question: str, kind: str):
    assert question_type(question) == kind


def test_candidates_of_each_type():
    assert has_candidate("date", "in April") and has_candidate("date", "the 14th century")
    assert not has_candidate("date", "the chief officer")
    assert has_candidate("number", "210") and has_candidate("number", "a dozen")
    assert has_candidate("person", "an architect") and has_candidate("place", "in Glasgow")  # names: not checked
    assert specific_terms("Who built the Kittiwake for Caledonian Lines in 1962?") == {
        "kittiwake", "caledonian", "lines", "1962"}


def test_a_swapped_name_a_negation_and_a_missing_value_are_caught():
    ps = [P1]
    ok = assess_answer("When did the Kittiwake enter service?", "It entered service in April 1962 [1].", ps)
    assert ok.candidate and ok.coverage == 1.0 and abstain_reason(ok, AnswerabilitySettings()) is None
    swapped = assess_answer("When did the Albatross enter service?", "It entered service in April 1962 [1].", ps)
    assert swapped.missing_specific == ("albatross",)
    anywhere = AnswerabilitySettings(specific_terms=True, specific_near=False)
    assert "never mention albatross" in (abstain_reason(swapped, anywhere) or "")
    names = AnswerabilitySettings(specific_terms=True)
    assert "around the answer do not mention albatross" in (abstain_reason(swapped, names) or "")
    assert abstain_reason(swapped, AnswerabilitySettings()) is None  # the name rule is off by default
    # a name in the passage, but far from the sentence the answer comes from
    far = assess_answer("When did the Kittiwake's crew train?", "Drills began in May [1].",
                        ["The Kittiwake is red. It is long. It is fast. It is old. Drills began in May."])
    assert far.missing_specific == () and far.missing_specific_near == ("kittiwake",)
    titled = assess_answer("When did the Kittiwake's crew train?", "Drills began in May [1].",
                           ["The ship is red. It is long. It is fast. It is old. Drills began in May."],
                           headers=["Kittiwake annual review"])
    assert titled.missing_specific == titled.missing_specific_near == ()  # the document's subject is implied
    negated = assess_answer("When did the Kittiwake not enter service?", "It entered service in April 1962 [1].",
                            ps)
    assert negated.negation_unmatched
    assert abstain_reason(negated, AnswerabilitySettings(negation=True)) is not None
    wrong_kind = assess_answer("How many lifeboats does it carry?", "It carries passengers [1].", ps)
    assert not wrong_kind.candidate
    assert abstain_reason(wrong_kind, AnswerabilitySettings(require_candidate=True)) == (
        "the question asks for a number; the answer and its cited passages give none")
    assert abstain_reason(wrong_kind, AnswerabilitySettings(enabled=False)) is None
    with pytest.raises(ValueError, match="min_coverage"):
        AnswerabilitySettings(min_coverage=1.5)


def _draft(text: str, passages: list[Passage]) -> Draft:
    resolved, citations, dropped = parse_citations(text, passages)
    return Draft(raw=text, text=resolved, citations=tuple(citations), context=tuple(passages),
                 dropped=tuple(dropped), trace=())


STRICT = AnswerabilitySettings(require_candidate=True, specific_terms=True, negation=True, min_coverage=0.5)


def test_verifier_withholds_with_a_reason_and_can_be_turned_off():
    """A backend without logits (no yes/no answer check) still gets the evidence check."""
    question = "When was the Kittiwake's engine room rebuilt?"
    draft = _draft("The chief safety officer is Hannelore Brisk [2].", _ps())
    checked = Verifier(ScriptedLLM(), AnswerSettings(), answerability=STRICT).check(question, draft)
    assert checked.text == NOT_FOUND and checked.citations == ()
    stage = next(t for t in checked.trace if t.name == "answerable")
    assert stage.outcome == "withheld" and "asks for: date" in stage.details[0]
    warning = next(w for w in checked.warnings if w.kind == WarningKind.WITHHELD_NOT_ANSWERED)
    assert "evidence check: the question asks for a date" in warning.detail and "Hannelore Brisk" in warning.detail
    off = Verifier(ScriptedLLM(), AnswerSettings(), answerability=AnswerabilitySettings(enabled=False))
    kept = off.check(question, draft)
    assert kept.text.startswith("The chief safety officer") and not any(t.name == "answerable" for t in kept.trace)
    flag = Verifier(ScriptedLLM(), AnswerSettings(unsupported="flag"), answerability=STRICT).check(question, draft)
    assert flag.text.startswith("The chief safety officer")  # it belongs to unsupported="abstain", as the others


@pytest.mark.parametrize(("question", "text"), [
    ("Who was in charge of the Kittiwake's engines?", "The Kittiwake carries 210 passengers and a crew of six [1]."),
    ("Who is the chief safety officer?", "The chief safety officer is Hannelore Brisk [2]."),
    ("When did the Albatross enter service?", "The Kittiwake entered service in April 1962 [1]."),
    ("How much will ticket prices rise?", "Ticket prices will rise by three percent next year [3]."),
    ("What did the officer not introduce?", "She introduced monthly lifeboat drills [2]."),
    ("When were drills introduced?", NOT_FOUND),
])
@pytest.mark.parametrize("settings", [AnswerabilitySettings(), AnswerabilitySettings(specific_terms=True), STRICT])
def test_the_check_on_a_checked_answer_equals_the_verifier_with_it(question: str, text: str,
                                                                   settings: AnswerabilitySettings):
    """bench/answerable.py applies the check to answers recorded without it: that must be what the verifier with
    the check returns."""
    draft = _draft(text, _ps())
    with_check = Verifier(ScriptedLLM(), AnswerSettings(), answerability=settings).check(question, draft)
    without = Verifier(ScriptedLLM(), AnswerSettings(),
                       answerability=dataclasses.replace(settings, enabled=False)).check(question, draft)
    withheld = not is_abstention(without.text) and abstain_reason(
        assess_answer(question, without.text, [c.passage.text for c in without.citations],
                      headers=[c.passage.header for c in without.citations if c.passage.header]),
        settings) is not None
    assert with_check.text == (NOT_FOUND if withheld else without.text)


def test_the_pipeline_runs_the_check_by_default():
    llm = ScriptedLLM("The chief safety officer is Hannelore Brisk [2].")
    answer = pipeline_over(_ps(), llm, max_answer_tokens=50, verify="lexical", unsupported="abstain").run(
        "Who is the chief safety officer?")
    assert answer.text == "The chief safety officer is Hannelore Brisk [2]."
    assert answer.stage("answerable") is not None and answer.stage("answerable").outcome == "ok"


def test_bench_split_and_scoring_helpers():
    """bench/answerable.py: the article split (fixed, written down in bench/RESULTS.md), the interval, the
    outcome of a recorded answer with and without the check (no shared data needed)."""
    import doctest
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
    import answerable as bench  # noqa: PLC0415

    assert doctest.testmod(bench).failed == 0
    tune, held = bench.split_articles([*bench.EARLIER_DEV, "A", "B", "C", "D", "E", "F", "G", "H", "I", "J", "K"])
    assert len(tune) == 9 and set(bench.EARLIER_DEV) <= set(tune) and not set(tune) & set(held)
    assert (tune, held) == bench.split_articles(list(reversed([*tune, *held])))  # order of the input does not matter
    answer = pipeline_over(_ps(), ScriptedLLM("The Kittiwake entered service in April 1962 [1]."),
                           max_answer_tokens=50, verify="lexical", unsupported="abstain").run(
        "When did the Albatross not enter service?")
    record = {"id": "q", "half": "tune", "kind": "unanswerable", "doc": "d", "question": answer.question,
              "answers": [], "answer": answer.to_dict()}
    # the pipeline (with the check) withheld it; the bench reads the recorded answer as today's default
    assert answer.text == NOT_FOUND
    row = bench.outcomes([record], AnswerabilitySettings(specific_terms=True))[0]
    assert row["base"] and row["new"]


def test_an_answer_that_only_repeats_the_question_is_withheld() -> None:
    passage = "Crude oil is refined into petrol at refineries. Refineries are often large plants near ports."
    echo = assess_answer("What are refineries often called?", "Refineries are often called refineries [1].", [passage])
    assert echo.echo and abstain_reason(echo, AnswerabilitySettings()) == "the answer only repeats the question"
    assert abstain_reason(echo, AnswerabilitySettings(echo=False)) is None
    # a yes/no answer may repeat its question and still answer it
    yes = assess_answer("Are refineries often large plants?", "Yes, refineries are often large plants [1].", [passage])
    assert not yes.echo and abstain_reason(yes, AnswerabilitySettings()) is None
