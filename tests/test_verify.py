"""Citation checks after generation: claims, support, quotes, removal and repair; scripted-LLM answers."""

from __future__ import annotations

import pytest

from generation.prompt import NOT_FOUND
from generation.verify import (
    answers_messages,
    folded_messages,
    judge_messages,
    llm_judge,
    locate_quote,
    split_claims,
    support_score,
    verify_citations,
)
from ingest.core.errors import InputError
from ingest.core.records import Answer, ContinuationScores, Message, Passage, WarningKind
from tests.fakes import ScriptedLLM, pipeline_over

P1 = "The Kittiwake entered service in April. It carries 210 passengers and a crew of six."
P2 = "The chief safety officer is Hannelore Brisk. She introduced monthly lifeboat drills."
P3 = "Ticket prices will rise by three percent next year to pay for new engines."


def answer(llm: ScriptedLLM, question: str, passages: list[Passage], *, max_answer_tokens: int,
           verify: str = "none", unsupported: str = "flag", **settings: object) -> Answer:
    """The pipeline over fixed passages, answering with a scripted model."""
    return pipeline_over(passages, llm, max_answer_tokens=max_answer_tokens, verify=verify,
                         unsupported=unsupported, **settings).run(question)


def _ps() -> list[Passage]:
    return [Passage(id=f"p{i}", doc_id="d", source="review.pdf", text=t, chars=(i * 100, i * 100 + len(t)), page=i)
            for i, t in enumerate((P1, P2, P3), 1)]


def test_split_claims_attaches_markers_to_their_sentence():
    claims = split_claims("Brisk is the officer [2]. She runs drills.[2][1] Prices rise [3]\n\nNothing else.")
    assert [(c.text, c.numbers) for c in claims] == [
        ("Brisk is the officer.", (2,)), ("She runs drills.", (2, 1)), ("Prices rise", (3,)), ("Nothing else.", ())]
    answer = "Brisk is the officer [2]. She runs drills.[2][1] Prices rise [3]\n\nNothing else."
    assert answer[claims[0].start:claims[0].end] == "Brisk is the officer [2]."
    assert split_claims("") == []


def test_support_needs_the_claims_words_and_numbers():
    assert support_score("The Kittiwake carries 210 passengers.", P1) == 1.0
    assert support_score("The Kittiwake carries 250 passengers.", P1) < 0.5  # wrong number
    assert support_score("Hannelore Brisk is the chief safety officer.", P1) < 0.3
    assert support_score("Yes.", P1) == 1.0  # nothing to check


def test_quote_is_the_supporting_sentence_with_offsets():
    a, b = locate_quote("She introduced monthly lifeboat drills.", P2)
    assert P2[a:b] == "She introduced monthly lifeboat drills."
    a, b = locate_quote("Brisk is in charge of safety.", P2)
    assert P2[a:b] == "The chief safety officer is Hannelore Brisk."


def test_wrong_citation_is_moved_to_the_supporting_passage_and_quoted():
    v = verify_citations("The chief safety officer is Hannelore Brisk [1]. It carries 210 passengers [1].", _ps())
    assert v.text == "The chief safety officer is Hannelore Brisk [2]. It carries 210 passengers [1]."
    assert v.removed == ((0, 1),) and v.added == ((0, 2),) and not v.flagged
    by_n = {c.number: c for c in v.citations}
    assert by_n[2].quote == "The chief safety officer is Hannelore Brisk." and by_n[2].supported
    a, b = by_n[1].quote_chars
    assert P1[a:b] == by_n[1].quote == "It carries 210 passengers and a crew of six."


def test_unsupported_sentence_is_flagged_and_out_of_range_numbers_removed():
    v = verify_citations("The ferry is painted green [2][9]. Prices rise three percent [3].", _ps())
    assert v.text == "The ferry is painted green. Prices rise three percent [3]."
    assert (0, 2) in v.removed and (0, 9) in v.removed
    assert v.flagged == ("The ferry is painted green.",)
    assert [c.number for c in v.citations] == [3]


def test_repair_can_be_turned_off_and_abstentions_lose_markers():
    v = verify_citations("Brisk leads safety drills [1].", _ps(), repair=False)
    assert v.text == "Brisk leads safety drills." and v.flagged and not v.added
    assert verify_citations(f"{NOT_FOUND} [1]", _ps()).text == NOT_FOUND


def test_judge_decides_borderline_citations_only():
    asked: list[tuple[str, str]] = []

    def judge(claim: str, passage: str) -> bool:
        asked.append((claim, passage))
        return True

    # half the words match (borderline): the judge is asked and keeps the citation
    v = verify_citations("Brisk organises evacuation exercises monthly [2].", _ps(), judge=judge)
    assert asked == [("Brisk organises evacuation exercises monthly.", P2)] and v.judge_calls == 1
    assert [c.number for c in v.citations] == [2]
    asked.clear()
    verify_citations("The Kittiwake carries 210 passengers [1].", _ps(), judge=judge)  # clear support: no call
    verify_citations("Tickets get cheaper [2].", _ps(), judge=judge)  # clearly unrelated: no call
    assert asked == []


