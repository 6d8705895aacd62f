"""The records every stage passes along: documents, passages, ranked hits, chat messages, answers.

This module and its siblings in ``ingest.core`` (errors, protocols, settings, registry, text) are the
neutral layer: they import no stage, and every stage imports them. Records are frozen; update them
with :func:`dataclasses.replace`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal, TypeVar

from ingest.core.periods import FiscalPeriod
from ingest.core.tables import Table

DocKind = Literal["pdf", "text", "markdown", "html", "code", "docx", "pptx", "xlsx", "csv"]
PassageKind = Literal["prose", "code", "table"]
PlaceUnit = Literal["slide", "cells", "paragraphs", "table"]


@dataclass(frozen=True, slots=True)
class PageSpan:
    """Where one PDF page sits inside :attr:`Document.text` (``text[start:end]``)."""

    number: int  # 1-based
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Section:
    """A heading of a document: its nesting level (1 = top), its title, and where its text starts in
    :attr:`Document.text` (from a PDF outline, Markdown/HTML headings, or heading lines in the text)."""

    level: int
    title: str
    start: int


@dataclass(frozen=True, slots=True)
class Place:
    """Where a passage of an Office file or a CSV sits, in the file's own terms: what its citation names and
    where the viewer opens it.

    ``unit`` says which: a ``"slide"`` (``first`` = ``last`` = its 1-based number), a sheet's ``"cells"`` (rows
    ``first``..``last`` and ``columns``, 1-based, of ``sheet``; a CSV has no sheet name), a Word document's
    ``"paragraphs"`` (1-based, in body order) or one of its tables (``"table"``: ``first`` = ``last`` = its
    1-based number), with the ``section`` they sit in ("4.2 \"Termination\"", "" before the first heading).

    >>> Place("cells", 12, 30, sheet="Sheet1", columns=(1, 6)).text(), Place("slide", 7, 7).text()
    ('Sheet1!A12:F30', 'slide 7')
    >>> Place("paragraphs", 3, 5, section='4.2 "Termination"').text(), Place("table", 2, 2).text()
    ('§4.2 "Termination"', 'table 2')
    """

    unit: PlaceUnit
    first: int
    last: int
    sheet: str = ""
    columns: tuple[int, int] | None = None
    section: str = ""

    def text(self) -> str:
        """The place as a citation names it: ``slide 7``, ``Sheet1!A12:F30``, ``§4.2 "Termination"``, ``¶3-5``."""
        if self.unit == "slide":
            return f"slide {self.first}"
        if self.unit == "cells":
            cols = self.columns or (1, 1)
            cells = f"{column_letters(cols[0])}{self.first}:{column_letters(cols[1])}{self.last}"
            return f"{sheet_ref(self.sheet)}!{cells}" if self.sheet else cells
        if self.section:
            return f"§{self.section}"
        if self.unit == "table":
            return f"table {self.first}"
        return f"¶{self.first}" if self.first == self.last else f"¶{self.first}-{self.last}"

    def merge(self, other: Place) -> Place:
        """The place covering both (rows, columns, paragraphs), in ``self``'s sheet and section.

        >>> Place("cells", 2, 4, "S", (1, 3)).merge(Place("cells", 5, 9, "S", (2, 6))).text()
        'S!A2:F9'
        """
        cols = self.columns
        if cols is not None and other.columns is not None:
            cols = (min(cols[0], other.columns[0]), max(cols[1], other.columns[1]))
        return Place(self.unit, min(self.first, other.first), max(self.last, other.last), self.sheet, cols,
                     self.section)


def column_letters(n: int) -> str:
    """A 1-based column number as a spreadsheet names it.

    >>> column_letters(1), column_letters(26), column_letters(27), column_letters(703)
    ('A', 'Z', 'AA', 'AAA')
    """
    out = ""
    while n > 0:
        n, r = divmod(n - 1, 26)
        out = chr(65 + r) + out
    return out


def sheet_ref(name: str) -> str:
    """A sheet name as a cell reference writes it: quoted when it holds more than letters, digits and ``_``.

    >>> sheet_ref("Sheet1"), sheet_ref("Q1 plan"), sheet_ref("it's")
    ('Sheet1', "'Q1 plan'", "'it''s'")
    """
    if name.replace("_", "a").isalnum() and not name[:1].isdigit():
        return name
    return "'" + name.replace("'", "''") + "'"


@dataclass(frozen=True, slots=True)
class Block:
    """One unit of an Office file or a CSV inside :attr:`Document.text` (``text[start:end]``): a slide, a Word
    paragraph, a row of a table or sheet. Consecutive blocks of one ``group`` (a slide, a section's paragraphs,
    a table, a sheet) and one ``kind`` may share a passage; a table's passages repeat its ``header`` row."""

    start: int
    end: int
    place: Place
    group: int
    kind: PassageKind = "prose"
    header: str = ""


