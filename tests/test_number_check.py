"""The number check: a number an answer states must be printed, in the passage it cites, as what the answer says
it is (row, column year, or the sentence around it); else the sentence is withheld with a note."""

from __future__ import annotations

from decimal import Decimal

from generation.line_items import line_item_agreement
from generation.number_check import check_sentence, stated_numbers, withhold_wrong_numbers
from generation.prompt import NOT_FOUND
from ingest.core.records import Passage, WarningKind
from ingest.core.tables import Period, Table, TableCell, TableRow
from tests.fakes import ScriptedLLM, pipeline_over


def table_passage(rows: list[tuple[str, list[str]]], *, caption: str, periods: tuple[Period, ...],
                  scale: str = "million", title: str = "") -> Passage:
    """A table passage (its text: ``title``, then the rows) whose record is written from ``rows`` (label, cells
    as printed), offsets exact."""
    lines, records, at = ([title], [], len(title) + 1) if title else ([], [], 0)
    for label, cells in rows:
        line = " ".join([label, *cells])
        found, cursor = [], at + len(label)
        for c in cells:
            start = at + line.index(c, cursor - at)
            value = Decimal(c.strip("()% ").replace(",", "")) * (-1 if c.startswith("(") else 1)
            found.append(TableCell(c, start, start + len(c), value, percent=c.endswith("%")))
            cursor = start + len(c)
        records.append(TableRow(label, tuple(found), at, at + len(line)))
        lines.append(line)
        at += len(line) + 1
    text = "\n".join(lines)
    return Passage(id="t1", doc_id="d", source="report.pdf", text=text, chars=(0, len(text)), page=40, kind="table",
                   table=Table(caption, periods, tuple(records), scale))


DEC = (Period("December 31, 2020", 2020, 12, 31), Period("December 31, 2019", 2019, 12, 31))
UNITS = table_passage([("Unit counts at period end", ["6,146", "6,099"]), ("Net sales", ["120,130", "120,824"])],
                      caption="International segment | Fiscal Years Ended December 31, 2020 2019", periods=DEC,
                      title="International segment")


def verdicts(sentence: str, passages: list[Passage], matcher=line_item_agreement) -> list[tuple[str, bool]]:
    return [(v.number.text, v.agrees) for v in check_sentence(sentence, passages, matcher)]


def test_a_number_from_another_row_does_not_support_the_claim():
    assert verdicts("The company had 6,146 employees at the end of 2020.", [UNITS]) == [("6,146", False)]
    assert verdicts("International had 6,146 units at the end of 2020.", [UNITS]) == [("6,146", True)]
    reason = check_sentence("The company had 6,146 employees.", [UNITS])[0].reason
    assert "row 'Unit counts at period end'" in reason and "employee" in reason


def test_a_number_from_one_segments_table_does_not_support_a_claim_about_the_company():
    assert verdicts("It had 6,146 units at the end of 2020.", [UNITS]) == [("6,146", False)]
    reason = check_sentence("It had 6,146 units at the end of 2020.", [UNITS])[0].reason
    assert reason == "6,146 is printed in the International segment's table, not as the company's"


def test_a_number_from_another_years_column_does_not_support_the_claim():
    assert verdicts("Net sales were $120,824 million in 2020.", [UNITS]) == [("$120,824 million", False)]
    assert verdicts("International net sales were $120,824 million in 2019.", [UNITS]) == [("$120,824 million", True)]
    assert verdicts("International net sales were $120.1 billion in 2020.", [UNITS]) == [("$120.1 billion", True)]
    # a fiscal year ending early in a calendar year may carry either year's label
    jan = table_passage([("Net sales", ["120,130", "120,824"])], caption="Fiscal Years Ended January 31, 2021 2020",
                        periods=(Period("January 31, 2021", 2021, 1, 31), Period("January 31, 2020", 2020, 1, 31)))
    assert verdicts("Net sales were $120,130 million in fiscal 2020.", [jan]) == [("$120,130 million", True)]
    assert verdicts("Net sales were $120,130 million in fiscal 2019.", [jan]) == [("$120,130 million", False)]


