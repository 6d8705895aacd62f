"""Word, PowerPoint, Excel and CSV files (ingest/office/): passages, labels and places; a question per format
answered with the right citation; protected, corrupt and zip-bomb files skipped with one-line errors; the index,
staging and incremental builds carry the places. Fixtures are made here with python-docx, python-pptx and openpyxl.
"""

from __future__ import annotations

import io
import json
import os
import re
import zipfile
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest

from app.sdk import Index
from app.settings import Settings
from ingest.core.errors import CorruptFileError, FileTooLargeError, PasswordError, UnsupportedFileError
from ingest.core.records import Place
from ingest.core.serialize import passage_from_dict, passage_to_dict
from ingest.core.settings import IngestSettings, SplitSettings
from ingest.loaders import load_file
from ingest.split import DocumentSplitter, ProseSplitter
from retrieval.build import build_index
from retrieval.ledger import ledger
from retrieval.scope import Scope
from retrieval.store import IndexReader
from tests.fakes import FakeEmbedder, ScriptedLLM

# -- fixtures made with the same libraries --------------------------------------------------------------------


def write_docx(path: Path) -> Path:
    import docx

    d = docx.Document()
    d.core_properties.title = "Harbour Services Contract"
    d.add_heading("Scope", 1)
    d.add_paragraph("The supplier maintains the lantern towers and the ferry slipway.")
    d.add_heading("4 Ending the contract", 1)
    d.add_heading("4.1 Duration", 2)
    d.add_paragraph("The contract runs for three years from signature.")
    d.add_heading("4.2 Termination", 2)
    d.add_paragraph("Either party may terminate with 90 days written notice to the harbour master.")
    d.add_paragraph("")
    table = d.add_table(rows=3, cols=2)
    for i, row in enumerate([("Fee", "Amount"), ("Early exit", "1200"), ("Late notice", "300")]):
        for j, value in enumerate(row):
            table.cell(i, j).text = value
    d.add_paragraph("Fees are due within thirty days.")
    d.save(path)
    return path


def write_pptx(path: Path) -> Path:
    import pptx
    from pptx.util import Inches

    deck = pptx.Presentation()
    deck.core_properties.title = "Quarterly Review"
    bodies = ["Lantern sales rose in the north.", "Copper prices fell sharply.", "Kestrel drones ship in May.",
              "Hiring paused until autumn.", "Granite quarry reopened.", "Tide gauges replaced.",
              "The ferry churn rate reached seven percent."]
    for i, body in enumerate(bodies, 1):
        slide = deck.slides.add_slide(deck.slide_layouts[1])
        slide.shapes.title.text = f"Topic {i}"
        slide.placeholders[1].text = body
        slide.notes_slide.notes_text_frame.text = f"Speaker note {i}: mention the owl logo."
    grid = slide.shapes.add_table(2, 2, Inches(1), Inches(5), Inches(4), Inches(1)).table
    for (r, c), value in {(0, 0): "Route", (0, 1): "Riders", (1, 0): "Salt Bay", (1, 1): "4400"}.items():
        grid.cell(r, c).text = value
    deck.save(path)
    return path


def write_xlsx(path: Path, *, rows: int = 40) -> Path:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Sheet1"
    sheet.append(["Region", "Product", "Units", "Price", "Revenue", "Owner"])
    for i in range(1, rows + 1):
        sheet.append([f"R{i}", f"widget{i}", i, 2.5, f"=C{i + 1}*D{i + 1}", f"owner{i}"])
    other = book.create_sheet("Q1 plan")
    other["B2"], other["C2"], other["B3"], other["C3"] = "Goal", "Target", "Barley harvest", 4800
    book.save(path)
    return with_cached_values(path, {"E12": "999"} if rows >= 11 else {})


def with_cached_values(path: Path, values: dict[str, str]) -> Path:
    """The workbook with a cached value written into formula cells, as Excel writes one on save (openpyxl writes
    formulas without one); a value unlike the formula's result shows it is read, not computed."""
    with zipfile.ZipFile(path) as zf:
        parts = {name: zf.read(name) for name in zf.namelist()}
    xml = parts["xl/worksheets/sheet1.xml"].decode()
    for ref, value in values.items():
        xml, n = re.subn(rf'(<c r="{ref}"[^>]*><f>[^<]*</f>)<v>\s*</v>', rf"\g<1><v>{value}</v>", xml)
        assert n == 1, ref
    parts["xl/worksheets/sheet1.xml"] = xml.encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in parts.items():
            zf.writestr(name, data)
    return path


