"""PDF text extraction: PDFium (pypdfium2) vs pypdf, file by file, in one process (issue 14).

For every PDF both extractors read the same bytes in alternating order (even files PDFium first, odd files
pypdf first), each through docqa's own reader (:func:`ingest.pdf.read_pdfium`, :func:`ingest.pdf.read_pypdf`:
page text, metadata title and outline), and the pages are cleaned as the loader cleans them. Reported:

- seconds per page for each extractor, per file and in total, and the paired ratio pypdf / PDFium (per file:
  median and geometric mean; overall: total seconds over total seconds);
- per-page agreement: the Dice coefficient of the two pages' bags of lower-cased word tokens (``\\w+``):
  2 |A ∩ B| / (|A| + |B|) over multisets, 1.0 when both pages are empty; order and line breaks do not count;
- words per line (how much of a table row stays on one line) for each extractor;
- pages PDFium breaks into one character per line (:func:`ingest.pdf.looks_exploded`; the loader reads those
  pages with pypdf, which this benchmark, timing the bare readers, does not);
- pages where one extractor finds text and the other none, and files either one rejects.

Run: ``python bench/pdf_extract.py`` (defaults: ``/work/shared/data/pdfs/{sources,extra}`` and
``/work/shared/data/financebench_dev/pdfs``). ``--pypdf-sample N`` reads only N seeded-random files of each
folder with pypdf (PDFium reads all); ``--password NAME=PW`` for locked files (``2206.01062_pg3_password.pdf``
is opened with 1234 by default); ``--json PATH`` saves the per-file numbers.
"""

from __future__ import annotations

import argparse
import collections
import json
import logging
import math
import random
import re
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ingest.core.errors import InputError  # noqa: E402
from ingest.pdf import (  # noqa: E402
    PdfiumRejected,
    PdfRead,
    looks_exploded,
    pdfium_page_text,
    pypdf_page_text,
    read_pdfium,
    read_pypdf,
)

DEFAULT_FOLDERS = ("/work/shared/data/pdfs/sources", "/work/shared/data/pdfs/extra",
                   "/work/shared/data/financebench_dev/pdfs")
DEFAULT_PASSWORDS = {"2206.01062_pg3_password.pdf": "1234"}
_WORD = re.compile(r"\w+")


def tokens(text: str) -> collections.Counter[str]:
    """Lower-cased word tokens of a page, as a multiset.

    >>> sorted(tokens("Cash $ 5,794 cash").items())
    [('5', 1), ('794', 1), ('cash', 2)]
    """
    return collections.Counter(m.lower() for m in _WORD.findall(text))


def dice(a: collections.Counter[str], b: collections.Counter[str]) -> float:
    """Dice coefficient of two multisets: 1.0 for equal bags (and for two empty ones), 0.0 for disjoint ones.

    >>> dice(tokens("a b b c"), tokens("b a c b")), dice(tokens("a"), tokens("b")), dice(tokens(""), tokens(""))
    (1.0, 0.0, 1.0)
    >>> round(dice(tokens("a b c d"), tokens("a b c x")), 3)
    0.75
    """
    total = sum(a.values()) + sum(b.values())
    return 1.0 if total == 0 else 2 * sum((a & b).values()) / total


def words_per_line(pages: Sequence[str]) -> float:
    """Mean words per non-empty line over all pages.

    >>> words_per_line(["Cash and cash equivalents $ 5,794", "a\\n\\nb c"])
    3.0
    """
    lines = [line for page in pages for line in page.split("\n") if line.strip()]
    return sum(len(line.split()) for line in lines) / len(lines) if lines else 0.0


@dataclass
class Side:
    """One extractor on one file."""

    seconds: float = 0.0
    pages: list[str] = field(default_factory=list)  # cleaned page texts
    error: str = ""  # why it rejected the file
    failed_pages: int = 0


@dataclass
class FileResult:
    name: str
    folder: str
    pages: int
    pdfium: Side
    pypdf: Side | None  # None: not in the pypdf sample
    dice_mean: float | None = None
    dice_min: float | None = None
    only_pdfium: int = 0  # pages where only PDFium finds text
    only_pypdf: int = 0


