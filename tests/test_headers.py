"""Document descriptions, section detection and passage headers (ingest/headers.py) and their wiring."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from ingest.core.records import Document, Passage, Section
from ingest.core.settings import Settings, SplitSettings
from ingest.describe import SCAN_CHARS, FilingsDescriber, describe
from ingest.headers import MAX_HEADER_CHARS, add_headers, describe_document, passage_header
from ingest.loaders import load_file
from ingest.sections import MAX_SECTIONS, detect_sections, html_outline, section_path
from ingest.split import DocumentSplitter, ProseSplitter, embedding_text
from tests.fakes import FakeEmbedder

FILINGS = FilingsDescriber()  # the filings profile's describer (app/profiles.py)
TEN_K = """UNITED STATES
SECURITIES AND EXCHANGE COMMISSION
Washington, D.C. 20549
FORM 10-K
ANNUAL REPORT PURSUANT TO SECTION 13 OR 15(d) OF THE SECURITIES EXCHANGE ACT OF 1934
For the Fiscal Year Ended December 31, 2019
Commission File Number 1-15839
ACME WIDGETS, INC.
(Exact name of registrant as specified in its charter)
Delaware 95-4803544
"""

TEN_Q_WRAPPED = """UNITED STATES
SECURITIES AND EXCHANGE COMMISSION
FORM 10-Q
Quarterly report pursuant to Section 13 or 15(d) of
the Securities Exchange Act of 1934
For the quarterly period ended Commission file
June 30, 2022 number 1-5805
Big Bank & Co.
(Exact name of registrant as specified in its charter)
"""

EIGHT_K = """UNITED STATES
SECURITIES AND EXCHANGE COMMISSION
FORM 8-K
CURRENT REPORT
Date of Report (Date of earliest event reported): May 3, 2023
Fizzy Drinks, Inc.
(Exact name of registrant as specified in its charter)
"""

EARNINGS = """March
9, 2023
Beauty Corp Announces Fourth Quarter
Fiscal 2022 Results
Net Sales of $3.2 Billion
BOLINGBROOK, Ill. -- Beauty Corp today announced results for the thirteen-week period ("fourth quarter") and
fifty-two-week period ("fiscal year") ended January 28, 2023 compared to the same periods ended January 29, 2022.
"""

FILING_BODY = """Table of Contents
PART I
Item 1. Business 4
Item 1A. Risk Factors 12
Item 7. Management's Discussion and Analysis 33
Item 8. Financial Statements and Supplementary Data 50
Item 9. Changes in and Disagreements with Accountants 90
PART I
Item 1. Business
We make widgets and sell them to many customers around the world every year.
ACME WIDGETS, INC. AND SUBSIDIARIES
Our widgets come in three sizes and two colours, and we ship them from two plants.
PART II
Item 8. Financial Statements and Supplementary Data
The financial statements and the notes to them follow on the next pages of this report.
ACME WIDGETS, INC. AND SUBSIDIARIES
CONSOLIDATED BALANCE SHEETS
Cash and cash equivalents $ 5,794 $ 4,225
ACME WIDGETS, INC. AND SUBSIDIARIES
CONSOLIDATED STATEMENTS OF CASH FLOWS
Capital expenditures (253) (282)
ACME WIDGETS, INC. AND SUBSIDIARIES
Note 3. Income Taxes
The effective tax rate was 21 percent.
"""


def _doc(text: str, source: str = "report.pdf", kind: str = "pdf", **kw: object) -> Document:
    return Document(doc_id="d1", source=source, text=text, kind=kind, **kw)  # type: ignore[arg-type]


# -- describe --------------------------------------------------------------------------------------------

def test_ten_k_cover_gives_issuer_form_year_period():
    meta = describe(_doc(TEN_K))
    assert meta == {"issuer": "ACME WIDGETS, INC.", "form": "10-K", "year": "2019", "period": "FY2019"}


def test_quarterly_cover_wrapped_by_the_extractor_still_gives_the_quarter():
    meta = describe(_doc(TEN_Q_WRAPPED))
    assert (meta["issuer"], meta["form"], meta["period"], meta["year"]) == ("Big Bank & Co.", "10-Q", "Q2 2022",
                                                                             "2022")


def test_quarter_ending_off_calendar_takes_the_fiscal_label_from_the_file_name_only_when_they_agree():
    text = TEN_Q_WRAPPED.replace("June 30, 2022", "July 29, 2023")
    assert describe(_doc(text, "RETAIL_2024Q2_10Q.pdf"))["period"] == "Q2 FY2024"
    assert describe(_doc(text, "RETAIL_2024Q2_10Q.pdf"))["year"] == "2024"
    assert describe(_doc(text, "q.pdf"))["period"] == "quarter ended July 29, 2023"
    assert describe(_doc(text, "RETAIL_2019Q2_10Q.pdf"))["period"] == "quarter ended July 29, 2023"  # disagrees


def test_text_beats_the_file_name():
    meta = describe(_doc(TEN_K, "OTHERCO_2015_10Q.pdf"))
    assert (meta["issuer"], meta["form"], meta["period"]) == ("ACME WIDGETS, INC.", "10-K", "FY2019")


def test_eight_k_report_date_is_its_period():
    meta = describe(_doc(EIGHT_K))
    assert (meta["issuer"], meta["form"], meta["period"], meta["year"]) == ("Fizzy Drinks, Inc.", "8-K",
                                                                             "May 3, 2023", "2023")


def test_earnings_release_headline_and_end_date():
    meta = describe(_doc(EARNINGS))
    assert meta["issuer"] == "Beauty Corp"
    assert meta["form"] == "earnings release"
    assert (meta["year"], meta["period"]) == ("2023", "Q4 FY2023")  # the year the period ends in, as on a 10-K
    assert meta["title"] == "Beauty Corp Announces Fourth Quarter Fiscal 2022 Results"


def test_pdf_title_names_the_issuer_when_the_cover_does_not():
    cover = TEN_K.replace("ACME WIDGETS, INC.\n(Exact name of registrant as specified in its charter)\n", "")
    meta = describe(_doc(cover, meta={"title": "Form 10-K for Acme Corp filed 02/27/2020"}))
    assert (meta["issuer"], meta["form"], meta["period"]) == ("Acme Corp", "10-K", "FY2019")
    assert meta["title"] == "Form 10-K for Acme Corp filed 02/27/2020"  # kept


def test_file_name_alone_describes_a_report_and_nothing_else():
    meta = describe(_doc("Some text without a cover.", "reports/ACME_2021_10K.pdf"))
    assert (meta["issuer"], meta["form"], meta["year"], meta["period"]) == ("ACME", "10-K", "2021", "FY2021")
    assert "issuer" not in describe(_doc("Minutes of the meeting", "notes_2021.txt", "text"))


def test_years_outside_range_are_ignored():
    text = TEN_K.replace("December 31, 2019", "December 31, 1066")
    meta = describe(_doc(text, "x.pdf"))
    assert "year" not in meta and "period" not in meta


def test_titles_of_plain_documents():
    assert describe(_doc("Release Notes 2.0\n\nThis version adds a button.", "r.txt", "text"))["title"] == \
        "Release Notes 2.0"
    md = _doc("intro line\n# Real Title\ntext", "a.md", "markdown", sections=(Section(1, "Real Title", 11),))
    assert describe(md)["title"] == "Real Title"
    assert describe(_doc("def f():\n    return 1\n", "a.py", "code")) == {}


def test_describe_is_bounded_and_never_raises_on_odd_text():
    rng = random.Random(7)
    alphabet = "(Exact name of registrant)FORM 10-K\n ended 2019,QuarterResults\x00\ufffd"
    for _ in range(200):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 400)))
        describe(_doc(text, rng.choice(["x.pdf", "A_2019Q9_10K.pdf", "_.md", "10K"])))
    late = "x\n" * SCAN_CHARS + TEN_K  # a cover beyond the scanned head is not read
    assert "issuer" not in describe(_doc(late))


# -- sections ------------------------------------------------------------------------------------------

def test_filing_sections_skip_contents_page_and_running_headers():
    secs = detect_sections(_doc(FILING_BODY))
    titles = [s.title for s in secs]
    assert titles == ["PART I", "Item 1. Business", "PART II", "Item 8. Financial Statements and Supplementary Data",
                      "CONSOLIDATED BALANCE SHEETS", "CONSOLIDATED STATEMENTS OF CASH FLOWS", "Note 3. Income Taxes"]
    assert all(FILING_BODY[s.start:].startswith(s.title) for s in secs)
    capex = FILING_BODY.index("Capital expenditures")
    assert section_path(secs, capex) == ("PART II", "Item 8. Financial Statements and Supplementary Data",
                                         "CONSOLIDATED STATEMENTS OF CASH FLOWS")


def test_markdown_sections_ignore_fenced_code():
    text = "# Guide\n\nIntro.\n\n```sh\n# not a heading\n```\n\n## Install\n\nRun it.\n\nUsage\n=====\nMore."
    secs = detect_sections(_doc(text, "g.md", "markdown"))
    assert [(s.level, s.title) for s in secs] == [(1, "Guide"), (2, "Install"), (1, "Usage")]
    assert section_path(secs, text.index("Run it")) == ("Guide", "Install")
    assert section_path(secs, 0) == ("Guide",)


def test_plain_text_numbered_headings_and_no_false_positives():
    text = ("1. Introduction\nWe study things.\n2. Related Work\nOthers did.\n2.1 Early Systems\nOld ones.\n"
            "1. open the file and read it\nThe total was 2019.\n3 apples were eaten.\n")
    secs = detect_sections(_doc(text, "paper.txt", "text"))
    assert [(s.level, s.title) for s in secs] == [(4, "1. Introduction"), (4, "2. Related Work"),
                                                  (5, "2.1 Early Systems")]
    assert section_path(secs, text.index("Old ones")) == ("2. Related Work", "2.1 Early Systems")
    assert detect_sections(_doc("class A:\n    pass\n# comment\n", "a.py", "code")) == ()


def test_section_count_is_bounded():
    text = "".join(f"## Heading {i}\nbody\n" for i in range(MAX_SECTIONS + 50))
    assert len(detect_sections(_doc(text, "big.md", "markdown"))) == MAX_SECTIONS


def test_section_path_before_first_heading_is_empty():
    assert section_path([Section(1, "A", 10)], 3) == ()
    assert section_path([], 3) == ()


def test_html_outline_locates_headings(tmp_path):
    page = tmp_path / "p.html"
    page.write_text("<html><head><title>Widget Handbook</title></head><body><h1>Overview</h1><p>Widgets are "
                    "small.</p><h2>Prices</h2><p>They cost 5 dollars.</p><script>x()</script></body></html>")
    doc = load_file(page)
    assert doc.meta["title"] == "Widget Handbook"
    assert [(s.level, s.title) for s in doc.sections] == [(1, "Overview"), (2, "Prices")]
    assert all(doc.text[s.start:].startswith(s.title) for s in doc.sections)
    assert html_outline("<h1>unclosed" + "x" * 5000) == ("", [])


# -- the header line -------------------------------------------------------------------------------------

def test_header_line_and_its_cap():
    meta = {"issuer": "3M", "form": "10-K", "period": "FY2018", "year": "2018"}
    path = ["Item 8. Financial Statements", "Consolidated Statement of Cash Flows"]
    assert passage_header(meta, path) == ("3M 10-K FY2018 · Item 8. Financial Statements › Consolidated Statement "
                                          "of Cash Flows")
    huge = passage_header({"issuer": "X" * 500, "title": "t"}, ["P" * 300] * 8, "col | " * 200)
    assert len(huge) <= MAX_HEADER_CHARS and "\n" not in huge
    assert passage_header({"title": "Guide\nline two"}, []) == "Guide line two"
    assert passage_header({"year": "2019"}, []) == ""


def test_describe_document_keeps_loader_meta_and_sections():
    outline = (Section(1, "From the outline", 0),)
    doc = _doc(TEN_K, "ACME_2019_10K.pdf", meta={"title": "Annual report", "extractor": "pdfium"},
               sections=outline)
    out = describe_document(doc, describer=FILINGS)
    assert out.meta["title"] == "Annual report" and out.meta["extractor"] == "pdfium"
    assert out.meta["issuer"] == "ACME WIDGETS, INC." and out.sections == outline
    assert out.text == doc.text
    code = _doc("x = 1\n", "a.py", "code")
    assert describe_document(code) is code


# -- wiring: splitter, embedding text, loader, index -------------------------------------------------------

def _splitter(headers: bool, chunk_tokens: int = 40) -> DocumentSplitter:
    s = SplitSettings(chunk_tokens=chunk_tokens, overlap_tokens=4, headers=headers)
    return DocumentSplitter(s, ProseSplitter(s, FakeEmbedder().count_tokens))


def test_splitter_headers_change_nothing_but_the_header():
    doc = describe_document(_doc(TEN_K + "\n" + FILING_BODY, "ACME_2019_10K.txt", "text"), describer=FILINGS)
    off, on = _splitter(False).split(doc), _splitter(True).split(doc)
    assert [(p.id, p.chars, p.text) for p in off] == [(p.id, p.chars, p.text) for p in on]
    assert all(p.header == "" for p in off)
    assert all(p.header.startswith("ACME WIDGETS, INC. 10-K FY2019") for p in on)
    capex = next(p for p in on if "Capital expenditures" in p.text)
    assert "CONSOLIDATED STATEMENTS OF CASH FLOWS" in capex.header or "CONSOLIDATED" in capex.text
    assert embedding_text(capex) == capex.header + "\n" + capex.text
    assert all(doc.text[p.chars[0]:p.chars[1]] == p.text for p in on)
    assert _splitter(True).identity() != _splitter(False).identity()
    assert _splitter(True).identity()["header_scheme"] == 1


def test_code_passages_and_table_headers():
    code = _doc("def f():\n    return 1\n", "m.py", "code", language="python", meta={"title": "m"})
    assert all(p.header == "" for p in _splitter(True).split(code))
    doc = _doc("Revenue 5 4", meta={"issuer": "ACME", "form": "10-K", "period": "FY2019"},
               sections=(Section(3, "INCOME STATEMENT", 0),))
    table = Passage(id="t", doc_id="d1", source="report.pdf", text="Revenue 5 4", chars=(0, 11), kind="table",
                    header="Table 1 | 2019 | 2018")
    prose_code = replace(table, id="c", kind="code", header="")
    out = add_headers(doc, [table, prose_code])
    assert out[0].header == "ACME 10-K FY2019 · INCOME STATEMENT · Table 1 | 2019 | 2018"
    assert out[1] is prose_code


def test_load_file_fills_meta_and_sections(tmp_path, make_pdf):
    md = tmp_path / "guide.md"
    md.write_text("# Widget Guide\n\nIntro.\n\n## Setup\n\nPlug it in.\n")
    doc = load_file(md, describer=FILINGS)
    assert doc.meta["title"] == "Widget Guide" and [s.title for s in doc.sections] == ["Widget Guide", "Setup"]
    pdf = make_pdf("ACME_2019_10K.pdf", [TEN_K, "PART II\nItem 8. Financial Statements\nRevenue was 5."])
    doc = load_file(pdf, describer=FILINGS)
    assert doc.meta["issuer"] == "ACME WIDGETS, INC." and doc.meta["period"] == "FY2019"
    assert "extractor" in doc.meta
    assert "Item 8. Financial Statements" in [s.title for s in doc.sections]


@pytest.mark.parametrize("headers", [True, False])
def test_index_stores_headers_and_bm25_finds_them(tmp_path, headers):
    from app.sdk import Index

    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "ACME_2019_10K.txt").write_text(TEN_K + "\n" + FILING_BODY)
    filler = " ".join(f"word{i}" for i in range(400))
    (tmp_path / "docs" / "notes.md").write_text(f"# Zebra Care\n\n{filler}\n\nFeed the animals twice a day.\n")
    settings = Settings().replace(split={"headers": headers}, ingest={"isolate": False})
    index = Index.build(tmp_path / "docs", tmp_path / "idx", settings=settings, embedder=FakeEmbedder())
    last = max((p for p in index.passages() if p.source.endswith("notes.md")), key=lambda p: p.chars)
    assert "Zebra" not in last.text and "Feed the animals" in last.text
    assert (last.header == "Zebra Care") is headers
    hits = index.search("zebra", k=10, mode="bm25")
    assert any(h.passage.id == last.id for h in hits) is headers  # the word is only in its header
