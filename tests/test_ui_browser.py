"""The web UI in a real headless browser: Debian's chromium driven by Playwright, `docqa ui` on 127.0.0.1
with the small packaged model.

Uploads a generated PDF (with printed page labels), a code file, a corrupt PDF, an empty file, a file
named ``../../evil.txt`` and one holding ``<script>``; then two sessions ask at once, a PDF citation opens
its page with the quote's own character boxes highlighted (compared with PDFium's boxes of the quoted
words), a code citation marks the file's real lines, and a follow-up question is rewritten and answered.
Stopping ``docqa ui`` with SIGTERM stops its Streamlit server.

Citations are deterministic enough for the small model: each question's answer is one sentence of one
passage; the lexical check cites an uncited sentence that a passage supports; the prompt asks for an
answer outright (``--unsupported abstain``: small models take an offered "not found" too readily) and the
yes/no answer check never withholds (margin -1000). If the model cites nothing the test fails, showing
the answer.

Screenshots of the main flows (the tiny test model's answers) are written to ``docs/screenshots/fixture/`` when
``DOCQA_SCREENSHOTS=1``; the README's come from ``docs/make_screenshots.py`` (the default model, real documents).
"""

from __future__ import annotations

import io
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

CHROMIUM = Path(os.environ.get("DOCQA_CHROMIUM", "/usr/bin/chromium"))
ROOT = Path(__file__).parents[1]
SHOTS = ROOT / "docs" / "screenshots" / "fixture"  # never the README's own shots
ANSWER_TIMEOUT_MS = 300_000  # a loaded 2-core CI machine; an idle one answers in seconds
PDF_QUESTION = "Who funded the Harbor Light survey?"
CODE_QUESTION = "How long does the lamp burn each night?"
FOLLOW_UP = "In which year was it funded?"
SCRIPT_TEXT = ('Harbor notes. <script>window.__docqa_pwned = 1</script> <img src="x" '
               'onerror="window.__docqa_pwned = 2"> The bell rings at noon.\n')
CODE = '''"""Lighthouse tools: tides, the lamp and the keeper's log."""

from __future__ import annotations

TIDE_TABLE = {0: 1.2, 6: 0.4, 12: 1.3, 18: 0.5}
BELL_SCHEDULE = [
    ("00:00", "hour"),
    ("01:00", "hour"),
    ("02:00", "hour"),
    ("03:00", "hour"),
    ("04:00", "hour"),
    ("05:00", "hour"),
    ("06:00", "hour"),
    ("07:00", "hour"),
    ("08:00", "hour"),
    ("09:00", "hour"),
    ("10:00", "hour"),
    ("11:00", "hour"),
    ("12:00", "noon"),
    ("13:00", "hour"),
    ("14:00", "hour"),
    ("15:00", "hour"),
    ("16:00", "hour"),
    ("17:00", "hour"),
    ("18:00", "hour"),
    ("19:00", "hour"),
    ("20:00", "hour"),
    ("21:00", "hour"),
    ("22:00", "hour"),
    ("23:00", "hour"),
]


def tide_height(hour: int) -> float:
    """Height of the tide in metres at ``hour`` (from the table, nearest entry)."""
    nearest = min(TIDE_TABLE, key=lambda h: abs(h - hour % 24))
    return TIDE_TABLE[nearest]


class Lamp:
    """The lighthouse lamp."""

    def burn_hours(self) -> int:
        """The lamp burns for eleven hours each night."""
        return 11
'''


def _ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _need_browser() -> None:
    """Skip (fail in CI) without Playwright for Python or Debian's chromium."""
    missing = []
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("Playwright for Python (pip install playwright)")
    if not CHROMIUM.is_file():
        missing.append(f"chromium at {CHROMIUM} (apt-get install chromium; .ci/setup does)")
    if missing:
        why = "browser tests need " + " and ".join(missing)
        if _ci():
            pytest.fail(why + " (CI=true: .ci/setup installs them)")
        pytest.skip(why)


