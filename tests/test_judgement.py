"""Judgement questions (issue 24 item 5): concept -> plan, the verdict and answer assembly, and the stage."""

from __future__ import annotations

import pytest

from app.figures_stage import MODEL_NAME, _Numbering
from generation.judgement import Value, judgement_text, plan_judgement, section_sentences, verdict
from ingest.core.records import Citation, Passage
from ingest.core.text import sentence_spans
from retrieval.scope import Scope
from tests.fakes import ScriptedLLM, pipeline_over
from tests.test_figures import BALANCE, CASH, DOC, INCOME, table

# ----------------------------------------------------------------------------------------------- the plan


@pytest.mark.parametrize(("question", "kind", "formulas"), [
    ("Is the company capital-intensive based on FY2022 data?", "concept",
     ["capex_2022 / revenue_2022", "ppe_2022 / total_assets_2022"]),
    ("Does Acme have a healthy liquidity profile based on FY2021 data?", "concept",
     ["total_current_assets_2021 / total_current_liabilities_2021",
      "(cash_2021 + short_term_investments_2021 + receivables_2021) / total_current_liabilities_2021",
      "cash_2021"]),
    ("Is Acme highly leveraged as of FY2020?", "concept",
     ["total_liabilities_2020 / equity_2020", "operating_income_2020 / interest_expense_2020"]),
    ("Does Acme have an improving operating margin profile as of FY2022?", "trend",
     ["operating_income_2021 / revenue_2021", "operating_income_2022 / revenue_2022"]),
    ("How much has the effective tax rate of Acme changed between FY2021 and FY2022?", "trend",
     ["income_tax_2021 / pretax_income_2021", "income_tax_2022 / pretax_income_2022"]),
    ("Are Acme's gross margins historically consistent as of FY2023?", "trend",
     ["(revenue_2021 - cogs_2021) / revenue_2021", "(revenue_2022 - cogs_2022) / revenue_2022",
      "(revenue_2023 - cogs_2023) / revenue_2023"]),
    ("Does Acme have positive working capital based on FY2022 data?", "sign",
     ["total_current_assets_2022 - total_current_liabilities_2022"]),
    ("Does Acme have an improving free cash flow conversion as of FY2022?", "trend",
     ["(cfo_2021 - capex_2021) / net_income_2021", "(cfo_2022 - capex_2022) / net_income_2022"]),
    # a concept's direction, not its level
    ("Is Acme's leverage rising, judging by its balance sheet at the end of 2020?", "trend",
     ["total_liabilities_2019 / equity_2019", "total_liabilities_2020 / equity_2020"]),
    ("Is Acme highly leveraged despite higher interest rates in FY2020?", "concept",
     ["total_liabilities_2020 / equity_2020", "operating_income_2020 / interest_expense_2020"]),
])
def test_a_judgement_concept_becomes_the_metrics_that_define_it(question, kind, formulas):
    j = plan_judgement(question)
    assert j is not None and j.kind == kind
    assert [p.formula for p in j.plans] == formulas
    assert all(p.source for p in j.plans)  # the metric's name: its plausibility range applies


def test_what_drove_plans_the_narrative_search_and_the_figures_it_is_about():
    j = plan_judgement("What drove the reduction in SG&A expense as a percent of net sales in FY2023?")
    assert j is not None and j.kind == "drivers"
    assert [p.formula for p in j.plans] == ["sga_2022 / revenue_2022", "sga_2023 / revenue_2023"]
    assert len(j.sections) == 1 and "SG&A" in j.sections[0] and j.says
    assert any("narrative searched" in line for line in j.describe())


@pytest.mark.parametrize("question", [
    "What is the FY2019 current ratio?",  # a figure, not a judgement: the figures planner's
    "Is the company capital-intensive?",  # no year, none routed
    "Was there any drop in cash between FY2023 and Q2 of FY2024?",  # a quarter against a year
    "Did Acme's wages expense as a percent of net sales increase in FY2023?",  # a share of an unknown item
    "Does the company have a female CEO?",
])
def test_no_judgement_plan_when_unsure(question):
    assert plan_judgement(question) is None


def test_a_caveat_about_the_metric_is_not_a_why_question():
    j = plan_judgement("Does Acme have an improving operating margin profile as of FY2022? If operating margin is "
                       "not a useful metric for a company like this, then state that and explain why.")
    assert j is not None and j.kind == "trend"


