"""Take the README's screenshots, docs/screenshots/*.png: real documents answered by the default model.

Builds an index called ``docqa-demo`` (a collection, so the UI names it without a path) in a clean temporary
home from four documents: the bundled sample PDF, a Python file of this repository, a spreadsheet written with
openpyxl and a scanned page (a page of the sample PDF rendered to an image, so OCR reads it). Then it starts
``docqa ui`` with the default packaged model (no ``DOCQA_LLM_MODEL``), asks one question per document type in
Debian's chromium driven by Playwright, opens each answer's citation and saves small palette PNGs.

Needs Playwright for Python, chromium (``/usr/bin/chromium`` or ``$DOCQA_CHROMIUM``), Tesseract and the
default model (assembled once into the usual cache, which the temporary home links to). Answers take
seconds to a minute each on a small machine. Run: ``python docs/make_screenshots.py``.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SHOTS = ROOT / "docs" / "screenshots"
SAMPLE = ROOT / "app" / "samples" / "harbor-light-report.pdf"
CODE = ROOT / "generation" / "citations.py"
CHROMIUM = Path(os.environ.get("DOCQA_CHROMIUM", "/usr/bin/chromium"))
INDEX_NAME = "docqa-demo"
ANSWER_TIMEOUT_MS = 600_000  # the default model on a busy 2-core machine
SCAN_PAGE = 4  # "People"

PDF_QUESTION = "How large was the cooperative's surplus in 2025?"
FOLLOW_UP = "What did the general assembly do with it?"
CODE_QUESTION = "At most how many numbers does a range marker expand to?"
SHEET_QUESTION = "How many people visited the lighthouse in August 2025?"
SCAN_QUESTION = "When did the Saltreach village office receive the report?"
STAMP = ["Received by the Saltreach village office on 2 March 2026.", "Filed by Marta Quist, clerk."]

VISITORS = [  # month, visitors, ticket income (euros), guided tours; April-October 2025
    ("April", 1480, 7400, 22), ("May", 2260, 11300, 35), ("June", 3120, 15600, 48), ("July", 4350, 21750, 66),
    ("August", 4810, 24050, 71), ("September", 2140, 10700, 31), ("October", 1080, 5400, 15),
]


def make_sheet(path: Path) -> Path:
    """A workbook of the lighthouse's visitors per month, with a formula row (read as its cached value)."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "Visitors 2025"
    ws.append(["Month", "Visitors", "Ticket income (EUR)", "Guided tours"])
    for row in VISITORS:
        ws.append(list(row))
    ws.append(["Total", sum(r[1] for r in VISITORS), sum(r[2] for r in VISITORS), sum(r[3] for r in VISITORS)])
    wb.save(path)
    return path


def make_scan(path: Path, page: int = SCAN_PAGE) -> Path:
    """Page ``page`` of the sample PDF rendered at 150 dpi, with the office's received stamp (the one thing
    only the scanned copy says), saved as an image-only PDF: a scan, which OCR reads."""
    import pypdfium2 as pdfium
    from PIL import ImageDraw, ImageFont

    doc = pdfium.PdfDocument(str(SAMPLE))
    try:
        image = doc[page - 1].render(scale=150 / 72).to_pil().convert("L")
    finally:
        doc.close()
    font_file = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")
    font = ImageFont.truetype(str(font_file), 24) if font_file.is_file() else ImageFont.load_default(24)
    draw = ImageDraw.Draw(image)
    x, y = 120, int(image.height * 0.36)  # below the page's text
    for i, line in enumerate(STAMP):
        draw.text((x + 20, y + 18 + i * 36), line, fill=40, font=font)
    draw.rectangle((x, y, image.width - 120, y + 36 + 36 * len(STAMP)), outline=40, width=4)
    image.save(path, "PDF", resolution=150.0)
    return path


def say(text: str) -> None:
    """Progress on stderr."""
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_ui(index_dir: Path, home: Path, env: dict[str, str]) -> tuple[subprocess.Popen[str], str, list[str]]:
    """``docqa ui --index index_dir`` on a free port, returned once its health check answers."""
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "app.cli", "ui", "--index", str(index_dir), "--port", str(port)],
                            cwd=home, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output: list[str] = []
    threading.Thread(target=lambda: output.extend(iter(proc.stdout.readline, "")), daemon=True).start()  # type: ignore[union-attr]
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while True:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return proc, url, output
        except OSError:
            pass
        if time.monotonic() > deadline or proc.poll() is not None:
            raise SystemExit("the Streamlit server did not start:\n" + "".join(output))
        time.sleep(0.5)


def _idle(page: Any, timeout: int = 180_000) -> None:
    page.wait_for_function("document.querySelector('[data-testid=\"stApp\"]')"
                           "?.getAttribute('data-test-script-state') !== 'running'", timeout=timeout)