def _labelled_pdf(path: Path) -> Path:
    """Two pages printed as "i" and "1"; the funding sentence is on page 2 only."""
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_font("Helvetica", size=11)
    pdf.add_page()
    pdf.set_page_label("r")
    pdf.multi_cell(0, 6, "Preface. This report describes the harbor and its lighthouse keepers.")
    pdf.add_page()
    pdf.set_page_label("D", None, 1)
    pdf.multi_cell(0, 6, "The lighthouse was painted red in 1931. The Harbor Light survey was funded by the "
                         "Maritime Trust in 2019. The fog horn sounds twice a minute.")
    pdf.output(str(path))
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def start_ui(index_dir: Path, home: Path, env: dict[str, str]) -> tuple[subprocess.Popen[str], str, list[str]]:
    """``docqa ui --index index_dir`` on a free port of 127.0.0.1, returned once its health check answers: the
    process, its URL, and its output (a list kept up to date by a reader thread)."""
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "app.cli", "ui", "--index", str(index_dir), "--port", str(port)],
                            cwd=home, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output: list[str] = []
    threading.Thread(target=lambda: output.extend(iter(proc.stdout.readline, "")), daemon=True).start()  # type: ignore[union-attr]
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return proc, url, output
        except OSError:
            pass
        assert time.monotonic() < deadline, "the Streamlit server did not start: " + "".join(output)
        assert proc.poll() is None, "".join(output)
        time.sleep(0.5)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """``docqa ui --index <new dir>`` on a free port of 127.0.0.1; stopped with SIGTERM afterwards."""
    _need_browser()
    from generation.models import SMOLLM2_135M

    home = tmp_path_factory.mktemp("ui")
    index_dir = home / "harbor-docs"
    env = {**os.environ, "DOCQA_LLM_MODEL": SMOLLM2_135M.name, "DOCQA_LLM_CONTEXT": "4096",
           "DOCQA_LLM_MAX_ANSWER_TOKENS": "40", "DOCQA_ANSWER_TOP_K": "3", "DOCQA_ANSWER_VERIFY": "lexical",
           "DOCQA_ANSWER_UNSUPPORTED": "abstain", "DOCQA_ANSWER_ANSWER_CHECK_MARGIN": "-1000",
           "DOCQA_CACHE": str(home / "cache"), "DOCQA_INDEX_CACHE": str(home / "adhoc"), "HF_HUB_OFFLINE": "1"}
    proc, url, output = start_ui(index_dir, home, env)
    port = int(url.rsplit(":", 1)[1])
    assert any(f"docqa: web UI at {url}" in line for line in output), output
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM),
                                     args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        yield {"url": url, "port": port, "home": home, "index": index_dir, "cache": home / "cache",
               "browser": browser, "proc": proc, "pages": {}, "output": output}
        browser.close()
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)


def _page(server: dict[str, Any], name: str) -> Any:
    """A browser session (its own context: its own Streamlit session), opened once per name."""
    if name not in server["pages"]:
        context = server["browser"].new_context(viewport={"width": 1400, "height": 900})
        page = context.new_page()
        page.on("dialog", lambda d: pytest.fail(f"a dialog opened: {d.message}"))
        page.goto(server["url"])
        page.get_by_role("tab", name="Chat").wait_for(timeout=90_000)
        server["pages"][name] = page
    return server["pages"][name]


def _shoot(page: Any, name: str) -> None:
    """A small palette PNG of the page under docs/screenshots/fixture/ (only with DOCQA_SCREENSHOTS=1)."""
    if os.environ.get("DOCQA_SCREENSHOTS") != "1":
        return
    from PIL import Image

    _idle(page)
    page.wait_for_timeout(500)  # let images and the scroll settle
    image = Image.open(io.BytesIO(page.screenshot())).convert("RGB")
    SHOTS.mkdir(parents=True, exist_ok=True)
    image.quantize(colors=128, method=Image.Quantize.MEDIANCUT).save(SHOTS / f"{name}.png", optimize=True)


def _upload(page: Any, files: list[dict[str, Any]]) -> None:
    page.get_by_role("tab", name="Library").click()
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').first.set_input_files(files)
    button = page.get_by_role("button", name=re.compile(rf"Add {len(files)} files to the index"))
    button.wait_for(timeout=60_000)
    page.wait_for_timeout(500)
    button.click()


