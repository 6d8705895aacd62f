"""Loaders: PDF pages, passwords, corrupt and empty files, text kinds, directory walks, odd names and files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ingest.core.errors import (
    CorruptFileError,
    EmptyDocumentError,
    FileMissingError,
    FileTooLargeError,
    InputError,
    PasswordError,
    UnsupportedFileError,
)
from ingest.loaders import decode_text, document_id, html_to_text, load_file, load_paths, source_path
from tests.fuzz.pdfs import page_objects, raw_pdf, stream


def test_pdf_pages_keep_numbers_and_report_empty_pages(make_pdf):
    path = make_pdf("r.pdf", ["First page about apples.", "", "Third page about pears."])
    doc = load_file(path)
    assert doc.kind == "pdf" and doc.page_count == 3
    assert doc.empty_pages == (2,)
    assert [s.number for s in doc.pages] == [1, 3]
    for span, word in zip(doc.pages, ["apples", "pears"], strict=True):
        assert word in doc.text[span.start:span.end]
    assert doc.page_at(doc.text.index("pears")) == 3


def test_pdf_with_no_text_at_all_is_an_error(make_pdf):
    path = make_pdf("blank.pdf", ["", ""])
    with pytest.raises(EmptyDocumentError, match=r"blank\.pdf: no extractable text on any of its 2 pages"):
        load_file(path)


def test_encrypted_pdf_needs_the_right_password(make_pdf):
    path = make_pdf("locked.pdf", ["Secret page about the vault code."], password="1234")
    with pytest.raises(PasswordError, match=r"locked\.pdf: .*--password"):
        load_file(path)
    with pytest.raises(PasswordError, match=r"locked\.pdf: .*wrong password"):
        load_file(path, password="nope")
    assert "vault code" in load_file(path, password="1234").text


def test_corrupt_pdf_is_reported_with_its_name(tmp_path: Path):
    path = tmp_path / "broken.pdf"
    path.write_bytes(b"%PDF-1.7\n1 0 obj << /Type /Catalog >>\ngarbage garbage\n%%EOF")
    with pytest.raises((CorruptFileError, EmptyDocumentError), match=r"broken\.pdf: "):
        load_file(path)


def test_missing_empty_and_binary_files(tmp_path: Path):
    with pytest.raises(FileMissingError, match="nothing.txt: no such file"):
        load_file(tmp_path / "nothing.txt")
    (tmp_path / "empty.txt").write_text("  \n\n")
    with pytest.raises(EmptyDocumentError, match="empty.txt: empty file"):
        load_file(tmp_path / "empty.txt")
    (tmp_path / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    with pytest.raises(UnsupportedFileError, match="image.png: binary file"):
        load_file(tmp_path / "image.png")


def test_text_markdown_html_and_code_kinds(tmp_path: Path):
    (tmp_path / "a.txt").write_text("plain\r\ntext\n")
    (tmp_path / "b.md").write_text("# Title\n\nBody")
    (tmp_path / "c.html").write_text("<html><head><title>T</title><style>p{}</style></head>"
                                     "<body><script>var x=1;</script><p>Visible <b>words</b></p></body></html>")
    (tmp_path / "d.py").write_text("def f():\n    return 1\n")
    (tmp_path / "tool").write_text("#!/usr/bin/env python3\nprint(1)\n")
    docs = {Path(d.source).name: d for d in load_paths([tmp_path]).documents}
    assert docs["a.txt"].kind == "text" and docs["a.txt"].text == "plain\ntext\n"
    assert docs["b.md"].kind == "markdown"
    assert docs["c.html"].kind == "html" and docs["c.html"].text == "Visible\nwords"
    assert (docs["d.py"].kind, docs["d.py"].language) == ("code", "python")
    assert docs["tool"].language == "python"


def test_html_visible_text_only():
    assert html_to_text("<div>a<noscript>b</noscript><template>c</template></div><p>d</p>") == "a\nd"


def test_directory_walk_skips_hidden_vcs_and_binaries(tmp_path: Path):
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "config").write_text("[core]")
    (tmp_path / ".hidden.txt").write_text("secret")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "keep.txt").write_text("kept text")
    (tmp_path / "blob.bin").write_bytes(b"\x00\x01\x02" * 100)
    (tmp_path / "empty.txt").write_text("")
    report = load_paths([tmp_path])
    assert [Path(d.source).name for d in report.documents] == ["keep.txt"]
    assert {Path(p).name for p, _ in report.skipped} == {"blob.bin", "empty.txt"}


def test_bad_file_named_alone_raises_but_among_others_is_skipped(tmp_path: Path):
    (tmp_path / "ok.txt").write_text("fine")
    (tmp_path / "bad.bin").write_bytes(b"\x00" * 64)
    (tmp_path / "__init__.py").write_text("")
    with pytest.raises(UnsupportedFileError, match="bad.bin"):
        load_paths([tmp_path / "bad.bin"])
    report = load_paths([tmp_path / "ok.txt", tmp_path / "bad.bin", tmp_path / "__init__.py"])
    assert [Path(d.source).name for d in report.documents] == ["ok.txt"]
    assert [(Path(p).name, why) for p, why in report.skipped] == [
        ("bad.bin", "binary file, not text, code or PDF"), ("__init__.py", "empty file (no text to index)")]


def test_decode_policy_falls_back_to_cp1252():
    assert decode_text("naïve".encode()) == "naïve"
    assert decode_text("naïve".encode("cp1252")) == "naïve"
    assert decode_text(b"\xef\xbb\xbfbom") == "bom"


def test_file_names_that_are_not_utf8_read_as_escaped_text_and_map_back(tmp_path: Path):
    raw = os.fsencode(tmp_path) + b"/caf\xe9 back\\slash\nline.txt"
    with open(raw, "wb") as f:
        f.write(b"Bytes that name no UTF-8 text.\n")
    (doc,) = load_paths([tmp_path]).documents
    assert doc.source == f"{tmp_path}/caf\\xe9 back\\\\slash\\x0aline.txt"
    doc.source.encode("utf-8")  # storable in SQLite, printable on a UTF-8 terminal
    assert os.fsencode(source_path(doc.source)) == raw
    assert source_path(str(tmp_path / "plain.txt")) == tmp_path / "plain.txt"


def test_a_literal_backslash_name_and_a_non_utf8_name_never_share_a_source(tmp_path: Path):
    """Found by the long fuzz run: b"caf\\xe9.txt" and b"caf\xe9.txt" once printed alike."""
    for raw in (b"caf\\xe9.txt", b"caf\xe9.txt"):
        with open(os.fsencode(tmp_path) + b"/" + raw, "wb") as f:
            f.write(raw + b" is the name of this file.\n")
    report = load_paths([tmp_path])
    assert report.skipped == () and len({d.source for d in report.documents}) == 2
    for doc in report.documents:
        assert source_path(doc.source).read_bytes().startswith(os.fsencode(source_path(doc.source).name))


def test_identical_bytes_under_two_paths_are_two_documents(tmp_path: Path):
    (tmp_path / "a.txt").write_text("Same words.")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.txt").write_text("Same words.")
    (tmp_path / "link.txt").symlink_to(tmp_path / "a.txt")
    docs = load_paths([tmp_path, tmp_path / "a.txt"]).documents  # a.txt is also named: read once
    assert [Path(d.source).relative_to(tmp_path).as_posix() for d in docs] == ["a.txt", "link.txt", "sub/a.txt"]
    assert len({d.doc_id for d in docs}) == 3
    assert len({d.doc_id.split("-")[0] for d in docs}) == 1  # the content digest is shared
    assert docs[0].doc_id == document_id(str(tmp_path / "a.txt"), b"Same words.")


def test_walk_skips_special_files_and_links_that_loop_dangle_or_lead_to_folders(tmp_path: Path):
    (tmp_path / "ok.txt").write_text("fine")
    os.mkfifo(tmp_path / "pipe.txt")
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    (tmp_path / "gone.txt").symlink_to(tmp_path / "missing.txt")
    (tmp_path / "up").symlink_to(tmp_path)
    report = load_paths([tmp_path])
    assert [Path(d.source).name for d in report.documents] == ["ok.txt"]
    assert sorted((Path(p).name, why) for p, why in report.skipped) == [
        ("gone.txt", "broken symbolic link"), ("loop", "symbolic link loop"),
        ("pipe.txt", "a named pipe, not a file to read"), ("up", "symbolic link to a directory (not followed)")]
    with pytest.raises(UnsupportedFileError, match=r"pipe\.txt: a named pipe, not a file to read"):
        load_file(tmp_path / "pipe.txt")  # refused without blocking on the open
    with pytest.raises(InputError, match=r"loop: symbolic link loop"):
        load_paths([tmp_path / "loop"])


def test_size_bound_and_nul_characters(tmp_path: Path):
    (tmp_path / "big.txt").write_bytes(b"word " * 300_000)
    with pytest.raises(FileTooLargeError, match=r"big\.txt: larger than 1 MiB \(the \[ingest\] max_file_mb bound\)"):
        load_file(tmp_path / "big.txt", max_bytes=2**20)
    (tmp_path / "nul.txt").write_bytes(b"a" * 9000 + b"\x00tail")
    assert load_file(tmp_path / "nul.txt").text.endswith("a\ufffdtail")  # NUL after the binary sniff: replaced


@pytest.mark.parametrize("body", [
    b"%PDF-1.7\n1 0 obj\n" + b"[" * 50_000 + b"\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF",  # RecursionError in pypdf
    b"%PDF-1.7\n1 0 obj\n2 0 R\nendobj\n2 0 obj\n1 0 R\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF",  # a cycle
    raw_pdf(page_objects(b"")[:4] + [stream(b"x", b"/Filter /Fl ")]),  # pypdf's DeprecationError (long fuzz run)
])
def test_hostile_pdf_structures_are_one_line_errors(tmp_path: Path, body: bytes):
    (tmp_path / "hostile.pdf").write_bytes(body)
    with pytest.raises((CorruptFileError, EmptyDocumentError), match=r"hostile\.pdf: ") as info:
        load_file(tmp_path / "hostile.pdf")
    assert "\n" not in str(info.value)