@dataclass(frozen=True, slots=True)
class OcrWord:
    """One word OCR read on a PDF page: its characters in the page's text (``[start, end)``, offsets from the
    page's start in :attr:`Document.text`), its box in PDF points (left, bottom, right, top; origin at the
    page's bottom left, PDFium's page space, like a born-digital character's box) and the engine's confidence
    (0 to 1)."""

    start: int
    end: int
    box: tuple[float, float, float, float]
    confidence: float


@dataclass(frozen=True, slots=True)
class OcrPage:
    """A PDF page whose text was read by OCR: which engine ("tesseract 5.3.0"), its mean word confidence (0 to
    1) and every word with its box, so a quote on a scanned page is highlighted like one on a born-digital page."""

    number: int  # 1-based
    engine: str
    confidence: float
    words: tuple[OcrWord, ...] = ()


@dataclass(frozen=True, slots=True)
class OcrNote:
    """That a passage's text was read by OCR: the engine, and the mean confidence (0 to 1) of its words."""

    engine: str
    confidence: float


@dataclass(frozen=True, slots=True)
class Document:
    """One loaded file: its extracted text and how that text maps back to the file.

    ``text`` is the whole extracted text. For PDFs, ``pages`` gives each page's
    character range in ``text`` (pages are joined by a blank line); for other
    kinds ``pages`` is empty and line numbers are counted in ``text`` itself.
    """

    doc_id: str  # 16 hex digits of the sha256 of the bytes, "-", 8 of the path's: equal files at two paths stay apart
    source: str  # path as given by the user
    text: str
    kind: DocKind
    pages: tuple[PageSpan, ...] = ()
    language: str | None = None  # for code: "python", "javascript", ...
    empty_pages: tuple[int, ...] = ()  # PDF pages with no extractable text
    page_count: int = 0  # pages in the file (PDFs), including empty ones
    # what the file says about itself: "title", and for reports "issuer", "form", "period" where the file
    # says them (PDF metadata, first page, file name); "extractor" for PDFs ("pdfium" or "pypdf")
    meta: dict[str, str] = field(default_factory=dict, hash=False, compare=True)
    sections: tuple[Section, ...] = ()  # headings in text order
    blocks: tuple[Block, ...] = ()  # Office files and CSVs: their slides, paragraphs and rows, in text order
    ocr_pages: tuple[OcrPage, ...] = ()  # PDF pages whose text OCR read (ingest/ocr.py), in page order

    def page_at(self, offset: int) -> int | None:
        """1-based page holding character ``offset``, or None for non-PDFs."""
        for span in self.pages:
            if span.start <= offset < max(span.end, span.start + 1):
                return span.number
        return self.pages[-1].number if self.pages else None


@dataclass(frozen=True, slots=True)
class Passage:
    """A piece of a document with exact provenance.

    ``doc_text[chars[0]:chars[1]] == text`` always holds for the document it came from.
    """

    id: str  # "p-" + sha256(source, chars, text)[:16]
    doc_id: str
    source: str
    text: str
    chars: tuple[int, int]  # [start, end) offsets into Document.text
    page: int | None = None  # 1-based, PDFs
    lines: tuple[int, int] | None = None  # 1-based inclusive, text and code
    kind: PassageKind = "prose"
    symbol: str | None = None  # "module.Class.method" for code
    splitter: str = "recursive"  # which splitter made it ("recursive", "ast", "fallback:lines", ...)
    # where it sits, for retrieval only (embedded and BM25-indexed with the text, never quoted or cited):
    # the document's title/issuer/form/period and the section path, plus a table's caption and header row
    header: str = ""
    # a table passage's rows, cells (spans in ``text``), column periods and scale, read once at ingest
    table: Table | None = None
    place: Place | None = None  # Office files and CSVs: the slide, cell range, section or paragraphs
    ocr: OcrNote | None = None  # its text was read by OCR from a scanned page: the engine and its confidence

    @property
    def label(self) -> str:
        """Human-readable location: ``report.pdf p.3``, ``src/x.py:10-42``, ``deck.pptx slide 7``,
        ``model.xlsx Sheet1!A12:F30`` or ``contract.docx §4.2 "Termination"``."""
        if self.place is not None:
            return f"{self.source} {self.place.text()}"
        if self.page is not None:
            return f"{self.source} p.{self.page}"
        if self.lines is not None:
            a, b = self.lines
            return f"{self.source}:{a}-{b}" if b != a else f"{self.source}:{a}"
        return self.source