class _YesNoLLM:
    """A LogitsLLM that answers Yes when the passage mentions Brisk."""

    name = "yes-no"

    def __init__(self) -> None:
        self.calls: list[list[Message]] = []

    def continuation_logprobs(self, messages, continuations, *, assistant_prefix=""):
        self.calls.append(list(messages))
        yes = "Brisk" in messages[1].content
        return ContinuationScores(logprobs=(-0.1, -3.0) if yes else (-3.0, -0.1), prompt_tokens=10, extra_tokens=0,
                                  seconds=0.0)


def test_llm_judge_compares_yes_and_no():
    llm = _YesNoLLM()
    judge = llm_judge(llm)
    assert judge("x", P2) is True and judge("x", P1) is False
    assert llm.calls[0] == judge_messages("x", P2)


@pytest.mark.parametrize("mode", ["lexical", "llm"])
def test_answer_with_verification_reports_changes(mode: str):
    llm = ScriptedLLM("Hannelore Brisk is the chief safety officer [1]. The ferry is painted green [3].")
    result = answer(llm, "Who is the safety officer?", _ps(), max_answer_tokens=50, verify=mode)
    assert result.text == "Hannelore Brisk is the chief safety officer [2]. The ferry is painted green."
    assert [c.passage.id for c in result.citations] == ["p2"] and result.citations[0].supported
    notes = " ".join(result.notes)
    assert f"verify ({mode}): 1 kept; removed 2 unsupported [1, 3]; added [2] to uncited sentences" in notes
    assert [(w.kind, w.detail) for w in result.warnings][-1] == (WarningKind.UNSUPPORTED_SENTENCE,
                                                                 "The ferry is painted green.")
    assert "unsupported sentence: The ferry is painted green." in notes
    if mode == "llm":
        assert result.warnings[0].kind == WarningKind.FEATURE_SKIPPED and "cannot score yes/no" in notes
    assert "verify" in result.timings
    d = result.to_dict()["citations"][0]
    assert d["quote"] == "The chief safety officer is Hannelore Brisk." and d["quote_chars"] == [0, 44]
    assert d["supported"] is True


def test_answer_without_verification_keeps_raw_citations():
    llm = ScriptedLLM("Hannelore Brisk [1].")
    result = answer(llm, "Who?", _ps(), max_answer_tokens=20)
    assert result.text == "Hannelore Brisk [1]." and result.citations[0].supported is None
    with pytest.raises(InputError, match="valid: none, lexical, llm"):
        answer(ScriptedLLM("x"), "Who?", _ps(), max_answer_tokens=20, verify="strict")


def test_unsupported_answer_is_withheld_or_flagged():
    draft = "The ferry was built in Glasgow in 1962 [1]. Its captain is Olaf Berg [2]."
    withheld = answer(ScriptedLLM(draft), "Where was it built?", _ps(), max_answer_tokens=50, verify="lexical",
                      unsupported="abstain")
    assert withheld.text == NOT_FOUND and withheld.citations == ()
    notes = " ".join(withheld.notes)
    assert "no passage supports the answer, so it was withheld" in notes and "Glasgow in 1962" in notes
    assert WarningKind.WITHHELD_UNSUPPORTED in {w.kind for w in withheld.warnings}
    assert withheld.stage("verify").outcome == "withheld"
    flagged = answer(ScriptedLLM(draft), "Where was it built?", _ps(), max_answer_tokens=50, verify="lexical")
    assert flagged.text == "The ferry was built in Glasgow in 1962. Its captain is Olaf Berg."
    assert "unsupported sentence: Its captain is Olaf Berg." in " ".join(flagged.notes)
    # one supported sentence is enough to keep the answer (its unsupported sentence is flagged, not withheld)
    partly = answer(ScriptedLLM("Hannelore Brisk is the chief safety officer [2]. She was born in Oslo [2]."),
                    "Who?", _ps(), max_answer_tokens=50, verify="lexical", unsupported="abstain")
    assert partly.text.startswith("Hannelore Brisk is the chief safety officer [2].")
    abstained = answer(ScriptedLLM(NOT_FOUND), "Who?", _ps(), max_answer_tokens=20, verify="lexical",
                       unsupported="abstain")
    assert abstained.text == NOT_FOUND
    v = verify_citations(draft, _ps())
    assert v.unsupported and (v.factual, v.supported) == (2, 0)
    with pytest.raises(InputError, match="valid: flag, abstain"):
        answer(ScriptedLLM("x"), "Who?", _ps(), max_answer_tokens=20, verify="lexical", unsupported="drop")


