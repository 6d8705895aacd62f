"""The figures planner (generation/figures.py) and its stage in the pipeline (app/figures_stage.py)."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from app.factory import build_pipeline
from app.figures_stage import MODEL_NAME
from generation.compute import calculate
from generation.figures import (
    ITEMS,
    find_operand,
    in_units_asked,
    issuer_dropped,
    part_named,
    plan_part,
    plan_question,
    rank_cells,
    table_rows,
    write_block,
)
from generation.prompt import NOT_FOUND
from generation.table_cells import rank_part_cells
from ingest.core.amounts import stated_scale
from ingest.core.records import Document, PageSpan, Passage, RouteDecision
from ingest.core.settings import Settings, SplitSettings
from ingest.split import ProseSplitter
from ingest.table_rows import column_periods, head_text, table_record
from retrieval.scope import Scope
from retrieval.search import Retrieval
from tests.fakes import FakeEmbedder, ScriptedLLM, StaticSearcher, pipeline_over

DOC = "ACME CORP 10-K FY2019"


def table(pid: str, text: str, *, header: str = "", start: int = 0, kind: str = "table", doc: str = "d",
          page: int = 5) -> Passage:
    """A passage of a whole table, with the record ingest writes for it (a prose passage has none)."""
    record = table_record(text, header.split(" · ")[-1], column_periods(head_text(text)), stated_scale(text),
                          (start, start + len(text))) if kind == "table" else None
    return Passage(id=pid, doc_id=doc, source=f"/x/{doc}.pdf", text=text, chars=(start, start + len(text)),
                   page=page, kind=kind, header=header, table=record)  # type: ignore[arg-type]


INCOME = table("inc", "ACME CORP\nCONSOLIDATED STATEMENTS OF OPERATIONS\n(In millions, except per share data)\n"
                      "For the Years Ended December 31,\n2019 2018 2017\nNet revenues\nProduct sales $ 1,975 $ 2,255 "
                      "$ 2,110\nTotal net revenues 6,489 7,500 7,017\nCost of revenues 1,200 1,300 1,400\n"
                      "Operating income 1,607 1,988 1,309\nNet income $ 1,503 $ 1,848 $ 273",
               header=f"{DOC} · Item 8 · CONSOLIDATED STATEMENTS OF OPERATIONS (In millions) | 2019 2018 2017")
BALANCE = table("bal", "CONSOLIDATED BALANCE SHEETS\n(Amounts in millions)\nAt December 31, 2019 At December 31, 2018\n"
                       "Current assets:\nCash and cash equivalents $ 5,794 $ 4,225\n"
                       "Accounts receivable, net 1,000 900\nInventories 32 43\n"
                       "Total current assets 8,000 7,000\nProperty and equipment, net 253 282\nTotal assets $ 19,845 "
                       "$ 17,890\nCurrent liabilities:\nAccounts payable $ 292 $ 253\nOther current liabilities 50 40\n"
                       "Total current liabilities 2,915 2,642",
                header=f"{DOC} · Item 8 · CONSOLIDATED BALANCE SHEETS (Amounts in millions) | At December 31, 2019")
CASH = table("cf", "CONSOLIDATED STATEMENTS OF CASH FLOWS\n(In millions)\n2019 2018 2017\n"
                   "Depreciation and amortization of property and intangibles 328 370 400\n"
                   "Net cash provided by operating activities 1,831 1,790 2,213\n"
                   "Capital expenditures (116) (131) (155)",
             header=f"{DOC} · Item 8 · CONSOLIDATED STATEMENTS OF CASH FLOWS (In millions) | 2019 2018 2017")
MDNA = table("mdna", "A summary of our cash flows is as follows (in millions):\n2019 2018\n"
                     "Net cash provided by operating activities $ 1.8 $ 1.7\nCapital expenditures (0.1) (0.1)",
             header=f"{DOC} · Item 7. Management's Discussion and Analysis · Liquidity · A summary of our cash flows")


# ------------------------------------------------------------------------------------------------ table rows

def test_rows_take_years_from_the_header_lines_and_read_signs_dashes_and_dollars():
    p = table("t", "Fiscal Years Ended January 28, 2017 January 30, 2016\nMerchandise inventories $ 5,409 $ 5,209\n"
                   "Net loss (619) (601)\nShort-term investments — 2,032")
    rows = {r.label: r for r in table_rows(p)}
    inv = rows["Merchandise inventories"]
    assert [(c.year, c.value) for c in inv.cells] == [(2017, Decimal(5409)), (2016, Decimal(5209))]
    assert p.text[inv.cells[0].start:inv.cells[0].end] == "$ 5,409"
    assert [c.value for c in rows["Net loss"].cells] == [Decimal(-619), Decimal(-601)]
    assert rows["Short-term investments"].cell(2017) is None  # a dash is empty
    assert rows["Short-term investments"].cell(2016).value == Decimal(2032)


def test_a_trailing_percent_column_does_not_shift_the_years():
    p = table("t", "2019 2018 % Change\nNet revenues 6,489 7,500 (13)%")
    (row,) = table_rows(p)
    assert row.cell(2019).text == "6,489" and row.cell(2018).text == "7,500"
    assert row.cells[2].percent and row.cells[2].year is None


def test_years_missing_from_a_cut_header_come_from_the_document_year_and_a_footnote_is_not_a_cell():
    p = table("t", "December 27,\n2014\nDecember 28,\n2013\nNet revenue (1) $ 3,991 $ 5,506 $ 5,299",
              header="AMD 10-K FY2015 · Item 8")
    (row,) = table_rows(p)
    assert [(c.year, c.text) for c in row.cells] == [(2015, "$ 3,991"), (2014, "$ 5,506"), (2013, "$ 5,299")]


def test_a_later_piece_of_a_table_takes_the_years_and_scale_of_the_first_and_total_takes_its_section():
    lines = [f"Line item number {i} of the schedule $ {1000 + i:,} $ {2000 + i:,}" for i in range(12)]
    text = ("Balance Sheets\n(In thousands)\nDecember 31, 2016 2015\nCash $ 452,030 $ 461,329\n" + "\n".join(lines)
            + "\nCurrent liabilities:\nAccounts payable 12,602 18,869\nTotal 577,464 334,202")
    doc = Document(doc_id="d" * 16, source="x.pdf", text=text, kind="pdf", pages=(PageSpan(1, 0, len(text)),))
    settings = SplitSettings(chunk_tokens=40, overlap_tokens=5, headers=False)
    tail = ProseSplitter(settings, lambda t: len(t.split())).split(doc)[-1]
    assert tail.kind == "table" and tail.table is not None and "2016" not in tail.text and "thousand" not in tail.text
    assert tail.table.years == (2016, 2015) and tail.table.scale == "thousand"  # printed only in the first piece
    rows = table_rows(tail)
    assert rows[-1].label == "Total Current liabilities" and rows[-1].cell(2015).value == Decimal(334202)
    found = find_operand(ITEMS["payables"], 2016, [tail])  # its header names the scale: the check reads it there
    assert found is not None and (found.text, found.scale) == ("12,602", "")
    found = find_operand(ITEMS["payables"], 2016, [replace(tail, header="")])  # else the block states the table's
    assert found is not None and (found.text, found.scale) == ("12,602", "thousand")


def test_prose_passages_have_no_rows():
    """Rows come from the table records ingest wrote; a prose passage has none, whatever its lines look like."""
    p = table("t", "Selected data\n2019 2018\nNet sales 1,000 900", kind="prose")
    assert p.table is None and table_rows(p) == [] and find_operand(ITEMS["revenue"], 2018, [p]) is None


def test_cells_come_from_the_table_record_not_from_the_passage_text(monkeypatch):
    import ingest.table_rows
    import ingest.tables

    def parsed(*args: object, **kw: object) -> None:
        raise AssertionError("table text parsed at question time")

    for module, name in [(ingest.table_rows, "line_cells"), (ingest.table_rows, "read_rows"),
                         (ingest.table_rows, "head_text"), (ingest.table_rows, "column_periods"),
                         (ingest.tables, "numeric_cells"), (ingest.tables, "find_tables")]:
        monkeypatch.setattr(module, name, parsed)
    changed = replace(BALANCE, text=BALANCE.text.replace("2,642", "9,999").replace("2019", "1999"))
    tcl = find_operand(ITEMS["total_current_liabilities"], 2018, [changed])
    assert tcl is not None and (tcl.text, tcl.value, tcl.span) == ("2,642", Decimal(2642), (
        BALANCE.text.index("2,642"), BALANCE.text.index("2,642") + 5))  # the record's cell, as ingest read it


# ------------------------------------------------------------------------------------------------- planning

@pytest.mark.parametrize("question, formula", [
    ("What is the FY2019 fixed asset turnover ratio? Fixed asset turnover ratio is defined as: FY2019 revenue / "
     "(average PP&E between FY2018 and FY2019). Round your answer to two decimal places.",
     "revenue_2019 / (avg(ppe_2018, ppe_2019))"),
    ("What is the FY2021 net working capital? Define net working capital as total current assets less total current "
     "liabilities. Answer in USD millions.", "total_current_assets_2021 - total_current_liabilities_2021"),
    ("What is FY2020 days payable outstanding (DPO)? DPO is defined as: 365 * (average accounts payable between FY2019 "
     "and FY2020) / (FY2020 COGS + change in inventory between FY2019 and FY2020).",
     "365 * (avg(payables_2019, payables_2020)) / (cogs_2020 + (inventories_2020 - inventories_2019))"),
    ("What is the FY2016 working capital ratio? Define working capital ratio as total current assets divided by total "
     "current liabilities.", "total_current_assets_2016 / total_current_liabilities_2016"),
    # looser phrasings: "measured as", "counting ... against", "Use ... over", an average of a balance without years
    ("What was the interest coverage in 2020, measured as operating income divided by interest expense?",
     "operating_income_2020 / interest_expense_2020"),
    ("What was the debt-to-equity ratio at the end of 2021, counting current maturities plus long-term debt against "
     "total equity?", "(current_debt_2021 + long_term_debt_2021) / equity_2021"),
    ("How many times did the company turn over its inventory in fiscal 2019? Use cost of goods sold over average "
     "merchandise inventories.", "cogs_2019 / avg(inventories_2018, inventories_2019)"),
    ("What were days sales outstanding for 2022? Use 365 times average accounts and notes receivable divided by net "
     "revenue.", "365 * avg(receivables_2021, receivables_2022) / revenue_2022"),
    ("What were days payable outstanding for fiscal 2023? Use 365 times average accounts payable divided by cost of "
     "sales.", "365 * avg(payables_2022, payables_2023) / cogs_2023"),
    ("What was its return on equity for 2017, defined as net income divided by the average of beginning and ending "
     "stockholders' equity?", "net_income_2017 / avg(equity_2016, equity_2017)"),
    # "taking A over B"; a definition in brackets after the name it defines
    ("What was the FY2016 payout ratio, taking cash dividends declared per share over diluted EPS?",
     "dividends_per_share_2016 / eps_diluted_2016"),
    ("What was its cash conversion in 2021 (cash from operations over net income)?",
     "cfo_2021 / net_income_2021"),
])
def test_a_stated_definition_becomes_the_formula(question, formula):
    plan = plan_question(question)
    assert plan is not None and plan.source == "definition" and plan.formula == formula


def test_a_measure_defined_in_brackets_grows_between_the_periods_the_question_names():
    plan = plan_question("By how much did pre-provision profit (total net revenue minus total noninterest expense) "
                         "grow in the first half of 2023 compared with the first half of 2022?")
    assert plan is not None and plan.label == "pre_provision_profit_growth_2022_2023" and plan.months == 6
    assert plan.formula == ("((revenue_2023 - noninterest_expense_2023) - (revenue_2022 - noninterest_expense_2022)) "
                            "/ (revenue_2022 - noninterest_expense_2022)")
    # a change inside the definition is not a growth asked of the measure
    changed = plan_question("What is the FY2020 inventory build? Define it as change in inventory between FY2019 and "
                            "FY2020.")
    assert changed is not None and changed.formula == "(inventories_2020 - inventories_2019)"


@pytest.mark.parametrize("question, formula", [
    ("How much goodwill did the company carry on its balance sheet at February 2, 2019?", "goodwill_2019"),
    ("What goodwill impairment did the company record in 2019?", None),
    ("What was the impairment of goodwill in 2019?", None),
    ("How much goodwill was recorded from acquisitions in 2019?", None),
    ("How much operating profit did Acme's salon services business earn in fiscal 2022?", None),  # a part's
    ("How much revenue did Acme's business generate in 2021?", "revenue_2021"),
    ("What was the diluted earnings (loss) per share for fiscal 2014?", "eps_diluted_2014"),
    ("What were cash dividends declared per common share in 2016?", "dividends_per_share_2016"),
])
def test_balance_and_per_share_rows_named_plainly(question, formula):
    plan = plan_question(question)
    assert (plan.formula if plan is not None else None) == formula


def test_use_naming_one_row_is_no_definition_the_glossary_metric_answers():
    """"Use average accounts receivable" says how the glossary's metric is read; it defines nothing by itself."""
    plan = plan_question("What were days sales outstanding for FY2016? Use average accounts receivable.")
    assert plan is not None and plan.formula == "365 * avg(receivables_2016, receivables_2015) / revenue_2016"
    # "taking into account" reads a source, not a formula
    plan = plan_question("Taking into account the cash flow statement and the income statement, what was the FY2020 "
                         "free cash flow?")
    assert plan is not None and plan.formula == "cfo_2020 - capex_2020"


