"""Tables in PDF page text: the line classifier, exact spans, row-group passages, and the splitter wiring."""

from __future__ import annotations

import pytest

from ingest.core.records import Document, PageSpan
from ingest.core.settings import SplitSettings
from ingest.split import DocumentSplitter, ProseSplitter
from ingest.tables import LineKind, TableBlock, TableTally, classify_lines, find_tables, row_groups, table_header
from tests.fakes import FakeEmbedder

COUNT = FakeEmbedder().count_tokens

BALANCE_SHEET = """Table of Contents
ACTIVISION BLIZZARD, INC. AND SUBSIDIARIES
CONSOLIDATED BALANCE SHEETS
(Amounts in millions, except share data)
At December 31, 2019 At December 31, 2018
Assets
Current assets:
Cash and cash equivalents $ 5,794 $ 4,225
Accounts receivable, net of allowances of $132 and $190, at December 31, 2019 and 2018, respectively 848 1,035
Inventories, net 32 43
Total current assets 7,292 6,106
Goodwill 9,764 9,762
Total assets $ 19,845 $ 17,890
Liabilities and Shareholders' Equity
Current liabilities:
Accounts payable $ 292 $ 253
Total liabilities 7,040 6,498
Commitments and contingencies (Note 23)
Shareholders' equity:
Common stock, $0.000001 par value, 2,400,000,000 shares authorized, 1,197,436,644 and 1,192,093,991 shares issued at
December 31, 2019 and December 31, 2018, respectively — —
Retained earnings 7,813 6,593
Accumulated other comprehensive loss (619) (601)
Total liabilities and shareholders' equity $ 19,845 $ 17,890
The accompanying notes are an integral part of these Consolidated Financial Statements.
F-4"""

INCOME_STATEMENT = """ACME CORP.
CONSOLIDATED STATEMENTS OF OPERATIONS
(Amounts in millions, except per share data)
For the Years Ended December 31,
2019 2018 2017
Net revenues
Product sales $ 1,975 $ 2,255 $ 2,110
Subscription, licensing, and other revenues 4,514 5,245 4,907
Total net revenues 6,489 7,500 7,017
Costs and expenses
Cost of revenues—product sales:
Product costs 656 719 733
Interest and other expense (income), net (Note 18) (26) 71 146
Loss on extinguishment of debt — 40 12
Net income $ 1,503 $ 1,848 $ 273
Earnings per common share
Basic $ 1.96 $ 2.43 $ 0.36
Diluted $ 1.95 $ 2.40 $ 0.36"""

QUARTERLY = """Segment Performance Summary
Selected financial data for the Domestic segment was as follows ($ in millions):
Three Months Ended Six Months Ended
July 29, 2023 July 30, 2022 July 29, 2023 July 30, 2022
Revenue $ 8,890 $ 9,569 $ 17,691 $ 19,463
Revenue % change (7.1)% (13.1)% (9.1)% (10.9)%
Comparable sales % change
(1)
(6.3)% (12.7)% (8.4)% (10.6)%
Gross profit as a % of revenue 23.1 % 22.0 % 22.9 % 22.0 %
Restructuring charges $ (7) $ 34 $ (15) $ 34
Operating income $ 329 $ 343 $ 619 $ 772
(1) Comparable online sales are included in the comparable sales calculation.
The decrease in revenue in the second quarter and first six months of fiscal 2024 was primarily driven by comparable
sales declines in appliances, home theater, computing and mobile phones, partially offset by growth in gaming.
17"""

PROSE_WITH_NUMBERS = """Net revenues for 2019 were $6,489 million, compared with $7,500 million in 2018 and $7,017
million in 2017. The decrease of $1,011 million was mainly due to lower product sales of $1,975
million versus $2,255 million, while subscription revenues fell to $4,514 million from $5,245
million. Operating income was $1,607 million, or 24.8% of revenues, compared with 1,988
in 2018 and 1,309 in 2017, and we returned $283 million to holders through dividends of 0.37
per share, up from 0.34 per share in 2018 and 0.30 in 2017, as described in Note 18 on page 92"""

NUMBERED_LIST = """Our priorities for the year were:
1. Grow net revenues by 5% to 7%
2. Expand operating margin by 50 basis points to 24.8
3. Return $1.5 billion to shareholders through dividends of 0.41
4. Reduce net debt below 2.0
These priorities guide the allocation of capital."""

PYPDF_STYLE = """CONSOLIDATED BALANCE SHEETS
(Amounts in millions, except share data)
At December 31, 2019
At December 31, 2018
Assets
Current assets:
Cash and cash equivalents
$
5,794
 $
4,225
Inventories, net
32
43
Software development
322
264
Total current assets
7,292
6,106"""

