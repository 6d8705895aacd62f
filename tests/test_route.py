"""Routing questions to filings by issuer and period: pure, on file-name and metadata fixtures."""

from __future__ import annotations

import pytest

from ingest.core.periods import FiscalPeriod, periods_named
from retrieval.route import doc_info, find_issuers, normalise, route, stem_parts

STEMS = ("ACTIVISIONBLIZZARD_2019_10K", "ADOBE_2015_10K", "ADOBE_2016_10K", "ADOBE_2017_10K", "ADOBE_2022_10K",
         "AMD_2015_10K", "AMD_2022_10K", "BESTBUY_2017_10K", "BESTBUY_2019_10K", "BESTBUY_2023_10K",
         "BESTBUY_2024Q2_10Q", "BLOCK_2016_10K", "CORNING_2020_10K", "COSTCO_2021_10K",
         "FOOTLOCKER_2022_8K_dated-2022-05-20", "JPMORGAN_2021Q1_10Q", "JPMORGAN_2022Q2_10Q", "KRAFTHEINZ_2019_10K",
         "LOCKHEEDMARTIN_2020_10K", "MICROSOFT_2016_10K", "NETFLIX_2015_10K", "PEPSICO_2022_10K",
         "PEPSICO_2023Q1_EARNINGS", "PEPSICO_2023_8K_dated-2023-05-30", "ULTABEAUTY_2023Q4_EARNINGS", "3M_2018_10K",
         "3M_2019_10K")
CORPUS = [{"doc_id": s.lower(), "source": f"filings/{s}.pdf", "meta": {}} for s in STEMS]


def routed(question: str, corpus: list[dict] = CORPUS) -> tuple[str, ...]:
    decision = route(question, corpus)
    assert decision.confident, decision.reason
    return decision.doc_ids


def test_names_are_normalised_and_legal_suffixes_dropped():
    assert normalise("ACTIVISION BLIZZARD, INC.") == normalise("Activision Blizzard") == "activisionblizzard"
    assert normalise("Best Buy Co., Inc.") == "bestbuy"
    assert normalise("The Kraft Heinz Company") == "kraftheinz"
    assert normalise("JPMorgan Chase & Co.") == "jpmorganchase"


def test_file_stems_give_issuer_period_and_form():
    assert stem_parts("ACTIVISIONBLIZZARD_2019_10K.pdf") == ("activisionblizzard", FiscalPeriod(2019), "10K")
    assert stem_parts("x/JPMORGAN_2021Q1_10Q.pdf") == ("jpmorgan", FiscalPeriod(2021, 1), "10Q")
    assert stem_parts("paper_final.pdf") == ("", None, "")  # not a filing name: not routable by name
    assert doc_info("d", "paper_final.pdf", {}).issuer is None


@pytest.mark.parametrize(("question", "years"), [
    ("What is the FY2018 capital expenditure amount (in USD millions) for 3M?", ["FY2018"]),
    ("Adobe's change in operating income from FY2015 to FY2016?", ["FY2015", "FY2016"]),
    ("which lost the least cash flow for AMD in FY22?", ["FY2022"]),
    ("the FY2015 - FY2017 3 year average net profit margin", ["FY2015", "FY2017"]),
    ("revenue in fiscal 2019 and fiscal year 2020", ["FY2019", "FY2020"]),
    ("between FY 2023 and Q2 of FY2024", ["FY2023", "FY2024Q2"]),
    ("lowest net revenue in 2021 Q1", ["FY2021Q1"]),
    ("in the second fiscal quarter of 2023", ["FY2023Q2"]),
    ("As of FY2023Q1, why raise guidance for FY2023?", ["FY2023Q1", "FY2023"]),
    ("Q3 2022 results", ["FY2022Q3"]),
    ("What is the revenue?", []),
])
def test_periods_named(question: str, years: list[str]):
    assert [str(p) for p in periods_named(question)] == years


def test_issuer_found_by_name_stem_and_ticker():
    docs = [doc_info(d["doc_id"], d["source"], d["meta"]) for d in CORPUS]
    assert set(find_issuers("What is Activision Blizzard's FY2019 revenue?", docs)) == {"activisionblizzard"}
    assert set(find_issuers("Did Ulta Beauty's wages rise?", docs)) == {"ultabeauty"}
    assert set(find_issuers("Which of JPM's segments earned most?", docs)) == {"jpmorgan"}
    assert find_issuers("What was the best buy-back?", docs) == {"bestbuy": {"bestbuy_2017_10k", "bestbuy_2019_10k",
                                                                              "bestbuy_2023_10k",
                                                                              "bestbuy_2024q2_10q"}}
    assert find_issuers("What is the net revenue of the company?", docs) == {}  # no "net" -> netflix