@pytest.mark.parametrize("question, formula", [
    ("What is the FY2018 current ratio?", "total_current_assets_2018 / total_current_liabilities_2018"),
    ("What is the FY2015 unadjusted EBITDA % margin? Calculate unadjusted EBITDA using unadjusted operating income "
     "and D&A (from cash flow statement).", "(operating_income_2015 + da_2015) / revenue_2015"),
    ("What is the FY2022 unadjusted EBITDA less capex? Define unadjusted EBITDA as unadjusted operating income + "
     "depreciation and amortization [from cash flow statement].", "operating_income_2022 + da_2022 - capex_2022"),
    ("What is the FY2015 depreciation and amortization (D&A from cash flow statement) % margin?",
     "da_2015 / revenue_2015"),
    ("What is the FY2017 - FY2019 3 year average of capex as a % of revenue?",
     "avg(capex_2017 / revenue_2017, capex_2018 / revenue_2018, capex_2019 / revenue_2019)"),
    ("What is the year-over-year change in unadjusted operating income from FY2015 to FY2016 (in percents)?",
     "(operating_income_2016 - operating_income_2015) / operating_income_2015"),
    ("What is the 2 year total revenue CAGR from FY2020 to FY2022?", "(revenue_2022 / revenue_2020) ** (1 / 2) - 1"),
    ("What is the FY2019 inventory turnover ratio?", "cogs_2019 / avg(inventories_2019, inventories_2018)"),
    ("What was the return on average total assets in fiscal 2017?",
     "net_income_2017 / avg(total_assets_2017, total_assets_2016)"),
    ("How many times did the company's 2015 operating income cover its interest expense?",
     "operating_income_2015 / interest_expense_2015"),
    ("What share of its 2020 net sales did the company spend on capital expenditures?", "capex_2020 / revenue_2020"),
    ("In fiscal 2024, what percentage of the company's revenue went to selling, general and administrative expenses?",
     "sga_2024 / revenue_2024"),
    ("What was stock-based compensation as a percentage of revenue in FY2022?",  # a hyphen in the item's name
     "share_based_compensation_2022 / revenue_2022"),
    ("How much did the bank set aside as provision for credit losses in the first six months of 2022?",
     "provision_credit_losses_2022"),
    # a change asked in the item's own units, over the year before when one year is named; a ratio's in points
    ("By how much did cash and cash equivalents change over fiscal 2023?", "cash_2023 - cash_2022"),
    ("By how much did inventories decrease between 2021 and 2022?", "inventories_2022 - inventories_2021"),
    ("What was the net change in cash and cash equivalents over 2022?", "cash_2022 - cash_2021"),
    ("How much did the operating margin change in 2022?",
     "operating_income_2022 / revenue_2022 - operating_income_2021 / revenue_2021"),
])
def test_glossary_metrics_growth_and_averages(question, formula):
    plan = plan_question(question)
    assert plan is not None and plan.formula == formula


def test_a_plain_lookup_of_one_line_item_and_the_year_hint():
    plan = plan_question("What is the year end FY2019 total amount of inventories? Base your judgments on the "
                         "information provided primarily in the balance sheet.")
    assert plan is not None and plan.source == "lookup" and plan.formula == "inventories_2019"
    assert plan.statements == {"balance"}
    hinted = plan_question("How much total assets did the company have?", fiscal_year_hint=2021)
    assert hinted is not None and hinted.formula == "total_assets_2021"


@pytest.mark.parametrize("question", [
    "By how much did Pepsico increase its unsecured five year revolving credit agreement on May 26, 2023?",
    "What percent of total spend on stock repurchases for FY 2023 occurred in Q4 of FY2023?",
    "Who is the CEO in FY2019?",
    "What is the total amount of inventories?",  # no year and no hint
    # a part of the company: the consolidated statements do not hold it (held-out questions the planner had
    # answered with the company's total)
    "How much bitcoin revenue did Block report for FY2020? Answer in USD millions.",
    "What were the net sales of Lockheed Martin's Aeronautics business segment in FY2021?",
    "How much revenue did Microsoft's Intelligent Cloud segment generate in FY2023?",
    "What is the FY2021 operating margin of the Americas region?",
    # the question's own definition, which the planner cannot read: the glossary's would answer another question
    "What was the FY2021 debt-to-equity ratio, counting borrowings under the revolver against total equity?",
    "What was the quick ratio at December 31, 2021, counting cash and trade receivables as quick assets?",
])
def test_no_plan_when_unsure(question):
    assert plan_question(question) is None


@pytest.mark.parametrize("question, issuers, part", [
    ("How much revenue did Acme book under 'parts and labour' in fiscal year 2016?", None, "'parts and labour'"),
    ("How much revenue did the Acme Pay app bring in during 2016?", ["acme"], "app"),
    ("How much revenue did Widgetly contribute to Acme in fiscal 2016?", ["acme"], "contribute"),
    ("How much revenue did Acme make from selling hardware in 2016?", ["acme"], "from selling"),
    ("What was Acme's Rocket Skates revenue in FY2017?", ["acme"], "Rocket Skates"),
    ("What were Globex Industries' net sales in 2022?", [], "Globex Industries"),  # no indexed issuer named
    ("What was Acme Anvil Works' FY2019 revenue?", ["acme", "acmeanvilworks"], None),
    ("How much revenue did Acme Health generate in FY2019?", ["acme", "acmeanvilworks"], "Health"),
    ("What was Initech (formerly known as Initrode) revenue in FY2020?", ["initech", "initrode"], None),
    ("What is the FY2019 fixed asset turnover ratio for Acme? Fixed asset turnover ratio is defined as: FY2019 "
     "revenue / (average PP&E between FY2018 and FY2019).", ["acme"], None),
    ("How much did 'other expense (income), net' add to Acme's 2020 results?", ["acme"], None),  # a row, exactly
    ("What was Acme's FY2019 revenue?", None, None),  # not a corpus of filings: capitalised names say nothing
])
def test_a_part_of_the_company_named_by_the_question(question, issuers, part):
    assert part_named(question, issuers) == part


