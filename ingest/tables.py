"""Financial tables in PDF page text, found line by line.

PDFium writes one table row per line: a label, then its numeric cells (``Inventories, net 32 43``). This
module classifies each line of a page (a row ending in numeric cells, a label line, a column header, a
caption, prose) and groups runs of rows into :class:`TableBlock` records with exact character spans in
``Document.text``: the whole block, its caption, its column header and each row. It is pure: no PDF, no
model; :func:`row_groups` takes the token counter as an argument.

A run that looks like a table but is not sure to be one (pypdf-style text with every cell on its own line)
comes back with ``confident=False`` and a reason, so a splitter can keep it as page text and say so.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum

from ingest.core.amounts import DASHES, DIGITS, MINUS, stated_scale
from ingest.core.periods import MONTH, YEAR
from ingest.core.text import one_line

Span = tuple[int, int]

TABLE_SCHEME = 7  # in the splitter identity when tables are on; bump when the passages change (2: Table records;
# 3: a table's scale stated in the sentence introducing it; 4: "(In millions)" with a no-break space; 5: a negative
# printed "(28,107 )", its parenthesis apart; 6: a caption whose sentence starts at the end of the prose line above;
# 7: each year under its own date on the line above is dated)

MIN_ROWS = 3  # a table has at least this many rows that end in numbers
MAX_GAP = 3  # label lines allowed in a row between two numeric rows (section labels, wrapped labels)
MAX_LABEL_WORDS = 24  # a line with more words than this is prose, whatever it ends with
LONG_SINGLE_LABEL = 12  # a row with one number and a label longer than this reads as prose ending in a number
MAX_HEADER_LINES = 24  # column header lines above the first row (column names wrapped one word per line)
MAX_CAPTION_LINES = 5
MAX_LABELS_ABOVE = 2  # label lines between the column header and the first numeric row ("Assets", "Current assets:")

_AMOUNT = rf"[{MINUS}+]?\$?(?:{DIGITS})%?"
# 5,794  $1.96  (619)  $(7)  (7.1)%  23.1%  -0.5; "(28,107 )" with its closing parenthesis a token of its own
_NUMBER = re.compile(rf"\$?\({_AMOUNT}(?:\)%?)?|{_AMOUNT}")
_DASH = re.compile(rf"[{DASHES}]{{1,3}}")
_NOT_MEANINGFUL = frozenset({"NM", "N/A", "NA", "n/a", "nm", "NMF", "n.m."})
_ATTACHED = frozenset({"$", "%", ")", ")%", "US$", "€", "£", "¥"})  # parts of a neighbouring cell
_MARK = re.compile(r"\([a-z]\)|\*{1,3}|[†‡§]")  # footnote marks after a cell
_BARE_YEAR = re.compile(YEAR)
# a year in a header line; "2019," is a date's year in running text ("December 31, 2019, the Company ...")
_HEADER_YEAR = re.compile(rf"(?<![\d,.$]){YEAR}(?![\d,])")
_NOTE_NUMBER = re.compile(r"\(\d\)")  # "2019 2018 (1)": a footnote number among column years
_MONTH = re.compile(rf"\b{MONTH}\s+\d{{1,2}}\b")  # "January 28"
_PERIOD_WORDS = re.compile(r"\b(?:months?|weeks?|years?|quarters?|fiscal|ended|ending|as of|change|Q[1-4])\b", re.I)
_UNITS = re.compile(r"\b(?:millions?|thousands?|billions?|except|dollars|unaudited)\b", re.I)
_TABLE_TITLE = re.compile(r"(?:Table|Exhibit|Schedule)\s+[\dA-Z]+[.:]?(?:\s|$)")
_ENUMERATOR = re.compile(r"(?:\d{1,2}[.)]|\(?[a-z][.)]|[•·▪◦‣\-–—*]|)(?:\s|$)")
_ABBREVIATION = re.compile(r"\b(?:Inc|Co|Corp|Ltd|LLC|L\.P|N\.A|No|U\.S|etc|vs)\.$", re.I)
_PAGE_NUMBER = re.compile(r"(?:[A-Z]{1,2}-)?\d{1,3}|-\s?\d{1,3}\s?-|Page \d{1,4}(?: of \d{1,4})?", re.I)
_PAGE_REF = re.compile(r"\d{1,3}")  # the one cell of a contents line ("Item 1A. Risk Factors 12")
_RUNNING_HEADS = frozenset({"table of contents", "index", "contents"})
_MINOR_WORDS = frozenset({"a", "an", "and", "at", "by", "for", "from", "in", "of", "on", "or", "the", "to", "with"})


class LineKind(Enum):
    """What one line of a page is, for table detection."""

    BLANK = "blank"  # nothing but whitespace, or only a "$"/"%" left over from a cell
    ROW = "row"  # a label followed by numeric cells, or several cells ("2020 $ 77 $ 25", a wrapped row's numbers)
    BARE = "bare"  # one numeric cell with no label (pypdf puts every cell on its own line)
    HEADER = "header"  # names columns by year or date ("2019 2018 2017", "At December 31, 2019")
    TEXT = "text"  # a short line without numbers at its end: a section label, a wrapped label, a title
    PROSE = "prose"  # a sentence or a long line: never inside a table
    PAGE_NUMBER = "page-number"  # the page's last line, when it is "17" or "F-8"


@dataclass(frozen=True, slots=True)
class Line:
    """One classified line: ``start``/``end`` are absolute offsets of its text without surrounding spaces."""

    start: int
    end: int
    text: str
    kind: LineKind
    cells: int = 0  # numeric cells at its end
    label_end: int = 0  # where its label ends, counted in ``text``


@dataclass(frozen=True, slots=True)
class TableBlock:
    """A table found in a page: spans are ``[start, end)`` offsets into ``Document.text``.

    ``rows`` cover the body in order; a row is its numeric line together with the label lines just above it
    (a section label, or a label wrapped onto several lines), so a row never ends on a bare label.
    """

    start: int
    end: int
    caption: Span | None
    header: Span | None
    rows: tuple[Span, ...]
    confident: bool
    reason: str = ""  # why it is unsure ("" when confident)
    columns: int = 0  # the usual number of numeric cells in a row


def numeric_cells(text: str) -> tuple[int, int, bool]:
    """How many numeric cells end ``text``, where its label ends, and whether every cell is a bare year.

    Cells are numbers (commas, decimals, ``$``, ``%``, parenthesised negatives), dashes for zero and "NM";
    a lone ``$`` or ``%`` belongs to its neighbour and footnote marks such as ``(a)`` are skipped. A line of
    years, perhaps with a footnote number such as ``(1)``, names columns.

    >>> numeric_cells("Cash and cash equivalents $ 5,794 $ 4,225")
    (2, 25, False)
    >>> numeric_cells("Revenue % change (7.1)% (13.1)% (9.1)% (10.9)%")
    (4, 16, False)
    >>> numeric_cells("December 31, 2018, respectively — —")[0], numeric_cells("2019 2018 2017")
    (2, (3, 0, True))
    >>> numeric_cells("was up 12% in the year."), numeric_cells("Commitments and contingencies (Note 23)")[0]
    ((0, 23, False), 0)
    >>> numeric_cells("2019 2018 (1)")[2], numeric_cells("Inventories (1) (2)")[2]
    (True, False)
    >>> numeric_cells("Additions to property and equipment (28,107 ) (23,886 ) (20,622 )")
    (3, 35, False)
    """
    tokens = list(re.finditer(r"\S+", text))
    cells = years = 0
    all_years = True
    label_end = 0
    for tok in reversed(tokens):
        word = tok.group()
        if word in _ATTACHED or _MARK.fullmatch(word):
            continue
        if _NUMBER.fullmatch(word) or _DASH.fullmatch(word) or word in _NOT_MEANINGFUL:
            cells += 1
            years += bool(_BARE_YEAR.fullmatch(word))
            all_years = all_years and bool(_BARE_YEAR.fullmatch(word) or _NOTE_NUMBER.fullmatch(word))
            continue
        label_end = tok.end()
        break
    return cells, label_end, years > 0 and all_years


def is_sentence(text: str) -> bool:
    """Whether a line ends a sentence (a table label or title does not).

    >>> is_sentence("The accompanying notes are an integral part of these statements."), is_sentence("Apple Inc.")
    (True, False)
    """
    end = text.rstrip("\"'”’)")
    return end.endswith((".", "!", "?")) and not _ABBREVIATION.search(end) and not end.endswith("..")


def names_columns(text: str) -> bool:
    """Whether a line names columns by date or period ("Three Months Ended", "At December 31, 2019").

    >>> names_columns("Three Months Ended Six Months Ended"), names_columns("Current assets:")
    (True, False)
    """
    return bool(_HEADER_YEAR.search(text) or _MONTH.search(text) or _PERIOD_WORDS.search(text))


def is_caption(text: str) -> bool:
    """Whether a line reads as a table title: capitals, a units note, "Table 3: ...", "... as follows:".

    >>> [is_caption(t) for t in ["CONSOLIDATED BALANCE SHEETS", "(in millions, except per share data)",
    ...                          "Table 3: Revenue by segment", "Current assets:", "Net revenues"]]
    [True, True, True, False, False]
    """
    letters = [c for c in text if c.isalpha()]
    if len(letters) >= 4 and all(c.isupper() for c in letters):
        return True
    if text.startswith("(") and text.endswith(")") and _UNITS.search(text):
        return True
    if _TABLE_TITLE.match(text):
        return True
    return text.endswith(":") and bool(re.search(r"\bfollows?\b|\bfollowing\b", text) or _UNITS.search(text))


def is_title(text: str) -> bool:
    """Whether a short line is in title case ("Consolidated Statement of Cash Flows").

    >>> is_title("PepsiCo, Inc. and Subsidiaries"), is_title("was as follows")
    (True, False)
    """
    words = [w for w in re.findall(r"[A-Za-z][A-Za-z'’&.-]*", text)]
    return bool(words) and len(words) <= 12 and all(w[0].isupper() or w.lower() in _MINOR_WORDS for w in words)


def _kind(text: str, cells: int, label_end: int, years_only: bool, next_text: str) -> LineKind:
    label = text[:label_end]
    words = len(label.split())
    if cells and years_only and words <= LONG_SINGLE_LABEL and not is_sentence(label):
        return LineKind.HEADER
    if cells == 1 and not label:
        return LineKind.BARE
    if words > MAX_LABEL_WORDS:
        return LineKind.PROSE
    if cells:
        wraps_on = next_text[:1].islower()  # "… compared with 1,988" / "in 2018": prose wrapping after a number
        single = cells == 1 and (words > LONG_SINGLE_LABEL or _ENUMERATOR.match(label) is not None)
        return LineKind.TEXT if wraps_on or single else LineKind.ROW
    if is_sentence(text):
        return LineKind.PROSE
    if _HEADER_YEAR.search(text) or _MONTH.search(text):
        return LineKind.HEADER
    return LineKind.TEXT


def classify_lines(page_text: str, offset: int = 0) -> list[Line]:
    """The page's non-blank lines, classified; offsets are ``offset`` plus the position in ``page_text``.

    >>> [(ln.kind.value, ln.cells) for ln in classify_lines("Assets\\nCash $ 5 $ 4\\n2019 2018\\n17")]
    [('text', 0), ('row', 2), ('header', 2), ('page-number', 0)]
    """
    raw: list[tuple[int, int, str]] = []
    for m in re.finditer(r"[^\n]+", page_text):
        text = m.group().strip()
        if text and not all(t in _ATTACHED for t in text.split()):
            start = m.start() + len(m.group()) - len(m.group().lstrip())
            raw.append((offset + start, offset + start + len(text), text))
    lines: list[Line] = []
    for i, (start, end, text) in enumerate(raw):
        if i == len(raw) - 1 and _PAGE_NUMBER.fullmatch(text):
            lines.append(Line(start, end, text, LineKind.PAGE_NUMBER))
            continue
        cells, label_end, years_only = numeric_cells(text)
        next_text = raw[i + 1][2] if i + 1 < len(raw) else ""
        kind = _kind(text, cells, label_end, years_only, next_text)
        lines.append(Line(start, end, text, kind, cells, label_end))
    return lines


def _body_end(lines: list[Line], first: int) -> int:
    """Index of the last numeric line of the run of table lines starting at ``first``."""
    last, gap = first, 0
    for j in range(first + 1, len(lines)):
        kind = lines[j].kind
        if kind in (LineKind.ROW, LineKind.BARE):
            last, gap = j, 0
        elif kind is LineKind.TEXT and gap < MAX_GAP:
            gap += 1
        else:
            break
    return last


def _columns(body: list[Line]) -> int:
    counts = Counter(ln.cells for ln in body if ln.kind is LineKind.ROW)
    return counts.most_common(1)[0][0] if counts else 1


def _trim(body: list[Line], columns: int) -> list[Line]:
    """Drop what trails the last real row: a stray number (a page or note number) and labels above it."""
    while body and (body[-1].kind is LineKind.TEXT or (body[-1].kind is LineKind.BARE and body[-1].cells < columns)):
        body = body[:-1]
    return body


def _rows(body: list[Line], columns: int, lead: int) -> tuple[Span, ...]:
    """Row spans: each numeric line with the label lines above it; ``lead`` starts the first row earlier."""
    rows: list[Span] = []
    start = lead
    for ln in body:
        if start < 0:
            start = ln.start
        if ln.kind is LineKind.ROW or (ln.kind is LineKind.BARE and ln.cells >= columns):
            rows.append((start, ln.end))
            start = -1
    return tuple(rows)


def _preamble(lines: list[Line], first: int, floor: int) -> tuple[list[Line], list[Line], list[Line]]:
    """Caption, header and label lines above ``lines[first]`` (down to index ``floor``), each top to bottom."""
    above: list[Line] = []  # bottom to top, stopping at prose or a running head
    caption_at = -1
    for ln in reversed(lines[floor:first]):
        if ln.kind in (LineKind.PROSE, LineKind.PAGE_NUMBER, LineKind.ROW, LineKind.BARE) or \
                ln.text.lower() in _RUNNING_HEADS:
            break
        if caption_at < 0 and is_caption(ln.text):
            caption_at = len(above)
        if caption_at >= 0:
            if len(above) - caption_at >= MAX_CAPTION_LINES or not (
                    is_caption(ln.text) or is_title(ln.text) or names_columns(ln.text)):
                break
        elif len(above) >= MAX_HEADER_LINES + MAX_LABELS_ABOVE:
            break
        above.append(ln)
    mid = above[:caption_at] if caption_at >= 0 else above
    caption = above[caption_at:] if caption_at >= 0 else []
    dated = [i for i, ln in enumerate(mid) if ln.kind is LineKind.HEADER or names_columns(ln.text)]
    if dated:
        split_at = dated[0] if dated[0] <= MAX_LABELS_ABOVE else 0
        labels, header = mid[:split_at], mid[split_at:]
    else:  # no line names the columns: a couple of labels, or column names wrapped over several lines
        labels, header = (mid, []) if len(mid) <= MAX_LABELS_ABOVE else ([], mid)
    return caption[::-1], header[::-1], labels[::-1]


_SENTENCE_TAIL = re.compile(r"(?:^|[.!?;:]\s+)([A-Z][^.!?;:]*)$")
MAX_CAPTION_TAIL_WORDS = 6


def caption_opening(caption: list[Line], above: Line | None) -> list[Line]:
    """The caption with the start of its sentence prepended when it opens in lower case and the line above ends
    with that start ("... Print and Publishing. Subscription" / "revenue by reportable segment ... as follows:"):
    the table is "Subscription revenue by reportable segment", not any revenue by segment.

    >>> above = Line(0, 27, "Our segments are listed. Subscription", LineKind.PROSE)
    >>> cap = [Line(28, 60, "revenue by segment is as follows:", LineKind.TEXT)]
    >>> [ln.text for ln in caption_opening(cap, above)]
    ['Subscription', 'revenue by segment is as follows:']
    """
    if not caption or not caption[0].text[:1].islower() or above is None or \
            above.kind not in (LineKind.PROSE, LineKind.TEXT):
        return caption
    m = _SENTENCE_TAIL.search(above.text)
    if m is None or len(m.group(1).split()) > MAX_CAPTION_TAIL_WORDS:
        return caption
    return [Line(above.start + m.start(1), above.end, m.group(1), LineKind.TEXT), *caption]


def _span(lines: list[Line]) -> Span | None:
    return (lines[0].start, lines[-1].end) if lines else None


def _judge(body: list[Line]) -> tuple[bool, str] | None:
    """Whether the run is a table (True), looks like one but is unsure (False, reason), or is none (None).

    A contents page (every row one small whole number: a page reference) is none.
    """
    numbered = [ln for ln in body if ln.kind is LineKind.ROW]
    if numbered and all(ln.cells == 1 and _PAGE_REF.fullmatch(ln.text[ln.label_end:].strip()) for ln in numbered):
        return None
    rows = len(numbered)
    bare = sum(ln.kind is LineKind.BARE for ln in body)
    if rows >= MIN_ROWS and bare <= rows:
        return True, ""
    if bare >= MIN_ROWS and bare > rows:
        return False, "one cell per line (pypdf-style text)"
    return None


def find_tables(page_text: str, offset: int = 0) -> list[TableBlock]:
    """The table blocks of one page, in order, with spans in the document (``offset`` + page position).

    :param page_text: the page's text as extracted (PDFium: one row per line).
    :param offset: where the page starts in ``Document.text``.

    >>> page = "Intro.\\nCONSOLIDATED BALANCE SHEETS\\n2019 2018\\nCash $ 5 $ 4\\nLoans 7 8\\nTotal $ 12 $ 12\\nEnd."
    >>> [(page[b.start:b.end].splitlines()[0], page[slice(*b.header)], len(b.rows)) for b in find_tables(page)]
    [('CONSOLIDATED BALANCE SHEETS', '2019 2018', 3)]
    """
    lines = classify_lines(page_text, offset)
    blocks: list[TableBlock] = []
    floor = i = 0
    while i < len(lines):
        if lines[i].kind not in (LineKind.ROW, LineKind.BARE):
            i += 1
            continue
        last = _body_end(lines, i)
        body = lines[i:last + 1]
        columns = _columns(body)
        body = _trim(body, columns)
        verdict = _judge(body) if body else None
        if verdict is not None:
            caption, header, labels = _preamble(lines, i, floor)
            if caption:
                at = next(k for k in range(floor, i) if lines[k] is caption[0])
                caption = caption_opening(caption, lines[at - 1] if at > floor else None)
            top = (caption or header or labels or body)[0].start
            lead = labels[0].start if labels else -1
            blocks.append(TableBlock(start=top, end=body[-1].end, caption=_span(caption), header=_span(header),
                                     rows=_rows(body, columns, lead), confident=verdict[0], reason=verdict[1],
                                     columns=columns))
            floor = i + len(body)
        i = max(i + len(body), i + 1)
    return blocks


_PARENTHESES = re.compile(r"\([^()]{1,80}\)")
INTRO_CHARS = 400  # how far above a table its introducing sentence may start


def introduced_scale(before: str) -> str:
    """The scale the prose right above a table states for it in a parenthesised units note ("The tables below list
    our revenue by geographic area (in thousands)."), within its last two sentences; "" when none does.

    >>> introduced_scale("Other text. The tables below list revenue by area (in thousands). We do not allocate assets.")
    'thousand'
    >>> introduced_scale("Debt was $5 million (in millions of dollars, 2%). Then. Another sentence. And one more.")
    ''
    """
    sentences = [s for s in re.split(r"(?<=[.:;])\s+", before[-INTRO_CHARS:].strip()) if s]
    for sentence in reversed(sentences[-2:]):
        for m in _PARENTHESES.finditer(sentence):
            if scale := stated_scale(m.group()):
                return scale
    return ""


def table_header(text: str, block: TableBlock) -> str:
    """The retrieval header of a table's passages: "caption | column header row" (either may be missing).

    :param text: the document text the block's spans point into.
    """
    parts = [one_line(text[span[0]:span[1]]) for span in (block.caption, block.header) if span is not None]
    return " | ".join(p for p in parts if p)


def row_groups(text: str, block: TableBlock, count_tokens: Callable[[str], int], budget: int) -> list[Span]:
    """Passage spans for a table: the whole block when it fits ``budget`` tokens, else runs of whole rows.

    The first group starts with the caption and header; later groups hold only their rows. A group is never
    empty, so one row longer than the budget makes a group of its own (over budget: the caller cuts it).

    >>> block = TableBlock(0, 17, None, (0, 4), ((5, 8), (9, 12), (13, 17)), True)
    >>> row_groups("2019\\na 1\\nb 2\\nc 33", block, lambda t: len(t.split()), 4)
    [(0, 8), (9, 17)]
    """
    if count_tokens(text[block.start:block.end]) <= budget:
        return [(block.start, block.end)]
    groups: list[Span] = []
    start, end = block.start, -1
    for a, b in block.rows:
        if end >= 0 and count_tokens(text[start:b]) > budget:
            groups.append((start, end))
            start = a
        end = b
    if end >= 0:
        groups.append((start, end))
    return groups


@dataclass
class TableTally:
    """What table detection did for one document: tables kept as table passages, pages of unsure ones."""

    kept: int = 0
    unsure_pages: list[int] = field(default_factory=list)  # one entry per unsure table

    def note(self) -> str:
        """A line for ``Document.meta["tables"]`` ("" when no table was found).

        >>> TableTally(5, [9, 4]).note()
        '5 kept whole; 2 unsure on pages 4, 9 (kept as page text)'
        >>> TableTally(1).note(), TableTally(0, [3, 3]).note(), TableTally().note()
        ('1 kept whole', '0 kept whole; 2 unsure on page 3 (kept as page text)', '')
        """
        if not self.kept and not self.unsure_pages:
            return ""
        note = f"{self.kept} kept whole"
        if self.unsure_pages:
            pages = sorted(set(self.unsure_pages))
            note += (f"; {len(self.unsure_pages)} unsure on page{'s' if len(pages) > 1 else ''} "
                     f"{', '.join(map(str, pages))} (kept as page text)")
        return note

    @classmethod
    def of_note(cls, note: str) -> TableTally:
        """The tally a :meth:`note` was written from, as far as the note tells (the pages of unsure tables, each
        once, then the first of them again for the rest: what :meth:`note` prints is the same). A document split
        by page ranges (the Ray engine) adds its ranges' tallies up this way.

        >>> t = TableTally.of_note("5 kept whole; 3 unsure on pages 4, 9 (kept as page text)")
        >>> t.kept, sorted(set(t.unsure_pages)), len(t.unsure_pages)
        (5, [4, 9], 3)
        >>> TableTally.of_note("").note(), TableTally.of_note("1 kept whole").note()
        ('', '1 kept whole')
        """
        m = re.fullmatch(r"(\d+) kept whole(?:; (\d+) unsure on pages? ([\d, ]+) \(kept as page text\))?", note)
        if m is None:
            return cls()
        pages = [int(p) for p in m[3].split(", ")] if m[3] else []
        return cls(int(m[1]), pages + pages[:1] * (int(m[2] or 0) - len(pages)))

    def add(self, other: TableTally) -> TableTally:
        """Both tallies together (another page range of the same document).

        >>> TableTally(1, [2]).add(TableTally(2, [7, 7])).note()
        '3 kept whole; 3 unsure on pages 2, 7 (kept as page text)'
        """
        return TableTally(self.kept + other.kept, self.unsure_pages + other.unsure_pages)