def test_library_upload_names_every_bad_file_and_escapes_text(server: dict[str, Any], tmp_path: Path) -> None:
    page = _page(server, "a")
    pdf = _labelled_pdf(tmp_path / "harbor-report.pdf").read_bytes()
    _upload(page, [
        {"name": "harbor-report.pdf", "mimeType": "application/pdf", "buffer": pdf},
        {"name": "lighthouse.py", "mimeType": "text/x-python", "buffer": CODE.encode()},
        {"name": "broken.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.4\nnot really a pdf"},
        {"name": "empty.txt", "mimeType": "text/plain", "buffer": b"   \n"},
        {"name": "../../evil.txt", "mimeType": "text/plain", "buffer": b"The evil file says hello.\n"},
        {"name": "<img src=x onerror=alert(1)>.md", "mimeType": "text/markdown", "buffer": SCRIPT_TEXT.encode()},
    ])
    page.get_by_text(re.compile(r"Added 4 of 6 files")).wait_for(timeout=240_000)
    _idle(page)
    body = page.inner_text("body")
    for name in ("harbor-report.pdf", "lighthouse.py", "evil.txt", "_img src=x onerror=alert(1)_.md"):
        assert name in body, name
    assert "broken.pdf" in body and "empty.txt" in body  # both bad files named, with their reasons
    assert str(server["cache"]) not in body and "/tmp/" not in body  # no server paths
    uploads = [p for p in (server["cache"] / "uploads").iterdir() if p.is_dir()]
    assert len(uploads) == 1
    folder = uploads[0]
    assert (folder / "evil.txt").read_text() == "The evil file says hello.\n"
    assert not (folder / "broken.pdf").exists()  # an upload that cannot be indexed is not kept
    for parent in folder.parents:
        assert not (parent / "evil.txt").exists(), parent
    assert not (server["home"] / "evil.txt").exists()
    assert sorted(p.name for p in folder.rglob("evil.txt")) == ["evil.txt"]

    # the file holding <script> is shown as text and runs nothing
    _idle(page)
    row = page.locator('[data-testid="stHorizontalBlock"]').filter(has_text="onerror=alert(1)_.md")
    row.get_by_role("button", name=re.compile("Preview")).click()
    preview = page.locator(".docqa-text")
    preview.wait_for(timeout=30_000)
    assert "<script>window.__docqa_pwned = 1</script>" in preview.inner_text()
    assert page.evaluate("window.__docqa_pwned") is None
    assert page.locator("script:has-text('__docqa_pwned')").count() == 0
    page.set_viewport_size({"width": 1400, "height": 1000})
    _shoot(page, "library")
    page.set_viewport_size({"width": 1400, "height": 900})


def _idle(page: Any, timeout: int = 120_000) -> None:
    """Wait until the session's script run is over (Streamlit marks the app while it runs)."""
    page.wait_for_function("document.querySelector('[data-testid=\"stApp\"]')"
                           "?.getAttribute('data-test-script-state') !== 'running'", timeout=timeout)


def _ask(page: Any, question: str) -> None:
    _idle(page)
    page.get_by_role("tab", name="Chat").click()
    box = page.locator('[data-testid="stChatInputTextArea"]')
    box.wait_for(timeout=60_000)
    box.fill(question)
    box.press("Enter")


def _answers(page: Any) -> Any:
    return page.locator(".docqa-answer")


def _wait_answers(page: Any, count: int) -> None:
    page.wait_for_function(f"document.querySelectorAll('.docqa-answer').length >= {count}",
                           timeout=ANSWER_TIMEOUT_MS)