def test_a_domain_matcher_knows_the_names_a_row_is_printed_under():
    claim = "International total revenue was $120,130 million in 2020."
    assert verdicts(claim, [UNITS]) == [("$120,130 million", True)]  # filings: revenue is printed as "Net sales"
    assert verdicts(claim, [UNITS], matcher=None) == [("$120,130 million", False)]  # words alone: no match
    cost = table_passage([("Cost of sales", ["90,000", "91,000"]), ("Net sales", ["120,130", "120,824"])],
                         caption="Statements of income | 2020 2019", periods=DEC)
    assert verdicts("Revenue was $90,000 million in 2020.", [cost]) == [("$90,000 million", False)]


def test_a_bare_number_asked_as_a_line_item_must_be_printed_in_prose_about_that_item():
    from generation.number_check import Asked
    text = "During the second quarter the company recorded an out of period adjustment of $6.0 million to losses."
    prose = Passage(id="p", doc_id="d", source="r.pdf", text=text, chars=(0, len(text)), page=7)
    asked = Asked(measure="total revenue")
    assert [v.agrees for v in check_sentence("$6.0 million [1].", [prose], line_item_agreement, asked)] == [False]
    said = "Total revenue included $6.0 million of out of period adjustments."
    revenue = Passage(id="q", doc_id="d", source="r.pdf", text=said, chars=(0, len(said)), page=7)
    assert [v.agrees for v in check_sentence("$6.0 million [1].", [revenue], line_item_agreement, asked)] == [True]


def test_a_margin_of_one_kind_does_not_support_a_claim_about_another():
    space = table_passage([("Net sales", ["11,532", "11,814"]), ("Operating margin", ["9.1 %", "9.6 %"])],
                          caption="Space's operating results | 2022 2021", periods=DEC, title="Space")
    assert verdicts("Space's gross margin in 2020 was 9.1%.", [space]) == [("9.1%", False)]
    assert verdicts("Space's operating margin in 2020 was 9.1%.", [space]) == [("9.1%", True)]


def test_prose_numbers_are_checked_against_their_sentence_and_results_tables_against_their_columns():
    prose = Passage(id="p1", doc_id="d", source="r.txt", text="We operate 6,146 stores. Staff grew to 210,000 people.",
                    chars=(0, 55))
    assert verdicts("The company had 6,146 employees.", [prose]) == [("6,146", False)]
    assert verdicts("The company had 6,146 stores.", [prose]) == [("6,146", True)]
    assert verdicts("About 210,000 people work there.", [prose]) == [("210,000", True)]
    results = table_passage([("BERT-large", ["85.3", "91.1"])], caption="Results on SQuAD | model EM F1 scores",
                            periods=(), scale="")
    assert verdicts("The model scored 85.3 EM.", [results]) == [("85.3", True)]  # the measure is the column's


def test_an_amount_in_a_list_says_what_it_is_after_the_list():
    text = ("Includes $30 million, $17 million and $(1) million of restructuring charges recorded in the quarters. "
            "Advertising expenses were $777 million in fiscal 2019.")
    prose = Passage(id="p1", doc_id="d", source="r.txt", text=text, chars=(0, len(text)))
    assert verdicts("It spent $30 million on advertising in fiscal 2019.", [prose], None) == [("$30 million", False)]
    assert verdicts("It recorded $30 million of restructuring charges.", [prose], None) == [("$30 million", True)]
    assert verdicts("It spent $777 million on advertising in fiscal 2019.", [prose], None) == [("$777 million", True)]


def test_a_prose_amount_agrees_with_a_sentence_naming_its_clause_not_only_the_words_right_after_it():
    text = ("It may borrow up to $4,200,000,000, including a $750,000,000 swing line subfacility for Euro-denominated "
            "borrowings permitted to be borrowed on a same day basis.")
    prose = Passage(id="p1", doc_id="d", source="r.txt", text=text, chars=(0, len(text)))
    said = "The swing line sub-facility for same-day euro borrowings is $750,000,000."
    assert verdicts(said, [prose]) == [("$750,000,000", True)]
    assert verdicts("Its employees numbered 750,000,000.", [prose]) == [("750,000,000", False)]


