"""OCR of scanned pages (issue 26): word accuracy and seconds per page on rendered-and-degraded pages of the shared
PDFs, against their born-digital text; then retrieval hit@5 over the scanned copies vs over the originals.

Pages: ``--pages`` English pages with at least 80 words of born-digital text, spread evenly over the shared PDFs
that hold such pages (``/work/shared/data/pdfs/{sources,extra}``; the Korean, right-to-left and password files
are left out). Each page is rendered by PDFium at 200 dpi, rotated 0.7 degrees, given Gaussian noise (sigma 18
grey levels) and a 0.5 px blur (``tests/scans.py``, the same degradation the tests use), and written as an
image-only PDF (in a temporary folder; nothing is copied into the repository). docqa then reads each scanned
PDF through its own loader (``ingest.loaders.load_file``, ``[ingest] ocr = "auto"``) and, in the same loop, the
born-digital page through the same loader (PDFium text), so the two timings come from the same moments.

Reported per page and overall:

- word accuracy: the share of the born-digital page's words (lower case, letters and digits, with counts)
  that the OCR'd text holds (``tests.scans.word_recall``), and the share of OCR'd words that are in the
  born-digital text (precision: words OCR invented);
- seconds per page: wall time of the scanned PDF's load (render at 300 dpi + Tesseract + layout) and the CPU
  seconds of Tesseract (children's rusage), beside the born-digital load's wall time;
- Tesseract's mean word confidence.

Retrieval (``--questions``): one index of the born-digital pages and one of their scans (MiniLM, hybrid search,
docqa's defaults, each page its own one-page PDF); the queries are sentences of 8 to 30 words taken from the
born-digital text (seeded, up to ``--questions`` per page), so the right page is known: hit@5 is "a passage of
that page is among the top 5". A known-item test: it measures whether OCR's text keeps a page findable, not
question answering.

Real questions (``--financebench N``): the first N FinanceBench questions with one evidence page each; for each,
an excerpt of its filing (the evidence page and the pages before and after it) as a PDF named after the filing
and page, and its scan; all excerpts pooled into one corpus per copy (so the other filings' statements are the
distractors). hit@5: a top-5 passage for the question's text is from the evidence page of its excerpt.

Run: ``python bench/ocr.py [--pages 24] [--questions 2] [--financebench 20] [--json bench/out/ocr.json]``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import re
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.scans import scan_pdf, word_recall, words_of  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "pdfs"
SKIP = {"normal_4pages.pdf", "right_to_left_01.pdf", "right_to_left_02.pdf", "right_to_left_03.pdf",
        "2206.01062_pg3_password.pdf"}  # Korean, Arabic/Hebrew (Tesseract runs with English here), locked
MIN_WORDS = 80


def born_pages(limit: int) -> list[tuple[Path, int, str]]:
    """(file, 1-based page, born-digital text) of ``limit`` pages with at least :data:`MIN_WORDS` words,
    spread evenly over every eligible page of the shared PDFs (file order, then page order)."""
    import pypdfium2 as pdfium

    from ingest.pdf import pdfium_page_text

    eligible: list[tuple[Path, int, str]] = []
    for path in sorted((DATA / "sources").glob("*.pdf")) + sorted((DATA / "extra").glob("*.pdf")):
        if path.name in SKIP:
            continue
        pdf = pdfium.PdfDocument(str(path))
        try:
            for i in range(len(pdf)):
                textpage = pdf[i].get_textpage()
                text = pdfium_page_text(textpage.get_text_range())
                textpage.close()
                if sum(words_of(text).values()) >= MIN_WORDS:
                    eligible.append((path, i + 1, text))
        finally:
            pdf.close()
    step = len(eligible) / limit
    return [eligible[int(i * step)] for i in range(min(limit, len(eligible)))]


def one_page_pdf(path: Path, number: int, target: Path) -> Path:
    """Page ``number`` of ``path`` alone, as a born-digital PDF."""
    import pypdfium2 as pdfium

    out = pdfium.PdfDocument.new()
    src = pdfium.PdfDocument(str(path))
    out.import_pages(src, [number - 1])
    out.save(str(target))
    out.close()
    src.close()
    return target


def precision(reference: str, hypothesis: str) -> float:
    """The share of the hypothesis's words that the reference has."""
    ref, hyp = words_of(reference), words_of(hypothesis)
    return sum((ref & hyp).values()) / max(1, sum(hyp.values()))


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(pages: list[tuple[Path, int, str]], work: Path) -> list[dict[str, object]]:
    """Each page: born-digital load, scan, OCR'd load; accuracy and seconds."""
    from ingest.loaders import load_file

    rows = []
    for k, (path, number, truth) in enumerate(pages):
        born = one_page_pdf(path, number, work / f"born-{k:02d}.pdf")
        scan = work / f"scan-{k:02d}.pdf"
        scan_pdf(born, scan, seed=k)
        t0 = time.perf_counter()
        load_file(born)
        born_s = time.perf_counter() - t0
        cpu0, t0 = children_cpu(), time.perf_counter()
        doc = load_file(scan)
        ocr_s, ocr_cpu = time.perf_counter() - t0, children_cpu() - cpu0
        page = doc.ocr_pages[0] if doc.ocr_pages else None
        rows.append({"file": path.name, "page": number, "words": sum(words_of(truth).values()),
                     "recall": round(word_recall(truth, doc.text), 4),
                     "precision": round(precision(truth, doc.text), 4),
                     "confidence": page.confidence if page else 0.0, "ocr_seconds": round(ocr_s, 3),
                     "ocr_cpu_seconds": round(ocr_cpu, 3), "born_seconds": round(born_s, 4),
                     "born": str(born), "scan": str(scan), "truth": truth})
        print(f"{path.name} p.{number}: {rows[-1]['words']} words, recall {rows[-1]['recall']:.3f}, precision "
              f"{rows[-1]['precision']:.3f}, {ocr_s:.2f} s OCR'd ({ocr_cpu:.2f} s Tesseract CPU) vs {born_s:.3f} s "
              f"born-digital", flush=True)
    return rows


