"""The Streamlit page runs, answers a question and shows its citations (real index, small LLM)."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def test_ui_answers_with_citations(tmp_path: Path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from generation.models import SMOLLM2_135M

    doc = tmp_path / "facts.txt"
    doc.write_text("The observatory dome is painted white.\n\nThe telescope mirror is 2.4 metres wide.\n")
    monkeypatch.setenv("DOCQA_LLM_MODEL", SMOLLM2_135M.name)
    monkeypatch.setenv("DOCQA_LLM_CONTEXT", "4096")
    from app.cli import main

    assert main(["index", str(doc), "--index", str(tmp_path / "idx"), "--quiet"]) == 0
    at = AppTest.from_file(str(Path(__file__).parents[1] / "app" / "ui.py"), default_timeout=240)
    at.run()
    assert not at.exception
    at.sidebar.text_input[0].input(str(tmp_path / "idx")).run()
    assert not at.exception
    from app.sdk import Index

    with Index.open(tmp_path / "idx") as index:
        passages = index.manifest.counts["passages"]
    assert at.sidebar.caption[0].value.startswith(f"1 documents, {passages} passages"), at.sidebar.caption[0].value
    at.chat_input[0].set_value("How wide is the telescope mirror?").run()
    assert not at.exception, at.exception
    assistant = [m for m in at.chat_message if m.name == "assistant"]
    assert assistant and assistant[0].markdown[0].value.strip()
    assert at.expander  # run details (and citations when the small model cites)
