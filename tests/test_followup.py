"""Follow-up questions: the rewrite prompt, the reply parsing, and the one model call (scripted model)."""

from __future__ import annotations

from generation.followup import parse_rewrite, refers_back, rewrite_messages, rewrite_question, with_previous
from tests.fakes import ScriptedLLM

HISTORY = [("Who funded the Harbor Light survey?", "The Maritime Trust funded it [1].")]


def test_prompt_shows_recent_turns_without_markers_and_defangs_them() -> None:
    history = [(f"Question {i}?", f"Answer {i} [2].") for i in range(5)]
    messages = rewrite_messages(history + [("See [3] here?", "x " * 400)], "And then?", max_turns=2)
    assert [m.role for m in messages] == ["system", "user"]
    text = messages[1].content
    assert "Question 3?" not in text and "Question 4?" in text  # only the last two turns
    assert "[2]" not in text and "Answer 4." in text  # markers stripped from answers
    assert "See (3) here?" in text  # a bracketed number in a question cannot pose as a marker
    assert "…" in text and len(text) < 1000  # a long answer is cut
    assert text.endswith("Last question: And then?\nStandalone question:")


def test_parse_takes_the_first_line_without_prefixes_quotes_or_markers() -> None:
    reply = '\n  Rewritten question: "When did the Maritime Trust fund the survey [1]?"\nExplanation: ...'
    assert parse_rewrite(reply, "When did they fund it?") == ("When did the Maritime Trust fund the survey?", "")


def test_parse_refuses_answers_ramblings_and_lost_words() -> None:
    assert parse_rewrite("", "When?")[0] is None
    assert parse_rewrite("   \n ", "When?")[1] == "the model gave no rewrite"
    assert parse_rewrite("What " * 200 + "?", "Who funded it?")[1] == "the rewrite was far longer than a question"
    assert parse_rewrite("It was funded in 2019.", "When was it funded?")[1].startswith("the model answered")
    assert parse_rewrite("Where is the harbor?", "When was the bell cast?")[1].startswith("the rewrite dropped")
    # a request without a question mark may be rewritten into a statement-like request
    assert parse_rewrite("Summarise the Harbor Light survey", "summarise it")[0] == "Summarise the Harbor Light survey"


def test_no_history_makes_no_model_call() -> None:
    llm = ScriptedLLM()
    rewrite = rewrite_question(llm, [], "  Who funded it?  ")
    assert (rewrite.standalone, rewrite.rewritten, llm.calls) == ("Who funded it?", False, [])


def test_a_usable_rewrite_is_used() -> None:
    llm = ScriptedLLM("Standalone question: When did the Maritime Trust fund the Harbor Light survey?")
    rewrite = rewrite_question(llm, HISTORY, "When did they fund it?")
    assert rewrite.rewritten and rewrite.standalone == "When did the Maritime Trust fund the Harbor Light survey?"
    assert rewrite.note == "" and rewrite.tokens > 0
    assert "Who funded the Harbor Light survey?" in llm.calls[0][1].content


def test_an_unusable_rewrite_falls_back_to_the_previous_question_when_the_question_refers_back() -> None:
    rewrite = rewrite_question(ScriptedLLM("It was 2019."), HISTORY, "When was it funded?")
    assert not rewrite.rewritten and rewrite.note.startswith("the model answered")
    assert rewrite.standalone == with_previous("When was it funded?", HISTORY[0][0])
    plain = rewrite_question(ScriptedLLM("It was 2019."), HISTORY, "When was the bell cast?")
    assert plain.standalone == "When was the bell cast?"  # stands alone already: asked as written


def test_refers_back() -> None:
    assert refers_back("And what did they find there?")
    assert not refers_back("What did the survey find at the pier?")
