"""Request and response shapes of ``docqa serve`` (they make its OpenAPI document)."""

# No ``from __future__ import annotations``: pydantic and FastAPI read these annotations at run time.

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ingest.core.records import PassageKind
from ingest.core.settings import SearchLevel, SearchMode, ServeSettings

MODEL_ID = "docqa"  # the index as an OpenAI "model"


# -- response shapes (for the OpenAPI document) -----------------------------------------------------------
class ErrorDetail(BaseModel):
    message: str = Field(description="what was wrong, in one line")
    type: str = Field(description="invalid_request_error, authentication_error, not_found_error, "
                                  "rate_limit_error, model_error or server_error")
    param: str | None = Field(None, description="the request field at fault, when one is")


class ErrorResponse(BaseModel):
    error: ErrorDetail


class PassageOut(BaseModel):
    id: str
    doc_id: str
    source: str = Field(description="path or URL of the document")
    label: str = Field(description='"report.pdf p.3", "src/x.py:10-42", "deck.pptx slide 7", '
                                   '"model.xlsx Sheet1!A12:F30"')
    text: str
    chars: list[int] = Field(description="[start, end) offsets into the document's text")
    page: int | None = Field(None, description="1-based page (PDFs)")
    lines: list[int] | None = Field(None, description="1-based inclusive [first, last] lines (text, code)")
    kind: str
    symbol: str | None = Field(None, description='"module.Class.method" for code')
    splitter: str = Field("recursive", description='which splitter made it ("recursive", "ast", ...)')
    header: str = Field("", description="where it sits (document title, section path, table header), used for "
                                        "retrieval only")
    table: dict[str, Any] | None = Field(
        None, description='a table passage\'s structure, read once at ingest: "caption", "scale" ("million", ...), '
                          '"periods" (one per column: "text", "year", "month", "day", "months", "instant"), "rows" '
                          '(each "label", "section", "span" and "cells": [text, start, end, value, percent], offsets '
                          'into "text", value an exact decimal string)')
    place: dict[str, Any] | None = Field(
        None, description='where an Office or CSV passage sits: "unit" ("slide", "cells", "paragraphs", "table"), '
                          '"first" and "last" (slide, rows, paragraphs or table number, 1-based), "sheet", '
                          '"columns" ([first, last], 1-based), "section", and "text" as its citation shows it '
                          '("slide 7", "Sheet1!A12:F30", "§4.2 \"Termination\"")')
    ocr: dict[str, Any] | None = Field(
        None, description='a passage read by OCR from a scanned page: "engine" ("tesseract 5.3.0") and "confidence" '
                          '(the mean of its words\' confidences, 0 to 1)')


class Hit(PassageOut):
    rank: int
    score: float


class SearchResponse(BaseModel):
    query: str
    mode: str
    level: str
    hits: list[Hit]
    seconds: float


class CellOut(BaseModel):
    row: str = Field(description="the row's name (its label, joined to its section for a bare \"Total\")")
    text: str = Field(description="the cell as printed")
    chars: list[int] = Field(description="[start, end) of the cell inside the passage text")
    value: str | None = Field(description="its exact value as a decimal string (negative when printed in "
                                          "parentheses); null for a dash")


class CitationOut(BaseModel):
    n: int = Field(description="the [n] marker in the answer")
    passage_id: str
    source: str
    page: int | None
    lines: list[int] | None
    symbol: str | None
    label: str
    quote: str | None = Field(description="the supporting span inside the passage, when located")
    quote_chars: list[int] | None = Field(description="[start, end) of the quote inside the passage text")
    supported: bool | None = Field(description="the citation check's verdict (null: not checked)")
    cells: list[CellOut] = Field(default_factory=list, description="the table cells inside the quote (table passages)")
    place: dict[str, Any] | None = Field(None, description="an Office or CSV passage's place (as in a passage)")


class AnswerResponse(BaseModel):
    model_config = ConfigDict(extra="allow")  # trace, dropped_citations: see Answer.to_dict

    question: str
    answer: str = Field(description="the checked answer, with [n] citation markers")
    mode: str = Field(description='"retrieve" (retrieved passages) or "full" (whole documents)')
    citations: list[CitationOut]
    passages: list[dict[str, Any]] = Field(description="the numbered context the model saw: n, then the passage "
                                                       "(id, label, text, source, page, lines, ...)")
    warnings: list[dict[str, Any]]
    notes: list[str]
    timings: dict[str, float]
    tokens: dict[str, int]
    model: str
    draft: str = Field(description="the model's text before the citation check changed or withheld it")
    queue_seconds: float = Field(description="how long the question waited for the model")


class DocqaExtra(BaseModel):
    """The extra ``docqa`` field of OpenAI-compatible responses: the citations, structured."""

    answer: str
    mode: str
    citations: list[CitationOut]
    warnings: list[dict[str, Any]]
    notes: list[str]
    queue_seconds: float


