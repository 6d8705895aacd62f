"""``docqa mcp``: one index as a Model Context Protocol server over stdio (the official ``mcp`` SDK, 2.x).

Tools:

- ``search(query, k, documents?, kinds?, pages?)``: the best passages, each with source, page or lines, symbol
  and text.
- ``ask(question, documents?, kinds?, pages?, history?)``: an answer with ``[n]`` markers and its citations
  (source, page or lines, quote, verdict). ``history`` (the conversation so far, ``[{role, content}]``) makes
  the question a follow-up: it is rewritten to stand alone first, as the UI and the HTTP chat do.

``documents`` (paths, globs or doc ids), ``kinds`` and ``pages`` ("A-B") restrict either tool to a scope
(:class:`retrieval.scope.Scope`); a scope that matches nothing is a tool error naming what did not match.

Each result carries the citations twice: as text (what a model reads) and as structured content (what a
host application reads, with an output schema, in the forms of ``ingest.core.serialize``, as the HTTP API
gives them). Both tools call the SDK (:class:`app.sdk.Index`); answers
run one at a time (:class:`app.jobs.AnswerQueue`). stdout carries the protocol: logging goes to stderr,
and the SDK points file descriptor 1 at stderr while it serves, so stray output cannot corrupt a message.
"""

# No ``from __future__ import annotations``: the SDK reads the tools' annotations at run time.

import logging
from typing import Annotated, Any, Literal

import anyio.to_thread
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult, TextContent, ToolAnnotations
from pydantic import BaseModel, Field

from app.http_schema import CitationOut, Hit
from app.jobs import AnswerQueue
from app.sdk import Index
from ingest.core.errors import InputError, QAError
from ingest.core.records import Answer, Message, Ranked
from ingest.core.serialize import calculation_to_dict, citation_to_dict, hits_to_list
from ingest.core.settings import Settings
from ingest.core.text import check_question
from retrieval.scope import Scope

log = logging.getLogger(__name__)


class SearchResult(BaseModel):
    query: str
    hits: list[Hit]


class AskResult(BaseModel):
    question: str = Field(description="the question answered (a follow-up rewritten to stand alone)")
    answer: str = Field(description="the checked answer, with [n] citation markers")
    mode: str = Field(description='"retrieve" (retrieved passages) or "full" (whole documents)')
    citations: list[CitationOut]
    warnings: list[str]
    calculation: dict[str, Any] | None = Field(None, description="the figure docqa computed, when one was asked for")


class HistoryMessage(BaseModel):
    role: Literal["user", "assistant"]
    content: str


def search_result(query: str, hits: list[Ranked]) -> CallToolResult:
    """Search hits as MCP text and structured content."""
    out = SearchResult(query=query, hits=[Hit(**h) for h in hits_to_list(hits)])
    blocks = [f"{h.rank}. {h.label}{f' [{h.symbol}]' if h.symbol else ''} (score {h.score:.4f})\n{h.text.strip()}"
              for h in out.hits]
    text = "\n\n".join(blocks) or f"no passages match {query!r}"
    return CallToolResult(content=[TextContent(type="text", text=text)], structured_content=out.model_dump())


def ask_result(answer: Answer) -> CallToolResult:
    """An answer as MCP text (the answer, then its sources with quotes) and structured content."""
    out = AskResult(question=answer.question, answer=answer.text, mode=answer.mode,
                    warnings=[str(w) for w in answer.warnings],
                    citations=[CitationOut(**citation_to_dict(c)) for c in answer.citations],
                    calculation=calculation_to_dict(answer.calculation) if answer.calculation else None)
    lines = [answer.text]
    if out.citations:
        lines.append("\nSources:")
        lines += [f"[{c.n}] {c.label}" + (f' "{" ".join(c.quote.split())}"' if c.quote else "") for c in out.citations]
    lines += [f"warning: {w}" for w in out.warnings]
    return CallToolResult(content=[TextContent(type="text", text="\n".join(lines))],
                          structured_content=out.model_dump())