def test_a_question_about_a_part_of_the_company_goes_to_the_model():
    llm = ScriptedLLM("The document does not say.")
    pipe = pipeline_over([INCOME, BALANCE, CASH], llm, compute=True)
    answer = pipe.run("How much FY2019 revenue did the company book under 'licences and hosting'?")
    assert len(llm.calls) == 1
    assert answer.stage("figures").outcome == "a part asked"


def test_a_single_year_over_several_columns_is_not_a_year_column():
    p = table("seg", "Year Ended August 29, 2021\nU.S. and Puerto Rico Canada Other International Total\n"
                     "Total revenue $ 141,398 $ 22,407 $ 28,131 $ 191,936", header="COSTCO 10-K FY2021 · Segments")
    (row,) = table_rows(p)
    assert all(c.year is None for c in row.cells)  # segments, not years: never taken as FY2021 revenue


# ------------------------------------------------------------------------------------------ picking the cell

def test_find_operand_prefers_the_statement_table_and_the_total_row():
    cfo = find_operand(ITEMS["cfo"], 2019, [MDNA, CASH])
    assert cfo is not None and cfo.passage.id == "cf" and cfo.text == "1,831"
    tcl = find_operand(ITEMS["total_current_liabilities"], 2018, [INCOME, BALANCE])
    assert tcl is not None and tcl.text == "2,642"  # not "Other current liabilities"
    assert BALANCE.text[tcl.span[0]:tcl.span[1]] == "2,642"
    assert find_operand(ITEMS["long_term_debt"], 2019, [INCOME, BALANCE, CASH]) is None
    assert find_operand(ITEMS["total_assets"], 2016, [BALANCE]) is None  # no such column
    assert [f.label for f in rank_cells(ITEMS["da"], 2019, [CASH])] == [
        "Depreciation and amortization of property and intangibles"]


def test_the_block_goes_through_the_existing_check():
    plan = plan_question("What is the FY2019 capex as a % of revenue?")
    assert plan is not None
    found = {o.name: find_operand(o.item, o.year, [INCOME, CASH]) for o in plan.operands}
    context = [CASH, INCOME]
    block = write_block(plan, found, context)
    assert "OPERAND capex_2019 = 116 [1]" in block and "OPERAND revenue_2019 = 6,489 [2]" in block
    calc = calculate("What is the FY2019 capex as a % of revenue?", block, context)
    assert calc.text == "1.79%"


def test_a_result_restated_in_the_units_asked():
    assert in_units_asked("Answer in USD billions.", 4625.0, "$ million") == "$4.625 billion"
    assert in_units_asked("What is it?", 4625.0, "$ million") is None


# -------------------------------------------------------------------------------------------------- pipeline

def test_the_pipeline_answers_a_resolved_plan_without_the_model():
    llm = ScriptedLLM("should not be used")
    pipe = pipeline_over([INCOME, BALANCE, CASH], llm, compute=True)
    answer = pipe.run("What is the FY2019 operating cash flow ratio? Operating cash flow ratio is defined as: cash "
                      "from operations / total current liabilities. Round your answer to two decimal places.")
    assert llm.calls == []
    assert answer.model == MODEL_NAME and answer.calculation is not None
    assert answer.calculation.text == "0.63"  # 1,831 / 2,915
    assert {c.passage.id for c in answer.citations} == {"cf", "bal"}
    assert answer.stage("figures") is not None and answer.stage("figures").outcome == "ok"


def test_the_model_answers_when_the_planner_cannot():
    llm = ScriptedLLM("Revenue was $6,489 million [1].")
    pipe = pipeline_over([INCOME, BALANCE, CASH], llm, compute=True)
    answer = pipe.run("What is the FY2019 total long-term debt?")  # planned, but no such row
    assert len(llm.calls) == 1 and answer.model == "scripted"
    assert answer.stage("figures").outcome == "incomplete"


def test_compute_off_leaves_the_planner_out():
    llm = ScriptedLLM("The inventories were 32 [1].")
    pipe = pipeline_over([INCOME, BALANCE, CASH], llm, compute=False)
    answer = pipe.run("What is the year end FY2019 total amount of inventories?")
    assert len(llm.calls) == 1 and answer.stage("figures") is None


def test_an_implausible_result_is_withheld_and_the_model_answers():
    # a current ratio of 250: the liabilities cell came from the wrong row (here: printed so)
    odd = table("bal2", BALANCE.text.replace("Total current liabilities 2,915 2,642",
                                             "Total current liabilities 32 28"), header=BALANCE.header)
    llm = ScriptedLLM("The document does not say.")
    answer = pipeline_over([INCOME, odd, CASH], llm, compute=True).run("What is the FY2019 current ratio?")
    assert len(llm.calls) == 1 and answer.calculation is None
    figures = answer.stage("figures")
    assert figures.outcome == "implausible"
    assert any("a current ratio of 250 is outside 0.01-50" in d for d in figures.details)


TENQ = table("q", "CONDENSED CONSOLIDATED STATEMENTS OF OPERATIONS\n(In millions)\n"
                  "Three Months Ended Six Months Ended\nJune 30, 2023 June 30, 2022 June 30, 2023 June 30, 2022\n"
                  "Net revenues 1,010 900 1,990 1,700\n"
                  "Net income 120 100 230 190",
             header="ACME CORP 10-Q 2023Q2 · Item 1 · CONDENSED CONSOLIDATED STATEMENTS OF OPERATIONS (In millions)")


@pytest.mark.parametrize(("question", "cell"), [
    ("What was the total revenue for the six months ended June 30, 2023?", "1,990"),
    ("What was the total revenue for the three months ended June 30, 2023?", "1,010"),
    ("What was net income in the first half of 2022?", "190"),
    ("What was net income in Q2 2022?", "100"),
])
def test_a_10q_question_gets_the_column_of_the_period_length_it_names(question, cell):
    plan = plan_question(question)
    assert plan is not None and len(plan.operands) == 1
    operand = plan.operands[0]
    found = find_operand(operand.item, operand.year, [TENQ], months=plan.months)
    assert found is not None and found.text == cell


HIGHLIGHTS = table("hl", "Selected income statement data\n(in millions)\nSix months ended June 30,\n"
                         "2Q23 1Q23 4Q22 3Q22 2Q22 2023 2022\nNet revenues 1,010 980 950 930 900 1,990 1,700\n"
                         "Net income $ 120 $ 110 $ 105 $ 98 $ 100 $ 230 $ 190",
                   header="ACME CORP 10-Q 2023Q2 · Part I · Consolidated Financial Highlights", page=2)


@pytest.mark.parametrize(("question", "result"), [
    ("Per Acme's Q2 2023 10-Q, how much net income did it earn in the fourth quarter of 2022?", 105),
    ("Going by the Q2 2023 10-Q, what were net revenues in the third quarter of 2022?", 930),
    ("Per Acme's Q2 2023 10-Q, what was net income in the second quarter of 2022?", 100),  # the statement's column
])
def test_another_quarter_is_read_from_a_quarterly_filings_quarter_columns(question, result):
    llm = ScriptedLLM("should not be used")
    answer = pipeline_over([TENQ, HIGHLIGHTS], llm, compute=True).run(question, scope=Scope(documents=("d",)))
    assert llm.calls == [] and answer.calculation is not None and answer.calculation.result == result


def test_another_quarter_without_quarter_columns_is_not_read_from_the_filings_own_quarter():
    llm = ScriptedLLM("Net income was 100 [1].")
    answer = pipeline_over([TENQ], llm, compute=True).run(
        "Per Acme's Q2 2023 10-Q, how much net income did it earn in the fourth quarter of 2022?",
        scope=Scope(documents=("d",)))
    assert llm.calls == [] and answer.stage("figures").outcome == "not covered"
    assert "reports the second quarter, not the fourth quarter asked" in answer.text


def test_when_the_planner_cannot_answer_the_model_reads_the_rows_it_found_first():
    no_receivables = table("bal3", BALANCE.text.replace("Accounts receivable, net 1,000 900\n", ""),
                           header=BALANCE.header)
    llm = ScriptedLLM("The document does not say.")
    answer = pipeline_over([MDNA, INCOME, no_receivables, CASH], llm, compute=True, evidence_tokens=30).run(
        "What is the FY2019 quick ratio?")
    figures = answer.stage("figures")
    assert figures.outcome == "incomplete" and "reading the rows found first" in " ".join(figures.details)
    prompt = llm.calls[0][1].content
    # a 30-token evidence budget, yet the two rows the plan found are in what the model reads
    assert "Cash and cash equivalents $ 5,794 $ 4,225" in prompt and "Total current liabilities 2,915 2,642" in prompt
    assert "planned piece(s) kept first" in " ".join(answer.stage("prompt").details)


def test_the_questions_own_filing_without_the_row_says_so_instead_of_the_model():
    llm = ScriptedLLM("Long-term debt was $6,489 million [1].")
    answer = pipeline_over([INCOME, BALANCE, CASH], llm, compute=True).run(
        "What is the FY2019 total long-term debt?", scope=Scope(documents=("d",)))
    assert llm.calls == [] and answer.model == MODEL_NAME and answer.citations == ()
    assert answer.text.startswith("The document does not say. No long-term debt (2019) found in ACME CORP 10-K")
    assert answer.stage("figures").outcome == "not found"