def test_the_routed_year_stands_in_for_a_year_not_named():
    j = plan_judgement("Are Acme's gross margins historically consistent (not fluctuating more than roughly 2% each "
                       "year)?", fiscal_year_hint=2023)
    assert j is not None and [p.operands[0].year for p in j.plans] == [2021, 2022, 2023] and j.within == 2.0


# ------------------------------------------------------------------------------------------- the answer

def test_a_concept_verdict_follows_the_stated_rule():
    j = plan_judgement("Is the company capital-intensive based on FY2022 data?")
    low = [Value("capex_to_revenue", 2022, 2.5, "%", ""), Value("ppe_to_assets", 2022, 20.0, "%", "")]
    high = [Value("capex_to_revenue", 2022, 12.0, "%", ""), Value("ppe_to_assets", 2022, 20.0, "%", "")]
    assert verdict(j, low).startswith("No: by the rule used here, the company is not capital-intensive in 2022")
    assert verdict(j, high).startswith("Yes: by the rule used here, the company is capital-intensive")
    assert verdict(j, []) == ""


def test_shareholder_payouts_are_judged_against_free_cash_flow_each_measure_computed_or_skipped():
    j = plan_judgement("Could Acme pay for its 2022 buybacks and dividends out of free cash flow?")
    assert j is not None and j.kind == "concept"
    assert [p.formula for p in j.plans] == ["cfo_2022 - capex_2022",
                                            "(buybacks_2022 + dividends_2022) / (cfo_2022 - capex_2022)",
                                            "buybacks_2022 / (cfo_2022 - capex_2022)"]
    over = [Value("payouts_to_fcf", 2022, 178.0, "%", ""), Value("buybacks_to_fcf", 2022, 128.8, "%", "")]
    assert verdict(j, over).startswith("No: by the rule used here")
    no_dividends = [Value("buybacks_to_fcf", 2022, 88.6, "%", "")]  # a company paying none: buybacks alone
    assert verdict(j, no_dividends).startswith("Yes: by the rule used here")
    assert plan_judgement("Does Acme pay dividends in 2022?") is None


def test_dividend_coverage_answers_the_question_asked_whichever_way_it_is_put():
    covered = plan_judgement("Was Acme's dividend covered in 2019?")
    more = plan_judgement("Did Acme pay out more in dividends than it earned in fiscal 2021?")
    assert covered is not None and more is not None and covered.subject == more.subject == "dividend coverage"
    assert [p.formula for p in more.plans][0] == "dividends_2021 / net_income_2021"
    over = [Value("dividend_payout", 2021, 114.8, "%", "")]
    assert verdict(more, over).startswith("Yes: by the rule used here, the company did not cover its dividends")
    assert verdict(covered, over).startswith("No: by the rule used here, the company did not cover its dividends")
    assert plan_judgement("Could Acme pay for its 2022 buybacks and dividends out of free cash flow?").subject == \
        "shareholder payouts funded by cash flow"


def test_getting_more_of_a_concept_is_its_trend_and_a_named_segment_is_not_judged_by_the_companys_figures():
    j = plan_judgement("Did Acme's balance sheet get more leveraged during fiscal 2016?")
    assert j is not None and j.kind == "trend"
    assert [p.formula for p in j.plans] == ["total_liabilities_2015 / equity_2015",
                                            "total_liabilities_2016 / equity_2016"]
    assert plan_judgement("Was the Blizzard segment becoming less profitable for Acme in 2019?") is None
    why = plan_judgement("Why did Acme's Europe division report an operating loss in 2022?")
    assert why is not None and why.kind == "drivers" and why.plans == ()  # the narrative, not the company's figures


def test_a_trend_says_the_direction_and_answers_the_direction_asked():
    j = plan_judgement("Has Acme's net margin declined as of FY2022?")
    values = [Value("net_margin", 2021, 10.0, "%", ""), Value("net_margin", 2022, 12.5, "%", "")]
    assert verdict(j, values, asks_up=False) == ("No: net margin rose from 10.0% in 2021 to 12.5% in 2022 "
                                                 "(+2.5 percentage points).")
    assert verdict(j, values).startswith("Net margin rose")