def test_a_count_printed_only_as_a_percentage_is_not_supported_and_a_percent_ending_a_sentence_is_one():
    text = "Larger sellers were 42% of total GPV in the fourth quarter. Our effective tax rate was 14.2% for 2022."
    prose = Passage(id="p1", doc_id="d", source="r.txt", text=text, chars=(0, len(text)))
    assert verdicts("It had 42 active sellers at the end of 2016 [1].", [prose]) == [("42", False)]
    assert verdicts("The effective tax rate for 2022 was 14.2% [1].", [prose]) == [("14.2%", True)]


def test_years_small_counts_and_markers_are_not_checked():
    assert stated_numbers("In 2020 it opened 3 stores [12].") == []


def test_a_number_printed_nowhere_it_cites_is_withheld_unless_the_question_gave_it_or_it_names_a_place():
    assert verdicts("Net sales were $999 million.", [UNITS]) == [("$999 million", False)]
    assert verdicts("International net sales were $120.8 billion in 2019.", [UNITS]) == [("$120.8 billion", True)]
    assert check_sentence("Net sales rose, as Note 12 explains.", [UNITS]) == []  # a place, not a figure
    assert check_sentence("Net sales were $999 million.", [UNITS], given={Decimal(999_000_000)}) == []
    r = withhold_wrong_numbers("Its $8 million grant is 60% PSUs [1].", lambda n: UNITS,
                               question="How much of the $8 million grant is in PSUs?")
    assert r.withheld and "60% is printed in none" in r.withheld[0][1][0]


def test_the_pipeline_withholds_the_sentence_with_the_wrong_number_and_keeps_the_rest():
    prose = Passage(id="p2", doc_id="d", source="report.pdf", text="The segment opened its first store in 1995.",
                    chars=(100, 143), page=3)
    # the citation check passes the first sentence: its words and its number are printed in the passage
    both = "The International segment had 6,146 employees at period end [1]. It opened its first store in 1995 [2]."
    a = pipeline_over([UNITS, prose], ScriptedLLM(both), verify="lexical", unsupported="abstain").run(
        "How many employees did the segment have?")
    assert a.text == "It opened its first store in 1995 [2]."
    assert [c.number for c in a.citations] == [2]
    withheld = [w for w in a.warnings if w.kind == WarningKind.WITHHELD_NUMBER]
    assert withheld and "Unit counts at period end" in str(withheld[0]) and "sentence withheld" in str(withheld[0])
    assert a.stage("numbers").outcome == "withheld"

    only = pipeline_over([UNITS], ScriptedLLM("The International segment had 6,146 employees at period end [1]."),
                         verify="lexical", unsupported="abstain").run("How many employees?")
    assert only.text == NOT_FOUND and not only.citations

    off = pipeline_over([UNITS], ScriptedLLM("The International segment had 6,146 employees at period end [1]."),
                        verify="lexical", unsupported="abstain", number_check=False).run("How many employees?")
    assert off.text.startswith("The International segment had 6,146 employees") and off.stage("numbers") is None


def test_a_verb_form_of_the_measure_matches_its_column():
    sheet = table_passage([("p29", ["203", "7"])], caption="scores.csv | player score rank", periods=(), scale="")
    assert verdicts("p29 scored 203 points.", [sheet], matcher=None) == [("203", True)]
    assert verdicts("p29 scored 203.", [sheet], matcher=None) == [("203", True)]


def test_numbers_in_code_are_not_judged():
    code = Passage(id="c", doc_id="d", source="lamp.py", kind="code", chars=(0, 90), lines=(1, 4),
                   text='def burn_hours(self) -> int:\n    """The lamp burns for eleven hours each night."""\n'
                        '    return 11')
    assert verdicts("The lamp burns for 11 hours each night.", [code]) == []