CONTENTS = """TABLE OF CONTENTS
Item 1. Business 4
Item 1A. Risk Factors 12
Item 2. Properties 25
Item 7. Management's Discussion and Analysis 31
Item 8. Financial Statements 58"""


def _one(text: str, offset: int = 0) -> TableBlock:
    blocks = find_tables(text, offset)
    assert len(blocks) == 1, [text[b.start - offset:b.end - offset] for b in blocks]
    return blocks[0]


def _cut(text: str, span: tuple[int, int] | None) -> str:
    assert span is not None
    return text[span[0]:span[1]]


def test_balance_sheet_block_with_caption_header_and_rows():
    block = _one(BALANCE_SHEET)
    assert block.confident and block.reason == "" and block.columns == 2
    caption = "ACTIVISION BLIZZARD, INC. AND SUBSIDIARIES\nCONSOLIDATED BALANCE SHEETS\n"
    assert _cut(BALANCE_SHEET, block.caption) == caption + "(Amounts in millions, except share data)"
    assert _cut(BALANCE_SHEET, block.header) == "At December 31, 2019 At December 31, 2018"
    table = _cut(BALANCE_SHEET, (block.start, block.end))
    assert table.startswith("ACTIVISION BLIZZARD") and table.endswith("equity $ 19,845 $ 17,890")
    assert "Table of Contents" not in table and "accompanying notes" not in table
    rows = [_cut(BALANCE_SHEET, r) for r in block.rows]
    # section labels ride with the row below them; a label wrapped before its numbers is one row
    assert rows[0] == "Assets\nCurrent assets:\nCash and cash equivalents $ 5,794 $ 4,225"
    assert "Shareholders' equity:\nCommon stock" in rows[-4] and rows[-4].endswith("respectively — —")
    assert rows[-1] == "Total liabilities and shareholders' equity $ 19,845 $ 17,890"
    assert len(rows) == 12 and "Commitments and contingencies (Note 23)\n" in rows[-4]
    # rows follow each other and end where the block ends
    assert block.rows[0][0] > block.header[1] and block.rows[-1][1] == block.end
    assert all(a[1] < b[0] for a, b in zip(block.rows, block.rows[1:], strict=False))


def test_income_statement_with_three_year_columns():
    block = _one(INCOME_STATEMENT)
    assert block.confident and block.columns == 3
    assert _cut(INCOME_STATEMENT, block.header) == "For the Years Ended December 31,\n2019 2018 2017"
    assert _cut(INCOME_STATEMENT, block.caption).splitlines()[0] == "ACME CORP."
    assert _cut(INCOME_STATEMENT, block.rows[0]) == "Net revenues\nProduct sales $ 1,975 $ 2,255 $ 2,110"
    assert _cut(INCOME_STATEMENT, block.rows[-1]) == "Diluted $ 1.95 $ 2.40 $ 0.36"
    assert table_header(INCOME_STATEMENT, block) == (
        "ACME CORP. CONSOLIDATED STATEMENTS OF OPERATIONS (Amounts in millions, except per share data) | "
        "For the Years Ended December 31, 2019 2018 2017")


def test_quarterly_table_stops_before_its_notes_and_prose():
    block = _one(QUARTERLY)
    assert block.confident and block.columns == 4
    assert _cut(QUARTERLY, block.caption) == ("Segment Performance Summary\nSelected financial data for the Domestic "
                                              "segment was as follows ($ in millions):")
    assert _cut(QUARTERLY, block.header) == ("Three Months Ended Six Months Ended\n"
                                             "July 29, 2023 July 30, 2022 July 29, 2023 July 30, 2022")
    assert _cut(QUARTERLY, (block.start, block.end)).endswith("Operating income $ 329 $ 343 $ 619 $ 772")
    # a footnote mark on its own line stays with the numbers below it
    assert "Comparable sales % change\n(1)\n(6.3)% (12.7)% (8.4)% (10.6)%" in [_cut(QUARTERLY, r) for r in block.rows]


@pytest.mark.parametrize("text", [PROSE_WITH_NUMBERS, NUMBERED_LIST, CONTENTS])
def test_prose_lists_and_contents_are_not_tables(text):
    assert find_tables(text) == []


def test_prose_lines_ending_in_numbers_are_not_rows():
    kinds = [ln.kind for ln in classify_lines(PROSE_WITH_NUMBERS)]
    assert LineKind.ROW not in kinds