@pytest.fixture(scope="module")
def office_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("office")
    write_docx(root / "contract.docx")
    write_pptx(root / "deck.pptx")
    write_xlsx(root / "model.xlsx")
    (root / "scores.csv").write_text("name;team;score\n" + "".join(f"p{i};t{i % 3};{i * 7}\n" for i in range(30)))
    return root


def _splitter(chunk: int = 60) -> DocumentSplitter:
    s = SplitSettings(chunk_tokens=chunk, overlap_tokens=5)
    return DocumentSplitter(s, ProseSplitter(s, FakeEmbedder().count_tokens))


def _passages(path: Path, chunk: int = 60) -> list:
    doc = load_file(path)
    passages = _splitter(chunk).split(doc)
    for p in passages:
        assert doc.text[p.chars[0]:p.chars[1]] == p.text and p.place is not None
    return passages


def _label(p: object) -> str:
    return os.path.basename(p.label)  # type: ignore[attr-defined]


# -- passages, labels, places ---------------------------------------------------------------------------------


def test_docx_headings_are_the_section_path_and_tables_stay_whole(office_dir: Path):
    passages = _passages(office_dir / "contract.docx")
    by_label = {}
    for p in passages:
        by_label.setdefault(_label(p), []).append(p)
    term = by_label['contract.docx §4.2 "Termination"']
    prose = next(p for p in term if p.kind == "prose")
    assert "90 days written notice" in prose.text and prose.place.unit == "paragraphs"
    assert "4 Ending the contract › 4.2 Termination" in prose.header and "Harbour Services Contract" in prose.header
    table = next(p for p in term if p.kind == "table")
    assert table.text == "Fee | Amount\nEarly exit | 1200\nLate notice | 300"  # whole, one row per line
    assert table.place == Place("table", 1, 1, section='4.2 "Termination"')
    assert _label(next(p for p in passages if "three years" in p.text)) == 'contract.docx §4.1 "Duration"'
    # paragraphs are counted from 1 in body order, as python-docx's Document.paragraphs lists them
    import docx

    body = [p.text for p in docx.Document(str(office_dir / "contract.docx")).paragraphs]
    assert "90 days" in body[prose.place.last - 1]


def test_pptx_one_unit_per_slide_with_title_body_notes_and_tables(office_dir: Path):
    passages = _passages(office_dir / "deck.pptx")
    assert [_label(p) for p in passages] == [f"deck.pptx slide {i}" for i in range(1, 8)]
    seventh = passages[6]
    assert seventh.text.splitlines() == ["Topic 7", "The ferry churn rate reached seven percent.",
                                         "Route | Riders", "Salt Bay | 4400",
                                         "Notes: Speaker note 7: mention the owl logo."]
    assert seventh.header == "Quarterly Review · Topic 7"


def test_xlsx_used_range_as_table_passages_with_the_header_row_repeated(office_dir: Path):
    passages = _passages(office_dir / "model.xlsx", chunk=60)
    sheet1 = [p for p in passages if p.place.sheet == "Sheet1"]
    assert len(sheet1) > 2 and all(p.kind == "table" for p in sheet1)
    first, later = sheet1[0], sheet1[1:]
    assert first.text.startswith("Region | Product | Units | Price | Revenue | Owner\n")
    assert all("Region | Product | Units | Price | Revenue | Owner" in p.header for p in later)
    rows = [r for p in sheet1 for r in range(p.place.first, p.place.last + 1)]
    assert rows == list(range(1, 42))  # every row of the used range, once, in order
    assert all(p.place.columns == (1, 6) for p in sheet1)
    p = later[0]
    assert _label(p) == f"model.xlsx Sheet1!A{p.place.first}:F{p.place.last}"
    assert len(p.text.splitlines()) == p.place.last - p.place.first + 1
    # formulas: the cached value is read (999, not 11 * 2.5), and a formula with none cached stays empty
    row11 = next(line for q in sheet1 for line in q.text.splitlines() if line.startswith("R11 |"))
    assert row11 == "R11 | widget11 | 11 | 2.5 | 999 | owner11"
    row12 = next(line for q in sheet1 for line in q.text.splitlines() if line.startswith("R12 |"))
    assert row12 == "R12 | widget12 | 12 | 2.5 |  | owner12"
    # each row's numbers are read once into the passage's Table record (exact values, spans in its text)
    holder = next(q for q in sheet1 if "R11 | widget11" in q.text)
    row = next(r for r in holder.table.rows if r.label == "R11 widget11")
    assert [(c.text, c.value) for c in row.cells] == [("11", 11), ("2.5", Decimal("2.5")), ("999", 999)]
    assert all(holder.text[c.start:c.end] == c.text for c in row.cells)
    assert holder.table.caption == "Region | Product | Units | Price | Revenue | Owner"
    plan = next(p for p in passages if p.place.sheet == "Q1 plan")
    assert _label(plan) == "model.xlsx 'Q1 plan'!B2:C3" and plan.text == "Goal | Target\nBarley harvest | 4800"


