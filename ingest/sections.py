"""Where a document's sections start: headings found in Markdown, HTML and plain or PDF text.

Pure and bounded: :func:`detect_sections` keeps at most :data:`MAX_SECTIONS` headings, and nothing raises on
odd text. A passage's section path (:func:`section_path`) goes into its header (:mod:`ingest.headers`).
"""

from __future__ import annotations

import html
import re
from bisect import bisect_right
from collections import Counter
from collections.abc import Iterable, Sequence

from ingest.core.records import Document, Section
from ingest.core.text import one_line

MAX_SECTIONS = 3_000
MAX_HEADING_CHARS = 200  # longer lines are not headings
RUNNING_HEADER_REPEATS = 3  # a capitals line seen more often than this is a page header, not a heading
TOC_RUN = 5  # this many headings each within TOC_GAP characters of the next: a table of contents
TOC_GAP = 120

_ATX = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.+?)[ \t]*#*[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(```|~~~)")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_PART = re.compile(r"^(?:PART|Part)\s+(I{1,3}|IV|V)\b\.?(?:\s*[-–—:.]?\s*(.{0,100}))?$")
_ITEM = re.compile(r"^(?:ITEM|Item)\s+(\d{1,2}[A-Ca-c]?)\s*[.:—–-]?\s*(.{0,190})$")
_NOTE = re.compile(r"^(?:NOTE|Note)\s+(\d{1,2})\s*[.:—–-]\s*([A-Z].{2,100})$")
_NUMBERED = re.compile(r"^(\d{1,2}(?:\.\d{1,2}){0,3})(\.?)\s+([A-Z][A-Za-z].{1,90})$")
_PAGE_REF = re.compile(r"\s(?:[A-Z]-)?\d{1,3}$")  # "Item 7. Management's Discussion 35", "SIGNATURES E-5"


def _title_case(words: Sequence[str]) -> bool:
    long = [w for w in words if len(w) > 3]
    return not long or sum(w[0].isupper() for w in long) >= 0.6 * len(long)


def heading_level(line: str) -> int | None:
    """The level of a heading line in plain or PDF text, or None for a line that is not one.

    PART I-V: 1; "Item 7." lines: 2; capitals lines ("CONSOLIDATED BALANCE SHEETS"): 3; "Note 3." lines: 4;
    numbered "3.2 Results" (or "3. Results" in title case): 3 plus the number's depth, so a filing's numbered
    notes sit under its Item and statement headings. Levels only order headings: a plain paper's "1. Intro"
    and "1.1 Scope" nest the same at 4 and 5. Table-of-contents lines (ending with a page number) and
    sentences are not headings.

    >>> [heading_level(t) for t in ("PART II", "Item 7. Management's Discussion and Analysis",
    ...  "CONSOLIDATED BALANCE SHEETS", "Note 3. Income Taxes", "3.2 Results", "2. Related Work")]
    [1, 2, 3, 4, 5, 4]
    >>> [heading_level(t) for t in ("Item 7. Management's Discussion 35", "Total assets $ 19,845",
    ...  "1 Please refer to the glossary.", "ACME, INC. AND", "The cat sat.", "2019 Annual Results", "SIGNATURES E-5")]
    [None, None, None, None, None, None, None]
    """
    line = line.strip()
    if not (2 <= len(line) <= MAX_HEADING_CHARS) or line.endswith((",", ";")):
        return None
    if _PART.match(line):
        return 1 if not _PAGE_REF.search(line) or line.split()[-1] in ("I", "II", "III", "IV", "V") else None
    if item := _ITEM.match(line):
        title = item.group(2)
        return 2 if not _PAGE_REF.search(line) and (not title or title[0].isupper()) else None
    if _NOTE.match(line):
        return None if _PAGE_REF.search(line) or line.endswith(".") else 4
    if len(line) > 100 or "$" in line or "%" in line or line.endswith("."):
        return None
    words = line.split()
    if numbered := _NUMBERED.match(line):
        depth = numbered.group(1).count(".") + 1
        first = int(numbered.group(1).split(".")[0])
        if first == 0 or first > 30 or len(words) > 12 or _PAGE_REF.search(line) or line.endswith(":"):
            return None
        if depth > 1 or (numbered.group(2) and _title_case(words[1:])):
            return 3 + depth
        return None
    letters = [ch for ch in line if ch.isalpha()]
    if (2 <= len(words) <= 12 and len(line) >= 6 and len(letters) >= 0.6 * len(line.replace(" ", ""))
            and not any(ch.islower() for ch in line) and any(len(w) >= 4 and w.isalpha() for w in words)
            and not _PAGE_REF.search(line) and words[-1] not in ("AND", "OF", "THE", "FOR", "IN", "TO")):
        return 3
    return None


