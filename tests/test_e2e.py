"""End to end with real packaged models: index a document the test writes, ask, check answer and citations."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from app import Index, Settings, ask
from app.runtime import default_runtime
from app.sdk import open_adhoc
from generation.models import SMOLLM2_135M
from ingest.core.records import Answer, WarningKind
from tests.conftest import write_pdf

pytestmark = pytest.mark.slow

PAGES = [
    "Quarterly operations review of the Vellmar ferry company. This page is an overview of the year.",
    "Fleet. The company runs four ferries between Vellmar and Osterby. The newest ferry, the Kittiwake, "
    "entered service in April and carries 210 passengers.",
    "Safety. The chief safety officer of the Vellmar ferry company is Hannelore Brisk. She introduced monthly "
    "lifeboat drills on every ferry.",
    "Outlook. Ticket prices will rise by three percent next year to pay for new engines.",
]


@pytest.fixture(scope="module")
def qwen_settings() -> Settings:
    return Settings()  # the defaults: MiniLM + Qwen2.5-Coder-1.5B-Instruct Q4_K_M via llama.cpp


@pytest.fixture(scope="module")
def smol_settings() -> Settings:
    base = Settings()
    return dataclasses.replace(base, llm=dataclasses.replace(base.llm, model=SMOLLM2_135M.name, context_tokens=4096,
                                                             max_answer_tokens=48))


def test_pdf_answer_states_fact_and_cites_right_page(tmp_path: Path, qwen_settings: Settings):
    pdf = write_pdf(tmp_path / "ferry-review.pdf", PAGES)
    index = Index.build([pdf], tmp_path / "idx", settings=qwen_settings)
    result = index.ask("Who is the chief safety officer of the Vellmar ferry company?")
    assert "Brisk" in result.text
    assert result.citations, result.text
    pages = {c.passage.page for c in result.citations}
    assert 3 in pages, (result.text, pages)
    for c in result.citations:  # every citation resolves to a real passage of this document
        assert c.passage in result.passages and c.label.startswith(str(pdf))
        doc = next(d for d in index.documents() if d.doc_id == c.passage.doc_id)
        assert doc.text[c.passage.chars[0]:c.passage.chars[1]] == c.passage.text
    assert {"retrieve", "rerank", "generate", "first_token"} <= set(result.timings)


def test_text_answer_cites_line_span(tmp_path: Path, qwen_settings: Settings):
    lines = [f"Log entry {i}: routine inspection of pump {i}, nothing unusual." for i in range(1, 41)]
    lines[26] = "Log entry 27: the backup generator was moved to the north annex basement."
    doc = tmp_path / "maintenance-log.txt"
    doc.write_text("\n".join(lines) + "\n")
    result = ask(doc, "Where was the backup generator moved to?", settings=qwen_settings)
    assert "north annex" in result.text.lower()
    spans = [c.passage.lines for c in result.citations]
    assert any(a <= 27 <= b for a, b in spans), (result.text, spans)


def test_abstains_when_the_document_has_no_answer(tmp_path: Path, qwen_settings: Settings):
    pdf = write_pdf(tmp_path / "ferry-review.pdf", PAGES)
    result = ask(pdf, "What is the capital city of Australia?", settings=qwen_settings)
    from generation.citations import is_abstention

    assert is_abstention(result.text), result.text
    if not is_abstention(result.draft):  # the model answered and a check withheld it: the reader is told why
        from app.metrics import strip_markers

        withheld = [w for w in result.warnings if w.kind in (WarningKind.WITHHELD_UNSUPPORTED,
                                                             WarningKind.WITHHELD_NOT_ANSWERED)]
        assert withheld and strip_markers(result.draft) in " ".join(result.notes), result.notes


def test_streaming_and_adhoc_cache_with_small_model(tmp_path: Path, smol_settings: Settings):
    doc = tmp_path / "note.md"
    doc.write_text("# Garden\n\nThe tomatoes are planted in bed three.\n\nThe beans are in bed five.\n")
    first = open_adhoc(doc, settings=smol_settings)
    stream = first.ask_stream("Where are the tomatoes planted?")
    tokens = list(stream)
    final = stream.answer
    assert tokens and all(isinstance(t, str) for t in tokens)
    assert isinstance(final, Answer) and final.text and final.model.startswith("llama-cpp:")
    assert "".join(tokens).strip() == final.draft.strip()  # the stream is the raw generation; final.text is checked
    build = first.manifest.build
    first.close()
    again = open_adhoc(doc, settings=smol_settings)  # same content: cached index, nothing re-embedded
    assert again.manifest.build == build and again.directory == first.directory
    doc.write_text(doc.read_text() + "\nThe peas are in bed one.\n")
    changed = open_adhoc(doc, settings=smol_settings)
    assert changed.directory != first.directory
    assert default_runtime().llm(smol_settings.llm, smol_settings.cache) is again.llm  # loads once per process