def test_one_cell_per_line_text_is_unsure():
    blocks = find_tables(PYPDF_STYLE)
    assert blocks and not any(b.confident for b in blocks)
    assert all("one cell per line" in b.reason for b in blocks)


def test_spans_are_offsets_into_the_document():
    prefix = "Cover page text.\n\n"
    doc_text = prefix + BALANCE_SHEET
    block = _one(BALANCE_SHEET, offset=len(prefix))
    assert block == _one(doc_text)
    assert _cut(doc_text, block.header) == "At December 31, 2019 At December 31, 2018"
    for row in block.rows:
        assert _cut(doc_text, row) == _cut(BALANCE_SHEET, (row[0] - len(prefix), row[1] - len(prefix)))


def test_crlf_lines_keep_exact_spans():
    text = BALANCE_SHEET.replace("\n", "\r\n")
    block = _one(text)
    assert _cut(text, block.rows[-1]) == "Total liabilities and shareholders' equity $ 19,845 $ 17,890"
    assert not _cut(text, (block.start, block.end)).endswith("\r")


def test_row_groups_keep_rows_whole_and_respect_the_budget():
    text = INCOME_STATEMENT
    block = _one(text)
    budget = 60
    groups = row_groups(text, block, COUNT, budget)
    assert len(groups) > 1
    assert groups[0][0] == block.start and groups[-1][1] == block.end
    starts, ends = {r[0] for r in block.rows}, {r[1] for r in block.rows}
    for i, (a, b) in enumerate(groups):
        assert COUNT(text[a:b]) <= budget
        assert b in ends and (i == 0 or a in starts)
    # every row is in exactly one group
    assert sum(a <= r[0] and r[1] <= b for r in block.rows for a, b in groups) == len(block.rows)
    assert row_groups(text, block, COUNT, 10_000) == [(block.start, block.end)]


def test_row_longer_than_the_budget_is_a_group_alone():
    text = "2019 2018\na 1 2\n" + "b " * 30 + "3 4\nc 5 6"
    block = TableBlock(0, len(text), None, (0, 9), ((10, 15), (16, len(text) - 6), (len(text) - 5, len(text))), True)
    groups = row_groups(text, block, COUNT, 8)
    assert groups == [(0, 15), (16, len(text) - 6), (len(text) - 5, len(text))]


def _pdf(*pages: str) -> Document:
    text, spans, at = "", [], 0
    for n, page in enumerate(pages, 1):
        if text:
            text += "\n\n"
            at = len(text)
        text += page
        spans.append(PageSpan(n, at, len(text)))
    return Document(doc_id="d" * 16, source="report.pdf", text=text, kind="pdf", pages=tuple(spans))


def _long_table(rows: int) -> str:
    lines = [f"Line item number {i} of the schedule $ {1000 + i:,} $ {2000 + i:,}" for i in range(rows)]
    return "CONSOLIDATED SCHEDULE\n(in millions)\n2023 2022\n" + "\n".join(lines)


def test_long_table_becomes_row_group_passages_with_the_header_repeated():
    page = "An introduction to the schedule below.\n" + _long_table(40) + "\nThe notes are part of this schedule."
    doc = _pdf("Cover page.", page)
    passages = ProseSplitter(SplitSettings(chunk_tokens=80, overlap_tokens=8, headers=False), COUNT).split(doc)
    tables = [p for p in passages if p.kind == "table"]
    assert len(tables) > 2
    assert tables[0].text.startswith("CONSOLIDATED SCHEDULE\n(in millions)\n2023 2022\nLine item number 0 ")
    for p in tables:
        assert doc.text[p.chars[0]:p.chars[1]] == p.text
        assert p.page == 2 and p.splitter == "table"
        assert p.header == "CONSOLIDATED SCHEDULE (in millions) | 2023 2022"
        assert COUNT(p.text) <= 80
    for p in tables[1:]:  # later groups: whole rows only
        assert all(line.startswith("Line item number ") and line.count("$") == 2 for line in p.text.split("\n"))
    numbers = [line.split()[3] for p in tables for line in p.text.split("\n") if line.startswith("Line item")]
    assert numbers == [str(i) for i in range(40)]  # every row once, in order
    prose = [p for p in passages if p.kind == "prose"]
    assert any("introduction" in p.text for p in prose) and any("notes are part" in p.text for p in prose)
    assert not any("Line item" in p.text for p in prose)
    assert doc.meta["tables"] == "1 kept whole"