def test_two_sessions_ask_at_once_and_citations_open_exactly(server: dict[str, Any], tmp_path: Path) -> None:
    a, b = _page(server, "a"), _page(server, "b")
    _idle(b)
    b.locator(".st-key-new-conversation button").click()  # b gets a conversation of its own
    b.wait_for_timeout(500)
    _ask(a, PDF_QUESTION)
    _ask(b, CODE_QUESTION)
    waited = False
    for _ in range(40):  # one of them waits for the model, and says so
        if any(p.get_by_text("Waiting for the model").count() for p in (a, b)):
            waited = True
            break
        a.wait_for_timeout(250)
    _wait_answers(a, 1)
    _wait_answers(b, 1)
    assert waited, "neither session showed its place in the queue"
    assert server["proc"].poll() is None  # no crash

    # a: the PDF citation opens page 2 (printed "1") with the quoted words highlighted
    text_a = _answers(a).first.inner_text()
    cite = a.locator(".docqa-answer a.docqa-cite")
    assert cite.count(), f"the model cited nothing: {text_a!r}"
    cite.first.click()
    page_view = a.locator(".docqa-page")
    page_view.wait_for(timeout=60_000)
    assert page_view.get_attribute("data-page") == "2", text_a
    assert page_view.get_attribute("data-page-label") == "1"
    assert "printed page 1" in a.inner_text("body")
    assert int(page_view.get_attribute("data-highlights") or 0) > 0, a.inner_text("body")
    image = a.locator(".docqa-page-img").bounding_box()
    highlights = [h.bounding_box() for h in a.locator(".docqa-highlight").all()]
    width_pt = float(page_view.get_attribute("data-width-pt") or 0)
    height_pt = float(page_view.get_attribute("data-height-pt") or 0)
    pdf = _labelled_pdf(tmp_path / "same.pdf")
    funded = _word_boxes(pdf, 2, "funded by the Maritime Trust")
    painted = _word_boxes(pdf, 2, "painted red in 1931")
    scale_x, scale_y = image["width"] / width_pt, image["height"] / height_pt

    def on_screen(box: tuple[float, float, float, float]) -> tuple[float, float]:
        left, bottom, right, top = box
        return image["x"] + (left + right) / 2 * scale_x, image["y"] + (height_pt - (bottom + top) / 2) * scale_y

    def covered(point: tuple[float, float]) -> bool:
        x, y = point
        return any(h["x"] - 1 <= x <= h["x"] + h["width"] + 1 and h["y"] - 1 <= y <= h["y"] + h["height"] + 1
                   for h in highlights)

    assert all(covered(on_screen(box)) for box in funded), (highlights, a.inner_text("body")[:2000])
    assert not any(covered(on_screen(box)) for box in painted)  # another sentence of the page stays plain
    _shoot(a, "pdf-highlight")

    # b: the code citation marks the file's real lines
    text_b = _answers(b).first.inner_text()
    cite = b.locator(".docqa-answer a.docqa-cite")
    assert cite.count(), f"the model cited nothing: {text_b!r}"
    cite.first.click()
    code = b.locator(".docqa-code")
    code.wait_for(timeout=60_000)
    first, last = int(code.get_attribute("data-first") or 0), int(code.get_attribute("data-last") or 0)
    cited = [int(x) for x in b.eval_on_selector_all(".docqa-line.docqa-cited", "els => els.map(e => e.dataset.line)")]
    assert cited == list(range(first, last + 1)) and first > 1, (first, last, cited)
    lines = CODE.splitlines()
    shown = b.eval_on_selector_all(".docqa-line.docqa-cited .docqa-src", "els => els.map(e => e.textContent)")
    assert [s.rstrip() for s in shown] == [line.rstrip() or "" for line in lines[first - 1:last]]
    burn = next(i for i, line in enumerate(lines, 1) if "eleven hours" in line)
    assert first <= burn <= last, (first, last, text_b)
    assert code.get_attribute("data-symbol")
    box = b.locator(".docqa-code .docqa-scroll").bounding_box()
    target = b.locator(".docqa-code .docqa-target").bounding_box()
    assert box["y"] <= target["y"] and target["y"] + target["height"] <= box["y"] + box["height"]  # in view
    assert b.eval_on_selector(".docqa-code .docqa-scroll", "e => e.scrollTop") > 0  # scrolled to get there
    _shoot(b, "code-citation")


def _word_boxes(pdf: Path, page_number: int, words: str) -> list[tuple[float, float, float, float]]:
    """PDFium's boxes of the non-space characters of ``words`` on a page."""
    import pypdfium2 as pdfium

    from app.ui_viewer import pdfium_text

    doc = pdfium.PdfDocument(str(pdf))
    try:
        textpage = doc[page_number - 1].get_textpage()
        text = pdfium_text(textpage)
        start = re.search(r"\s+".join(map(re.escape, words.split())), text)
        assert start is not None, text
        return [textpage.get_charbox(i) for i in range(start.start(), start.end()) if not text[i].isspace()]
    finally:
        doc.close()


def test_follow_up_uses_the_conversation(server: dict[str, Any]) -> None:
    a = _page(server, "a")
    _ask(a, FOLLOW_UP)
    _wait_answers(a, 2)
    body = a.inner_text("body")
    # rewritten by the model, or (when its rewrite is unusable) asked with the previous question beside it
    assert "Follow-up answered as:" in body, body[-3000:]
    assert _answers(a).nth(1).inner_text().strip()
    # the run details (a collapsed expander: in the page, not shown) record the rewrite
    a.get_by_text("follow-up rewrite").last.wait_for(state="attached", timeout=10_000)
    cite = a.locator(".docqa-answer").nth(1).locator("a.docqa-cite")
    if cite.count():
        cite.first.click()
        a.locator(".docqa-page, .docqa-code, .docqa-text").first.wait_for(timeout=60_000)
    a.set_viewport_size({"width": 1400, "height": 1000})
    a.get_by_text(FOLLOW_UP).first.scroll_into_view_if_needed()
    _shoot(a, "conversation")
    # the conversation persists: a fresh session (a reload) shows both turns
    a.reload()
    _wait_answers(a, 2)
    assert server["proc"].poll() is None


def test_sigterm_stops_the_streamlit_child(server: dict[str, Any]) -> None:
    proc, port = server["proc"], server["port"]
    assert _port_open(port)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0
    deadline = time.monotonic() + 20
    while _port_open(port):
        assert time.monotonic() < deadline, "the Streamlit server kept running after docqa ui was stopped"
        time.sleep(0.25)