def test_a_quarter_or_length_the_filing_does_not_cover_is_not_answered_from_another_column():
    llm = ScriptedLLM("Net income was 120 [1].")
    pipe = pipeline_over([TENQ], llm, compute=True)
    answer = pipe.run("What was net income for the third quarter of 2023?", scope=Scope(documents=("d",)))
    assert llm.calls == [] and answer.stage("figures").outcome == "not covered"
    assert "reports the second quarter, not the third quarter asked" in answer.text
    annual = pipeline_over([INCOME], llm, compute=True).run(
        "What was net income for the six months ended June 30, 2019?", scope=Scope(documents=("d",)))
    assert llm.calls == [] and "is an annual report" in annual.text
    inside = pipe.run("What was net income in Q2 2023?", scope=Scope(documents=("d",)))
    assert inside.calculation is not None and inside.calculation.text == "120 million"


def test_columns_without_printed_years_are_dated_only_for_a_statement_of_three_years_or_fewer():
    equity = table("eq", "CONSOLIDATED STATEMENTS OF EQUITY\n(amounts in millions)\n"
                         "Net income — — — — 3,659 3,659 45 3,704", header=f"{DOC} · Item 8 · EQUITY")
    assert all(c.year is None for r in table_rows(equity) for c in r.cells)


def test_a_quick_ratio_counts_cash_short_term_investments_and_receivables_and_says_so():
    llm = ScriptedLLM("should not be used")
    answer = pipeline_over([INCOME, BALANCE, CASH], llm, compute=True).run("What is the FY2019 quick ratio?")
    assert llm.calls == [] and answer.calculation is not None
    assert answer.calculation.text == "2.33"  # (5,794 + 0 + 1,000) / 2,915: no short-term investments row
    assert "Definition used: quick ratio = (cash and cash equivalents + short-term investments" in answer.text
    assert "short-term investments (2019): no such row in the filing, counted as 0." in answer.text


class _Unrouted(StaticSearcher):
    """A first stage whose router looked among filings and named none."""

    def retrieve(self, query: str, k: int, *, scope: Scope | None = None) -> Retrieval:
        return Retrieval(super().retrieve(query, k, scope=scope).hits,
                         route=RouteDecision((), "no issuer matched", False))


def test_a_planned_figure_is_not_read_from_a_guessed_filing_among_several():
    other = replace(table("inc2", INCOME.text, header=INCOME.header.replace("ACME", "OTHER"), doc="e"))
    llm = ScriptedLLM("Revenue was $6,489 million [1].")
    question = "How much revenue did Widget generate in FY2019?"
    searcher = _Unrouted([INCOME, other])
    answer = build_pipeline(Settings().replace(answer={"evidence_tokens": 0, "compute": True}), retriever=searcher,
                            corpus=searcher, embedder=FakeEmbedder(), llm=llm).run(question)
    assert llm.calls == [] and answer.stage("figures").outcome == "no filing"
    assert answer.text.startswith("The document does not say. No filing matches the question's issuer and period")
    unrouted = pipeline_over([INCOME, other], llm, compute=True).run(question)  # no router: as before
    assert unrouted.stage("figures").outcome == "ok"


class _Routed(StaticSearcher):
    """A first stage whose router sent the question to ACME's filing."""

    def retrieve(self, query: str, k: int, *, scope: Scope | None = None) -> Retrieval:
        return Retrieval(super().retrieve(query, k, scope=scope).hits,
                         route=RouteDecision(("d",), "issuer acme", True, issuers=("acme",)))


def test_a_name_the_question_asks_about_must_be_named_where_the_model_cites_its_number():
    """Nothing planned (members are no line item), but the question names a region: a number printed beside
    another region does not support a sentence about it."""
    text = "At the end of 2017 Acme had 52,810 paid members in the United States and 57,834 paid members abroad."
    members = Passage("m", "d", "d.pdf", text, (0, len(text)), page=21)
    question = "How many paid members did Acme have in Latin America at the end of 2017?"

    def run(reply: str):
        searcher = _Routed([members])
        return build_pipeline(Settings().replace(answer={"evidence_tokens": 0, "compute": True}),
                              retriever=searcher, corpus=searcher, embedder=FakeEmbedder(),
                              llm=ScriptedLLM(reply)).run(question)

    answer = run("Acme had 57,834 paid members in Latin America at the end of 2017 [1].")
    assert answer.stage("figures").outcome == "a name asked" and answer.text == NOT_FOUND
    assert any("does not name Latin America" in str(w) for w in answer.warnings)
    kept = run("Acme had 57,834 paid members abroad at the end of 2017 [1].")  # says what the number is
    assert kept.text.startswith("Acme had 57,834 paid members abroad")


def test_research_and_development_and_a_balance_averaged_over_one_year_are_planned():
    assert plan_question("How much did Acme spend on research and development in fiscal 2016?").formula == \
        "research_and_development_2016"
    assert plan_question("What was Acme's average merchandise inventory during fiscal 2017?").formula == \
        "avg(inventories_2017, inventories_2016)"
    assert plan_question("What was Acme's average selling price in 2019?") is None


def test_net_income_is_read_from_the_income_statement_not_comprehensive_income():
    comprehensive = table("ci", "COMPREHENSIVE INCOME STATEMENTS\n(In millions)\n2019 2018 2017\n"
                                "Net income $ 1,503 $ 1,848 $ 273\nComprehensive income 1,600 1,900 300",
                          header=f"{DOC} · Item 8 · COMPREHENSIVE INCOME STATEMENTS (In millions) | 2019 2018 2017")
    found = find_operand(ITEMS["net_income"], 2019, [comprehensive, INCOME])
    assert found is not None and found.passage.id == "inc"


def test_other_income_read_from_an_expense_row_changes_sign_and_says_so():
    income = table("inc", INCOME.text.replace("Net income $", "Other expense/(income) (952) 168 25\nNet income $"),
                   header=INCOME.header)
    answer = pipeline_over([income], ScriptedLLM("unused"), compute=True).run(
        "Did Acme record net other expense or net other income in FY2019, and how much?")
    assert answer.calculation is not None and answer.calculation.result == 952
    assert "the row 'Other expense/(income)' prints (952), an amount of the opposite sign" in answer.text


# ------------------------------------------------------------------------------------- fiscal calendars

_START_NAMED = (
    "Results for the fifty-two-week period (fiscal year) ended January 28, 2023. During fiscal 2022 net sales rose. "
    "In fiscal 2022 we opened 47 stores. Fiscal 2023 outlook: the company expects growth in fiscal 2023.",
    "CONSOLIDATED STATEMENTS OF INCOME\n(In thousands)\n52 Weeks Ended\nJanuary 28, January 29,\n2023 2022\n"
    "Net sales $ 10,208 $ 8,630\nNet income $ 1,242 $ 985")
_END_NAMED = (
    "Our fiscal year ending February 3, 2024 includes 53 weeks. The first six months of fiscal 2024 and fiscal 2023 "
    "included 26 weeks. Fiscal 2023 ended January 28, 2023.",
    "CONSOLIDATED STATEMENTS OF EARNINGS\n($ in millions)\nThree Months Ended\nJuly 29, 2023 July 30, 2022\n"
    "Revenue $ 9,583 $ 10,329\nNet earnings $ 274 $ 306")


@pytest.mark.parametrize("texts, question, result, note", [
    # a year ending in January named by the year it begins in: "fiscal 2022" is the column dated 2023
    (_START_NAMED, "What were net sales in fiscal 2022?", 10208, "named by the year they begin in"),
    # a quarter of a year ending early the next year belongs to that next year
    (_END_NAMED, "What was revenue in the second quarter of fiscal 2024?", 9583, "named by the year they end in"),
    # a question that names a date means that date's column
    (_END_NAMED, "What was revenue for the three months ended July 30, 2022?", 10329, None),
])
def test_a_filers_fiscal_calendar_picks_the_column_of_the_fiscal_year_asked(texts, question, result, note):
    prose, statement = texts
    passages = [table("p", prose, kind="prose", doc="r", header="r · Results"),
                table("t", statement, doc="r", header="r · CONSOLIDATED STATEMENTS OF INCOME")]
    llm = ScriptedLLM("should not be used")
    answer = pipeline_over(passages, llm, compute=True).run(question)
    assert llm.calls == [] and answer.calculation is not None and answer.calculation.result == result
    details = answer.stage("figures").details
    assert any(note in d for d in details) if note else not any("fiscal years end" in d for d in details)


# ------------------------------------------------------------------------------- one part of the company

SEGMENTS = table("seg", "SUPPLEMENTAL FINANCIAL INFORMATION\n(in millions)\nYear Ended December 31,\n2019 2018\n"
                        "Net Revenue\nLatin America $ 1,777 $ 1,474\nEurope 1,886 1,797\n"
                        "Total Net Revenue 6,489 7,500\nOperating Profit\nLatin America 364 323\nEurope 71 (136)",
                 header=f"{DOC} · Item 8 · Note 12 Segments | 2019 2018")
UNDER_ITS_NAME = table("opt", "REPORTABLE SEGMENTS\n(in millions)\n2019 2018\nOptical Communications\nNet sales 4,349 "
                              "3,563\nNet income 553 334\nDisplay Technologies\nNet sales 3,306 3,152",
                       header=f"{DOC} · Item 8 · Note 12 Segments | 2019 2018")


TITLED = table("lif", "Life Sciences\nThe following table provides net sales and net income for the Life Sciences "
                      "segment (in millions):\n2019 2018\nSegment net sales 1,234 998\nSegment net income 120 80",
               header=f"{DOC} · Item 7 · Life Sciences | 2019 2018")