def markdown_sections(text: str) -> list[Section]:
    """ATX (``## Title``) and setext (``Title`` over ``===``/``---``) headings outside fenced code.

    >>> [(s.level, s.title, s.start) for s in markdown_sections("# A\\n\\n```\\n# no\\n```\\nB\\n---\\nx")]
    [(1, 'A', 0), (2, 'B', 18)]
    """
    out: list[Section] = []
    fenced = False
    offset = 0
    prev: tuple[int, str] | None = None  # (start, line) of the previous line when it may be a setext title
    for line in text.split("\n"):
        if _FENCE.match(line):
            fenced = not fenced
            prev = None
        elif not fenced:
            if atx := _ATX.match(line):
                out.append(Section(len(atx.group(1)), one_line(atx.group(2)), offset))
                prev = None
            elif prev is not None and (under := _SETEXT.match(line)):
                out.append(Section(1 if under.group(1)[0] == "=" else 2, one_line(prev[1]), prev[0]))
                prev = None
            else:
                candidate = line.strip() and len(line) <= MAX_HEADING_CHARS and not line.lstrip().startswith(
                    ("-", "*", "+", ">", "|"))
                prev = (offset, line) if candidate else None
        if len(out) >= MAX_SECTIONS:
            break
        offset += len(line) + 1
    return out


def text_sections(text: str) -> list[Section]:
    """Heading lines of plain, HTML or PDF text (:func:`heading_level`), without running page headers
    (capitals lines repeated more than :data:`RUNNING_HEADER_REPEATS` times), a heading repeated before any
    other (the later one is kept) or a table of contents (:data:`TOC_RUN` headings in a row with almost no text
    between them).

    >>> text = "PART I\\nItem 1. Business\\nWe sell.\\n\\nCONSOLIDATED BALANCE SHEETS\\nCash 5"
    >>> [(s.level, s.title, s.start) for s in text_sections(text)]
    [(1, 'PART I', 0), (2, 'Item 1. Business', 7), (3, 'CONSOLIDATED BALANCE SHEETS', 34)]
    """
    found: list[Section] = []
    offset = 0
    for line in text.split("\n"):
        if len(line) <= MAX_HEADING_CHARS * 2 and (level := heading_level(line)) is not None:
            found.append(Section(level, one_line(line), offset + len(line) - len(line.lstrip())))
        offset += len(line) + 1
    repeats = Counter(s.title for s in found if s.level == 3)
    kept: list[Section] = []
    for s in found:
        if s.level == 3 and repeats[s.title] > RUNNING_HEADER_REPEATS:
            continue
        if kept and (kept[-1].level, kept[-1].title) == (s.level, s.title):
            kept.pop()  # the same heading again before any other (a contents entry, then the heading): keep the last
        kept.append(s)
    return drop_runs(kept)[:MAX_SECTIONS]


def drop_runs(sections: list[Section], *, run: int = TOC_RUN, gap: int = TOC_GAP) -> list[Section]:
    """Sections without runs of ``run`` or more headings each within ``gap`` characters of the next (a table
    of contents, or a list of capitals lines in a table).

    >>> secs = [Section(2, f"Item {i}", i * 20) for i in range(6)] + [Section(2, "Item 9", 5000)]
    >>> [s.title for s in drop_runs(secs)]
    ['Item 9']
    """
    out: list[Section] = []
    group: list[Section] = []
    for s in sections:
        if group and s.start - group[-1].start > gap:
            out.extend(group if len(group) < run else ())
            group = []
        group.append(s)
    out.extend(group if len(group) < run else ())
    return out