def test_csv_rows_cited_by_cell_range(office_dir: Path):
    passages = _passages(office_dir / "scores.csv", chunk=40)
    assert _label(passages[0]).startswith("scores.csv A1:C") and passages[0].text.startswith("name | team | score")
    assert all(p.kind == "table" for p in passages) and len(passages) > 1
    assert "name | team | score" in passages[1].header
    last = passages[-1]
    assert last.place.last == 31 and last.text.endswith("p29 | t2 | 203")


def test_place_survives_json_the_index_and_staging(office_dir: Path, tmp_path: Path):
    p = _passages(office_dir / "model.xlsx")[1]
    assert passage_from_dict(json.loads(json.dumps(passage_to_dict(p)))) == p
    assert passage_to_dict(p)["place"]["text"] == p.place.text()
    idx = tmp_path / "idx"
    report = build_index([office_dir], idx, embedder=FakeEmbedder(), splitter=_splitter(),
                         ingest=IngestSettings(isolate=False))
    assert report.skipped == () and report.parsed == 4
    reader = IndexReader(idx)
    try:
        stored = reader.all_passages()
        labels = {_label(q) for q in stored}
        assert {'contract.docx §4.2 "Termination"', "deck.pptx slide 7", "model.xlsx 'Q1 plan'!B2:C3"} <= labels
        assert any(re.fullmatch(r"scores\.csv A1:C\d+", label) for label in labels), labels
        assert p in stored
    finally:
        reader.close()


# -- a question per format, answered with the right citation ---------------------------------------------------

QUESTIONS = [
    ("contract.docx", "How much notice does terminating require?",
     "Either party may terminate with 90 days written notice to the harbour master [1].",
     'contract.docx §4.2 "Termination"'),
    ("deck.pptx", "What churn rate did the ferry reach?", "The ferry churn rate reached seven percent [1].",
     "deck.pptx slide 7"),
    ("model.xlsx", "What is the barley harvest target?", "The barley harvest target is 4800 [1].",
     "model.xlsx 'Q1 plan'!B2:C3"),
    ("scores.csv", "What score did p29 get?", "The score of p29 is 203 [1].", r"scores.csv A\d+:C31"),  # the last row
]


