"""Tables as records: the Table each table passage carries (ingest/table_rows.py, ingest/core/tables.py), and its
trip through the staging store and the index (retrieval/staging.py, retrieval/store.py, retrieval/build.py)."""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest

from ingest.core.amounts import stated_scale
from ingest.core.records import Passage
from ingest.core.settings import IngestSettings, SplitSettings
from ingest.core.tables import Period, Table, table_from_json, table_to_json
from ingest.read import read_paths
from ingest.split import DocumentSplitter, ProseSplitter
from ingest.table_rows import column_periods, head_text, read_rows
from retrieval.build import build_index
from retrieval.staging import STAGING
from retrieval.store import IndexReader, Manifest
from tests.conftest import write_pdf
from tests.fakes import FakeEmbedder

BALANCE = ("ACME CORP\nCONSOLIDATED BALANCE SHEETS\n(In millions)\nDecember 31, 2019 2018\nCurrent assets:\n"
           "Cash and cash equivalents $ 5,794 $ 4,225\nInventories 32 (43)\nTotal current assets 8,000 7,000\n"
           "Property and equipment, net 253 282\nTotal assets $ 19,845 $ 17,890\nCurrent liabilities:\n"
           "Accounts payable 292 253\nTotal 2,915 2,642\nThe notes are an integral part of these statements.")


def _splitter(embedder: FakeEmbedder) -> DocumentSplitter:
    s = SplitSettings(chunk_tokens=40, overlap_tokens=5)
    return DocumentSplitter(s, ProseSplitter(s, embedder.count_tokens))


def _passages(corpus: Path) -> list[Passage]:
    report = read_paths([corpus], splitter=_splitter(FakeEmbedder()), settings=IngestSettings(isolate=False))
    return list(report.passages)


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """A folder with one PDF: a cover page, then a balance sheet that the splitter cuts into row groups."""
    root = tmp_path / "corpus"
    root.mkdir()
    write_pdf(root / "acme.pdf", ["Annual report of Acme Corp for fiscal 2019.", BALANCE])
    return root


def test_ingest_reads_each_table_passage_into_a_record(corpus: Path):
    passages = _passages(corpus)
    tables = [p for p in passages if p.kind == "table"]
    assert len(tables) >= 2  # cut into row groups: every piece carries the table's periods and scale
    assert all(p.table is None for p in passages if p.kind != "table")
    first = tables[0].table
    assert first is not None
    assert first.caption == "ACME CORP CONSOLIDATED BALANCE SHEETS (In millions) | December 31, 2019 2018"
    assert first.years == (2019, 2018) and first.scale == "million"
    assert first.periods[0] == Period("December 31, 2019", 2019, 12, 31, None, True)
    for p in tables:
        assert p.table is not None
        assert (p.table.caption, p.table.periods, p.table.scale, p.table.span) == \
            (first.caption, first.periods, first.scale, first.span)
        for row in p.table.rows:
            assert p.text[row.start:row.end].startswith(row.label)
            for cell in row.cells:
                assert p.text[cell.start:cell.end] == cell.text  # exact spans in the passage text
    rows = {r.name: r for p in tables for r in p.table.rows}  # type: ignore[union-attr]
    assert [c.value for c in rows["Inventories"].cells] == [Decimal(32), Decimal(-43)]  # parentheses: negative
    assert [c.text for c in rows["Total assets"].cells] == ["$ 19,845", "$ 17,890"]
    assert rows["Total Current liabilities"].cells[1].value == Decimal(2642)  # "Total" under its section


def test_a_table_round_trips_through_the_index(corpus: Path, tmp_path: Path):
    ingested = {p.id: p for p in _passages(corpus)}
    idx = tmp_path / "idx"
    embedder = FakeEmbedder()
    build_index([corpus], idx, embedder=embedder, splitter=_splitter(embedder), ingest=IngestSettings(isolate=False))
    reader = IndexReader(idx)
    try:
        stored = reader.all_passages()
        assert {p.id for p in stored} == set(ingested)
        for p in stored:
            assert p.table == ingested[p.id].table  # equal to what ingest produced, spans and all
            assert reader.table(p.id) == p.table
        assert sum(p.table is not None for p in stored) >= 2
        assert reader.passages([0, 1])[1].table == stored[1].table
        assert reader.table("p-no-such-passage") is None
        con = sqlite3.connect(idx / reader.manifest.files["passages"])
        (count,) = con.execute("SELECT COUNT(*) FROM passage_tables").fetchone()
        record = con.execute("SELECT record FROM passage_tables LIMIT 1").fetchone()[0]
        con.close()
        assert count == sum(p.table is not None for p in stored)
        assert record.startswith("{") and isinstance(table_from_json(record), Table)  # JSON, not pickle
    finally:
        reader.close()