def test_prose_about_another_quarter_does_not_support_a_quarters_figure():
    p = Passage(id="q", doc_id="d", source="r.txt", chars=(0, 120),
                text="For the second quarter of 2023, the Firm reported net income of $14.5 billion, up 67%.")
    [verdict] = check_sentence("The Firm earned net income of $14.5 billion in the fourth quarter of 2022 [1].", [p])
    assert not verdict.agrees and verdict.reason == "$14.5 billion is printed for Q2 2023, not for Q4 2022"
    [verdict] = check_sentence("The Firm earned net income of $14.5 billion in the second quarter of 2023 [1].", [p])
    assert verdict.agrees
    [verdict] = check_sentence("The Firm earned net income of $14.5 billion [1].", [p])  # no quarter said
    assert verdict.agrees


def test_an_answer_whose_only_number_is_the_questions_own_is_withheld():
    p = Passage(id="v", doc_id="d", source="r.txt", chars=(0, 90),
                text="Say-on-pay frequency: every year 66,076,265 votes; every two years 43,060; every three years "
                     "4,352,683.")
    llm = ScriptedLLM("3 [1]")
    answer = pipeline_over([p], llm).run("How many votes were cast for holding the vote every three years?")
    assert answer.text == NOT_FOUND and "question's own" in " ".join(w.detail for w in answer.warnings)
    right = pipeline_over([p], ScriptedLLM("4,352,683 votes were cast for every three years [1]."))
    assert right.run("How many votes were cast for holding the vote every three years?").text.startswith("4,352,683")


def test_a_count_answered_with_a_length_of_time_or_a_dollar_value_with_a_count_is_withheld():
    p = Passage(id="v", doc_id="d", source="r.txt", chars=(0, 120),
                text="Directors are elected for a term of 1 year. The F-35 backlog included 356 production aircraft "
                     "at year end.")
    votes = pipeline_over([p], ScriptedLLM("1 Year [1]")).run("How many votes were cast for re-electing the director?")
    assert votes.text == NOT_FOUND and "length of time" in " ".join(w.detail for w in votes.warnings)
    term = pipeline_over([p], ScriptedLLM("1 year [1]")).run("How many years is a director's term?")
    assert term.text.startswith("1 year")
    dollars = pipeline_over([p], ScriptedLLM("The F-35 backlog was 356 aircraft [1].")).run(
        "What was the dollar value of the F-35 program backlog at year end?")
    assert dollars.text == NOT_FOUND


def test_a_sentence_naming_no_period_answers_for_the_questions_and_prose_prints_its_length():
    """"$2.0 billion [1]." for a quarter's figure, cited from prose printing $2.0 billion for six months: withheld."""
    text = ("Included operating lease income of $945 million for the three months ended June 30, 2022 and "
            "$2.0 billion for the six months ended June 30, 2022.")
    p = Passage(id="l", doc_id="d", source="r.txt", chars=(0, len(text)), text=text)
    question = "How much revenue did the Markets business bring in during the three months ended June 30, 2022?"
    checked = withhold_wrong_numbers("$2.0 billion [1].", lambda n: p, question=question)
    assert checked.text == "" and "6 months" in checked.withheld[0][1][0]
    assert withhold_wrong_numbers("$945 million [1].", lambda n: p, question=question).text == "$945 million [1]."
    assert withhold_wrong_numbers("$2.0 billion [1].", lambda n: p).text == "$2.0 billion [1]."  # no question


def test_a_sentence_naming_no_other_name_answers_for_the_part_asked():
    """Asked of Russia, "Net revenue was $17,846 million" cited from the company's total is withheld; a sentence
    naming another part says whose number it is and is judged as before."""
    from generation.number_check import Asked
    text = "Net revenue $ 17,846 million. Europe net revenue $ 1,886 million."
    p = Passage(id="r", doc_id="d", source="r.txt", chars=(0, len(text)), text=text)
    question = "How much net revenue did Acme generate in Russia in the first quarter of 2023?"
    unsaid = withhold_wrong_numbers("Net revenue was $17,846 million [1].", lambda n: p, asked=Asked("Russia"),
                                    question=question)
    assert unsaid.text == "" and "Russia" in unsaid.withheld[0][1][0]
    other = withhold_wrong_numbers("Europe's net revenue was $1,886 million [1].", lambda n: p, asked=Asked("Russia"),
                                   question=question)
    assert other.text.startswith("Europe's net revenue")