def detect_sections(doc: Document) -> tuple[Section, ...]:
    """Headings found in a document's text: Markdown headings for Markdown, heading lines otherwise; none
    for code (its passages carry their symbol path). At most :data:`MAX_SECTIONS`.

    >>> detect_sections(Document("d", "a.md", "# Top\\n## Sub\\ntext", "markdown"))
    (Section(level=1, title='Top', start=0), Section(level=2, title='Sub', start=6))
    """
    if doc.kind == "code":
        return ()
    if doc.kind == "markdown":
        return tuple(markdown_sections(doc.text))
    return tuple(text_sections(doc.text))


_HTML_HEADING = re.compile(r"<h([1-6])\b[^>]*>(.{0,2000}?)</h\1\s*>", re.I | re.S)
_HTML_TITLE = re.compile(r"<title\b[^>]*>(.{0,1000}?)</title\s*>", re.I | re.S)
_TAG = re.compile(r"<[^>]{0,2000}>")
HTML_LOCATE_WINDOW = 200_000  # a heading is looked for this far after the previous one


def html_outline(markup: str) -> tuple[str, list[tuple[int, str]]]:
    """The ``<title>`` and the ``<h1>``-``<h6>`` headings (level, text) of an HTML page, in order.

    >>> html_outline("<title>Guide &amp; FAQ</title><h1>Intro</h1><p>x</p><h2>Set <b>up</b></h2>")
    ('Guide & FAQ', [(1, 'Intro'), (2, 'Set up')])
    """
    title = _HTML_TITLE.search(markup[:65536])
    headings = []
    for found in _HTML_HEADING.finditer(markup):
        text = one_line(html.unescape(_TAG.sub(" ", found.group(2))))
        if text:
            headings.append((int(found.group(1)), text))
        if len(headings) >= MAX_SECTIONS:
            break
    return (one_line(html.unescape(_TAG.sub(" ", title.group(1)))) if title else ""), headings


def locate_headings(text: str, headings: Iterable[tuple[int, str]]) -> tuple[Section, ...]:
    """Sections for headings found, in order, in ``text`` (each at a line start within
    :data:`HTML_LOCATE_WINDOW` characters of the previous); a heading not found is left out.

    >>> locate_headings("Intro\\nsome text\\nSet up\\nmore", [(1, "Intro"), (2, "Gone"), (2, "Set up")])
    (Section(level=1, title='Intro', start=0), Section(level=2, title='Set up', start=16))
    """
    out: list[Section] = []
    cursor = 0
    for level, title in headings:
        pos = text.find(title, cursor, cursor + HTML_LOCATE_WINDOW)
        while pos > 0 and text[pos - 1] != "\n":
            pos = text.find(title, pos + 1, cursor + HTML_LOCATE_WINDOW)
        if pos >= 0:
            out.append(Section(level, title, pos))
            cursor = pos + len(title)
    return tuple(out)


class SectionIndex:
    """Section paths by offset: the enclosing headings of any character, by binary search.

    >>> idx = SectionIndex([Section(1, "A", 0), Section(2, "A.1", 10), Section(2, "A.2", 20), Section(1, "B", 30)])
    >>> idx.path(5), idx.path(15), idx.path(25), idx.path(35)
    (('A',), ('A', 'A.1'), ('A', 'A.2'), ('B',))
    """

    def __init__(self, sections: Iterable[Section]) -> None:
        ordered = sorted(sections, key=lambda s: s.start)
        self.starts = [s.start for s in ordered]
        self.paths: list[tuple[str, ...]] = []
        stack: list[Section] = []
        for s in ordered:
            while stack and stack[-1].level >= s.level:
                stack.pop()
            stack.append(s)
            self.paths.append(tuple(x.title for x in stack))

    def path(self, offset: int) -> tuple[str, ...]:
        """Titles of the headings enclosing ``offset``, outermost first (() before the first heading)."""
        i = bisect_right(self.starts, offset) - 1
        return self.paths[i] if i >= 0 else ()


def section_path(sections: Sequence[Section], offset: int) -> tuple[str, ...]:
    """The enclosing heading titles of ``offset``, by level (for many offsets use :class:`SectionIndex`).

    >>> section_path([Section(1, "Part II", 0), Section(2, "Item 8", 5), Section(3, "Notes", 9)], 7)
    ('Part II', 'Item 8')
    """
    return SectionIndex(sections).path(offset)