def test_an_incremental_build_keeps_the_tables_of_unchanged_files(corpus: Path, tmp_path: Path):
    idx = tmp_path / "idx"
    embedder = FakeEmbedder()
    build_index([corpus], idx, embedder=embedder, splitter=_splitter(embedder), ingest=IngestSettings(isolate=False))
    (corpus / "notes.txt").write_text("A note that changes nothing in the table.\n")
    report = build_index([corpus], idx, embedder=embedder, splitter=_splitter(embedder),
                         ingest=IngestSettings(isolate=False))
    assert [f.work for f in report.plan.files if f.source.endswith("acme.pdf")] == ["live"]  # not read again
    reader = IndexReader(idx)
    try:
        kept = {p.id: p.table for p in reader.all_passages() if p.source.endswith("acme.pdf")}
    finally:
        reader.close()
    assert kept == {p.id: p.table for p in _passages(corpus) if p.source.endswith("acme.pdf")}
    assert sum(t is not None for t in kept.values()) >= 2


def test_a_resumed_build_keeps_the_tables_it_staged(corpus: Path, tmp_path: Path, monkeypatch):
    import retrieval.build as build

    class Failing(FakeEmbedder):
        def embed_passages(self, texts):  # noqa: ANN001, ANN201
            raise RuntimeError("stopped after reading")

    idx = tmp_path / "idx"
    with pytest.raises(RuntimeError, match="stopped"):
        build_index([corpus], idx, embedder=Failing(), splitter=_splitter(Failing()),
                    ingest=IngestSettings(isolate=False))
    assert (idx / STAGING).exists()
    monkeypatch.setattr(build, "read_files", lambda *a, **kw: pytest.fail("a staged file was read again"))
    embedder = FakeEmbedder()
    build_index([corpus], idx, embedder=embedder, splitter=_splitter(embedder), ingest=IngestSettings(isolate=False))
    reader = IndexReader(idx)
    try:
        stored = {p.id: p.table for p in reader.all_passages()}
    finally:
        reader.close()
    assert stored == {p.id: p.table for p in _passages(corpus)} and any(stored.values())


def test_an_index_built_before_table_records_still_opens(corpus: Path, tmp_path: Path):
    idx = tmp_path / "idx"
    embedder = FakeEmbedder()
    build_index([corpus], idx, embedder=embedder, splitter=_splitter(embedder), ingest=IngestSettings(isolate=False))
    con = sqlite3.connect(idx / Manifest.read(idx).files["passages"])
    con.execute("DROP TABLE passage_tables")  # as a build made before table records
    con.commit()
    con.close()
    reader = IndexReader(idx)
    try:
        passages = reader.all_passages()
        assert any(p.kind == "table" for p in passages) and all(p.table is None for p in passages)
        assert reader.table(passages[1].id) is None
    finally:
        reader.close()


# ---------------------------------------------------------------------------------------------- pure parts

def test_column_periods_read_dates_lengths_and_points_in_time():
    assert [(p.text, p.year, p.month, p.day, p.months) for p in column_periods(
        "Fiscal Years Ended January 28, 2017 January 30, 2016")] == [
        ("January 28, 2017", 2017, 1, 28, 12), ("January 30, 2016", 2016, 1, 30, 12)]
    assert [(p.year, p.months) for p in column_periods("Three Months Ended Nine Months Ended\n2019 2018 2019 2018")] \
        == [(2019, 3), (2018, 3), (2019, 9), (2018, 9)]
    assert [p.months for p in column_periods("13 Weeks Ended\n2023 2022")] == [3, 3]
    assert all(p.instant and p.months is None for p in column_periods("As of December 31,\n2019 2018"))
    assert column_periods("Current assets:") == ()
    assert [p.year for p in column_periods("2019 2,019 2019% $2019 2018")] == [2019, 2018]


def test_head_rows_and_scale_of_a_table_text():
    text = "STATEMENTS OF CASH FLOWS\n(Dollars in thousands)\n2019 2018 (1)\nNet loss (619) —\nRevenues (2) 6,489 7,500"
    assert head_text(text) == "STATEMENTS OF CASH FLOWS\n(Dollars in thousands)\n2019 2018 (1)"
    assert stated_scale(text) == "thousand"
    rows = read_rows(text, 2)
    assert [(r.label, [(c.text, c.value) for c in r.cells]) for r in rows] == [
        ("Net loss", [("(619)", Decimal(-619)), ("—", None)]),
        ("Revenues", [("6,489", Decimal(6489)), ("7,500", Decimal(7500))])]  # "(2)": a footnote, not a cell
    assert all(text[c.start:c.end] == c.text for r in rows for c in r.cells)


def test_table_json_is_exact_and_plain():
    passages = [p for p in read_rows("Cash $ 1.25 $ (0.5)\nShares 1,000,000.001 12.5%", 2)]
    table = Table("C | 2019 2018", (Period("2019", 2019), Period("2018", 2018)), tuple(passages), "billion", (3, 9))
    text = table_to_json(table)
    assert table_from_json(text) == table and "1000000.001" in text