class _AnsweringJudge(ScriptedLLM):
    """Answers with a script; asked yes/no whether the passages answer, says Yes only to the officer question."""

    def continuation_logprobs(self, messages, continuations, *, assistant_prefix=""):
        self.judged = list(messages)
        yes = "Question: Who is the safety officer?" in messages[1].content
        return ContinuationScores(logprobs=(-0.1, -3.0) if yes else (-3.0, -0.1), prompt_tokens=10, extra_tokens=0,
                                  seconds=0.0)


def test_supported_answer_to_another_question_is_withheld_by_the_answer_check():
    """A sentence copied from a passage passes the lexical check; the yes/no answer check catches that the
    passage is about something else."""
    draft = "Hannelore Brisk is the chief safety officer [2]."
    kept = answer(_AnsweringJudge(draft), "Who is the safety officer?", _ps(), max_answer_tokens=50,
                  verify="lexical", unsupported="abstain", answer_check="separate")
    assert kept.text == draft and "yes-no margin +2.90" in " ".join(kept.notes)
    assert kept.tokens["answer_check"] == 10
    llm = _AnsweringJudge(draft)
    withheld = answer(llm, "Who built the ferry?", _ps(), max_answer_tokens=50, verify="lexical",
                      unsupported="abstain", answer_check="separate")
    assert withheld.text == NOT_FOUND and withheld.citations == () and withheld.draft == draft
    assert [w.kind for w in withheld.warnings] == [WarningKind.WITHHELD_NOT_ANSWERED]
    assert "do not answer the question" in str(withheld.warnings[0]) and "Brisk" in str(withheld.warnings[0])
    assert withheld.stage("answer_check").outcome == "withheld"
    assert llm.judged == answers_messages("Who built the ferry?", [_ps()[1]])  # only the cited passage is shown
    flagged = answer(_AnsweringJudge(draft), "Who built the ferry?", _ps(), max_answer_tokens=50, verify="lexical")
    assert flagged.text == draft  # the answer check belongs to unsupported="abstain"
    plain = answer(ScriptedLLM(draft), "Who built the ferry?", _ps(), max_answer_tokens=50, verify="lexical",
                   unsupported="abstain")
    assert plain.text == draft and "cannot score yes/no; skipped" in " ".join(plain.notes)


class _FoldedJudge(ScriptedLLM):
    """Answers with a script; asked after its answer whether the passages state it, says Yes only when the
    question it answered was the officer question."""

    def continuation_logprobs(self, messages, continuations, *, assistant_prefix=""):
        self.judged = list(messages)
        yes = "Question: Who is the safety officer?" in messages[1].content
        return ContinuationScores(logprobs=(-0.1, -3.0) if yes else (-3.0, -0.1), prompt_tokens=90, extra_tokens=0,
                                  seconds=0.0, cached_tokens=80)


def test_the_folded_answer_check_continues_the_answers_own_conversation():
    draft = "Hannelore Brisk is the chief safety officer [2]."
    llm = _FoldedJudge(draft)
    withheld = answer(llm, "Who built the ferry?", _ps(), max_answer_tokens=50, verify="lexical",
                      unsupported="abstain", answer_check="folded")
    assert withheld.text == NOT_FOUND and withheld.stage("answer_check").method == "yes-no after the answer"
    assert llm.judged == folded_messages(llm.calls[0], draft)  # the answer's prompt, its answer, the check
    assert "80 of 90 prompt tokens reused from the model's cache" in " ".join(withheld.notes)
    assert withheld.stage("answer_check").cached_tokens == 80  # typed, for benchmarks and the API
    read = sum(s.prompt_tokens for s in withheld.trace) - 80
    assert withheld.tokens["read"] == read < withheld.tokens["prompt"] + withheld.tokens["answer_check"]
    kept = answer(_FoldedJudge(draft), "Who is the safety officer?", _ps(), max_answer_tokens=50,
                  verify="lexical", unsupported="abstain", answer_check="folded")
    assert kept.text == draft
    off = answer(_FoldedJudge(draft), "Who built the ferry?", _ps(), max_answer_tokens=50, verify="lexical",
                 unsupported="abstain", answer_check="none")
    assert off.text == draft and off.stage("answer_check").outcome == "skipped"


def test_a_table_citation_quotes_the_row_that_supports_it_not_the_whole_table():
    text = "Month | Visitors | Tours\nJuly | 4,410 | 31\nAugust | 4,810 | 35\nTotal | 9,220 | 66"
    table = Passage(id="t", doc_id="d", source="visitors.xlsx", text=text, chars=(0, len(text)), kind="table")
    v = verify_citations("August had 4,810 visitors [1].", [table])
    (c,) = v.citations
    assert c.quote == "August | 4,810 | 35" and text[slice(*c.quote_chars)] == c.quote