def test_consistency_is_judged_on_the_largest_year_to_year_change():
    j = plan_judgement("Are Acme's gross margins historically consistent (not fluctuating more than roughly 2% each "
                       "year) as of FY2023?")
    values = [Value("gross_margin", y, v, "%", "") for y, v in [(2021, 22.4), (2022, 22.5), (2023, 21.4)]]
    assert verdict(j, values).startswith("Yes: gross margin was 22.4% in 2021, 22.5% in 2022, 21.4% in 2023; the "
                                         "largest year-to-year change is 1.1 percentage points (within 2")


def test_the_answer_states_verdict_definition_figures_and_narrative_in_that_order():
    question = "Is Acme capital-intensive based on FY2022 data?"
    j = plan_judgement(question)
    values = [Value("capex_to_revenue", 2022, 2.5, "%", "capex to revenue 2022 = 1 / 40 = 2.50%\ncapex 1 [1]")]
    text = judgement_text(question, j, values, [("We invest in stores.", 2)])
    lines = text.split("\n")
    assert lines[0].startswith("No: by the rule used here")
    assert lines[1].startswith("Definition used: capital intensity here = capex / revenue and PP&E / total assets;")
    assert lines[2:4] == ["capex to revenue 2022 = 1 / 40 = 2.50%", "capex 1 [1]"]
    assert lines[4] == "PP&E / total assets: not computed (an operand was not found in the filing's tables)"
    assert lines[5] == 'The filing says: "We invest in stores." [2]'


def test_section_sentences_keep_the_cue_and_the_question_words():
    text = "Revenue grew. We believe cash flows will be sufficient to meet our needs. Liquidity is fine."
    assert [text[a:b] for a, b in section_sentences(text, sentence_spans(text), {"cash"}, r"sufficient")] == [
        "We believe cash flows will be sufficient to meet our needs."]


def test_several_figures_are_renumbered_into_one_answer():
    a, b, c = (Passage(id=i, doc_id="d", source="s", text=i, chars=(0, 1)) for i in "abc")
    n = _Numbering()
    assert n.add("x [1]; y [2]", [Citation(1, a), Citation(2, b)], [a, b]) == "x [1]; y [2]"
    assert n.add("z [1]; w [2]", [Citation(1, c), Citation(2, a)], [c, a]) == "z [3]; w [1]"
    assert [p.id for p in n.context] == ["a", "b", "c"]
    assert {k: v.passage.id for k, v in n.citations.items()} == {1: "a", 2: "b", 3: "c"}


# --------------------------------------------------------------------------------------------- the stage

FILING = Scope(documents=("d",))  # the question's own filing (routing does this for a named issuer)

LIQUIDITY = Passage(id="liq", doc_id="d", source="/x/d.pdf", chars=(0, 200), page=30, kind="prose",
                    header=f"{DOC} · Item 7 · Liquidity and Capital Resources",
                    text="Liquidity and Capital Resources. We believe that our cash and cash flows from operations "
                         "will be sufficient to meet our cash requirements for the next twelve months.")


def test_a_liquidity_question_is_answered_from_cited_figures_without_the_model():
    llm = ScriptedLLM("should not be used")
    answer = pipeline_over([INCOME, BALANCE, CASH, LIQUIDITY], llm, compute=True).run(
        "Does Acme have a healthy liquidity profile based on FY2019 data?", scope=FILING)
    assert llm.calls == [] and answer.model == MODEL_NAME
    lines = answer.text.split("\n")
    assert lines[0].startswith("Yes: by the rule used here, the company has a healthy liquidity profile in 2019 "
                               "(current ratio 2.74, quick ratio 2.33")
    assert lines[1].startswith("Definition used: liquidity here = current ratio")
    assert "current ratio 2019 = total current assets 2019 / total current liabilities 2019 = 8,000 / 2,915 = 2.74" \
        in answer.text
    assert 'The filing says: "We believe that our cash' in answer.text
    assert {c.passage.id for c in answer.citations} == {"bal", "liq"}
    figures = answer.stage("figures")
    assert figures.method == "judgement" and figures.outcome == "ok"
    assert any(d.startswith("judgement (concept): liquidity") for d in figures.details)


def test_a_trend_question_computes_both_years():
    llm = ScriptedLLM("should not be used")
    answer = pipeline_over([INCOME, BALANCE, CASH], llm, compute=True).run(
        "Does Acme have an improving operating margin as of FY2019?")
    assert llm.calls == []
    assert answer.text.startswith("No: operating margin fell from 26.5% in 2018 to 24.8% in 2019")


