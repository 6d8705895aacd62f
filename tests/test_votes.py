"""Shareholder vote results read from a filing's tallies (generation/votes.py), answered by the figures stage."""

from __future__ import annotations

from app.figures_stage import MODEL_NAME
from generation.votes import plan_vote, read_tallies
from ingest.core.records import Passage
from retrieval.scope import Scope
from tests.fakes import ScriptedLLM, pipeline_over

HEADER = "ACME CORP 8-K May 20, 2022 · CURRENT REPORT"


def prose(pid: str, text: str, start: int) -> Passage:
    return Passage(id=pid, doc_id="d", source="/x/d.pdf", text=text, chars=(start, start + len(text)), page=2,
                   header=HEADER)


# the header of a frequency vote wraps over lines; the nominees go on into the next passage, and it repeats the
# end of the one before
ROWS = prose("a", "Item 5.07. Submission of Matters to a Vote of Security Holders.\n"
                  "Proposal 1. With respect to the proposal to elect nominees to the Board, the votes were cast as "
                  "set forth below:\nName Votes For Votes Against Abstentions Broker Non-Votes\n"
                  "Jane Q. Doe 59,657,810 294,935 10,714,238 6,884,223\n", 0)
MORE = prose("b", "Jane Q. Doe 59,657,810 294,935 10,714,238 6,884,223\n"
                  "Richard A. Roe 54,484,293 16,105,005 77,685 6,884,223\n"
                  "Proposal 2. With respect to the proposal, on an advisory basis, whether the shareholder vote to "
                  "approve the NEOs' compensation should occur every 1, 2, or 3 years, the votes were cast as below:\n"
                  "Votes For\n1 Year\nVotes For\n2 Years\nVotes For\n3 Years Abstentions Broker Non-Votes\n"
                  "66,076,265 43,060 4,352,683 194,975 6,884,223\n"
                  "Proposal 3. With respect to the proposal to ratify the appointment of KPMG LLP as the Company's "
                  "independent registered public accounting firm, the votes were cast as set forth below:\n"
                  "Votes For Votes Against Abstentions\n75,612,318 1,854,695 84,193\n", 300)
# one line per column, each proposal numbered in brackets
LINES = prose("c", "(4) The shareholder proposal regarding a global transparency report was defeated:\n"
                   "For 185,034,699\nAgainst 814,416,953\nAbstain 20,696,237\nBroker Non-Votes 172,969,325\n", 900)
PASSAGES = [ROWS, MORE, LINES]


def test_tallies_are_read_in_both_layouts_each_once_with_what_they_are_a_vote_on():
    tallies = read_tallies(PASSAGES)
    assert [t.nominee for t in tallies[:2]] == ["Jane Q. Doe", "Richard A. Roe"]  # Jane once, not twice
    frequency, auditor, report = tallies[2:]
    assert [(c.column, c.value) for c in frequency.counts][:3] == [("1 year", 66076265), ("2 years", 43060),
                                                                   ("3 years", 4352683)]
    assert auditor.subject.startswith("Proposal 3. With respect to the proposal to ratify the appointment of KPMG")
    assert report.subject.startswith("(4) The shareholder proposal regarding a global transparency report")
    for t in tallies:  # every count's span is where it is printed
        assert all(t.passage.text[c.start:c.end].replace(",", "") == str(c.value) for c in t.counts)


def test_a_question_picks_its_tally_column_and_share():
    tallies = read_tallies(PASSAGES)
    plan = plan_vote("How many votes were cast for holding the say-on-pay vote every three years?", tallies)
    assert plan is not None and plan.block(1) == "OPERAND votes_3_years = 4,352,683 [1]\nFORMULA votes_3_years = " \
                                                 "votes_3_years"
    plan = plan_vote("How many votes were cast against Richard A. Roe?", tallies)
    assert plan is not None and plan.operands[0][1].value == 16105005
    plan = plan_vote("What percentage of the for-plus-against votes supported the shareholder proposal for a global "
                     "transparency report?", tallies)
    assert plan is not None and plan.formula == "votes_for / (votes_for + votes_against)"
    assert plan_vote("How many votes did the merger get?", tallies) is None  # no tally names a merger


def test_the_stage_answers_a_votes_share_from_its_tally_without_the_model():
    llm = ScriptedLLM("should not be used")
    answer = pipeline_over(PASSAGES, llm, compute=True).run(
        "What percentage of the votes cast for or against backed the ratification of KPMG as auditor?",
        scope=Scope(documents=("d",)))
    assert llm.calls == [] and answer.model == MODEL_NAME
    assert answer.calculation is not None and answer.calculation.text == "97.61%"  # 75,612,318 / 77,467,013
    assert "Definition used: the share of the votes cast for or against" in answer.text
    assert [c.passage.id for c in answer.citations] == ["b"]
