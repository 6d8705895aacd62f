"""The web UI in a real headless browser with an Office file: a workbook's index, `docqa ui` on 127.0.0.1, and a
stored conversation whose answer cites a cell range (written as the UI writes its turns, so no model runs); its
citation opens the cited range as a table with the sheet's column letters and row numbers, the cited rows marked
and the quoted figure's cell highlighted. Helpers come from ``tests/test_ui_browser.py``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from tests.test_office import write_xlsx
from tests.test_ui_browser import CHROMIUM, _answers, _idle, _need_browser, start_ui

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def office_ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """``docqa ui --index <a workbook's index>`` on a free port, a conversation citing the workbook stored for it;
    stopped with SIGTERM afterwards."""
    _need_browser()
    from app.conversations import ConversationStore, Turn
    from ingest.core.records import Answer, Citation
    from retrieval.store import IndexReader

    home = tmp_path_factory.mktemp("office-ui")
    book = write_xlsx(home / "plan.xlsx", rows=12)
    env = {**os.environ, "DOCQA_CACHE": str(home / "cache"), "HF_HUB_OFFLINE": "1"}
    assert subprocess.run([sys.executable, "-m", "app.cli", "index", str(book), "--index", str(home / "idx"),
                           "--quiet"], env=env, cwd=home, timeout=600).returncode == 0  # the UI's own embedder
    reader = IndexReader(home / "idx")
    cited = next(p for p in reader.all_passages() if p.place is not None and p.place.sheet == "Q1 plan")
    reader.close()
    at = cited.text.index("Barley harvest | 4800")
    quote = (at, at + len("Barley harvest | 4800"))
    answer = Answer("What is the barley harvest target?", "The barley harvest target is 4800 [1].",
                    (Citation(1, cited, cited.text[quote[0]:quote[1]], quote, True),), (cited,), model="stored")
    store = ConversationStore(home / "cache" / "conversations.sqlite")
    store.add_turn(store.create(home / "idx", title="Barley"), Turn(answer.question, answer.question, answer))
    proc, url, output = start_ui(home / "idx", home, env)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM),
                                     args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        yield {"url": url, "browser": browser, "proc": proc, "output": output}
        browser.close()
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)


def test_a_cited_cell_range_opens_as_a_table_with_the_quoted_cell_marked(office_ui: dict[str, Any]) -> None:
    page = office_ui["browser"].new_context(viewport={"width": 1400, "height": 900}).new_page()
    page.goto(office_ui["url"])
    page.get_by_role("tab", name="Chat").wait_for(timeout=90_000)
    _idle(page)
    page.get_by_role("tab", name="Chat").click()
    _answers(page).first.wait_for(timeout=60_000)
    page.locator(".docqa-answer a.docqa-cite").first.click()
    sheet = page.locator(".docqa-sheet")
    sheet.wait_for(timeout=60_000)
    assert (sheet.get_attribute("data-sheet"), sheet.get_attribute("data-first"), sheet.get_attribute("data-last")) \
        == ("Q1 plan", "2", "3")
    rows = page.eval_on_selector_all(".docqa-sheet tr.docqa-cited", "els => els.map(e => e.dataset.row)")
    assert rows == ["2", "3"]
    letters = page.eval_on_selector_all(".docqa-sheet tr:first-child th", "els => els.map(e => e.textContent)")
    assert letters == ["", "B", "C"]
    quoted = page.eval_on_selector_all(".docqa-sheet td.docqa-quote", "els => els.map(e => e.textContent)")
    assert quoted == ["4800"]  # the figure the quote holds (from the table record), not its label
    assert "plan.xlsx 'Q1 plan'!B2:C3" in page.inner_text("body"), page.inner_text("body")[:2000]
    assert office_ui["proc"].poll() is None, "".join(office_ui["output"])