def test_what_drove_goes_to_the_model_with_the_narrative_first():
    why = table("why", "Operating income decreased in 2019 primarily due to higher product costs and lower sales "
                       "of our older titles.", kind="prose", header=f"{DOC} · Item 7 · Results of Operations")
    llm = ScriptedLLM("Higher product costs [1].")
    answer = pipeline_over([INCOME, BALANCE, CASH, why], llm, compute=True).run(
        "What drove the decrease in operating income in FY2019?", scope=FILING)
    assert len(llm.calls) == 1
    figures = answer.stage("figures")
    assert figures.method == "judgement" and figures.outcome == "incomplete"
    assert "primarily due to higher product costs" in llm.calls[0][1].content


def test_what_drove_falls_back_to_the_figures_and_the_filings_words_when_the_models_answer_is_withheld():
    why = table("why", "Operating income decreased in 2019 primarily due to higher product costs and lower sales "
                       "of our older titles.", kind="prose", header=f"{DOC} · Item 7 · Results of Operations")
    llm = ScriptedLLM("Operating income fell because of a strike at the Ohio plant [1].")  # not in the passage
    answer = pipeline_over([INCOME, BALANCE, CASH, why], llm, compute=True).run(
        "What drove the decrease in operating income in FY2019?", scope=FILING)
    assert len(llm.calls) == 1 and answer.stage("verify").outcome == "withheld"
    assert answer.text.startswith("Operating income fell from 1,988 million in 2018 to 1,607 million in 2019")
    assert 'The filing says: "Operating income decreased in 2019 primarily due to higher product costs' in answer.text
    assert {c.passage.id for c in answer.citations} == {"inc", "why"}
    kept = ScriptedLLM("Higher product costs and lower sales of older titles [4].")
    answer = pipeline_over([INCOME, BALANCE, CASH, why], kept, compute=True).run(
        "What drove the decrease in operating income in FY2019?", scope=FILING)
    assert answer.text.startswith("Higher product costs")  # the model's answer, when it stands


def test_no_narrative_is_read_from_a_guessed_filing():
    llm = ScriptedLLM("should not be used")
    answer = pipeline_over([INCOME, BALANCE, CASH, LIQUIDITY], llm, compute=True).run(
        "Does Acme have a healthy liquidity profile based on FY2019 data?")
    assert answer.text.startswith("Yes: by the rule used here") and "The filing says" not in answer.text


def test_which_activity_brought_in_the_most_cash_is_a_comparison_of_three_lookups():
    question = "Among operations, investing, and financing activities, which brought in the most cash in FY2023?"
    j = plan_judgement(question)
    assert j is not None and j.kind == "compare" and [p.formula for p in j.plans] == ["cfo_2023", "cfi_2023",
                                                                                      "cff_2023"]
    values = [Value("cfo", 2023, 1824, "$ million", ""), Value("cfi", 2023, -962, "$ million", ""),
              Value("cff", 2023, -1806, "$ million", "")]
    assert verdict(j, values) == ("Operating activities: $1,824 million in 2023, the largest (against investing "
                                  "activities -$962 million, financing activities -$1,806 million).")
    assert verdict(j, values[:2]) == ""  # all three, or no verdict


def test_cash_flow_totals_are_read_under_their_total_labels():
    cash = table("cf2", "CONSOLIDATED STATEMENTS OF CASH FLOWS\n($ in millions)\n2019 2018\n"
                        "Total cash provided by operating activities 1,824 3,252\n"
                        "Total cash used in investing activities (962) (1,372)\n"
                        "Total cash used in financing activities (1,806) (4,297)",
                 header=f"{DOC} · Item 8 · Consolidated Statements of Cash Flows ($ in millions) | 2019 2018")
    llm = ScriptedLLM("should not be used")
    answer = pipeline_over([INCOME, BALANCE, cash], llm, compute=True).run(
        "Among operating, investing and financing activities, which brought in the most cash in FY2019?")
    assert llm.calls == []
    assert answer.text.startswith("Operating activities: 1,824 million in 2019, the largest")