def sentences(text: str, rng: random.Random, n: int) -> list[str]:
    """Up to ``n`` seeded sentences of 8 to 30 words from ``text``."""
    flat = " ".join(text.split())
    found = [s.strip() for s in re.split(r"(?<=[.!?])\s+", flat) if 8 <= len(s.split()) <= 30]
    return rng.sample(found, min(n, len(found)))


def hit_at_5(rows: list[dict[str, object]], key: str, queries: list[tuple[int, str]], home: Path) -> float:
    """Index the ``key`` PDFs ("born" or "scan"); the share of queries whose page is among the top-5 hits."""
    from app import Index, Settings

    index = Index.build([Path(str(r[key])) for r in rows], home / f"idx-{key}", settings=Settings())
    try:
        hits = 0
        for k, query in queries:
            found = index.search(query, k=5)
            hits += any(Path(h.passage.source).name == Path(str(rows[k][key])).name for h in found)
        return hits / max(1, len(queries))
    finally:
        index.close()


FINANCEBENCH = Path(__file__).resolve().parents[2] / "shared" / "data" / "financebench_dev"


def financebench_hits(n: int, home: Path) -> dict[str, object]:
    """hit@5 of the first ``n`` single-evidence-page FinanceBench questions over excerpts of their filings, born-
    digital vs scanned (see the module's notes)."""
    import pypdfium2 as pdfium

    from app import Index, Settings

    questions = []
    for line in (FINANCEBENCH / "questions.jsonl").read_text().splitlines():
        q = json.loads(line)
        pages = {e["page0"] for e in q["evidence"]}
        if len(pages) == 1:
            questions.append((q, pages.pop()))
        if len(questions) == n:
            break
    (home / "fb-born").mkdir()
    (home / "fb-scan").mkdir()
    cases = []
    for q, page0 in questions:
        src = pdfium.PdfDocument(str(FINANCEBENCH / q["pdf"]))
        first, last = max(0, page0 - 1), min(len(src) - 1, page0 + 1)
        name = f"{q['doc']}-p{page0 + 1}.pdf"
        out = pdfium.PdfDocument.new()
        out.import_pages(src, list(range(first, last + 1)))
        out.save(str(home / "fb-born" / name))
        out.close()
        src.close()
        scan_pdf(home / "fb-born" / name, home / "fb-scan" / name, seed=page0)
        cases.append((q["question"], name, page0 - first + 1))
    result: dict[str, object] = {"fb_questions": len(cases), "fb_excerpts": len({name for _, name, _ in cases})}
    for copy in ("born", "scan"):
        t0 = time.perf_counter()
        index = Index.build([home / f"fb-{copy}"], home / f"fb-idx-{copy}", settings=Settings())
        result[f"fb_build_seconds_{copy}"] = round(time.perf_counter() - t0, 1)
        try:
            hits = 0
            for question, name, page in cases:
                found = index.search(question, k=5)
                hits += any(Path(h.passage.source).name == name and h.passage.page == page for h in found)
            result[f"fb_hit5_{copy}"] = round(hits / max(1, len(cases)), 4)
        finally:
            index.close()
        print(f"FinanceBench excerpts, {copy}: hit@5 {result[f'fb_hit5_{copy}']}", flush=True)
    return result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pages", type=int, default=24)
    ap.add_argument("--questions", type=int, default=2, help="queries per page for hit@5 (0: skip retrieval)")
    ap.add_argument("--financebench", type=int, default=0, help="FinanceBench questions for hit@5 (0: skip)")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    load = [os.getloadavg()]
    from ingest.ocr import tesseract_engine

    engine = tesseract_engine()
    pages = born_pages(args.pages) if args.pages else []
    print(f"{len(pages)} pages from {len({p for p, _, _ in pages})} files; {engine}; load {load[0]}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        rows = measure(pages, work)
        load.append(os.getloadavg())
        summary: dict[str, object] = {} if not rows else {
            "engine": engine, "pages": len(rows), "words": sum(int(str(r["words"])) for r in rows),
            "recall_mean": round(statistics.mean(float(str(r["recall"])) for r in rows), 4),
            "recall_median": round(statistics.median(float(str(r["recall"])) for r in rows), 4),
            "recall_min": min(float(str(r["recall"])) for r in rows),
            "precision_mean": round(statistics.mean(float(str(r["precision"])) for r in rows), 4),
            "pages_at_least_95": sum(float(str(r["recall"])) >= 0.95 for r in rows),
            "ocr_seconds_per_page": round(statistics.mean(float(str(r["ocr_seconds"])) for r in rows), 3),
            "ocr_seconds_median": round(statistics.median(float(str(r["ocr_seconds"])) for r in rows), 3),
            "tesseract_cpu_per_page": round(statistics.mean(float(str(r["ocr_cpu_seconds"])) for r in rows), 3),
            "born_seconds_per_page": round(statistics.mean(float(str(r["born_seconds"])) for r in rows), 4),
        }
        if args.questions and rows:
            rng = random.Random(26)
            queries = [(k, s) for k, r in enumerate(rows) for s in sentences(str(r["truth"]), rng, args.questions)]
            summary["queries"] = len(queries)
            summary["hit5_born"] = round(hit_at_5(rows, "born", queries, work), 4)
            summary["hit5_scan"] = round(hit_at_5(rows, "scan", queries, work), 4)
        load.append(os.getloadavg())
        if args.financebench:
            summary.update(financebench_hits(args.financebench, work))
            load.append(os.getloadavg())
    summary["load"] = [round(x[0], 2) for x in load]
    print(json.dumps(summary, indent=2))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"summary": summary, "pages": [
            {k: v for k, v in r.items() if k not in ("born", "scan", "truth")} for r in rows]}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