def test_year_question_prefers_that_filing_and_keeps_the_next_annual_one():
    assert routed("What is the FY2018 capital expenditure amount (in USD millions) for 3M?") == ("3m_2018_10k",
                                                                                                  "3m_2019_10k")
    assert routed("What is Adobe's year-over-year change in unadjusted operating income from FY2015 to FY2016?") \
        == ("adobe_2016_10k", "adobe_2017_10k")
    assert routed("Does Adobe have an improving operating margin profile as of FY2022?") == ("adobe_2022_10k",)


def test_two_digit_fiscal_year_and_issuer_only():
    assert routed("Among operations, investing, and financing activities, which brought in the most (or lost the "
                  "least) cash flow for AMD in FY22?") == ("amd_2022_10k",)
    assert set(routed("Has Adobe ever restated its accounts?")) == {"adobe_2015_10k", "adobe_2016_10k",
                                                                     "adobe_2017_10k", "adobe_2022_10k"}


def test_quarter_question_goes_to_the_quarterly_filing():
    assert routed("Was there any drop in Best Buy's cash between FY 2023 and Q2 of FY2024?") == ("bestbuy_2024q2_10q",)
    assert routed("Which of JPM's business segments had the lowest net revenue in 2021 Q1?") == ("jpmorgan_2021q1_10q",)
    assert routed("As of FY2023Q1, why did Pepsico raise full year guidance for FY2023?") == (
        "pepsico_2023q1_earnings",)


def test_a_period_shorter_than_a_year_prefers_the_quarterly_filing_of_that_year_or_the_next():
    # a fiscal year ending early in the next calendar year labels July 2023's quarter as FY2024's second
    assert routed("What was Best Buy's revenue for the three months ended July 29, 2023?")[0] == "bestbuy_2024q2_10q"
    assert routed("What was Best Buy's revenue in fiscal 2023?")[0] == "bestbuy_2023_10k"  # a year: the annual one
    assert routed("How much did JPMorgan earn in the six months ended June 30, 2022?")[0] == "jpmorgan_2022q2_10q"


def test_next_years_event_filing_is_not_a_restatement():
    assert routed("What are the geographies that Pepsico primarily operates in as of FY2022?") == ("pepsico_2022_10k",)


def test_period_without_a_filing_falls_back_to_later_then_all_of_the_issuer():
    assert routed("What was Netflix's FY2014 revenue?") == ("netflix_2015_10k",)  # the FY2015 10-K restates FY2014
    assert set(routed("Microsoft's FY2030 plans?")) == {"microsoft_2016_10k"}


def test_unsure_without_an_issuer_or_with_too_many():
    decision = route("What drove the reduction in SG&A expense as a percent of net sales in FY2023?", CORPUS)
    assert not decision.confident and decision.doc_ids == () and "no issuer" in decision.reason
    many = route("Compare Adobe, Netflix and Costco in FY2015", CORPUS)
    assert not many.confident and "3 issuers" in many.reason
    assert "not routed" in many.note()


def test_two_issuers_route_to_both():
    ids = routed("Compare Adobe and Netflix operating margins in FY2015")
    assert set(ids) == {"adobe_2015_10k", "adobe_2016_10k", "netflix_2015_10k"}


def test_metadata_overrides_the_file_name():
    corpus = [{"doc_id": "a", "source": "upload-1.pdf", "meta": {"issuer": "ACTIVISION BLIZZARD, INC.",
                                                                   "period": "FY2019", "form": "10-K"}},
              {"doc_id": "b", "source": "upload-2.pdf", "meta": {"issuer": "Adobe Inc.", "year": "2022"}},
              {"doc_id": "c", "source": "notes.txt", "meta": {"title": "Meeting notes"}}]
    assert routed("What is the FY2019 fixed asset turnover ratio for Activision Blizzard?", corpus) == ("a",)
    assert routed("Adobe FY2022 free cash flow?", corpus) == ("b",)
    assert not route("What do the meeting notes say?", corpus).confident
    generic = route("What do the meeting notes say?", corpus[2:])
    assert not generic.confident and not generic.applicable


def test_reason_names_documents_and_why():
    decision = route("What is the FY2018 capital expenditure amount for 3M?", CORPUS)
    assert "3M_2018_10K" in decision.reason and "FY2018" in decision.reason and decision.issuers == ("3m",)
    assert decision.note().startswith("routed to 2 document(s)")


def test_a_routed_decision_carries_every_name_its_issuers_documents_answer_to():
    corpus = [{"doc_id": "a", "source": "filings/ACME_2016_10K.pdf", "meta": {"issuer": "Acme Anvil Works, Inc."}},
              {"doc_id": "b", "source": "filings/GLOBEX_2016_10K.pdf", "meta": {}}]
    decision = route("What was Acme's FY2016 revenue?", corpus)
    assert decision.confident and decision.doc_ids == ("a",)
    assert set(decision.aliases) == {"acme", "acmeanvilworks"}  # the file stem's and the cover page's names