class ChatCompletionResponse(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str
    object: str = "chat.completion"
    created: int
    model: str
    choices: list[dict[str, Any]]
    usage: dict[str, int]
    docqa: DocqaExtra


class DocumentOut(BaseModel):
    doc_id: str
    source: str
    kind: str
    language: str | None
    pages: int = Field(description="pages in the file (PDFs; 0 otherwise)")
    chars: int
    passages: int
    index: str | None = Field(None, description="the index holding it, when several are served as one")


class DocumentsResponse(BaseModel):
    documents: list[DocumentOut]


class ModelCard(BaseModel):
    id: str
    object: str = "model"
    created: int
    owned_by: str = "docqa"


class ModelList(BaseModel):
    object: str = "list"
    data: list[ModelCard]


class Health(BaseModel):
    status: str
    documents: int
    passages: int
    queue: dict[str, int] = Field(description="running (0 or 1), waiting, capacity")


ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse, "description": what}
    for code, what in ((400, "bad request (e.g. the body is not valid JSON)"), (401, "missing or wrong API key"),
                       (413, "request body too large"), (422, "a field is missing, of the wrong type, or out of range"))
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorResponse, "description": "no such item"}}
BUSY: dict[int | str, dict[str, Any]] = {429: {"model": ErrorResponse,
                                                "description": "the answer queue is full; retry after Retry-After "
                                                               "seconds"}}


class ScopeIn(BaseModel):
    """Restrict a search or a question to some documents, passage kinds and pages (all optional)."""

    model_config = ConfigDict(extra="forbid")
    documents: list[str] = Field([], max_length=1000, description="source paths, globs (fnmatch on the source, "
                                                                  "e.g. 'reports/*2019*.pdf') or doc ids")
    kinds: list[PassageKind] = Field([], max_length=3, description="passage kinds: prose, code, table")
    pages: tuple[int, int] | None = Field(None, description="[first, last]: passages starting on these pages "
                                                            "(1-based, inclusive; PDFs)")


SCOPE_FIELD: dict[str, Any] = {"description": "restrict to some documents, kinds and pages; a scope matching nothing "
                                              "is a 422"}


class SearchBody(BaseModel):
    """What a search request holds (:func:`request_models` makes each server's class, with its limits)."""

    query: str
    k: int
    mode: SearchMode | None
    level: SearchLevel
    docs: int | None
    scope: ScopeIn | None


class AskBody(BaseModel):
    """What a question holds (:func:`request_models` makes each server's class, with its limits)."""

    question: str
    scope: ScopeIn | None


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: str
    content: str | list[dict[str, Any]] | None = None


class ChatBody(BaseModel):
    """What an OpenAI-style chat request holds (:func:`request_models` makes each server's class)."""

    model: str
    messages: list[ChatMessage]
    stream: bool
    stream_options: dict[str, Any] | None
    scope: ScopeIn | None


def request_models(limits: ServeSettings) -> tuple[type[SearchBody], type[AskBody], type[ChatBody]]:
    """The request bodies, with this server's limits in their schema (so OpenAPI states them)."""

    class SearchRequest(SearchBody):
        model_config = ConfigDict(extra="forbid")
        query: str = Field(description="what to search for", min_length=1, max_length=limits.max_question_chars)
        k: int = Field(5, ge=1, le=limits.max_k, description="passages to return")
        mode: SearchMode | None = Field(None, description="dense, bm25 or hybrid (default: the server's settings)")
        level: SearchLevel = Field("passage", description="passage (blocks), unit (whole functions/classes, "
                                                          "dense only) or file")
        docs: int | None = Field(None, ge=0, le=10_000, description="search only inside the N best documents "
                                                                  "(0: off; default: the server's settings)")
        scope: ScopeIn | None = Field(None, description=SCOPE_FIELD["description"])

    class AskRequest(AskBody):
        model_config = ConfigDict(extra="forbid")
        question: str = Field(description="the question", min_length=1, max_length=limits.max_question_chars)
        scope: ScopeIn | None = Field(None, description=SCOPE_FIELD["description"])

    class ChatRequest(ChatBody):
        model_config = ConfigDict(extra="allow")  # temperature, max_tokens, ...: accepted, not used
        model: str = Field(MODEL_ID, description=f'the index as a model: "{MODEL_ID}"')
        messages: list[ChatMessage] = Field(min_length=1, description="the last user message is the question; the "
                                                                      "messages before it are the conversation")
        stream: bool = False
        stream_options: dict[str, Any] | None = Field(None, description='{"include_usage": true}: a usage chunk '
                                                                        "before [DONE]")
        scope: ScopeIn | None = Field(None, description="docqa extension: " + SCOPE_FIELD["description"])

    return SearchRequest, AskRequest, ChatRequest