IN_ITS_SECTION = table("nordic", "Selected income statement data\n2019 2018 Change\nNet income 90 70 29",
                       header=f"{DOC} · Segment Results › Nordic Markets · Selected income statement data | 2019 2018")


@pytest.mark.parametrize("question, result", [
    ("What net revenue did the Latin America division post in FY2019?", 1777),  # a row named by the part
    ("What net income did the Nordic Markets segment earn in FY2019?", 90),  # a row in the part's own section
    ("How much did the Nordic Markets segment earn (net income) in FY2019?", 90),  # the item named in parentheses
    ("What was the FY2019 net profit margin of the Life Sciences segment?", 120 / 1234 * 100),  # titled by it
    ("What operating profit did the Europe segment report in FY2018?", -136),
    ("What was the FY2019 net profit margin of the Optical Communications segment?", 553 / 4349 * 100),
    ("How much revenue did Acme book under 'Latin America' in FY2019?", 1777),
])
def test_a_named_part_of_the_company_is_read_from_its_own_rows(question, result):
    llm = ScriptedLLM("should not be used")
    answer = pipeline_over([INCOME, SEGMENTS, UNDER_ITS_NAME, TITLED, IN_ITS_SECTION], llm, compute=True).run(question)
    assert llm.calls == [] and answer.calculation is not None
    assert answer.calculation.result == pytest.approx(result, rel=1e-3)
    assert any(d.startswith("a part of the company") for d in answer.stage("figures").details)


def test_a_part_without_rows_of_its_own_goes_to_the_model_not_to_the_companys_total():
    llm = ScriptedLLM("The document does not say.")
    answer = pipeline_over([INCOME, SEGMENTS], llm, compute=True).run(
        "What net revenue did the Asia Pacific division post in FY2019?")
    assert len(llm.calls) == 1 and answer.calculation is None
    assert answer.stage("figures").outcome == "a part asked"


def test_the_models_figure_for_a_part_must_be_printed_where_the_part_is_named():
    """The model restating the company's total as the part's is withheld by the number check."""
    text = "Asia Pacific remained our fastest-growing region in 2019. Total net revenue was $6,489 million in 2019."
    prose = Passage(id="ap", doc_id="d", source="acme.pdf", text=text, chars=(0, len(text)), page=9, header=DOC)
    llm = ScriptedLLM("Asia Pacific net revenue was $6,489 million in 2019 [1].")
    answer = pipeline_over([prose], llm, compute=True).run(
        "What net revenue did the Asia Pacific division post in FY2019?")
    assert answer.stage("figures").outcome == "a part asked" and answer.stage("numbers").outcome == "withheld"
    assert answer.text == NOT_FOUND and any("does not name Asia Pacific" in str(w) for w in answer.warnings)



EPS = table("eps", "ACME CORP\nCONSOLIDATED STATEMENTS OF OPERATIONS\n(In millions, except per share data)\n"
                   "2019 2018 2017\nNet income $ 1,503 $ 1,848 $ 273\nNET INCOME PER COMMON SHARE ATTRIBUTABLE TO\n"
                   "ACME:\nBasic $ 1.96 $ 2.43 $ 0.36\nDiluted $ 1.95 $ 2.40 $ 0.36\nShares used in calculation\n"
                   "Basic 767 762 754\nDiluted 771 771 760",
            header=f"{DOC} · Item 8 · CONSOLIDATED STATEMENTS OF OPERATIONS (In millions) | 2019 2018 2017")


CONTINUING = table("cont", "ACME CORP\nCONSOLIDATED STATEMENTS OF EARNINGS\n($ in millions, except per share amounts)\n"
                           "2019 2018\nNet earnings $ 1,228 $ 897\nDiluted earnings (loss) per share\n"
                           "Continuing operations $ 3.74 $ 2.30\nDiscontinued operations 0.07 0.26\n"
                           "Diluted earnings per share $ 3.81 $ 2.56",
                   header=f"{DOC} · Item 8 · CONSOLIDATED STATEMENTS OF EARNINGS | 2019 2018")


@pytest.mark.parametrize(("statement", "question", "text"), [
    (EPS, "What was diluted EPS in FY2019?", "$1.95"),
    (EPS, "What were basic earnings per share in FY2018?", "$2.43"),
    (EPS, "What was net income per share in fiscal 2019, the year that ended December 31, 2019?", "$1.95"),
    (CONTINUING, "What diluted EPS from continuing operations did Acme earn in FY2019?", "$3.74"),
    (CONTINUING, "What diluted EPS did Acme earn in FY2019?", "$3.81"),  # all operations
])
def test_earnings_per_share_is_read_from_the_row_under_its_heading_and_never_scaled(statement, question, text):
    """A bare "Diluted" row is its heading's (wrapped over two lines), not the shares' "Diluted" below; the
    table's "in millions" excepts per-share data; "from continuing operations" reads their row."""
    llm = ScriptedLLM("should not be used")
    answer = pipeline_over([statement], llm, compute=True).run(question)
    assert llm.calls == [] and answer.calculation is not None
    assert answer.calculation.text == text


DIVISIONS = table("div", "Net revenue and operating profit of each division are as follows:\nNet Revenue Operating "
                         "Profit\n2019 2018 2019 2018\nFLNA $ 19,608 $ 18,189 $ 5,633 $ 5,340\n"
                         "PBNA 25,276 22,559 2,442 1,937\nTotal 44,884 40,748 8,075 7,277",
                  header=f"{DOC} · Note 1 · Net revenue and operating profit of each division are as follows: | "
                         "Net Revenue Operating Profit 2019 2018 2019 2018")
NAMES = Passage(id="names", doc_id="d", source="/x/d.pdf", page=4, header=DOC, chars=(0, 90),
                text="We are organized into two divisions: Frito-Lay North America (FLNA) and Prime Beverages North "
                     "America (PBNA).")


def test_a_division_named_by_its_abbreviation_is_read_from_its_column_group():
    """Line items side by side (net revenue, then operating profit) are read by their group; the filing defines
    "PBNA" for the division the question names in full."""
    llm = ScriptedLLM("should not be used")
    answer = pipeline_over([INCOME, DIVISIONS, NAMES], llm, compute=True).run(
        "What was the FY2019 operating margin of the Prime Beverages North America division?")
    assert llm.calls == [] and answer.calculation is not None
    assert answer.calculation.result == pytest.approx(2442 / 25276 * 100, rel=1e-3)


def test_a_quarter_asked_of_an_annual_report_without_a_quarters_column_is_not_answered():
    """The 10-K's column of 2019 prints no length: it is the fiscal year's, not the fourth quarter's."""
    llm = ScriptedLLM("Net income was $1,503 million [1].")
    plain = table("inc", INCOME.text.replace("For the Years Ended December 31,\n", ""), header=INCOME.header)
    answer = pipeline_over([plain], llm, compute=True).run(
        "What was net income in the fourth quarter of 2019?", scope=Scope(documents=("d",)))
    assert llm.calls == [] and answer.stage("figures").outcome == "not covered"
    assert "gives the fiscal year, not the 3 months asked" in answer.text


BY_SEGMENT = table("seg", "Revenue by reportable segment (in millions):\n2019 2018\nDigital Media $ 4,480.8 $ 3,370.8\n"
                         "Digital Marketing 1,609.5 1,180.4\nPrint and Publishing 43.6 33.6",
                   header=f"{DOC} · Item 7 · Revenue by reportable segment (in millions): | 2019 2018")


def test_a_looked_up_figure_the_model_cites_from_another_items_table_is_withheld():
    """Operating income asked of a segment; the model's "earned $4,480.8 million" cites a table of revenue."""
    llm = ScriptedLLM("The Digital Media segment earned $4,480.8 million in 2019 [1].")
    answer = pipeline_over([BY_SEGMENT], llm, compute=True).run(
        "What operating income did the Digital Media segment earn in FY2019?")
    assert len(llm.calls) == 1 and answer.stage("numbers").outcome == "withheld" and answer.text == NOT_FOUND
    assert any("not as the operating income asked" in str(w) for w in answer.warnings)


QUARTERLY = table("qtr", "Quarterly Financial Data (Unaudited)\n(In millions)\n2019 First Quarter Second Quarter "
                         "Third Quarter Fourth Quarter\nNet revenues $ 1,500 $ 1,600 $ 1,700 $ 1,689\n"
                         "Net income 300 310 320 573",
                  header=f"{DOC} · Item 8 · Quarterly Financial Data (Unaudited) | 2019", page=40)


def test_a_quarter_asked_of_an_annual_report_is_read_from_its_quarterly_tables_column():
    llm = ScriptedLLM("should not be used")
    plain = table("inc", INCOME.text.replace("For the Years Ended December 31,\n", ""), header=INCOME.header)
    answer = pipeline_over([plain, QUARTERLY], llm, compute=True).run(
        "What were net revenues in the fourth quarter of 2019?", scope=Scope(documents=("d",)))
    assert llm.calls == [] and answer.calculation is not None and answer.calculation.text == "$1,689 million"
    assert [c.passage.id for c in answer.citations] == ["qtr"]