def passage_id(source: str, chars: tuple[int, int], text: str) -> str:
    """Stable passage id from where it sits and what it says.

    >>> passage_id("a.txt", (0, 5), "hello")
    'p-252957c8857f4ac3'
    """
    h = hashlib.sha256(f"{source}\x00{chars[0]}:{chars[1]}\x00{text}".encode()).hexdigest()
    return "p-" + h[:16]


def line_span(text: str, start: int, end: int) -> tuple[int, int]:
    """1-based inclusive line numbers covered by ``text[start:end]``.

    >>> line_span("a\\nbb\\nc", 2, 4)
    (2, 2)
    >>> line_span("a\\nbb\\nc", 0, 6)
    (1, 3)
    """
    first = text.count("\n", 0, start) + 1
    last = first + text.count("\n", start, max(start, end - 1))
    return first, last


@dataclass(frozen=True, slots=True)
class LoadReport:
    """What loading a set of paths found, beyond the documents themselves."""

    documents: tuple[Document, ...]
    skipped: tuple[tuple[str, str], ...] = field(default=())  # (path, reason)


@dataclass(frozen=True, slots=True)
class Ranked:
    """A passage with a score from some stage (higher is better)."""

    passage: Passage
    score: float


Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True, slots=True)
class Message:
    """One chat message."""

    role: Role
    content: str