def run_side(reader: Callable[[bytes, str, str | None], PdfRead], data: bytes, name: str, password: str | None,
             clean: Callable[[str], str]) -> Side:
    """Read one file with one extractor, timing the read (text, title and outline) and cleaning."""
    start = time.perf_counter()
    try:
        read = reader(data, name, password)
    except (InputError, PdfiumRejected) as err:
        return Side(time.perf_counter() - start, [], f"{type(err).__name__}: {err}")
    pages = [clean(p) for p in read.pages]
    return Side(time.perf_counter() - start, pages, "", len(read.failed))


def compare(result: FileResult) -> None:
    """Fill the agreement fields of a file both extractors read."""
    a, b = result.pdfium, result.pypdf
    if b is None or a.error or b.error or len(a.pages) != len(b.pages):
        return
    scores = [dice(tokens(x), tokens(y)) for x, y in zip(a.pages, b.pages, strict=True)]
    result.dice_mean = statistics.fmean(scores) if scores else 1.0
    result.dice_min = min(scores) if scores else 1.0
    result.only_pdfium = sum(1 for x, y in zip(a.pages, b.pages, strict=True) if x and not y)
    result.only_pypdf = sum(1 for x, y in zip(a.pages, b.pages, strict=True) if y and not x)


def measure(files: Sequence[tuple[Path, bool]], passwords: dict[str, str]) -> list[FileResult]:
    """Both extractors on each file (pypdf only where the flag says), alternating which goes first."""
    out = []
    for i, (path, with_pypdf) in enumerate(files):
        data = path.read_bytes()
        password = passwords.get(path.name)
        sides: dict[str, Side] = {}
        order = ["pdfium", "pypdf"] if i % 2 == 0 else ["pypdf", "pdfium"]
        for extractor in order:
            if extractor == "pdfium":
                sides["pdfium"] = run_side(read_pdfium, data, path.name, password, pdfium_page_text)
            elif with_pypdf:
                sides["pypdf"] = run_side(read_pypdf, data, path.name, password, pypdf_page_text)
        pages = max(len(side.pages) for side in sides.values())
        result = FileResult(path.name, path.parent.name, pages, sides["pdfium"], sides.get("pypdf"))
        compare(result)
        out.append(result)
        b = result.pypdf
        print(f"{i + 1}/{len(files)} {path.name}: {pages} pages, pdfium {result.pdfium.seconds:.2f} s"
              + (f", pypdf {b.seconds:.2f} s" if b else "") + f", dice {result.dice_mean}", file=sys.stderr)
    return out


def geomean(values: Sequence[float]) -> float:
    return math.exp(statistics.fmean(math.log(v) for v in values)) if values else float("nan")


