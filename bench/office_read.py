"""Reading Office files and CSVs: docqa's readers (ingest/office/) vs markitdown on the same generated files (issue 26).

Files are generated here with python-docx, python-pptx and openpyxl (seeded, three sizes per format): Word
documents of headings, paragraphs and a table every 40 paragraphs; decks of title-and-content slides with notes
and a table on every fifth slide; workbooks of 8 columns (text, integers, decimals, dates) on two sheets; CSVs of
the same rows. Each file is read by both, interleaved repeat by repeat (the order alternates), in this process:

- docqa ``read``: :func:`ingest.loaders.load_file` (the text, the blocks with their places, the sections);
- docqa ``read+split``: the same, then the passages with their places, headers and table records, counted with the
  packaged embedder's real tokenizer (what a build does in its reader);
- ``markitdown``: ``MarkItDown().convert(path)`` (Markdown text, no places).

Reported per format: units per second (Word paragraphs, slides, sheet rows), the ratio markitdown seconds / docqa
seconds (per file, then total over total), and how much of each one's words the other one's text holds (a check
that both read the same content). markitdown 0.1.9's Word pre-processing (OMML maths to LaTeX) parses
``word/document.xml`` with BeautifulSoup, which with beautifulsoup4 4.15 drops the ``w:`` namespace, after which
mammoth finds no body and every .docx fails; the benchmark skips that step (``--markitdown-docx-as-is`` keeps it),
so markitdown's Word time is mammoth and markdownify alone, a little less than it would otherwise be.

Run: ``python bench/office_read.py`` (``--repeats 3``, ``--scale 1.0``, ``--json bench/out/office_read.json``); about
4 minutes on 2 busy cores.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

WORDS = ["harbour", "lantern", "quartz", "ferry", "tolls", "bridge", "river", "copper", "ledger", "salt", "wind",
         "mill", "grain", "barley", "kestrel", "owl", "granite", "slate", "tide", "reef", "coral", "signal"]
SIZES = {".docx": (100, 400, 1200), ".pptx": (10, 40, 120), ".xlsx": (500, 2000, 8000), ".csv": (1000, 8000, 30000)}
UNIT = {".docx": "paragraphs", ".pptx": "slides", ".xlsx": "rows", ".csv": "rows"}
_WORD = re.compile(r"[a-z]{3,}")


def sentence(rng: random.Random, n: int = 12) -> str:
    """Dictionary words with a full stop."""
    return " ".join(rng.choice(WORDS) for _ in range(n)).capitalize() + "."


def write_docx(path: Path, paragraphs: int, rng: random.Random) -> int:
    """A Word document of ``paragraphs`` body paragraphs; returns that count."""
    import docx

    d = docx.Document()
    for i in range(paragraphs):
        if i % 12 == 0:
            d.add_heading(f"{i // 12 + 1} {rng.choice(WORDS).title()}", 1)
        d.add_paragraph(" ".join(sentence(rng) for _ in range(rng.randint(1, 4))))
        if i % 40 == 39:
            table = d.add_table(rows=6, cols=4)
            for r in range(6):
                for c in range(4):
                    table.cell(r, c).text = rng.choice(WORDS) if r == 0 or c == 0 else str(rng.randrange(10**5))
    d.save(path)
    return paragraphs


def write_pptx(path: Path, slides: int, rng: random.Random) -> int:
    """A deck of ``slides`` slides; returns that count."""
    import pptx
    from pptx.util import Inches

    deck = pptx.Presentation()
    for i in range(slides):
        slide = deck.slides.add_slide(deck.slide_layouts[1])
        slide.shapes.title.text = f"{rng.choice(WORDS).title()} {i + 1}"
        slide.placeholders[1].text = "\n".join(sentence(rng, 8) for _ in range(rng.randint(2, 5)))
        slide.notes_slide.notes_text_frame.text = sentence(rng)
        if i % 5 == 4:
            grid = slide.shapes.add_table(4, 3, Inches(1), Inches(5), Inches(6), Inches(1.2)).table
            for r in range(4):
                for c in range(3):
                    grid.cell(r, c).text = rng.choice(WORDS) if r == 0 else str(rng.randrange(1000))
    deck.save(path)
    return slides


def _row(rng: random.Random, i: int) -> list[object]:
    return [f"{rng.choice(WORDS)}-{i}", rng.choice(WORDS), rng.randrange(10**6), round(rng.random() * 1000, 2),
            dt.date(2020, 1, 1) + dt.timedelta(days=i % 1500), rng.randrange(100), sentence(rng, 4), i]


HEADER = ["id", "kind", "units", "price", "date", "share", "note", "seq"]


def write_xlsx(path: Path, rows: int, rng: random.Random) -> int:
    """A workbook: ``rows`` data rows on the first sheet, a tenth as many on a second; returns all rows."""
    import openpyxl

    book = openpyxl.Workbook(write_only=True)
    total = 0
    for name, n in (("Data", rows), ("Extra", rows // 10)):
        sheet = book.create_sheet(name)
        sheet.append(HEADER)
        for i in range(n):
            sheet.append(_row(rng, i))
        total += n + 1
    book.save(path)
    return total


def write_csv(path: Path, rows: int, rng: random.Random) -> int:
    """A CSV of ``rows`` data rows and a header; returns all rows."""
    import csv

    with open(path, "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(HEADER)
        for i in range(rows):
            out.writerow(_row(rng, i))
    return rows + 1


WRITERS: dict[str, Callable[[Path, int, random.Random], int]] = {
    ".docx": write_docx, ".pptx": write_pptx, ".xlsx": write_xlsx, ".csv": write_csv}


def words(text: str) -> set[str]:
    """Distinct lower-case words of three letters or more.

    >>> sorted(words("The Harbour, the ferry | 12"))
    ['ferry', 'harbour', 'the']
    """
    return set(_WORD.findall(text.lower()))


def loadavg() -> str:
    """The machine's 1, 5 and 15 minute load averages."""
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def make_markitdown(as_is: bool) -> Callable[[Path], str]:
    """``path -> Markdown`` through markitdown (see the module's note on its Word pre-processing)."""
    from markitdown import MarkItDown

    if not as_is:
        import markitdown.converters._docx_converter as docx_converter

        docx_converter.pre_process_docx = lambda stream: stream  # type: ignore[attr-defined]
    md = MarkItDown()
    return lambda path: md.convert(str(path)).text_content