@dataclass(frozen=True, slots=True)
class Completion:
    """A finished generation and what it cost."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    seconds: float
    first_token_seconds: float | None = None
    finish_reason: str = "stop"
    usage: Literal["counted", "reported", "estimated"] = "counted"  # where the token counts come from
    cached_tokens: int = 0  # of the prompt's tokens, those reused from the backend's cache (not read again)


@dataclass(frozen=True, slots=True)
class ContinuationScores:
    """Log-probabilities of candidate continuations of one prompt, and what computing them cost."""

    logprobs: tuple[float, ...]  # log P(continuation | chat prompt + assistant prefix), one per candidate
    prompt_tokens: int  # tokens of the chat prompt plus the assistant prefix
    extra_tokens: int  # continuation tokens fed to score multi-token candidates (0 if all are single tokens)
    seconds: float
    cached_tokens: int = 0  # of the prompt's tokens, those reused from the backend's cache (not read again)


@dataclass(frozen=True, slots=True)
class SequenceScore:
    """How likely a backend finds a continuation after a prefix (teacher forcing), and what it cost."""

    logprob: float  # sum over the continuation's tokens of log P(token | prefix, earlier tokens)
    tokens: int  # continuation tokens scored
    evaluated_tokens: int  # tokens run through the model for this pair (prefix not already cached + continuation)

    @property
    def mean_logprob(self) -> float:
        """Per-token log-likelihood (0.0 for an empty continuation)."""
        return self.logprob / self.tokens if self.tokens else 0.0


@dataclass(frozen=True)
class RouteDecision:
    """Where a :class:`~ingest.core.protocols.QueryRouter` sends a question: ``doc_ids`` (best first; empty
    when unsure), why, and whether to trust it (a profile's knowledge, e.g. a filing's issuer and period)."""

    doc_ids: tuple[str, ...]
    reason: str
    confident: bool
    issuers: tuple[str, ...] = field(default=())
    periods: tuple[FiscalPeriod, ...] = field(default=())  # the periods the question names
    applicable: bool = True  # False: no document has an issuer (not a corpus of filings); nothing worth a note
    aliases: tuple[str, ...] = field(default=())  # every name the routed issuers' documents answer to

    def note(self) -> str:
        """One line for the search trace.

        >>> RouteDecision(("a",), "issuer adobe, FY2016: ADOBE_2016_10K", True).note()
        'routed to 1 document(s): issuer adobe, FY2016: ADOBE_2016_10K'
        >>> RouteDecision((), "no issuer named", False).note()
        'not routed (whole corpus): no issuer named'
        """
        if self.confident:
            return f"routed to {len(self.doc_ids)} document(s): {self.reason}"
        return f"not routed (whole corpus): {self.reason}"


@dataclass(frozen=True, slots=True)
class Citation:
    """A ``[n]`` marker in an answer, resolved to the passage it points at."""

    number: int  # as written in the answer, 1-based over the prompt's passages
    passage: Passage
    quote: str | None = None  # supporting span inside the passage, when located
    quote_chars: tuple[int, int] | None = None  # [start, end) of ``quote`` inside ``passage.text``
    supported: bool | None = None  # the citation check's verdict (None: not checked)

    @property
    def label(self) -> str:
        """``report.pdf p.3`` or ``src/x.py:10-42``."""
        return self.passage.label


class WarningKind(StrEnum):
    """What a reader is warned about next to an answer."""

    UNSUPPORTED_SENTENCE = "unsupported_sentence"  # a sentence no passage supports (kept, flagged)
    WITHHELD_UNSUPPORTED = "withheld_unsupported"  # no passage supports the answer: replaced by "not found"
    WITHHELD_NOT_ANSWERED = "withheld_not_answered"  # the answer check judged the cited passages off-question
    FEATURE_SKIPPED = "feature_skipped"  # a check or scorer the settings asked for could not run on this backend
    CALCULATION_FAILED = "calculation_failed"  # the model's calculation block was missing or invalid: not computed
    WITHHELD_NUMBER = "withheld_number"  # a number its cited passage prints as something else: sentence withheld


_WARNING_TEXT = {
    WarningKind.UNSUPPORTED_SENTENCE: "unsupported sentence: {detail}",
    WarningKind.WITHHELD_UNSUPPORTED: "citation check: no passage supports the answer, so it was withheld "
                                      "(draft: {detail!r})",
    WarningKind.WITHHELD_NOT_ANSWERED: "answer check: the model judged that the cited passages do not answer the "
                                       "question, so the answer was withheld ({detail})",
    WarningKind.FEATURE_SKIPPED: "{detail}",
    WarningKind.CALCULATION_FAILED: "calculation: {detail}; nothing was computed, the model's own answer is shown",
    WarningKind.WITHHELD_NUMBER: "number check: {detail} (sentence withheld)",
}


@dataclass(frozen=True, slots=True)
class AnswerWarning:
    """Something the reader should see next to the answer.

    >>> str(AnswerWarning(WarningKind.UNSUPPORTED_SENTENCE, "It is red."))
    'unsupported sentence: It is red.'
    """

    kind: WarningKind
    detail: str  # the sentence, the withheld draft, or what was skipped and why

    def __str__(self) -> str:
        return _WARNING_TEXT[self.kind].format(detail=self.detail)


@dataclass(frozen=True, slots=True)
class StageTrace:
    """What one stage of a run did and cost. The notes shown to users are rendered from these.

    :param name: "retrieve", "mode", "rerank", "select", "prompt", "generate", "verify", "answer_check".
    :param method: which implementation ran ("hybrid", "full-logits", "embedding", "lexical", ...).
    :param prompt_tokens: LLM input tokens (prompt, reranking prompts, scored text).
    :param cached_tokens: of those, the ones not read again (the model's cache held them).
    :param completion_tokens: LLM output tokens.
    :param embedder_tokens: embedder input tokens (segment scoring by embedding).
    :param calls: model calls made by the stage.
    :param outcome: "ok", or what went wrong or was decided ("fallback", "skipped", "withheld", ...).
    :param details: facts worth a line each in the notes.
    """

    name: str
    method: str = ""
    seconds: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    embedder_tokens: int = 0
    calls: int = 0
    outcome: str = "ok"
    details: tuple[str, ...] = ()
    cached_tokens: int = 0

    def notes(self) -> list[str]:
        """One line per detail, prefixed with the stage name.

        >>> StageTrace("retrieve", "hybrid", details=("20 candidates",)).notes()
        ['retrieve (hybrid): 20 candidates']
        """
        head = f"{self.name} ({self.method})" if self.method else self.name
        return [f"{head}: {d}" for d in self.details]


@dataclass(frozen=True, slots=True)
class Operand:
    """One number a calculation uses: named by the model, quoted from a cited passage, found there by docqa."""

    name: str  # as the model named it, underscores read as spaces ("PP&E 2019")
    value: str  # the number as quoted, signed, without unit or scale ("6,489", "-6", "12.5")
    citation: int  # the passage [n] it was found in
    unit: str = ""  # "$", "%" or ""
    scale: str = ""  # "thousand", "million", "billion", as the model or the passage said ("" when neither did)
    quote: str = ""  # the line of the passage text that holds it
    span: tuple[int, int] | None = None  # [start, end) of the number as printed in the passage text


@dataclass(frozen=True, slots=True)
class Calculation:
    """A figure docqa computed from operands the model chose and cited (``generation/compute.py``).

    ``formula`` names the operands, ``worked`` puts their values in; ``text`` is the result as stated
    (rounded as the question asked, with its unit), ``result`` the exact value before rounding.
    """

    label: str  # what was computed ("fixed asset turnover 2019")
    formula: str  # "revenue / ((PP&E 2019 + PP&E 2018) / 2)"
    worked: str  # "6,489 / ((253 + 282) / 2)"
    operands: tuple[Operand, ...]
    result: float
    unit: str  # "%", "$", "$ million", "million" or ""
    text: str  # "24.26", "65.4%", "$1,234 million"
    places: int | None = None  # decimal places the question asked to round to (None: it did not say)

    def to_dict(self) -> dict[str, object]:
        """Plain-JSON form (:func:`ingest.core.serialize.calculation_to_dict`)."""
        from ingest.core.serialize import calculation_to_dict  # the one serialisation; it imports this module

        return calculation_to_dict(self)


AnswerMode = Literal["retrieve", "full"]


@dataclass(frozen=True, slots=True)
class Answer:
    """What docqa returns for a question.

    ``timings``, ``tokens`` and ``notes`` are views of ``trace`` and ``warnings``, the typed run record.
    """

    question: str
    text: str
    citations: tuple[Citation, ...]
    passages: tuple[Passage, ...]  # the numbered context the model saw, [1] first
    mode: AnswerMode = "retrieve"  # whole documents ("full") or retrieved passages
    trace: tuple[StageTrace, ...] = ()  # one entry per stage that ran, in order
    warnings: tuple[AnswerWarning, ...] = ()
    dropped_citations: tuple[int, ...] = ()  # [n] markers that pointed at no passage
    model: str = ""
    draft: str = ""  # the model's text as generated, before the citation check changed or withheld it
    first_token_seconds: float | None = None
    calculation: Calculation | None = None  # the figure docqa computed, when the question asked for one

    def stage(self, name: str) -> StageTrace | None:
        """The trace of stage ``name``, if it ran."""
        return next((s for s in self.trace if s.name == name), None)

    @property
    def timings(self) -> dict[str, float]:
        """Seconds per stage (plus ``first_token``)."""
        out = {s.name: s.seconds for s in self.trace}
        if self.first_token_seconds is not None:
            out["first_token"] = self.first_token_seconds
        return out

    @property
    def tokens(self) -> dict[str, int]:
        """Token counts by purpose: ``prompt``/``completion`` of the answer, ``rerank_input``/``rerank_output``,
        ``select_llm`` or ``select_embedding`` (embedder tokens), ``answer_check``; ``read``: the LLM prompt tokens
        every stage actually read (its cache held the rest), when any stage reused its cache."""
        out: dict[str, int] = {}
        cached = sum(s.cached_tokens for s in self.trace)
        if cached:
            out["read"] = sum(s.prompt_tokens for s in self.trace) - cached
        for s in self.trace:
            if s.name == "generate":
                out.update(prompt=s.prompt_tokens, completion=s.completion_tokens)
            elif s.name == "rerank" and s.calls:
                out.update(rerank_input=s.prompt_tokens, rerank_output=s.completion_tokens)
            elif s.name == "select" and s.method in ("llm", "embedding"):
                out[f"select_{s.method}"] = s.prompt_tokens + s.embedder_tokens
            elif s.name == "answer_check" and s.calls:
                out["answer_check"] = s.prompt_tokens
        return out

    @property
    def llm_tokens(self) -> int:
        """Tokens the LLM processed over every stage (embedder tokens left out)."""
        return sum(s.prompt_tokens + s.completion_tokens for s in self.trace)

    @property
    def notes(self) -> tuple[str, ...]:
        """Facts about the run, one line each, rendered from the trace, then the warnings."""
        return tuple(line for s in self.trace for line in s.notes()) + tuple(str(w) for w in self.warnings)

    def to_dict(self) -> dict[str, object]:
        """Plain-JSON form for ``--json`` output, reports and servers (:func:`ingest.core.serialize.answer_to_dict`)."""
        from ingest.core.serialize import answer_to_dict  # the one serialisation; it imports this module

        return answer_to_dict(self)


T = TypeVar("T")


def final_item(stream: Iterable[object], kind: type[T]) -> T:
    """The last item of type ``kind`` in a stream; streams of text pieces end with their result.

    >>> final_item(["a", "b", 3], int)
    3
    """
    final = None
    for item in stream:
        if isinstance(item, kind):
            final = item
    if final is None:
        raise ValueError(f"stream ended without a {kind.__name__}")
    return final