def test_the_http_api_returns_table_records_and_the_cells_a_citation_quotes(corpus: Path, tmp_path: Path):
    import httpx

    from app.sdk import Index
    from ingest.core.records import Citation
    from ingest.core.serialize import citation_to_dict
    from ingest.core.settings import Settings
    from tests.fakes import ScriptedLLM
    from tests.test_server import running

    idx = tmp_path / "idx"
    embedder = FakeEmbedder()
    build_index([corpus], idx, embedder=embedder, splitter=_splitter(embedder), ingest=IngestSettings(isolate=False))
    index = Index(IndexReader(idx), Settings(), embedder=embedder, llm=ScriptedLLM())
    with running(index, Settings(), api_key="") as url:
        hits = httpx.post(f"{url}/v1/search", json={"query": "Total assets", "k": 20}, timeout=60).json()["hits"]
    table_hits = [h for h in hits if h["kind"] == "table"]
    assert table_hits and all(h["table"]["rows"] for h in table_hits)
    assert all(h["table"] is None for h in hits if h["kind"] != "table")
    hit = next(h for h in table_hits if "Total assets" in h["text"])
    row = next(r for r in hit["table"]["rows"] if r["label"] == "Total assets")
    assert [(hit["text"][a:b], value) for _, a, b, value, _ in row["cells"]] == [("$ 19,845", "19845"),
                                                                                 ("$ 17,890", "17890")]
    passage = next(p for p in index.passages() if p.id == hit["id"])
    start = passage.text.index("Total assets")
    cited = citation_to_dict(Citation(1, passage, "Total assets $ 19,845", (start, start + 21)))
    assert cited["cells"] == [{"row": "Total assets", "text": "$ 19,845", "chars": [start + 13, start + 21],
                               "value": "19845"}]


GEOGRAPHY = ("NOTE 17. GEOGRAPHIC INFORMATION\nThe tables below list our revenue by geographic area for fiscal "
             "2017 and 2016 (in thousands). We do not allocate our assets by area.\nRevenue 2017 2016\n"
             "United States $ 3,830,845 $ 3,087,764\nJapan 524,254 401,205\nOther 575,615 433,937\n"
             "Revenue $ 4,930,714 $ 3,922,906")


def test_a_scale_stated_in_the_sentence_introducing_a_table_is_the_tables(tmp_path: Path):
    """The units note in the prose right above a table ("(in thousands)") is its scale: a Japan revenue of
    524,254 is $524.3 million, and the model is shown the unit in the passage's heading line."""
    from generation.prompt import passage_intro

    write_pdf(tmp_path / "geo.pdf", [GEOGRAPHY])
    tables = [p for p in _passages(tmp_path) if p.kind == "table"]
    assert tables and all(p.table is not None and p.table.scale == "thousand" for p in tables)
    assert passage_intro(1, tables[0]).endswith("(amounts in thousands)")
    (tmp_path / "plain").mkdir()
    write_pdf(tmp_path / "plain" / "geo.pdf", [GEOGRAPHY.replace(" (in thousands)", "")])
    assert all(p.table is not None and p.table.scale == "" for p in _passages(tmp_path / "plain") if p.kind == "table")


def _page_tables(text: str) -> list[Passage]:
    """The table passages the splitter makes of one PDF page's ``text`` (as PDF text extraction gives it)."""
    from ingest.core.records import Document, PageSpan
    from ingest.split import ProseSplitter

    doc = Document(doc_id="d" * 16, source="x.pdf", text=text, kind="pdf", pages=(PageSpan(1, 0, len(text)),))
    return [p for p in ProseSplitter(SplitSettings(headers=False), lambda t: len(t.split())).split(doc)
            if p.kind == "table"]


def test_a_scale_printed_with_a_no_break_space_is_the_tables():
    """A statement whose "(In millions)" is printed with a no-break space (as PDF text often is) is in millions."""
    tables = _page_tables("Consolidated Statements of Cash Flows\nYear ended December 31,\n(In\xa0millions) 2021 2020 "
                          "2019\nNet income 1,906 512 960\nDepreciation 1,352 1,399 1,390\n"
                          "Purchases of common stock for treasury (274) (105) (940)\n"
                          "Net cash provided by operating activities 3,412 2,180 2,031")
    assert tables and all(p.table is not None and p.table.scale == "million" for p in tables)


def test_a_negative_printed_with_its_closing_parenthesis_apart_is_a_cell():
    """"(28,107 )": PDF text may put a space before the closing parenthesis; the row is still a table row."""
    tables = _page_tables("Cash flows statements\n(In millions)\nYear Ended June 30, 2023 2022 2021\n"
                          "Common stock repurchased (22,245 ) (32,696 ) (27,385 )\nInvesting\n"
                          "Additions to property and equipment (28,107 ) (23,886 ) (20,622 )\n"
                          "Purchases of investments (37,651 ) (26,456 ) (62,924 )\n"
                          "Maturities of investments 33,510 16,451 51,792")
    rows = {r.label: [c.value for c in r.cells] for p in tables for r in (p.table.rows if p.table else ())}
    assert rows["Additions to property and equipment"] == [-28107, -23886, -20622]