def report(results: Sequence[FileResult]) -> str:
    """The Markdown tables: per file, then per folder and overall."""
    lines = ["| folder | file | pages | PDFium s/page | pypdf s/page | pypdf / PDFium | mean Dice | min Dice | "
             "only PDFium / only pypdf pages | words/line PDFium / pypdf |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        a, b = r.pdfium, r.pypdf
        n = max(r.pages, 1)
        pa = f"{a.seconds / n:.4f}" if not a.error else "rejected"
        pb = "-" if b is None else (f"{b.seconds / n:.4f}" if not b.error else "rejected")
        ratio = f"{b.seconds / a.seconds:.1f}x" if b is not None and not a.error and not b.error else "-"
        dm = "-" if r.dice_mean is None else f"{r.dice_mean:.3f}"
        dn = "-" if r.dice_min is None else f"{r.dice_min:.3f}"
        only = "-" if r.dice_mean is None else f"{r.only_pdfium} / {r.only_pypdf}"
        wpl = f"{words_per_line(a.pages):.1f} / " + ("-" if b is None or b.error else f"{words_per_line(b.pages):.1f}")
        lines.append(f"| {r.folder} | {r.name} | {r.pages} | {pa} | {pb} | {ratio} | {dm} | {dn} | {only} | {wpl} |")
    lines += ["", "| set | files (both read) | pages | PDFium s/page | pypdf s/page | total ratio | per-file ratio "
              "median / geomean | mean page Dice | pages Dice < 0.9 | only PDFium / only pypdf | "
              "words/line PDFium / pypdf |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    groups: dict[str, list[FileResult]] = collections.defaultdict(list)
    for r in results:
        groups[r.folder].append(r)
    groups["all"] = list(results)
    for name, group in groups.items():
        both = [r for r in group if r.pypdf is not None and not r.pdfium.error and not r.pypdf.error]
        pages = sum(r.pages for r in both)
        if not both or not pages:
            lines.append(f"| {name} | 0 | | | | | | | | | |")
            continue
        ta = sum(r.pdfium.seconds for r in both)
        tb = sum(r.pypdf.seconds for r in both)  # type: ignore[union-attr]
        ratios = [r.pypdf.seconds / r.pdfium.seconds for r in both]  # type: ignore[union-attr]
        scores = [dice(tokens(x), tokens(y)) for r in both if r.dice_mean is not None
                  for x, y in zip(r.pdfium.pages, r.pypdf.pages, strict=True)]  # type: ignore[union-attr]
        low = sum(1 for s in scores if s < 0.9)
        wa = words_per_line([p for r in both for p in r.pdfium.pages])
        wb = words_per_line([p for r in both for p in r.pypdf.pages])  # type: ignore[union-attr]
        lines.append(f"| {name} | {len(both)} | {pages} | {ta / pages:.4f} | {tb / pages:.4f} | {tb / ta:.1f}x | "
                     f"{statistics.median(ratios):.1f}x / {geomean(ratios):.1f}x | "
                     f"{statistics.fmean(scores) if scores else float('nan'):.3f} | {low} of {len(scores)} | "
                     f"{sum(r.only_pdfium for r in both)} / {sum(r.only_pypdf for r in both)} | {wa:.1f} / {wb:.1f} |")
    all_pdfium = [r for r in results if not r.pdfium.error]
    pages = sum(r.pages for r in all_pdfium)
    if pages:
        exploded = {r.name: [n for n, page in enumerate(r.pdfium.pages, 1) if looks_exploded(page)]
                    for r in all_pdfium}
        exploded = {name: numbers for name, numbers in exploded.items() if numbers}
        lines += ["", f"PDFium on every file: {len(all_pdfium)} files, {pages} pages, "
                      f"{sum(r.pdfium.seconds for r in all_pdfium):.1f} s "
                      f"({sum(r.pdfium.seconds for r in all_pdfium) / pages:.4f} s/page); pages with one character "
                      f"per line (the loader reads them with pypdf): {sum(map(len, exploded.values()))} "
                      f"({'; '.join(f'{n} {v}' for n, v in exploded.items()) or 'none'})."]
    rejected = [(r.name, "pdfium", r.pdfium.error) for r in results if r.pdfium.error]
    rejected += [(r.name, "pypdf", r.pypdf.error) for r in results if r.pypdf is not None and r.pypdf.error]
    lines += ["", "Rejected: " + ("; ".join(f"{n} by {x} ({e})" for n, x, e in rejected) if rejected else "none.")]
    failed = [(r.name, r.pdfium.failed_pages, r.pypdf.failed_pages if r.pypdf else 0) for r in results]
    failed = [f for f in failed if f[1] or f[2]]
    if failed:
        lines.append("Pages that failed (PDFium / pypdf): " + "; ".join(f"{n} {a} / {b}" for n, a, b in failed))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("folders", nargs="*", default=list(DEFAULT_FOLDERS))
    parser.add_argument("--pypdf-sample", type=int, default=0, help="files per folder for pypdf (0: all)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--password", action="append", default=[], help="NAME=PASSWORD for a locked file")
    parser.add_argument("--json", type=Path, help="save the per-file numbers here")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    logging.getLogger("pypdf").setLevel(logging.CRITICAL)  # "Ignoring wrong pointing object" and the like
    passwords = dict(DEFAULT_PASSWORDS)
    passwords.update(dict(p.split("=", 1) for p in args.password))
    files: list[tuple[Path, bool]] = []
    rng = random.Random(args.seed)
    for folder in args.folders:
        found = sorted(Path(folder).glob("*.pdf"))
        sample = set(rng.sample(found, args.pypdf_sample)) if 0 < args.pypdf_sample < len(found) else set(found)
        files += [(path, path in sample) for path in found]
    for reader, clean in ((read_pdfium, pdfium_page_text), (read_pypdf, pypdf_page_text)):
        run_side(reader, files[0][0].read_bytes(), "warm-up", None, clean)  # imports outside the timings
    results = measure(files, passwords)
    print(report(results))
    if args.json:
        args.json.write_text(json.dumps([asdict(r) | {"pdfium": {**asdict(r.pdfium), "pages": None},
                                                      "pypdf": r.pypdf and {**asdict(r.pypdf), "pages": None}}
                                         for r in results], indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