Documents = Annotated[list[str] | None, Field(description="only these documents: source paths, globs "
                                                          "('reports/*2019*.pdf') or doc ids")]
Kinds = Annotated[list[str] | None, Field(description="only passages of these kinds: prose, code, table")]
Pages = Annotated[str | None, Field(description='only passages starting on these pages, "A-B" (1-based, PDFs)')]
History = Annotated[list[HistoryMessage] | None, Field(max_length=100, description="the conversation so far, "
                                                       "oldest first: a follow-up question is rewritten with it")]


def scope_of(index: Index, documents: list[str] | None, kinds: list[str] | None, pages: str | None) -> Scope | None:
    """The scope a tool call asks for, checked against the index (None: none asked for).

    :raises InputError: a scope that matches nothing, an unknown kind, a bad page range.
    """
    scope = Scope.of(documents, kinds, pages)
    if not scope:
        return None
    index.resolve_scope(scope)
    return scope


def create_mcp_server(index: Index, settings: Settings, *, queue: AnswerQueue | None = None) -> MCPServer:
    """The MCP server for ``index``: tools ``search`` and ``ask``, with the limits of ``settings.serve``.

    :param queue: the answer queue (default: the one of the index's model in its runtime, as for the HTTP server).
    """
    limits = settings.serve
    answers = queue or index.runtime.answer_queue(index.llm, capacity=limits.queue_size)
    server = MCPServer("docqa", instructions="Search and ask questions of an indexed document collection; every "
                                             "answer cites its sources (file, page or lines, quote).",
                       log_level="WARNING")

    def question_of(text: str, what: str) -> str:
        try:
            return check_question(text, what=what, max_chars=limits.max_question_chars)
        except InputError as err:
            raise ToolError(str(err)) from err

    @server.tool(annotations=ToolAnnotations(title="Search the index", read_only_hint=True))
    async def search(query: Annotated[str, Field(description="what to search for")],
                     k: Annotated[int, Field(description="passages to return")] = 5,
                     documents: Documents = None, kinds: Kinds = None, pages: Pages = None,
                     ) -> Annotated[CallToolResult, SearchResult]:
        """Find the passages of the indexed documents that best match a query; each hit names its source and
        page or lines."""
        q = question_of(query, "query")
        if not 1 <= k <= limits.max_k:
            raise ToolError(f"k must be between 1 and {limits.max_k}, got {k}")
        try:
            scope = scope_of(index, documents, kinds, pages)
            hits = await anyio.to_thread.run_sync(lambda: index.search(q, k, scope=scope))
        except QAError as err:
            raise ToolError(str(err)) from err
        return search_result(q, hits)

    @server.tool(annotations=ToolAnnotations(title="Ask the index", read_only_hint=True))
    async def ask(question: Annotated[str, Field(description="the question")],
                  documents: Documents = None, kinds: Kinds = None, pages: Pages = None,
                  history: History = None,
                  ) -> Annotated[CallToolResult, AskResult]:
        """Answer a question from the indexed documents. The answer cites passages as [n]; each citation names its
        source, page or lines, and the supporting quote. With ``history`` (the conversation so far) a follow-up
        question is rewritten to stand alone first."""
        q = question_of(question, "question")
        turns = tuple(Message(m.role, m.content) for m in history or ())
        try:
            scope = scope_of(index, documents, kinds, pages)
        except QAError as err:
            raise ToolError(str(err)) from err

        def answer() -> Answer:
            with answers.job():
                return index.ask(q, scope=scope, history=turns)

        try:
            result = await anyio.to_thread.run_sync(answer)
        except QAError as err:  # QueueFull included: the message says when to retry
            raise ToolError(str(err)) from err
        return ask_result(result)

    return server


def run_stdio(index: Index, settings: Settings) -> None:
    """Serve ``index`` over stdin/stdout until the client closes stdin."""
    create_mcp_server(index, settings).run("stdio")