def shoot(page: Any, name: str) -> None:
    """A small palette PNG of the page (as the browser test writes them)."""
    from PIL import Image

    _idle(page)
    page.wait_for_timeout(800)  # let images and the scroll settle
    image = Image.open(io.BytesIO(page.screenshot())).convert("RGB")
    SHOTS.mkdir(parents=True, exist_ok=True)
    image.quantize(colors=128, method=Image.Quantize.MEDIANCUT).save(SHOTS / f"{name}.png", optimize=True)
    say(f"wrote {SHOTS / name}.png")


def new_conversation(page: Any) -> None:
    _idle(page)
    page.locator(".st-key-new-conversation button").click()
    page.wait_for_timeout(500)
    _idle(page)


def ask(page: Any, question: str) -> str:
    """Ask in the chat, wait for the answer and return its text."""
    _idle(page)
    count = page.locator(".docqa-answer").count()
    page.get_by_role("tab", name="Chat").click()
    box = page.locator('[data-testid="stChatInputTextArea"]')
    box.wait_for(timeout=60_000)
    box.fill(question)
    box.press("Enter")
    started = time.monotonic()
    page.wait_for_function(f"document.querySelectorAll('.docqa-answer').length > {count}",
                           timeout=ANSWER_TIMEOUT_MS)
    _idle(page, ANSWER_TIMEOUT_MS)
    text = page.locator(".docqa-answer").nth(count).inner_text()
    say(f"Q: {question}\nA ({time.monotonic() - started:.0f} s): {text}")
    return text


def open_citation(page: Any, source: str, view: str) -> None:
    """Open the last answer's citation of ``source`` (a file name) and wait for the viewer's ``view``."""
    buttons = page.locator('[class*="-src-"] button').filter(has_text=source)
    if not buttons.count():
        raise SystemExit(f"the answer does not cite {source}:\n" + page.inner_text("body")[-3000:])
    buttons.last.click()
    page.locator(view).first.wait_for(timeout=120_000)
    _idle(page)


def main() -> None:
    from playwright.sync_api import sync_playwright

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop docqa ui and clean up on SIGTERM too

    real_cache = Path(os.environ.get("DOCQA_CACHE") or Path.home() / ".cache" / "docqa").expanduser()
    with tempfile.TemporaryDirectory(prefix="docqa-shots-") as tmp:
        home = Path(tmp)
        cache = home / ".cache" / "docqa"
        cache.mkdir(parents=True)
        for kept in ("models", "onnx"):  # assembled models: linked, not assembled again
            if (real_cache / kept).exists():
                (cache / kept).symlink_to(real_cache / kept)
        index_dir = cache / "collections" / INDEX_NAME  # a collection: the UI shows it as "docqa-demo (collection)"
        from app.ui_library import upload_folder

        docs = upload_folder(index_dir, cache)  # as if uploaded in the UI: sources are shown by their names
        docs.mkdir(parents=True)
        shutil.copy(SAMPLE, docs / SAMPLE.name)
        shutil.copy(CODE, docs / CODE.name)
        make_sheet(docs / "visitors-2025.xlsx")
        make_scan(docs / "people-page-scan.pdf")
        env = {k: v for k, v in os.environ.items() if not k.startswith("DOCQA_")}
        env.update({"HOME": str(home), "DOCQA_INGEST_OCR": "auto", "HF_HUB_OFFLINE": "1",
                    "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")})
        subprocess.run([sys.executable, "-m", "app.cli", "index", *sorted(str(p) for p in docs.iterdir()),
                        "--index", str(index_dir)], cwd=home, env=env, check=True)
        proc, url, output = start_ui(index_dir, home, env)
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=str(CHROMIUM),
                                             args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
                page = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
                page.goto(url)
                page.get_by_role("tab", name="Chat").wait_for(timeout=120_000)
                _idle(page)

                ask(page, PDF_QUESTION)
                open_citation(page, SAMPLE.name, ".docqa-page")
                shoot(page, "pdf-highlight")
                ask(page, FOLLOW_UP)
                page.set_viewport_size({"width": 1400, "height": 1000})
                page.get_by_text(FOLLOW_UP).first.scroll_into_view_if_needed()
                shoot(page, "conversation")
                page.set_viewport_size({"width": 1400, "height": 900})

                new_conversation(page)
                ask(page, CODE_QUESTION)
                open_citation(page, CODE.name, ".docqa-code")
                shoot(page, "code-citation")

                new_conversation(page)
                ask(page, SHEET_QUESTION)
                open_citation(page, "visitors-2025.xlsx", ".docqa-sheet")
                shoot(page, "sheet-citation")

                new_conversation(page)
                ask(page, SCAN_QUESTION)
                open_citation(page, "people-page-scan.pdf", ".docqa-page")
                shoot(page, "scan-highlight")

                page.set_viewport_size({"width": 1400, "height": 1000})
                page.get_by_role("tab", name="Library").click()
                page.locator("text=people-page-scan.pdf >> visible=true").first.wait_for(timeout=60_000)
                shoot(page, "library")
                browser.close()
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=60)
        bad = [line for line in output if re.search(r"Traceback|Error", line)]
        if bad:
            say("docqa ui said:\n" + "".join(bad))


if __name__ == "__main__":
    main()
