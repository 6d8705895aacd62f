"""Planned evidence (issue 24, item 1): a profile's evidence planner names what a question needs, the searcher
searches each need on its own inside the routed filing and fuses the hits by quota; the filings profile's planner
plans the statements of a figure's line items and the narrative a judgement reads."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import pytest

from app.profiles import STATEMENTS, FilingsEvidence, filings_profile, general_profile
from ingest.core.protocols import EvidenceNeed, EvidencePlanner
from ingest.core.records import Passage, Ranked
from ingest.core.settings import IngestSettings, SearchSettings, SplitSettings
from ingest.describe import FilingsDescriber
from ingest.split import DocumentSplitter, ProseSplitter
from retrieval.build import build_index
from retrieval.fusion import quota_fuse
from retrieval.route import FilingsRouter
from retrieval.scope import Scope
from retrieval.search import Searcher, is_question, title_rank
from retrieval.store import IndexReader
from tests.fakes import FakeEmbedder

FILLER = " ".join(f"word{i}" for i in range(30))
TEXTS = {
    "ACME_2019_10K.txt": (
        "ACME Corp annual report for fiscal 2019.\n\n"
        f"ACME turbine revenue grew in fiscal 2019 as turbine demand rose. {FILLER}\n\n"
        f"Turbine revenue by region was strongest in the north. {FILLER}\n\n"
        "CONSOLIDATED BALANCE SHEETS\nTotal current assets 900\nTotal current liabilities 450\n"),
    "GLOBEX_2019_10K.txt": "Globex annual report for fiscal 2019.\n\nGlobex turbine revenue in fiscal 2019 was 75.\n",
}


class BalanceSheetPlanner:
    """Plans one need: the balance sheet, its title ranked first."""

    name = "test"

    def __init__(self) -> None:
        self.asked: list[str] = []

    def plan(self, question: str) -> Sequence[EvidenceNeed]:
        self.asked.append(question)
        return [EvidenceNeed("balance statement", "balance sheets current assets current liabilities", ("table",),
                             r"balance sheets?")]


@pytest.fixture(scope="module")
def reader(tmp_path_factory: pytest.TempPathFactory) -> IndexReader:
    root = tmp_path_factory.mktemp("planned")
    for name, text in TEXTS.items():
        (root / name).write_text(text)
    embedder = FakeEmbedder()
    s = SplitSettings(chunk_tokens=20, overlap_tokens=2)
    build_index([root / n for n in TEXTS], root / "idx", embedder=embedder,
                splitter=DocumentSplitter(s, ProseSplitter(s, embedder.count_tokens)),
                ingest=IngestSettings(isolate=False), describer=FilingsDescriber())
    return IndexReader(root / "idx")


def searcher(reader: IndexReader, planner: EvidencePlanner | None) -> Searcher:
    return Searcher(reader, FakeEmbedder(), SearchSettings(), router=FilingsRouter(), planner=planner)


def pages_of(hits: list[Ranked]) -> list[str]:
    return [h.passage.text.split("\n", 1)[0] for h in hits]


def test_a_routed_question_holds_each_planned_need(reader: IndexReader) -> None:
    question = "How did ACME turbine revenue develop in fiscal 2019?"
    plain = searcher(reader, None).retrieve(question, 2)
    assert not plain.planned and not any("BALANCE" in t for t in pages_of(plain.hits))
    planner = BalanceSheetPlanner()
    found = searcher(reader, planner).retrieve(question, 2)
    assert found.planned and planner.asked == [question]
    assert found.hits[0].passage.id == plain.hits[0].passage.id  # the question's own best hit leads
    assert "CONSOLIDATED BALANCE SHEETS" in pages_of(found.hits)  # the need's piece is in the k
    assert all(Path(h.passage.source).name == "ACME_2019_10K.txt" for h in found.hits)
    assert any(d.startswith("evidence plan (test)") for d in found.details)
    assert any(d.startswith("need balance statement: 'balance sheets") and "ACME_2019_10K" in d for d in found.details)
    assert [h.score for h in found.hits] == sorted((h.score for h in found.hits), reverse=True)


def test_keyword_queries_plain_search_and_unrouted_questions_are_not_planned(reader: IndexReader) -> None:
    planner = BalanceSheetPlanner()
    s = searcher(reader, planner)
    assert not s.retrieve("ACME turbine revenue fiscal 2019", 2).planned  # a shortcut's own query
    assert not s.retrieve("How did ACME turbine revenue develop in fiscal 2019?", 2, plan=False).planned
    s.search("How did ACME turbine revenue develop in fiscal 2019?", 2)  # the search API: what the query finds
    assert not s.retrieve("How did turbine revenue develop?", 2).planned  # no issuer named: not routed
    assert planner.asked == []


class BrokenPlanner:
    name = "broken"

    def plan(self, question: str) -> Sequence[EvidenceNeed]:
        raise ValueError("no plan")


def test_a_failing_planner_leaves_the_search_as_it_is(reader: IndexReader) -> None:
    question = "How did ACME turbine revenue develop in fiscal 2019?"
    plain = searcher(reader, None).retrieve(question, 2)
    s = Searcher(reader, FakeEmbedder(), SearchSettings(), router=FilingsRouter(), planner=BrokenPlanner())
    found = s.retrieve(question, 2)
    assert not found.planned and [h.passage.id for h in found.hits] == [h.passage.id for h in plain.hits]
    assert any("evidence plan (broken) failed (ValueError: no plan)" in d for d in found.details)


def test_a_scope_naming_a_document_is_planned_inside_it(reader: IndexReader) -> None:
    found = searcher(reader, BalanceSheetPlanner()).retrieve("How did turbine revenue develop?", 2,
                                                            scope=Scope(documents=("*ACME_2019*",)))
    assert found.planned and "CONSOLIDATED BALANCE SHEETS" in pages_of(found.hits)


def test_quota_fuse_keeps_the_lead_then_each_need_then_the_rest() -> None:
    p = {n: Passage(id=n, doc_id="d", source="s", text=n, chars=(0, 1)) for n in "abcdefg"}

    def r(*ids: str) -> list[Ranked]:
        return [Ranked(p[i], 1.0) for i in ids]

    assert [h.passage.id for h in quota_fuse(r("a", "b", "c"), [r("d", "e"), r("a", "f")], 5)] == \
        ["a", "d", "f", "b", "c"]
    assert [h.passage.id for h in quota_fuse(r("a", "b"), [r("c"), r("d")], 2)] == ["a", "c"]
    assert [h.passage.id for h in quota_fuse(r("a", "b"), [], 5, lead=2)] == ["a", "b"]
    assert [h.passage.id for h in quota_fuse([], [r("c", "e"), r("d")], 5)] == ["c", "d", "e"]


def test_title_rank_prefers_the_statement_itself_over_a_note_or_a_sentence() -> None:
    income = re.compile(STATEMENTS["income"][1], re.IGNORECASE)

    def passage(text: str, header: str = "") -> Passage:
        return Passage(id="x", doc_id="d", source="s", text=text, chars=(0, 1), header=header)

    assert title_rank(passage("ACME INC.\nCONSOLIDATED STATEMENTS OF OPERATIONS\nRevenue 5"), income) == 0
    assert title_rank(passage("Total stock-based compensation costs that have been included in our Consolidated "
                              "Statements of Income"), income) == 3
    assert title_rank(passage("Revenue 5", "10-K › Item 8 › Notes · CONSOLIDATED STATEMENTS OF INCOME (in"),
                      income) == 1
    assert title_rank(passage("Revenue 5", "10-K › CONSOLIDATED STATEMENTS OF EARNINGS · 2021 2020"), income) == 2
    assert title_rank(passage("Total stock-based compensation costs that have been included in our Consolidated\n"
                              "Statements of Income for fiscal 2016 were as follows"), income) == 3  # wrapped
    assert title_rank(passage("CONSOLIDATED STATEMENTS OF COMPREHENSIVE INCOME\nNet income 5"), income) == 3
    assert title_rank(passage("COMPREHENSIVE INCOME STATEMENTS\nNet income 5"), income) == 3
    balance = re.compile(STATEMENTS["balance"][1], re.IGNORECASE)
    assert title_rank(passage("NOTE 5: Supplemental Balance Sheet Information\nInventories 5"), balance) == 3
    assert title_rank(passage("Condensed Consolidated Balance Sheets\nInventories 5"), balance) == 0


def test_is_question() -> None:
    assert is_question("Does Acme have positive working capital based on FY2022 data?")
    assert is_question("Using the cash flow statement, what was FY2020 capex")
    assert not is_question("consolidated balance sheets total assets total liabilities")


# -- the filings profile's planner (pure) ----------------------------------------------------------------------
def needs(question: str) -> list[tuple[str, str, tuple[str, ...]]]:
    return [(n.label, n.query, n.kinds) for n in FilingsEvidence().plan(question)]


def test_a_ratio_needs_the_statements_of_its_operands() -> None:
    planned = needs("What is the FY2019 fixed asset turnover ratio? Fixed asset turnover ratio is defined as: FY2019 "
                    "revenue / (average PP&E between FY2018 and FY2019).")
    assert [label for label, *_ in planned] == ["income statement", "balance statement"]
    assert all(kinds == ("table",) and query.endswith("2019") for _, query, kinds in planned)
    assert "total revenue" in planned[0][1] and "property and equipment" in planned[1][1]


def test_judgements_need_their_statements_and_their_narrative() -> None:
    liquidity = needs("Does Acme have a healthy liquidity profile based on FY2022 data?")
    assert [label for label, *_ in liquidity] == ["balance statement", "narrative (concept: liquidity)"]
    assert liquidity[1][2] == ("prose",) and "liquidity" in liquidity[1][1]
    drivers = needs("What drove the decline in Acme's operating margin in 2022?")
    assert drivers[0][0] == "income statement" and drivers[-1][0].startswith("narrative (drivers")
    assert needs("Is Acme capital-intensive?")  # no year named: still its statements and section


def test_amounts_the_glossary_does_not_know_need_the_statement_their_words_point_to() -> None:
    assert [label for label, *_ in needs("How much did Acme spend on research and development in fiscal 2016?")] \
        == ["income statement"]
    assert needs("What are the geographies that Acme primarily operates in as of FY2022?") == []
    assert needs("Does Acme's new CEO have previous CEO experience?") == []


def test_a_topic_with_a_section_of_its_own_needs_that_section() -> None:
    assert needs("How many employees did Acme have at the end of 2022?") == [
        ("section (human capital)", "human capital employees workforce headcount number of employees", ())]


def test_the_planner_is_the_filings_profiles_part() -> None:
    assert isinstance(filings_profile().planner, FilingsEvidence)
    assert general_profile().planner is None


class OneNeed:
    """Plans the one need it is given, whatever the question."""

    name = "one"

    def __init__(self, need: EvidenceNeed) -> None:
        self.need = need

    def plan(self, question: str) -> Sequence[EvidenceNeed]:
        return [self.need]


def test_a_need_stated_in_one_sentence_is_found_first_and_kept_for_the_context(reader: IndexReader) -> None:
    need = EvidenceNeed("region", "region", states=r"strongest in the \w+")
    found = searcher(reader, OneNeed(need)).retrieve("How did ACME turbine revenue develop in fiscal 2019?", 2)
    assert found.planned and [p.text[a:b] for p, (a, b) in found.stated] == [
        "Turbine revenue by region was strongest in the north."]
    assert any(d.startswith("need region: stated in 1 sentence(s)") for d in found.details)
    plain = searcher(reader, BalanceSheetPlanner()).retrieve("How did ACME turbine revenue develop in fiscal 2019?", 2)
    assert plain.stated == ()


@pytest.mark.parametrize("question, label", [
    ("Roughly how many people worked at ACME at the end of 2019?", "section (human capital)"),
    ("How big was ACME's workforce in 2019?", "section (human capital)"),
    ("How many people did ACME employ at the end of 2017?", "section (human capital)"),
    ("How many U.S. patents did ACME hold at the end of 2015?", "section (intellectual property)"),
])
def test_the_filings_planner_knows_how_a_topic_is_stated(question: str, label: str) -> None:
    (need,) = [n for n in FilingsEvidence().plan(question) if n.label == label]
    stated = {"section (human capital)": "As of December 31, 2015, we had approximately 3,700 total employees.",
              "section (intellectual property)": "we had approximately 4,965 patents in the United States"}[label]
    assert re.search(need.states, stated, re.IGNORECASE)
    assert not re.search(need.states, "Our employees are our greatest asset, and we invest in them.", re.IGNORECASE)


def test_another_how_many_question_plans_its_count_by_how_it_is_stated() -> None:
    (need,) = FilingsEvidence().plan("How many Yardbird stores was Acme running at the end of Q2 fiscal 2024?")
    assert need.label == "count (Yardbird stores)" and need.query == "number of Yardbird stores"
    assert re.search(need.states, "We operated 22 Yardbird stores at quarter end.", re.IGNORECASE)
    assert not re.search(need.states, "Yardbird stores opened in 2018 sell furniture.", re.IGNORECASE)
    assert FilingsEvidence().plan("What was revenue in 2019?")[0].states == ""


def test_a_need_its_search_does_not_find_stated_is_read_from_the_routed_document(reader: IndexReader) -> None:
    # a query finding nothing that states it: the documents are read for it
    need = EvidenceNeed("strongest region", "globex quay gulls", states=r"strongest in the \w+")
    found = searcher(reader, OneNeed(need)).retrieve("How did ACME turbine revenue develop in fiscal 2019?", 2)
    assert [p.text[a:b] for p, (a, b) in found.stated] == ["Turbine revenue by region was strongest in the north."]
    assert all(Path(p.source).name == "ACME_2019_10K.txt" for p, _ in found.stated)