def test_a_quarterly_table_whose_columns_cannot_be_told_is_read_by_the_model():
    llm = ScriptedLLM("Net revenues in the fourth quarter of 2019 were $1,689 million [1].")
    plain = table("inc", INCOME.text.replace("For the Years Ended December 31,\n", ""), header=INCOME.header)
    unread = table("qtr", QUARTERLY.text.replace("2019 First Quarter Second Quarter Third Quarter Fourth Quarter",
                                                 "Quarters of 2019 (see above)"), header=QUARTERLY.header, page=40)
    answer = pipeline_over([plain, unread], llm, compute=True).run(
        "What were net revenues in the fourth quarter of 2019?", scope=Scope(documents=("d",)))
    assert answer.stage("figures").outcome == "quarters" and len(llm.calls) == 1
    assert "Quarterly Financial Data" in llm.calls[0][-1].content and "1,689" in answer.text


@pytest.mark.parametrize(("question", "result"), [
    ("What is the ratio of capital expenditures to depreciation and amortization in FY2019?", 116 / 328),
    ("How did FY2019 capex compare with D&A? Give capex divided by D&A.", 116 / 328),
    ("What was the FY2019 dividend payout ratio?", 100 * 250 / 1503),  # a payout ratio is stated in percent
])
def test_ratios_the_question_names_are_planned(question, result):
    cash = table("cf", CASH.text + "\nDividends paid (250) (240) (230)", header=CASH.header)
    llm = ScriptedLLM("should not be used")
    answer = pipeline_over([INCOME, BALANCE, cash], llm, compute=True).run(question)
    assert llm.calls == [] and answer.calculation is not None
    assert answer.calculation.result == pytest.approx(result, rel=1e-3)


def test_net_cash_used_in_operating_activities_and_the_parents_net_income_are_read():
    text = ("CONSOLIDATED STATEMENTS OF OPERATIONS\n(In millions)\n2019 2018\nNet income 1,600 1,500\n"
            "Net income attributable to noncontrolling interests 97 90\nNet income attributable to Acme 1,503 1,410\n"
            "Net cash used in operating activities (226) (98)")
    ops = table("ops", text, header=f"{DOC} · Item 8 · CONSOLIDATED STATEMENTS OF OPERATIONS | 2019 2018")
    pipe = pipeline_over([ops], ScriptedLLM("should not be used"), compute=True)
    assert pipe.run("What was FY2019 net income?").calculation.result == pytest.approx(1503)
    assert pipe.run("What was FY2019 cash from operations?").calculation.result == pytest.approx(-226)


def test_quarter_columns_before_the_year_to_date_leave_its_columns_dated_right():
    """A bank's highlights: five quarters ("2Q22 ... 2Q21") then the six months of two years; the six-month
    figure of 2021 is the last cell, not the second."""
    text = ("Six months ended June 30,\n2Q22 1Q22 4Q21 3Q21 2Q21 2022 2021\nPre-provision profit 11,966 11,526 "
            "11,369 12,584 12,812 23,492 26,353")
    p = table("hl", text, header=f"{DOC} · Highlights · Six months ended June 30, 2Q22 1Q22 4Q21 3Q21 2Q21 2022 2021")
    row = table_rows(p)[0]
    assert row.cell(2021, months=6).text == "26,353" and row.cell(2022, months=6).text == "23,492"
    assert [c.year for c in row.cells[:5]] == [None] * 5


def test_an_amount_the_model_states_without_its_tables_scale_is_given_it():
    llm = ScriptedLLM("Net revenues in the fourth quarter of 2019 were $1,689 [1].")
    plain = table("inc", INCOME.text.replace("For the Years Ended December 31,\n", ""), header=INCOME.header)
    answer = pipeline_over([plain, QUARTERLY], llm, compute=True).run(
        "What were net revenues in the fourth quarter of 2019?", scope=Scope(documents=("d",)))
    assert "$1,689 million" in answer.text


def test_a_parts_quarter_asked_of_an_annual_report_without_a_quarterly_table_is_not_answered():
    llm = ScriptedLLM("Latin America net revenue was $1,777 million [1].")
    answer = pipeline_over([INCOME, SEGMENTS], llm, compute=True).run(
        "What net revenue did the Latin America division post in the fourth quarter of 2019?",
        scope=Scope(documents=("d",)))
    assert llm.calls == [] and answer.stage("figures").outcome == "not covered"


def test_a_margins_change_in_percentage_points_is_computed_from_both_years():
    answer = pipeline_over([INCOME], ScriptedLLM("should not be used"), compute=True).run(
        "By how many percentage points did the operating margin change from 2018 to 2019?")
    assert answer.calculation is not None and "percentage points" in answer.calculation.text
    assert answer.calculation.result == pytest.approx(100 * (1607 / 6489 - 1988 / 7500), rel=1e-3)


def test_two_outflows_joined_by_and_are_summed_over_a_third_item():
    cash = table("cf", CASH.text + "\nRepurchase of common stock (400) (300) (200)\nDividends paid (250) (240) (230)",
                 header=CASH.header)
    answer = pipeline_over([INCOME, cash], ScriptedLLM("should not be used"), compute=True).run(
        "How much cash did it return through buybacks and dividends, as a percentage of net income, in 2019?")
    assert answer.calculation is not None
    assert answer.calculation.result == pytest.approx(100 * (400 + 250) / 1503, rel=1e-3)


def test_a_period_asked_by_its_end_date_is_read_from_a_later_filings_prior_year_column():
    text = ("CONSOLIDATED STATEMENTS OF CASH FLOWS\n(In millions)\nSix Months Ended July 29, 2023 July 30, 2022\n"
            "Total cash provided by (used in) operating activities 181 (709)")
    cash = table("cf", text, header=f"{DOC} · Item 1 · CONSOLIDATED STATEMENTS OF CASH FLOWS | Six Months Ended")
    answer = pipeline_over([cash], ScriptedLLM("should not be used"), compute=True).run(
        "In the Q2 FY2024 10-Q, what was operating cash flow for the six months ended July 30, 2022?")
    assert answer.calculation is not None and answer.calculation.result == pytest.approx(-709)


def test_a_part_is_read_under_a_heading_that_names_only_the_item():
    text = ("Revenue, classified by significant product and service offerings, was as follows:\n(In millions)\n"
            "Year Ended June 30, 2019 2018\nServer products $ 79,970 $ 67,350\nLinkedIn 15,145 13,816\n"
            "Total $ 95,115 $ 81,166")
    offerings = table("off", text, header=f"{DOC} · Item 8 · Note 19 Segment Information | Revenue, classified")
    found = rank_part_cells(ITEMS["revenue"], 2019, "LinkedIn", [offerings])
    assert [f.text for f in found] == ["15,145"]
    assert rank_part_cells(ITEMS["operating_income"], 2019, "LinkedIn", [offerings]) == []


def test_a_parts_share_of_the_companys_figure_divides_its_row_by_the_companys():
    llm = ScriptedLLM("should not be used")
    answer = pipeline_over([INCOME, SEGMENTS], llm, compute=True).run(
        "What percentage of total 2019 net revenue came from the Latin America division?",
        scope=Scope(documents=("d",)))
    assert llm.calls == [] and answer.calculation is not None
    assert answer.calculation.result == pytest.approx(100 * 1777 / 6489, rel=1e-3)


def test_a_parts_column_is_read_where_the_table_prints_parts_side_by_side():
    """Segments as columns over one year: the part's column, found by the names the filing prints as rows."""
    columns = table("cols", "Segment Information (in millions)\nOptical\nCommunications\nDisplay\nTechnologies\n"
                            "Life Sciences Total\nFor the year ended December 31, 2019\n"
                            "Segment net sales $ 5,023 $ 3,306 $ 1,228 $ 9,557\nCapital expenditures $ 368 $ 495 $ 116 "
                            "$ 979", header=f"{DOC} · Item 8 · Note 19 | Segment Information (in millions) Optical "
                                        "Communications Display Technologies Life Sciences Total For the year ended "
                                        "December 31, 2019")
    rows = table("rows", "Net sales (in millions)\n2019 2018\nOptical Communications 5,023 4,349\n"
                         "Display Technologies 3,306 3,152\nLife Sciences 1,228 1,100",
                 header=f"{DOC} · Item 7 · Net sales by segment | 2019 2018")
    llm = ScriptedLLM("should not be used")
    answer = pipeline_over([INCOME, CASH, columns, rows], llm, compute=True).run(
        "How much capital expenditure was attributed to the Display Technologies segment in 2019?",
        scope=Scope(documents=("d",)))
    assert llm.calls == [] and answer.calculation is not None and answer.calculation.result == pytest.approx(495)


def test_a_parts_row_in_a_table_of_one_kind_of_revenue_is_not_its_revenue():
    """The part's row above "Total subscription revenue" is its subscriptions, not all its revenue; a part's own
    total ("Total Digital Media revenue") sums parts of it, which are read."""
    text = ("revenue by reportable segment (dollars in millions):\nFiscal 2019 Fiscal 2018\nDigital Media $ 3,370.8 "
            "$ 2,264.7\nPrint and Publishing 33.6 22.2\nTotal subscription revenue $ 3,404.4 $ 2,286.9")
    kind = table("sub", text, header=f"{DOC} · Item 7 · Revenue | revenue by reportable segment 2019 2018")
    assert rank_part_cells(ITEMS["revenue"], 2019, "Print and Publishing", [kind]) == []
    own = table("dm", text.replace("Total subscription revenue", "Total Digital Media revenue"), header=kind.header)
    assert [f.text for f in rank_part_cells(ITEMS["revenue"], 2019, "Print and Publishing", [own])] == ["33.6"]