def test_table_that_fits_is_one_passage_and_unsure_pages_are_noted():
    doc = _pdf(INCOME_STATEMENT, PYPDF_STYLE)
    passages = ProseSplitter(SplitSettings(chunk_tokens=400, overlap_tokens=8), COUNT).split(doc)
    tables = [p for p in passages if p.kind == "table"]
    assert len(tables) == 1 and tables[0].text == INCOME_STATEMENT
    assert tables[0].header.startswith("ACME CORP. CONSOLIDATED STATEMENTS OF OPERATIONS")
    assert all(p.kind == "prose" for p in passages if p.page == 2)
    assert "5,794" in " ".join(p.text for p in passages if p.page == 2)  # the unsure table stays as page text
    assert doc.meta["tables"].startswith("1 kept whole; ") and doc.meta["tables"].endswith(
        "unsure on page 2 (kept as page text)")


def test_flag_off_and_non_pdf_documents_are_unchanged():
    on, off = SplitSettings(chunk_tokens=60, overlap_tokens=8), SplitSettings(chunk_tokens=60, overlap_tokens=8,
                                                                               tables=False)
    doc = _pdf(BALANCE_SHEET, QUARTERLY)
    plain = ProseSplitter(off, COUNT).split(doc)
    assert all(p.kind == "prose" for p in plain) and "tables" not in doc.meta
    assert any(p.kind == "table" for p in ProseSplitter(on, COUNT).split(_pdf(BALANCE_SHEET, QUARTERLY)))
    text_doc = Document(doc_id="t" * 16, source="notes.txt", text=BALANCE_SHEET, kind="text")
    assert ProseSplitter(on, COUNT).split(text_doc) == ProseSplitter(off, COUNT).split(text_doc)
    assert "tables" not in text_doc.meta
    assert DocumentSplitter(on, ProseSplitter(on, COUNT)).identity()["table_scheme"] == 7  # 7: stacked dates
    assert DocumentSplitter(off, ProseSplitter(off, COUNT)).identity()["table_scheme"] == 0


def test_tally_note():
    tally = TableTally()
    assert tally.note() == ""
    tally.kept, tally.unsure_pages = 3, [7, 2]
    assert tally.note() == "3 kept whole; 2 unsure on pages 2, 7 (kept as page text)"


def test_generated_pdf_yields_a_table_passage(make_pdf):
    from ingest.loaders import load_file

    statement = "\n".join([
        "CONSOLIDATED STATEMENTS OF OPERATIONS",
        "(in millions)",
        "2019 2018 2017",
        "Net revenues $ 6,489 $ 7,500 $ 7,017",
        "Cost of revenues 1,894 2,517 2,501",
        "Operating income 1,607 1,988 1,309",
        "Net income $ 1,503 $ 1,848 $ 273",
    ])
    path = make_pdf("acme.pdf", ["About this report. It covers the year.", "Results follow.\n" + statement])
    doc = load_file(path)
    settings = SplitSettings(chunk_tokens=200, overlap_tokens=16)
    passages = DocumentSplitter(settings, ProseSplitter(settings, COUNT)).split(doc)
    tables = [p for p in passages if p.kind == "table"]
    assert len(tables) == 1
    table = tables[0]
    assert table.page == 2 and doc.text[table.chars[0]:table.chars[1]] == table.text
    assert table.text.startswith("CONSOLIDATED STATEMENTS OF OPERATIONS") and table.text.endswith("$ 273")
    assert "CONSOLIDATED STATEMENTS OF OPERATIONS (in millions) | 2019 2018 2017" in table.header
    assert doc.meta["tables"] == "1 kept whole"


def test_a_caption_whose_sentence_starts_on_the_prose_line_above_takes_that_start():
    page = ("We have three reportable segments, Media, Marketing and Print. Subscription\n"
            "revenue by reportable segment for fiscal 2015 and 2014 is as follows (dollars in millions):\n"
            "Fiscal 2015 Fiscal 2014\nMedia $ 2,264.7 $ 1,268.3\nMarketing 937.0 797.5\nPrint 22.2 20.1\n")
    block, = find_tables(page)
    assert page[slice(*block.caption)].split() == ["Subscription", "revenue", "by", "reportable", "segment", "for",
                                                   "fiscal", "2015", "and", "2014", "is", "as", "follows",
                                                   "(dollars", "in", "millions):"]
    assert page[:block.start].rstrip().endswith("Marketing and Print.")
    long_tail = page.replace("Print. Subscription", "Print. Of all the money our customers paid us, the part")
    assert page_caption(long_tail).startswith("revenue by reportable segment")  # not a caption's opening


def page_caption(page: str) -> str:
    block, = find_tables(page)
    return page[slice(*block.caption)]