def test_a_10q_row_without_period_lengths_gives_the_quarter_then_the_year_to_date():
    from generation.figures import find_operand, plan_question

    tenq = table("q2", "CONDENSED CONSOLIDATED STATEMENTS OF OPERATIONS\n(In millions)\n"
                       "June 30, 2023 June 30, 2022 June 30, 2023 June 30, 2022\nNet revenues 1,010 900 1,990 1,700",
                 header="ACME CORP 10-Q 2023Q2 · Item 1 · CONDENSED CONSOLIDATED STATEMENTS OF OPERATIONS")
    for question, cell in [("What was the total revenue for the six months ended June 30, 2023?", "1,990"),
                           ("What was the total revenue for the three months ended June 30, 2022?", "900")]:
        plan = plan_question(question)
        operand = plan.operands[0]
        found = find_operand(operand.item, operand.year, [tenq], months=plan.months)
        assert found is not None and found.text == cell


def test_a_tax_rate_is_stated_in_percent_and_its_expense_in_parentheses_counts_by_magnitude():
    income = table("inc2", "CONSOLIDATED STATEMENTS OF INCOME\n(In millions)\n2019 2018\n"
                           "Income before income taxes 1,797 2,426\nProvision for income taxes (411) (491)\n"
                           "Net income 1,386 1,935",
                   header=f"{DOC} · Item 8 · CONSOLIDATED STATEMENTS OF INCOME (In millions) | 2019 2018")
    llm = ScriptedLLM("should not be used")
    answer = pipeline_over([income, BALANCE], llm, compute=True).run("What is the FY2019 effective tax rate?")
    assert llm.calls == [] and answer.calculation is not None
    assert answer.calculation.text == "22.87%"  # 411 / 1,797, not -0.23


def test_a_concept_judged_on_the_measure_the_question_names():
    question = "Does Acme have a reasonably healthy liquidity profile based on its quick ratio for FY22?"
    j = plan_judgement(question)
    assert j is not None and j.kind == "concept" and j.focus == "quick_ratio"
    values = [Value("current_ratio", 2022, 2.36, "", ""), Value("quick_ratio", 2022, 0.9, "", "")]
    text = judgement_text(question, j, values)
    assert text.startswith("No: by the rule used here, the company does not have a healthy liquidity profile")
    assert "judged here on quick ratio as the question asks" in text


def test_how_much_an_amount_changed_gives_both_years_the_difference_and_the_percent():
    j = plan_judgement("How much did revenue change between FY2022 and FY2023?")
    values = [Value("revenue", 2022, 46298, "$ million", ""), Value("revenue", 2023, 51761, "$ million", "")]
    assert verdict(j, values) == ("Total revenue rose from $46,298 million in 2022 to $51,761 million in 2023 "
                                  "(+$5,463 million, +11.8%).")


@pytest.mark.parametrize("question, kind, first", [
    ("Acme FY2017: is its operating profitability actually improving, or just revenue?", "trend",
     "operating_margin_2016"),
    ("Did Acme's balance sheet get stronger during 2021?", "trend", "debt_to_equity_2020"),
    ("Did Acme deleverage in 2021?", "trend", "debt_to_equity_2020"),
    ("Was Acme's gross margin percentage eroding in fiscal 2016?", "trend", "gross_margin_2015"),
    ("Were Acme's 2020 earnings backed by cash?", "concept", "cash_backing_2020"),
    ("Is Acme's interest burden becoming a problem as of 2017?", "concept", "debt_to_equity_2017"),
])
def test_judgements_asked_in_other_words(question, kind, first):
    j = plan_judgement(question)
    assert j is not None and j.kind == kind and j.plans[0].label == first


def test_a_stronger_balance_sheet_is_a_fall_in_leverage():
    q = "Did Acme's balance sheet get stronger during 2021?"
    j = plan_judgement(q)
    values = [Value("debt_to_equity", 2020, 7.43, "", ""), Value("debt_to_equity", 2021, 3.64, "", "")]
    assert judgement_text(q, j, values).startswith("Yes: total liabilities / equity fell")
    assert judgement_text("Did Acme's balance sheet get weaker during 2021?", j, values).startswith("No:")


def test_an_interest_burden_is_judged_by_interest_coverage():
    j = plan_judgement("Is Acme's interest burden becoming a problem as of 2017?")
    assert j.focus == "interest_coverage"
    values = [Value("debt_to_equity", 2017, 4.31, "", ""), Value("interest_coverage", 2017, 3.52, "", "")]
    assert judgement_text("Is Acme's interest burden becoming a problem as of 2017?", j, values).startswith("No:")
