"""Line items the glossary does not know, read from the rows a filing prints (generation/printed_rows.py) and
answered by the figures stage from the question's own filing."""

from __future__ import annotations

import pytest

from app.factory import build_pipeline
from app.figures_stage import MODEL_NAME, filing_row_labels
from generation.figures import plan_question
from generation.printed_rows import label_key, plan_printed_row, printed_rows_named, row_item
from ingest.core.settings import Settings
from retrieval.scope import Scope
from tests.fakes import FakeEmbedder, ScriptedLLM, pipeline_over
from tests.test_figures import BALANCE, CASH, DOC, INCOME, _Routed, table

LABELS = {"Net revenues": "income", "Product development": "income", "Deferred revenues": "balance",
          "Total noninterest revenue": "income", "Noninterest revenue": "", "North America": "",
          "Additions to property and equipment": "cash", "Fiscal 2019": ""}


def test_a_label_key_is_the_labels_words_singular_without_a_leading_less_or_total():
    assert label_key("Less: Unredeemed gift card liabilities") == ("unredeemed", "gift", "card", "liability")
    assert label_key("Total noninterest revenue") == label_key("Noninterest revenues") == ("noninterest", "revenue")
    assert label_key("Goodwill") == () and label_key("Fiscal 2019") == ()  # one word; a year
    assert label_key("Other (1,115) — Total deferred tax liabilities") == ()  # a label that swallowed cells


def test_a_name_in_capitals_or_across_a_glossary_name_is_no_printed_row():
    assert printed_rows_named("What was revenue in North America in 2019?", LABELS) == []
    # "net revenues" is the glossary's own name for revenue: no printed row stands in for it
    q = "What were Acme's net revenues in 2019?"
    assert plan_printed_row(q, LABELS, planned=plan_question(q)) is None
    # the question plans a glossary item elsewhere, and names a printed row beside it: the glossary's plan stands
    q = "What was Acme's operating income in 2019, before product development?"
    assert plan_printed_row(q, LABELS, planned=plan_question(q)) is None


@pytest.mark.parametrize(("question", "formula", "statement"), [
    ("How much did Acme carry in deferred revenues at December 31, 2019?", "deferred_revenues_2019", "balance"),
    ("What was Acme's total noninterest revenue for the six months ended June 30, 2019?",
     "total_noninterest_revenue_2019", "income"),
    ("What share of its 2019 net revenues did Acme spend on product development?",
     "product_development_2019 / revenue_2019", "income"),
    ("What were Acme's additions to property and equipment as a percentage of total revenue in 2019?",
     "additions_to_property_and_equipment_2019 / revenue_2019", "cash"),
    ("By what percentage did product development grow in 2019?",
     "(product_development_2019 - product_development_2018) / product_development_2018", "income"),
])
def test_a_printed_row_is_planned_where_the_glossary_would_be(question, formula, statement):
    plan = plan_printed_row(question, LABELS, planned=plan_question(question))
    assert plan is not None and plan.printed and plan.formula == formula
    assert plan.operands[0].item.statement == statement


def test_a_row_item_reads_its_own_labels_and_an_outflow_by_its_name():
    item = row_item("additions to property and equipment", ["Less: Additions to property and equipment"])
    assert item.outflow and item.key == "additions_to_property_and_equipment"
    assert item.labels == (r"(?:(?:less|add|plus|deduct) )?additions\ to\ property\ and\ equipment",)


COST = "Cost of revenues 1,200 1,300 1,400\n"
PRODUCT = table("inc2", INCOME.text.replace(COST, f"{COST}Product development 998 1,101 1,069\n"), header=INCOME.header)
NOTE = table("note", "Share-based compensation expense by line (in millions)\n2019 2018 2017\n"
                     "Product development 53 74 63", header=f"{DOC} · Item 8 · Notes · Share-based compensation")


def test_the_filings_labels_carry_the_statement_whose_pages_print_them():
    labels = filing_row_labels([NOTE, PRODUCT, BALANCE])
    assert labels["Product development"] == "income" and labels["Total current assets"] == "balance"


def test_the_stage_answers_a_printed_row_from_its_statement_not_a_notes_table():
    llm = ScriptedLLM("should not be used")
    answer = pipeline_over([NOTE, PRODUCT, BALANCE, CASH], llm, compute=True).run(
        "What share of its 2019 total net revenues did Acme spend on product development?",
        scope=Scope(documents=("d",)))
    assert llm.calls == [] and answer.model == MODEL_NAME
    assert answer.calculation is not None and answer.calculation.text == "15.38%"  # 998 / 6,489
    assert {c.passage.id for c in answer.citations} == {"inc2"}


def test_a_printed_row_without_the_years_column_goes_to_the_model_not_to_a_refusal():
    llm = ScriptedLLM("Product development was $998 million in 2019 [1].")
    answer = pipeline_over([NOTE, PRODUCT, BALANCE, CASH], llm, compute=True).run(
        "What did Acme spend on product development in 2015?", scope=Scope(documents=("d",)))
    assert len(llm.calls) == 1 and answer.stage("figures").outcome == "incomplete"


def test_what_holds_a_row_and_what_kind_it_is_do_not_take_the_question_from_it():
    """Named after the row, "in current liabilities" holds it and "revenue" says what kind it is: the row is asked."""
    held = "What balance of deferred revenues did Acme carry in current liabilities at December 31, 2019?"
    assert plan_printed_row(held, {"Deferred revenues": "balance"}, planned=plan_question(held)).formula == \
        "deferred_revenues_2019"
    kind = "How fast did Acme's membership fee revenue grow in fiscal 2019?"
    plan = plan_printed_row(kind, {"Membership fees": "income"}, planned=plan_question(kind))
    assert plan is not None and plan.formula == \
        "(membership_fee_2019 - membership_fee_2018) / membership_fee_2018"
    # a row that prints a metric the glossary computes is not read as a figure
    rate = "What was Acme's gross profit rate in 2019?"
    assert plan_printed_row(rate, {"Gross profit rate": ""}, planned=plan_question(rate)) is None


def test_a_part_named_beside_a_printed_row_goes_to_the_model_not_the_companys_total():
    fees = table("fees", "CONSOLIDATED STATEMENTS OF INCOME\n(In millions)\n2019 2018\nNet sales 6,000 5,500\n"
                         "Membership fees 3,877 3,541\nTotal revenue 9,877 9,041",
                 header=f"{DOC} · Item 8 · CONSOLIDATED STATEMENTS OF INCOME | 2019 2018")
    llm = ScriptedLLM("The document does not say.")
    searcher = _Routed([fees])
    pipe = build_pipeline(Settings().replace(answer={"evidence_tokens": 0, "compute": True}), retriever=searcher,
                          corpus=searcher, embedder=FakeEmbedder(), llm=llm)
    answer = pipe.run("How much of Acme's 2019 membership fee revenue came from Executive memberships?")
    assert answer.calculation is None and len(llm.calls) == 1 and answer.stage("figures").outcome == "a part asked"
    total = pipe.run("How much membership fee revenue did Acme book in 2019?")  # the row itself, no part named
    assert total.calculation is not None and total.calculation.result == 3877