def test_a_kind_of_revenue_named_in_lower_case_is_read_from_the_statement_before_a_segments_table():
    """"Bitcoin revenue" of the company: the income statement's "Bitcoin" row under its revenues, not the same row
    in a segment's table that comes first in the filing."""
    segment = table("segt", "Consumer segment results\n(in millions)\nYear Ended December 31,\n2019 2018\n"
                            "Revenue\nBitcoin 113 90\nTotal net revenue 2,000 1,800",
                    header=f"{DOC} · Item 7 · Segment Results › Consumer | 2019 2018", page=3)
    income = table("inc", INCOME.text.replace("Total net revenues", "Bitcoin 4,571 516 200\nTotal net revenues"),
                   header=INCOME.header, page=9)
    llm = ScriptedLLM("should not be used")
    answer = pipeline_over([segment, income], llm, compute=True).run(
        "How much bitcoin revenue did Acme book in 2019?", scope=Scope(documents=("d",)))
    assert llm.calls == [] and answer.calculation is not None and answer.calculation.text == "4,571 million"
    assert [c.passage.id for c in answer.citations] == ["inc"]


def test_a_sub_lines_quarter_asked_of_an_annual_report_is_read_from_the_quarterly_row_that_names_it():
    income = table("inc", INCOME.text + "\nBitcoin revenue 4,571 516 200", header=INCOME.header)
    quarterly = table("qtr", "Quarterly Financial Data (Unaudited)\n(In millions)\n2019 First Quarter Second Quarter "
                             "Third Quarter Fourth Quarter\nNet revenues $ 1,500 $ 1,600 $ 1,700 $ 1,689\n"
                             "Bitcoin revenue 306 875 1,634 1,756",
                      header=f"{DOC} · Item 8 · Quarterly Financial Data (Unaudited) | 2019", page=40)
    llm = ScriptedLLM("should not be used")
    answer = pipeline_over([income, quarterly], llm, compute=True).run(
        "How much bitcoin revenue did Acme book in the fourth quarter of 2019?", scope=Scope(documents=("d",)))
    assert llm.calls == [] and answer.calculation is not None and answer.calculation.text == "1,756 million"
    assert [c.passage.id for c in answer.citations] == ["qtr"]


@pytest.mark.parametrize(("question", "result"), [
    ("By what percentage did net revenues grow in 2019 compared with 2018?", 100 * (6489 - 7500) / 7500),
    ("How fast did product sales grow in 2019 versus 2018?", 100 * (1975 - 2255) / 2255),  # a sub-line, in percent
])
def test_growth_asked_as_how_fast_or_by_what_percentage_is_planned_in_percent(question, result):
    llm = ScriptedLLM("should not be used")
    answer = pipeline_over([INCOME], llm, compute=True).run(question, scope=Scope(documents=("d",)))
    assert llm.calls == [] and answer.calculation is not None and answer.calculation.unit == "%"
    assert answer.calculation.result == pytest.approx(result, rel=1e-3)


def test_growth_asked_of_one_year_is_over_the_year_before():
    llm = ScriptedLLM("should not be used")
    answer = pipeline_over([INCOME], llm, compute=True).run("By what percentage did net revenues grow in 2019?",
                                                            scope=Scope(documents=("d",)))
    assert llm.calls == [] and answer.calculation is not None
    assert answer.calculation.result == pytest.approx(100 * (6489 - 7500) / 7500, rel=1e-3)
    assert plan_question("What was the change in inventories in 2019?") is None  # an amount or a rate: unsure


def test_the_issuers_name_before_a_line_item_does_not_narrow_it():
    question = "Acme Corp net revenues for 2019?"
    assert plan_question(question) is None  # a name before the item reads as a part of the company
    assert plan_question(issuer_dropped(question, ["acmecorp", "acme"])).formula == "revenue_2019"
    assert plan_question(issuer_dropped("Acme Health net revenues for 2019?", ["acme"])) is None


@pytest.mark.parametrize("question", [
    "What gross margin did Acme earn on its bitcoin sales in 2019?",  # a sub-line's margin
    "In 2019, membership fee revenue was what percentage of operating income?",
    "How much did Acme spend on capital expenditures for pollution control in 2019?",  # a purpose of the item
])
def test_a_metric_or_lookup_of_a_narrower_item_is_not_the_companys(question):
    assert plan_question(question) is None


def test_buybacks_and_dividends_handed_back_as_a_portion_of_operating_cash_flow():
    cash = table("cf2", CASH.text + "\nCommon stock repurchased (900) (800) (700)\nDividends paid (300) (250) (200)",
                 header=CASH.header)
    llm = ScriptedLLM("should not be used")
    answer = pipeline_over([cash], llm, compute=True).run(
        "In 2019, what portion of its operating cash flow did Acme hand back to shareholders through buybacks and "
        "dividends combined?", scope=Scope(documents=("d",)))
    assert llm.calls == [] and answer.calculation is not None and answer.calculation.unit == "%"
    assert answer.calculation.result == pytest.approx(100 * (900 + 300) / 1831, rel=1e-3)


def test_a_date_asked_reads_only_a_column_of_that_date():
    quarter = table("q1", "CONSOLIDATED BALANCE SHEETS\n(in millions)\nMarch 31,\n2021\nDecember 31,\n2020\n"
                          "Cash and cash equivalents $ 5,794 $ 4,225\nTotal assets $ 19,845 $ 17,890\n"
                          "Deposits $ 2,278 $ 2,144", header="ACME CORP 10-Q Q1 2021 · CONSOLIDATED BALANCE SHEETS")
    llm = ScriptedLLM("should not be used")
    pipeline = pipeline_over([quarter], llm, compute=True)
    answer = pipeline.run("What were total assets at December 31, 2020?", scope=Scope(documents=("d",)))
    assert answer.calculation is not None and answer.calculation.result == 17890
    answer = pipeline.run("By what percentage did deposits grow from March 31, 2020 to March 31, 2021?",
                          scope=Scope(documents=("d",)))
    assert answer.calculation is None and answer.stage("figures").outcome == "not found"


def test_marketing_and_share_based_compensation_relative_to_revenue_are_planned_in_percent():
    income = table("inc2", INCOME.text + "\nMarketing 300 280 260\nShare-based compensation 130 120 110",
                   header=INCOME.header)
    llm = ScriptedLLM("should not be used")
    pipeline = pipeline_over([income], llm, compute=True)
    for question, value in [
            ("acme 2019 marketing spend as a % of revenues?", 300),
            ("How large was share-based compensation relative to its total net revenues in 2019?", 130)]:
        answer = pipeline.run(question, scope=Scope(documents=("d",)))
        assert answer.calculation is not None and answer.calculation.unit == "%", question
        assert answer.calculation.result == pytest.approx(100 * value / 6489, rel=1e-3)
    assert plan_question("What was sales and marketing as a % of revenue in 2019?") is None  # not marketing alone


def test_a_filings_year_is_not_an_asked_year_and_a_region_is_a_part():
    assert plan_question("In Acme's FY2019 10-K, what were net revenues for the prior year, fiscal 2018?").formula == \
        "revenue_2018"
    name, plan = plan_part("Acme FY2019: how much net revenue came from the EMEA region?", ["acme"])
    assert (name, plan.formula) == ("EMEA", "revenue_2019")


def test_a_quarters_margin_whose_cost_row_the_quarterly_table_lacks_goes_to_the_model_with_that_table():
    llm = ScriptedLLM("Gross margin in the fourth quarter of 2019 was 40% [1].")
    plain = table("inc", INCOME.text.replace("For the Years Ended December 31,\n", ""), header=INCOME.header)
    quarterly = table("qtr", QUARTERLY.text.replace("Net income 300 310 320 573", "Gross profit 600 640 680 676"),
                      header=QUARTERLY.header, page=40)
    answer = pipeline_over([plain, quarterly], llm, compute=True).run(
        "What was the gross margin in the fourth quarter of 2019?", scope=Scope(documents=("d",)))
    assert answer.stage("figures").outcome == "quarters" and len(llm.calls) == 1
    assert "Gross profit 600 640 680 676" in llm.calls[0][-1].content


def test_the_row_the_question_names_beats_the_total_of_the_same_line_item():
    """"As a percentage of net sales" where the statement prints "Net sales" and "Total revenue" (sales plus
    membership fees): the question's own row, not the total; "revenue" asked still reads the total."""
    text = ("CONSOLIDATED STATEMENTS OF INCOME\n(In millions)\n2019 2018\nNet sales 1,900 1,800\n"
            "Membership fees 100 90\nTotal revenue 2,000 1,890\nSelling, general and administrative 190 180")
    ops = table("ops", text, header=f"{DOC} · Item 8 · CONSOLIDATED STATEMENTS OF INCOME | 2019 2018")
    pipe = pipeline_over([ops], ScriptedLLM("should not be used"), compute=True)
    share = pipe.run("What were FY2019 selling, general and administrative expenses as a percentage of net sales?")
    assert share.calculation.result == pytest.approx(10.0)
    assert pipe.run("What was FY2019 total revenue?").calculation.result == pytest.approx(2000)


def test_a_cash_flow_total_printed_both_ways_and_its_change_over_a_year_are_read():
    text = ("CONSOLIDATED STATEMENTS OF CASH FLOWS\n(In millions)\n2019 2018\n"
            "Net cash provided by/(used for) financing activities $ (3,913) $ (3,363)\n"
            "Cash and cash equivalents at end of period 2,279 1,130")
    cash = table("cash", text, header=f"{DOC} · Item 8 · CONSOLIDATED STATEMENTS OF CASH FLOWS | 2019 2018")
    pipe = pipeline_over([cash], ScriptedLLM("should not be used"), compute=True)
    assert pipe.run("What was net cash flow from financing activities in FY2019?").calculation.result == \
        pytest.approx(-3913)
    change = pipe.run("How did cash and cash equivalents change over fiscal 2019 (the year ended December 31, 2019)?")
    assert change.calculation.result == pytest.approx(1149)
    assert "-$3,913" in pipe.run("What was net cash flow from financing activities in FY2019?").text