def main(argv: list[str] | None = None) -> int:
    """Generate the files, time both readers, print and save the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--scale", type=float, default=1.0, help="multiply the file sizes")
    parser.add_argument("--json", type=Path, default=Path("bench/out/office_read.json"))
    parser.add_argument("--markitdown-docx-as-is", action="store_true")
    args = parser.parse_args(argv)

    from ingest.core.settings import SplitSettings
    from ingest.loaders import load_file
    from ingest.split import DocumentSplitter, ProseSplitter
    from tests.fuzz.harness import TokenizerCounter

    counter = TokenizerCounter()
    settings = SplitSettings()
    splitter = DocumentSplitter(settings, ProseSplitter(settings, counter.count_tokens))
    markitdown = make_markitdown(args.markitdown_docx_as_is)
    load_before = loadavg()
    started = time.time()
    files: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for suffix, sizes in SIZES.items():
            for size in sizes:
                n = max(1, int(size * args.scale))
                path = Path(tmp) / f"{UNIT[suffix]}-{n}{suffix}"
                units = WRITERS[suffix](path, n, random.Random(f"{suffix}:{n}"))
                files.append({"format": suffix, "path": path, "units": units, "bytes": path.stat().st_size,
                              "read": [], "split": [], "markitdown": []})
        splitter.warm_up()
        counter.count_tokens("warm up the tokenizer")
        for rep in range(args.repeats):
            for k, f in enumerate(files):
                path = f["path"]
                assert isinstance(path, Path)

                def ours(path: Path = path, f: dict[str, object] = f) -> None:
                    t0 = time.perf_counter()
                    doc = load_file(path)
                    t1 = time.perf_counter()
                    passages = splitter.split(doc)
                    t2 = time.perf_counter()
                    f["read"].append(t1 - t0)  # type: ignore[attr-defined]
                    f["split"].append(t2 - t0)  # type: ignore[attr-defined]
                    f["passages"], f["ours_words"] = len(passages), words(doc.text)

                def theirs(path: Path = path, f: dict[str, object] = f) -> None:
                    t0 = time.perf_counter()
                    text = markitdown(path)
                    f["markitdown"].append(time.perf_counter() - t0)  # type: ignore[attr-defined]
                    f["their_words"] = words(text)

                for run in ((ours, theirs) if (rep + k) % 2 == 0 else (theirs, ours)):
                    run()
    load_after = loadavg()
    report = summarise(files)
    report.update(date=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), repeats=args.repeats,
                  scale=args.scale, load_before=load_before, load_after=load_after,
                  seconds=round(time.time() - started), cpu=os.cpu_count(),
                  markitdown_docx_as_is=args.markitdown_docx_as_is)
    print_report(report)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2))
    return 0


def summarise(files: list[dict[str, object]]) -> dict[str, object]:
    """Per file and per format: median seconds, units per second, ratios, word overlap."""
    rows = []
    for f in files:
        read, split, theirs = (statistics.median(f[k]) for k in ("read", "split", "markitdown"))  # type: ignore
        ours_w, their_w = f["ours_words"], f["their_words"]
        assert isinstance(ours_w, set) and isinstance(their_w, set)
        rows.append({"format": f["format"], "units": f["units"], "bytes": f["bytes"], "passages": f["passages"],
                     "read_s": read, "read_split_s": split, "markitdown_s": theirs,
                     "ratio_read": theirs / read, "ratio_read_split": theirs / split,
                     "ours_in_theirs": len(ours_w & their_w) / max(1, len(ours_w)),
                     "theirs_in_ours": len(ours_w & their_w) / max(1, len(their_w))})
    formats = {}
    for fmt in SIZES:
        mine = [r for r in rows if r["format"] == fmt]
        units = sum(r["units"] for r in mine)  # type: ignore[misc]
        tot = {k: sum(r[k] for r in mine) for k in ("read_s", "read_split_s", "markitdown_s")}  # type: ignore[misc]
        formats[fmt] = {"unit": UNIT[fmt], "units": units,
                        "read_per_s": units / tot["read_s"], "read_split_per_s": units / tot["read_split_s"],
                        "markitdown_per_s": units / tot["markitdown_s"],
                        "ratio_read": tot["markitdown_s"] / tot["read_s"],
                        "ratio_read_split": tot["markitdown_s"] / tot["read_split_s"],
                        "ratio_read_per_file": [round(r["ratio_read"], 2) for r in mine]}  # type: ignore[arg-type]
    return {"files": rows, "formats": formats}


def print_report(report: dict[str, object]) -> None:
    """The table, for the terminal and bench/RESULTS.md."""
    out = [f"load average before {report['load_before']}, after {report['load_after']}; "
           f"{report['repeats']} repeats, interleaved; {report['seconds']} s",
           "| format | unit | docqa read /s | docqa read+split /s | markitdown /s | markitdown / docqa read "
           "(per file) | markitdown / docqa read+split |", "|---|---|---|---|---|---|---|"]
    for fmt, r in report["formats"].items():  # type: ignore[attr-defined]
        per_file = ", ".join(map(str, r["ratio_read_per_file"]))
        out.append(f"| {fmt} | {r['unit']} | {r['read_per_s']:,.0f} | {r['read_split_per_s']:,.0f} | "
                   f"{r['markitdown_per_s']:,.0f} | {r['ratio_read']:.2f}x ({per_file}) | "
                   f"{r['ratio_read_split']:.2f}x |")
    out += ["", "| file | units | KiB | passages | docqa read s | read+split s | markitdown s | docqa words in "
            "markitdown's | markitdown's in docqa's |", "|---|---|---|---|---|---|---|---|---|"]
    for r in report["files"]:  # type: ignore[attr-defined]
        out.append(f"| {r['format']} | {r['units']} | {r['bytes'] / 1024:,.0f} | {r['passages']} | {r['read_s']:.3f} | "
                   f"{r['read_split_s']:.3f} | {r['markitdown_s']:.3f} | {r['ours_in_theirs']:.3f} | "
                   f"{r['theirs_in_ours']:.3f} |")
    print("\n".join(out))  # noqa: T201


if __name__ == "__main__":
    sys.exit(main())