@pytest.fixture(scope="module")
def office_index(office_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    idx = tmp_path_factory.mktemp("office_idx") / "idx"
    build_index([office_dir], idx, embedder=FakeEmbedder(), splitter=_splitter(40),
                ingest=IngestSettings(isolate=False))
    return idx


@pytest.mark.parametrize(("name", "question", "reply", "label"), QUESTIONS, ids=[q[0] for q in QUESTIONS])
def test_question_per_format_cites_its_place(office_index: Path, name: str, question: str, reply: str, label: str):
    index = Index(IndexReader(office_index), Settings(), embedder=FakeEmbedder(), llm=ScriptedLLM(reply, reply))
    try:
        answer = index.ask(question, scope=Scope((name,)))
    finally:
        index.close()
    assert answer.citations, (answer.text, answer.notes)
    cited = _label(answer.citations[0])
    assert cited == label or re.fullmatch(label, cited), [_label(p) for p in answer.passages]
    assert "p29 | t2 | 203" in answer.citations[0].passage.text if name == "scores.csv" else True
    assert answer.to_dict()["citations"][0]["place"]["text"] == cited.split(" ", 1)[1]


# -- protected, corrupt, zip bombs: one line each, and never a sunk build ------------------------------------


def encrypt(path: Path, password: str) -> Path:
    from msoffcrypto.format.ooxml import OOXMLFile

    out = path.with_name("locked-" + path.name)
    with open(path, "rb") as src, open(out, "wb") as dst:
        OOXMLFile(src).encrypt(password, dst)
    return out


def test_password_protected_files_need_their_password(office_dir: Path, tmp_path: Path):
    locked = encrypt(write_docx(tmp_path / "c.docx"), "s3cret")
    with pytest.raises(PasswordError, match=r"locked-c\.docx: Word document is password-protected; give the password"):
        load_file(locked)
    with pytest.raises(PasswordError, match="wrong password"):
        load_file(locked, password="nope")
    doc = load_file(locked, password="s3cret")
    assert "90 days written notice" in doc.text and doc.kind == "docx"


def zip_bomb(path: Path, *, mib: int) -> Path:
    """A .xlsx whose one part expands to ``mib`` MiB of zeros (a few KiB on disk)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("xl/worksheets/sheet1.xml", b"\0" * (mib * 2**20))
    return path


def test_zip_bomb_refused_before_reading(tmp_path: Path):
    bomb = zip_bomb(tmp_path / "bomb.xlsx", mib=20)
    assert bomb.stat().st_size < 64 * 1024
    with pytest.raises(FileTooLargeError) as err:
        load_file(bomb, max_bytes=2**20)  # 1 MiB files: packages may expand to 16 MiB
    assert str(err.value).startswith("bomb.xlsx: refused: its Excel workbook package would expand to 20 MiB".replace(
        "bomb.xlsx", str(bomb))) and "\n" not in str(err.value)


@pytest.mark.parametrize(("name", "data", "error", "words"), [
    ("cut.docx", None, CorruptFileError, "cannot read Word document"),
    ("junk.pptx", b"PK\x03\x04 not really a zip" * 10, CorruptFileError, "not a zip package"),
    ("empty.xlsx", "zip-no-workbook", CorruptFileError, "cannot read Excel workbook"),
    ("legacy.xlsx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600), CorruptFileError, "damaged compound file"),
    ("huge.csv", ("a\n\"" + "x" * 200_000 + "\"\n").encode(), CorruptFileError, "cannot read CSV"),
    ("blob.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", UnsupportedFileError, "binary file"),
])
def test_corrupt_files_give_one_line_errors(tmp_path: Path, name: str, data: object, error: type, words: str):
    path = tmp_path / name
    if data is None:  # a Word document cut in half
        whole = write_docx(tmp_path / "whole.docx").read_bytes()
        path.write_bytes(whole[: len(whole) // 2])
    elif data == "zip-no-workbook":
        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr("hello.txt", "no workbook here")
    else:
        assert isinstance(data, bytes)
        path.write_bytes(data)
    with pytest.raises(error) as err:
        load_file(path)
    message = str(err.value)
    assert message.startswith(f"{path}: ") and words in message and "\n" not in message, message


def test_bad_office_files_never_sink_a_build(office_dir: Path, tmp_path: Path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    write_docx(corpus / "good.docx")
    encrypt(write_pptx(tmp_path / "deck.pptx"), "pw").rename(corpus / "locked.pptx")
    zip_bomb(corpus / "bomb.xlsx", mib=20)  # over 16 x the 1 MiB file bound below
    (corpus / "cut.xlsx").write_bytes((office_dir / "model.xlsx").read_bytes()[:3000])
    idx = tmp_path / "idx"
    report = build_index([corpus], idx, embedder=FakeEmbedder(), splitter=_splitter(),
                         ingest=IngestSettings(max_file_mb=1))  # read in bounded workers, as a build does
    skipped = {os.path.basename(s): why for s, why in report.skipped}
    assert set(skipped) == {"locked.pptx", "bomb.xlsx", "cut.xlsx"}, skipped
    assert skipped["locked.pptx"] == "PowerPoint deck is password-protected; give the password with --password"
    assert skipped["bomb.xlsx"].startswith("refused: its Excel workbook package would expand to 20 MiB, over 16 MiB")
    assert skipped["cut.xlsx"].startswith("cannot read Excel workbook (not a zip package")
    assert all("\n" not in why for why in skipped.values())
    reader = IndexReader(idx)
    assert {os.path.basename(p.source) for p in reader.all_passages()} == {"good.docx"}
    reader.close()


# -- incremental builds and the ledger --------------------------------------------------------------------------


def test_incremental_build_rereads_only_the_edited_workbook_and_the_ledger_lists_office_files(tmp_path: Path,
                                                                                             monkeypatch):
    import retrieval.build as build

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    write_docx(corpus / "contract.docx")
    write_xlsx(corpus / "model.xlsx", rows=10)
    idx = tmp_path / "idx"
    first = build_index([corpus], idx, embedder=FakeEmbedder(), splitter=_splitter(),
                        ingest=IngestSettings(isolate=False))
    assert first.parsed == 2
    read: list[str] = []
    original = build.read_files

    def counting(paths, **kw):  # noqa: ANN001, ANN202
        read.extend(os.path.basename(p) for p in paths)
        return original(paths, **kw)

    monkeypatch.setattr(build, "read_files", counting)
    again = build_index([corpus], idx, embedder=FakeEmbedder(), splitter=_splitter(),
                        ingest=IngestSettings(isolate=False))
    assert again.parsed == 0 and read == []
    write_xlsx(corpus / "model.xlsx", rows=12)
    third = build_index([corpus], idx, embedder=FakeEmbedder(), splitter=_splitter(),
                        ingest=IngestSettings(isolate=False))
    assert third.parsed == 1 and read == ["model.xlsx"]
    reader = IndexReader(idx)
    entries = {os.path.basename(e.source): e for e in ledger(reader)}
    assert {n: e.outcome for n, e in entries.items()} == {"contract.docx": "indexed", "model.xlsx": "indexed"}
    rows = max(p.place.last for p in reader.all_passages() if os.path.basename(p.source) == "model.xlsx"
               and p.place.sheet == "Sheet1")
    reader.close()
    assert rows == 13


def test_a_password_given_later_rereads_a_locked_file(tmp_path: Path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    encrypt(write_docx(tmp_path / "c.docx"), "pw").rename(corpus / "c.docx")
    (corpus / "notes.txt").write_text("Plain notes about the harbour.")
    idx = tmp_path / "idx"
    kw = {"embedder": FakeEmbedder(), "splitter": _splitter(), "ingest": IngestSettings(isolate=False)}
    first = build_index([corpus], idx, **kw)
    assert [os.path.basename(s) for s, _ in first.skipped] == ["c.docx"]
    second = build_index([corpus], idx, password="pw", **kw)
    assert second.parsed == 1 and second.skipped == ()  # the text file's key has no password: not read again


def test_unsupported_binary_named_office_is_refused(tmp_path: Path):
    path = tmp_path / "old.docx"
    import olefile  # noqa: F401  (msoffcrypto's dependency: a real compound file, not encrypted)

    path.write_bytes(_plain_compound_file())
    with pytest.raises((UnsupportedFileError, CorruptFileError)) as err:
        load_file(path)
    assert str(err.value).startswith(f"{path}: ") and "\n" not in str(err.value)


def _plain_compound_file() -> bytes:
    """A minimal OLE compound file (a legacy .doc's container) holding no encrypted package."""
    buf = io.BytesIO()
    header = bytearray(512)
    header[0:8] = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
    buf.write(bytes(header))
    return buf.getvalue()


# -- the viewer: a cited sheet range as a table, a slide or section in its text -------------------------------


def test_viewer_shows_a_cited_range_as_a_table_with_the_quoted_cells_marked(office_dir: Path):
    from app.ui_viewer import sheet_html, text_html

    plan = next(p for p in _passages(office_dir / "model.xlsx") if p.place.sheet == "Q1 plan")
    at = plan.text.index("4800")
    markup = sheet_html(plan, (at, at + 4))
    assert '<th></th><th>B</th><th>C</th></tr>' in markup  # the sheet's own columns and rows
    assert '<tr class="docqa-cited" data-row="3"><th>3</th><td class="docqa-cell">Barley harvest</td>' \
           '<td class="docqa-cell docqa-quote docqa-target">4800</td></tr>' in markup
    assert markup.count("docqa-quote") == 1 and 'data-sheet="Q1 plan" data-first="2" data-last="3"' in markup
    later = [p for p in _passages(office_dir / "model.xlsx") if p.place.sheet == "Sheet1"][1]
    rows = sheet_html(later, None)
    assert '<tr class="docqa-head-row"><th></th><td>Region</td><td>Product</td>' in rows  # its header row, repeated
    assert f'data-row="{later.place.first}"><th>{later.place.first}</th><td class="docqa-cell">R' in rows
    hostile = replace(plan, text="<script>x</script> | 1")
    assert "<script>" not in sheet_html(hostile, None) and "&lt;script&gt;" in sheet_html(hostile, None)
    slide = _passages(office_dir / "deck.pptx")[6]
    doc = load_file(office_dir / "deck.pptx")
    start = doc.text.index("seven percent")
    assert '<span class="docqa-passage docqa-quote docqa-target">seven percent</span>' in text_html(
        doc.text, slide.chars, (start, start + len("seven percent")))