def test_debt_issued_and_a_cash_total_printed_used_for_then_provided_by_are_read():
    text = ("CONSOLIDATED STATEMENTS OF CASH FLOWS\n(In millions)\n2022 2021\n"
            "Issuance of long-term debt, net of related costs 6,211 —\nRepayments of long-term debt (2,250) (500)\n"
            "Net Cash (Used for)/Provided by Investing Activities (532) 2,955")
    cash = table("cash", text,
                 header="ACME CORP 10-K FY2022 · Item 8 · CONSOLIDATED STATEMENTS OF CASH FLOWS | 2022 2021")
    pipe = pipeline_over([cash], ScriptedLLM("should not be used"), compute=True)
    issued = pipe.run("How much new long-term debt did Acme issue in 2022, net of related costs?")
    assert issued.calculation.result == pytest.approx(6211)
    assert pipe.run("What was net cash from investing activities in 2022?").calculation.result == pytest.approx(-532)


def test_how_an_amount_changed_is_stated_in_dollars_and_relative_to_the_year_before():
    text = ("CONSOLIDATED STATEMENTS OF OPERATIONS\n(In millions)\n2019 2018\nTotal revenue $ 3,504 $ 3,931")
    ops = table("ops", text, header=f"{DOC} · Item 8 · CONSOLIDATED STATEMENTS OF OPERATIONS | 2019 2018")
    pipe = pipeline_over([ops], ScriptedLLM("should not be used"), compute=True)
    changed = pipe.run("How did total revenue change in fiscal 2019?")
    assert changed.calculation.result == pytest.approx(-427) and "-10.9% from 2018" in changed.text


def test_a_segment_column_named_under_the_period_line_before_the_total():
    """Segments as columns, their names on the line under the period ("Cash App Seller Total"): the part right
    before the total is read from its column."""
    text = ("Information on the reportable segments (in thousands):\nYear Ended December 31, 2019\n"
            "Cash App Seller Total\nSegment revenue 1,105,599 3,461,988 4,567,587\n"
            "Segment gross profit $ 457,668 $ 1,390,427 $ 1,848,095")
    seg = table("seg", text, header=f"{DOC} · NOTE 19 - SEGMENT INFORMATION · Information on the reportable segments "
                                    "(in thousands): | Year Ended December 31, 2019")
    pipe = pipeline_over([seg], ScriptedLLM("The document does not say."), compute=True)
    answer = pipe.run("How much gross profit did Acme's Seller segment generate in 2019?")
    assert answer.calculation is not None and answer.calculation.result == pytest.approx(1390427)


@pytest.mark.parametrize("question, formula", [
    ("Did Acme's cash and cash equivalents go up or down over fiscal 2015, and by how much?", "cash_2015 - cash_2014"),
    ("How much cash did Acme's operating activities generate in fiscal 2019?", "cfo_2019"),
    ("What share of its pre-tax income did Acme book as income tax provision in fiscal 2015?",
     "income_tax_2015 / pretax_income_2015"),
    ("How many dollars of revenue did Acme generate per dollar of average total assets in fiscal 2022?",
     "revenue_2022 / avg(total_assets_2022, total_assets_2021)"),
    ("How much new long-term debt did Acme issue in 2022, net of related costs?", "debt_issued_2022"),
    ("What was Acme's gross profit rate for fiscal 2017?", "(revenue_2017 - cogs_2017) / revenue_2017"),
    ("What fraction of its fiscal 2017 net earnings (year ended January 28, 2017) did Acme pay out as cash dividends?",
     "dividends_2017 / net_income_2017"),
    ("Acme at November 27, 2015: its debt-to-equity ratio, taking long-term debt and capital lease obligations over "
     "total stockholders' equity?", "long_term_debt_2015 / equity_2015"),
])
def test_figures_asked_in_other_words(question, formula):
    assert plan_question(question).formula == formula


@pytest.mark.parametrize("question", [
    "How much does Acme expect to spend on capital expenditures in fiscal 2024?",
    "How much buyback capacity did Acme have left at January 28, 2023?",
    "By how many basis points did higher inventory shrink reduce Acme's gross margin in the fourth quarter of 2022?",
    "Did currency movements help or hurt Acme's reported revenue in fiscal 2016, and by how much?",
])
def test_plans_and_what_is_left_of_an_authorisation_are_not_statement_figures(question):
    assert plan_question(question) is None


def test_a_company_naming_its_own_act_is_not_read_as_the_effect_of_something_else():
    from generation.figures import _NOT_A_REPORTED_FIGURE
    assert _NOT_A_REPORTED_FIGURE.search("How much did Acme lower its debt in 2022?") is None
    assert _NOT_A_REPORTED_FIGURE.search("How much did higher freight costs lower the operating margin?") is not None


def test_each_year_over_a_group_of_columns_dates_every_cell_and_names_its_measure():
    """A geographic table printing each year once over "Net sales / Long-lived assets": the second cell of a row
    is the first year's assets, not the next year's sales."""
    text = ("The following table presents information by geographic area (in millions):\n2022 2021\n"
            "Net sales (1)\nLong-lived\nassets (2) Net sales (1)\nLong-lived\nassets (2)\n"
            "United States $ 5,149 $ 8,937 $ 4,539 $ 8,600\nChina 4,435 4,794 4,495 4,966")
    geo = table("geo", text, header=f"{DOC} · Notes · 19. Reportable Segments · The following table presents "
                                    "information by geographic area (in millions): | 2022 2021")
    assert [f.text for f in rank_part_cells(ITEMS["revenue"], 2021, "United States", [geo])][:1] == ["$ 4,539"]
    assert [f.text for f in rank_part_cells(ITEMS["revenue"], 2022, "China", [geo])][:1] == ["4,435"]
    assert rank_part_cells(ITEMS["cash"], 2022, "China", [geo]) == []


def test_a_selected_data_table_is_not_the_statement():
    """Five years of "Consolidated Statement of Operations Data" repeat the statement's row: the statement is cited."""
    selected = table("sel", "Year Ended December 31,\n2016 2015 2014 2013 2012\n(in thousands)\n"
                            "Consolidated Statement of Operations Data:\nProduct development 268,537 199,638 144,637 "
                            "82,864 47,043",
                     header=f"{DOC} · Item 6 · Year Ended December 31, 2016 2015 2014 2013 2012 (in thousands) "
                            "Consolidated Statement of Operations Data:")
    ops = table("ops", "CONSOLIDATED\nSTATEMENTS\nOF\nOPERATIONS\n(In thousands)\nYear Ended December 31,\n"
                       "2016 2015 2014\nTotal net revenue 1,708,721 1,267,118 850,192\n"
                       "Product development 268,537 199,638 144,637",
                header=f"{DOC} · Item 8 · CONSOLIDATED STATEMENTS OF OPERATIONS (In thousands) | Year Ended December "
                       "31, 2016 2015 2014")
    answer = pipeline_over([selected, ops], ScriptedLLM("should not be used"), compute=True).run(
        "What proportion of Acme's 2016 total net revenue went to product development?",
        scope=Scope(documents=("d",)))
    assert answer.calculation is not None and {c.passage.id for c in answer.citations} == {"ops"}


def test_a_parts_row_under_printed_years_beats_one_whose_years_are_guessed():
    """A geographic table printing its years beats a currency-impact table under the same "Revenue" section whose
    columns print none ("Total EMEA (132.7) 25.0"), and an impact row is no revenue."""
    geo = table("geo", "Geographical Information (dollars in millions)\nFiscal 2015 Fiscal 2014 Fiscal 2013\n"
                       "Americas $ 2,788.1 $ 2,314.4 $ 2,134.4\nEMEA 1,336.4 1,179.9 1,129.2",
                header=f"{DOC} · Item 7 › Results of Operations › Revenue · Geographical Information (dollars in "
                       "millions) Fiscal 2015 Fiscal 2014 Fiscal 2013")
    impact = table("fx", "Revenue impact:\nEMEA:\nEuro $ (104.3) $ 12.3\nTotal EMEA (132.7) 25.0\n"
                         "Total revenue impact (9.6) 1.0",
                   header=f"{DOC} · Item 7 › Results of Operations › Revenue · EMEA:")
    assert [f.text for f in rank_part_cells(ITEMS["revenue"], 2014, "EMEA", [impact, geo])][:1] == ["1,179.9"]


def test_a_kind_of_revenue_asked_how_it_changed_against_another_in_brackets():
    from generation.figures import plan_part, without_contrast
    question = without_contrast("How did Acme's product revenue (as opposed to service and other revenue) change in "
                                "fiscal 2023?")
    name, plan = plan_part(question, ["acme"])
    assert name == "product revenue" and plan.formula == "revenue_2023 - revenue_2022"


def test_how_much_of_a_cash_flow_went_back_through_two_items_is_their_share():
    question = "In 2021, how much of its operating cash flow went back to shareholders through buybacks and dividends?"
    assert plan_question(question).formula == "(buybacks_2021 + dividends_2021) / cfo_2021"


def test_a_per_share_figure_no_table_prints_goes_to_the_model_not_a_refusal():
    """Dividends per share are often printed in a label ("Common dividends ($0.88 per share)") or prose."""
    llm = ScriptedLLM("The document does not say.")
    answer = pipeline_over([INCOME], llm, compute=True).run("What common dividend per share did Acme declare in 2019?",
                                                            scope=Scope(documents=("d",)))
    assert answer.stage("figures").outcome == "incomplete" and len(llm.calls) == 1
