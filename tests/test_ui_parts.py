"""The web UI's parts without Streamlit: quotes located on PDF pages, code and text markup, shown names, and
the library (uploads, builds that name every bad file, remove, rebuild)."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from app.ui_library import (
    build_files,
    file_rows,
    read_failures,
    rebuild,
    record_outcome,
    remove_file,
    safe_name,
    safe_relative_path,
    save_upload,
    settings_for,
    upload_folder,
)
from app.ui_viewer import (
    Names,
    answer_html,
    code_html,
    line_boxes,
    locate,
    page_html,
    pdfium_text,
    quote_boxes,
    render_page,
    text_html,
)
from ingest.core.settings import Settings
from ingest.loaders import load_file
from retrieval.store import Manifest
from tests.conftest import write_pdf
from tests.fakes import FakeEmbedder

FUNDED = "The Harbor Light survey was funded by the Maritime Trust in 2019."


# -- PDF quotes -------------------------------------------------------------------------------------------------

def test_locate_exact_then_whitespace_normalised_else_nothing() -> None:
    page = "One two.\nThree four five."
    assert locate(page, 9, 25, "One two.\r\nThree four five.") == ((10, 26), "")
    assert locate(page, 4, 14, "One two.  \r\n Three four five.") == ((4, 18), "")  # spacing differs
    where, why = locate(page, 0, 8, "Something else entirely")
    assert where is None and "not in the text" in why


def test_an_occurrence_that_cannot_be_told_apart_is_not_highlighted() -> None:
    page = "Fog. Fog. Rain."
    assert locate(page, 5, 9, "Fog. Fog. Rain.") == ((5, 9), "")  # the second of two, in both texts
    where, why = locate(page, 5, 9, "Fog. Fog. Fog. Rain.")  # PDFium sees three: which one is unclear
    assert where is None and "cannot be told" in why


def test_a_changed_file_is_noticed(tmp_path: Path) -> None:
    from app.ui_viewer import file_matches

    path = tmp_path / "a.txt"
    path.write_bytes(b"hello")
    assert file_matches(path, "2cf24dba5fb0a30e") and file_matches(path, "2cf24dba5fb0a30e-18b7cb09")
    path.write_bytes(b"hello!")
    assert not file_matches(path, "2cf24dba5fb0a30e-18b7cb09")


def test_line_boxes_merge_characters_per_printed_line() -> None:
    from app.ui_viewer import Box

    chars = [("a", Box(10, 700, 15, 710)), ("b", Box(15, 700, 20, 710)), ("\n", Box(0, 0, 0, 0)),
             ("c", Box(10, 680, 15, 690)), ("d", Box(15, 680, 20, 690))]
    assert line_boxes(chars) == [Box(10, 700, 20, 710), Box(10, 680, 20, 690)]


def _pdfium_word_boxes(pdf: Path, page: int, words: str) -> list[tuple[float, float, float, float]]:
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(str(pdf))
    textpage = doc[page - 1].get_textpage()
    text = pdfium_text(textpage)
    m = re.search(r"\s+".join(map(re.escape, words.split())), text)
    assert m is not None
    boxes = [textpage.get_charbox(i) for i in range(m.start(), m.end()) if not text[i].isspace()]
    doc.close()
    return boxes


def test_quote_boxes_cover_exactly_the_quoted_words(tmp_path: Path) -> None:
    filler = "The lighthouse was painted red in 1931 and repainted white in 1952 after a long debate. " * 3
    pdf = write_pdf(tmp_path / "r.pdf", ["Preface.", filler + FUNDED + " The fog horn sounds twice a minute."])
    doc = load_file(pdf)
    found = re.search(r"\s+".join(map(re.escape, FUNDED.split())), doc.text)  # pypdf breaks the line
    assert found is not None
    start, end = found.span()
    boxes, why = quote_boxes(pdf, doc, 2, start, end)
    assert why == "" and boxes
    inside = [b for b in _pdfium_word_boxes(pdf, 2, FUNDED)]
    for left, bottom, right, top in inside:
        cx, cy = (left + right) / 2, (bottom + top) / 2
        assert any(b.left <= cx <= b.right and b.bottom <= cy <= b.top for b in boxes)
    for left, bottom, right, top in _pdfium_word_boxes(pdf, 2, "fog horn sounds twice"):
        cx, cy = (left + right) / 2, (bottom + top) / 2
        assert not any(b.left <= cx <= b.right and b.bottom <= cy <= b.top for b in boxes)
    assert quote_boxes(pdf, doc, 1, start, end) == ([], "the quote is not on page 1")


def test_rendered_page_carries_its_boxes_and_label(tmp_path: Path) -> None:
    from fpdf import FPDF
    from PIL import Image

    f = FPDF(format="A4")
    f.set_font("Helvetica", size=11)
    for style, start, text in (("r", None, "Preface."), ("D", 7, FUNDED)):
        f.add_page()
        f.set_page_label(style, None, start)
        f.multi_cell(0, 6, text)
    pdf = tmp_path / "labelled.pdf"
    f.output(str(pdf))
    doc = load_file(pdf)
    start = doc.text.index("Maritime Trust")
    boxes, _ = quote_boxes(pdf, doc, 2, start, start + len("Maritime Trust"))
    view = render_page(pdf, 2, boxes)
    assert (view.number, view.page_count, view.label) == (2, 2, "7")
    assert Image.open(io.BytesIO(view.png)).size == (view.width_px, view.height_px)
    (x0, y0, x1, y1), = view.pixel_boxes
    scale = view.width_px / view.width_pt
    assert x0 == pytest.approx(boxes[0].left * scale, abs=2)
    assert y0 == pytest.approx((view.height_pt - boxes[0].top) * scale, abs=2)
    markup = page_html(view)
    assert 'data-page="2"' in markup and 'data-page-label="7"' in markup and 'data-highlights="1"' in markup
    assert markup.count('class="docqa-highlight"') == 1
    assert render_page(pdf, 1, note="why").note == "why"


# -- code, text, answers, names -----------------------------------------------------------------------------------

def test_code_markup_uses_the_files_line_numbers_and_escapes() -> None:
    source = "".join(f"x{i} = {i}\n" for i in range(1, 30)) + "def f():\n    return '<script>alert(1)</script>'\n"
    markup = code_html(source, language="python", filename="a<b>.py", cited=(30, 31), quote=(31, 31), symbol="m.f")
    lines = re.findall(r'<div class="([^"]+)" data-line="(\d+)">', markup)
    assert len(lines) == 31 and lines[0][1] == "1"
    assert [n for c, n in lines if "docqa-cited" in c] == ["30", "31"]
    assert [n for c, n in lines if "docqa-quote" in c] == ["31"]
    assert [n for c, n in lines if "docqa-target" in c] == ["30"]
    assert "<script>" not in markup and "&lt;script&gt;" in markup and "a&lt;b&gt;.py" in markup
    assert 'data-first="30" data-last="31" data-symbol="m.f"' in markup


def test_text_markup_marks_the_quote_inside_its_passage_and_escapes() -> None:
    doc = "Intro line.\n" * 200 + "The <b>bell</b> rings at noon. It is loud.\n" + "Outro.\n" * 200
    start = doc.index("The <b>")
    end = doc.index("It is loud.") + len("It is loud.")
    markup = text_html(doc, (start, end), (start, doc.index(" It is")))
    assert '<span class="docqa-passage docqa-quote docqa-target">The &lt;b&gt;bell&lt;/b&gt; rings at noon.' in markup
    assert "<b>" not in markup and markup.count("Intro line.") < 200  # a window, not the whole document


def test_answer_markup_links_known_citations_only() -> None:
    markup = answer_html("A <i>x</i> [1]. B [7]. C [1, 2].", [1, 2], turn=3)
    assert markup.count('data-cite="3:1"') == 2 and 'data-cite="3:2"' in markup
    assert "[7]" in markup and 'data-cite="3:7"' not in markup and "&lt;i&gt;" in markup


def test_names_hide_server_paths() -> None:
    names = Names(("/home/u/.cache/docqa/uploads/ab12",))
    assert names.source("/home/u/.cache/docqa/uploads/ab12/sub/a.py") == "sub/a.py"
    assert names.scrub("/home/u/.cache/docqa/uploads/ab12/a.pdf: cannot read") == "a.pdf: cannot read"


# -- the library ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "saved"), [
    ("../../evil.txt", "evil.txt"), ("..\\..\\evil.txt", "evil.txt"), ("/etc/passwd", "etc/passwd"),
    ("docs/./../notes.md", "docs/notes.md"), (".hidden", "hidden"), ("a\x00b\nc.txt", "abc.txt"),
    ("<img src=x onerror=alert(1)>.md", "_img src=x onerror=alert(1)_.md"), ("..", "upload"),
])
def test_uploads_stay_inside_their_folder(tmp_path: Path, name: str, saved: str) -> None:
    folder = tmp_path / "uploads" / "key"
    path = save_upload(folder, name, b"data")
    assert path == folder / saved and path.read_bytes() == b"data"
    assert path.resolve().is_relative_to(folder.resolve())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["uploads"]  # nothing written beside the folder


def test_safe_names_keep_the_extension_of_long_names() -> None:
    assert safe_name("x" * 300 + ".pdf").endswith(".pdf") and len(safe_name("x" * 300 + ".pdf")) <= 120
    assert str(safe_relative_path("")) == "upload"


def test_build_names_every_bad_file_and_indexes_the_rest(tmp_path: Path) -> None:
    folder = upload_folder(tmp_path / "idx", tmp_path / "cache")
    good = save_upload(folder, "notes.txt", b"The bell rings at noon.\n")
    broken = save_upload(folder, "broken.pdf", b"%PDF-1.4 not a pdf")
    empty = save_upload(folder, "empty.md", b"   ")
    code = save_upload(folder, "lamp.py", b"def burn():\n    return 11\n")
    paths = [str(p) for p in (broken, good, empty, code)]
    outcome = build_files(paths, tmp_path / "idx", Settings(), add=True, embedder=FakeEmbedder())
    assert outcome.error == "" and outcome.documents == 2
    assert sorted(Path(p).name for p, _ in outcome.failed) == ["broken.pdf", "empty.md"]
    assert all(why and str(folder) not in why for _, why in outcome.failed)
    record_outcome(folder, paths, outcome)
    assert sorted(Path(p).name for p in read_failures(folder)) == ["broken.pdf", "empty.md"]

    manifest = Manifest.read(tmp_path / "idx")
    more = save_upload(folder, "more.txt", b"The fog horn sounds twice a minute.\n")
    added = build_files([str(more)], tmp_path / "idx", settings_for(Settings(), manifest), add=True,
                        embedder=FakeEmbedder())
    assert added.documents == 3  # added to the open index, not replacing it
    manifest = Manifest.read(tmp_path / "idx")
    assert [Path(r.source).name for r in file_rows(manifest)] == ["lamp.py", "more.txt", "notes.txt"]

    removed = remove_file(tmp_path / "idx", str(good), Settings(), manifest, embedder=FakeEmbedder())
    assert removed.error == "" and removed.documents == 2
    manifest = Manifest.read(tmp_path / "idx")
    code.unlink()
    assert "no longer on disk" in file_rows(manifest)[0].status
    refused = remove_file(tmp_path / "idx", str(more), Settings(), manifest, embedder=FakeEmbedder())
    assert "no longer on disk" in refused.error and Manifest.read(tmp_path / "idx").counts["documents"] == 2
    rebuilt = rebuild(tmp_path / "idx", Settings(), manifest, embedder=FakeEmbedder())
    assert rebuilt.documents == 2 and rebuilt.kept_missing == [str(code)]  # the missing file's text is kept


def test_nothing_indexable_is_an_error_naming_each_file(tmp_path: Path) -> None:
    folder = tmp_path / "up"
    paths = [str(save_upload(folder, n, b" ")) for n in ("a.txt", "b.txt")]
    outcome = build_files(paths, tmp_path / "idx", Settings(), add=True, embedder=FakeEmbedder())
    assert outcome.error == "none of the files could be indexed" and len(outcome.failed) == 2
