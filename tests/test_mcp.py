"""``docqa mcp``: the official ``mcp`` SDK's client launches the server over stdio and calls both tools.

The server is a separate process, so it loads real packaged models: MiniLM for the index (both tests) and
the small SmolLM2 for ``ask``; hence ``slow`` (they run in CI).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest

from tests.conftest import write_pdf

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
NOTES = ("Ferry notes\n\nThe chief safety officer of the Vellmar ferry company is Hannelore Brisk.\n"
         "She introduced monthly lifeboat drills on every ferry.\n\nTicket prices will rise by three percent next "
         "year.\n")
QUESTION = "Who is the chief safety officer of the Vellmar ferry company?"


@pytest.fixture(scope="module")
def mcp_index(tmp_path_factory: pytest.TempPathFactory, minilm: Any) -> Path:
    """A text file and a two-page PDF, indexed with the packaged embedder (the server process loads it too)."""
    from app.sdk import Index
    from ingest.core.settings import Settings

    root = tmp_path_factory.mktemp("mcp")
    (root / "ferry.txt").write_text(NOTES)
    write_pdf(root / "fleet.pdf", ["Fleet overview of the company.",
                                   "The newest ferry, the Kittiwake, entered service in April and carries 210 "
                                   "passengers."])
    Index.build([root / "ferry.txt", root / "fleet.pdf"], root / "idx", settings=Settings(), embedder=minilm).close()
    return root / "idx"


def call_tools(index: Path, calls: list[tuple[str, dict[str, Any]]], **env: str) -> tuple[set[str], list[Any]]:
    """Launch ``python -m app.cli mcp --index INDEX`` over stdio; the tool names and the result of each call."""
    from mcp import ClientSession
    from mcp.client.stdio import StdioServerParameters, stdio_client

    params = StdioServerParameters(command=sys.executable, args=["-m", "app.cli", "mcp", "--index", str(index)],
                                   cwd=str(ROOT), env={**os.environ, "HF_HUB_OFFLINE": "1", **env})

    async def session() -> tuple[set[str], list[Any]]:
        # errlog: the real stderr (the default is whatever sys.stderr was when mcp was first imported, perhaps a
        # test's capture buffer, which has no file descriptor for the child)
        async with stdio_client(params, errlog=sys.__stderr__) as (read, write), ClientSession(read, write) as client:
            await client.initialize()
            tools = {t.name for t in (await client.list_tools()).tools}
            return tools, [await client.call_tool(name, args, read_timeout_seconds=300) for name, args in calls]

    return anyio.run(session)


def test_search_tool_returns_passages_with_source_and_lines_or_page(mcp_index: Path):
    tools, (text_hit, pdf_hit, empty, too_many) = call_tools(mcp_index, [
        ("search", {"query": "lifeboat drills safety officer", "k": 2}),
        ("search", {"query": "How many passengers does the Kittiwake carry?", "k": 1}),
        ("search", {"query": "   "}),
        ("search", {"query": "ferry", "k": 1000}),
    ])
    assert tools == {"search", "ask"}
    best = text_hit.structured_content["hits"][0]
    assert not text_hit.is_error and best["source"].endswith("ferry.txt") and best["lines"][0] >= 1
    assert "Hannelore Brisk" in best["text"] and best["label"] in text_hit.content[0].text
    page = pdf_hit.structured_content["hits"][0]
    assert page["source"].endswith("fleet.pdf") and page["page"] == 2 and page["label"].endswith("p.2")
    assert empty.is_error and "query: empty query" in empty.content[0].text
    assert too_many.is_error and "k must be between 1 and 100, got 1000" in too_many.content[0].text


def test_ask_tool_answers_with_citations_over_stdio(mcp_index: Path):
    # the packaged small model; the yes/no answer check is off because a 135M model's verdicts are noise
    _, (result,) = call_tools(mcp_index, [("ask", {"question": QUESTION})],
                              DOCQA_LLM_MODEL="smollm2-135m-instruct-q4_1", DOCQA_LLM_CONTEXT="2048",
                              DOCQA_LLM_MAX_ANSWER_TOKENS="48", DOCQA_ANSWER_ANSWER_CHECK_MARGIN="-1000")
    assert not result.is_error, result.content
    answer = result.structured_content
    assert answer["citations"], answer
    for c in answer["citations"]:
        assert c["source"].endswith(("ferry.txt", "fleet.pdf")) and (c["lines"] or c["page"])
    cited = answer["citations"][0]
    text = result.content[0].text
    assert text.startswith(answer["answer"]) and f"[{cited['n']}] {cited['label']}" in text
    if cited["quote"]:
        assert " ".join(cited["quote"].split()) in text
