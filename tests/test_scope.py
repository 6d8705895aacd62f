"""Scoped search: resolution against the manifest, dense/BM25/hybrid inside a scope, routing in the searcher,
whole-document reading inside a scope, and the CLI, HTTP and MCP surfaces."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import pytest
from fastapi.testclient import TestClient

import app.cli as cli
from app.sdk import Index
from ingest.core.errors import InputError
from ingest.core.records import Passage
from ingest.core.settings import IngestSettings, SearchSettings, Settings, SplitSettings
from ingest.describe import FilingsDescriber
from ingest.split import DocumentSplitter, ProseSplitter
from retrieval.build import build_index
from retrieval.route import FilingsRouter
from retrieval.scope import ResolvedScope, Scope, parse_pages, resolve_scope
from retrieval.search import Searcher
from retrieval.store import IndexReader
from tests.conftest import write_pdf
from tests.fakes import FakeEmbedder, ScriptedLLM

TEXTS = {
    "ACME_2019_10K.txt": "ACME Corp annual report for fiscal 2019.\n\nACME revenue in fiscal 2019 was 510 million "
                         "dollars, driven by turbine sales.\n\nACME employs 900 people in three plants.\n",
    "ACME_2020_10K.txt": "ACME Corp annual report for fiscal 2020.\n\nACME revenue in fiscal 2020 was 640 million "
                         "dollars; fiscal 2019 revenue was 510 million dollars.\n",
    "GLOBEX_2020_10K.txt": "Globex annual report for fiscal 2020.\n\nGlobex revenue in fiscal 2020 was 75 million "
                           "dollars from turbine repairs.\n",
    "tool.py": "def revenue_total(rows):\n    \"\"\"Sum the revenue of turbine rows.\"\"\"\n"
               "    return sum(r.revenue for r in rows)\n",
}
PDF_PAGES = ["Turbine manual page one: safety and unpacking.", "Turbine revenue warranty on page two covers blades.",
             "Turbine manual page three: maintenance schedule."]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Three filings, a code file and a three-page PDF, indexed with the fake embedder; (root, index dir)."""
    root = tmp_path_factory.mktemp("scoped")
    (root / "reports").mkdir()
    for name, text in TEXTS.items():
        (root / ("reports" if name.endswith(".txt") else ".") / name).write_text(text)
    write_pdf(root / "manual.pdf", PDF_PAGES)
    embedder = FakeEmbedder()
    s = SplitSettings(chunk_tokens=20, overlap_tokens=2)
    build_index([root / "reports", root / "tool.py", root / "manual.pdf"], root / "idx", embedder=embedder,
                splitter=DocumentSplitter(s, ProseSplitter(s, embedder.count_tokens)),
                ingest=IngestSettings(isolate=False), describer=FilingsDescriber())
    return root, root / "idx"


@pytest.fixture(scope="module")
def reader(corpus: tuple[Path, Path]) -> IndexReader:
    return IndexReader(corpus[1])


def searcher(reader: IndexReader, **search: Any) -> Searcher:
    """A searcher with the filings profile's router (the filings above name their issuers)."""
    return Searcher(reader, FakeEmbedder(), SearchSettings(**search), router=FilingsRouter())


def names(hits: list[Any]) -> set[str]:
    return {Path(h.passage.source).name for h in hits}


def doc_id(reader: IndexReader, name: str) -> str:
    return next(s["doc_id"] for s in reader.manifest.sources if Path(s["source"]).name == name)


# -- resolution (pure) ----------------------------------------------------------------------------------------
SOURCES = [{"source": "reports/ADOBE_2016_10K.pdf", "doc_id": "aaa-1"},
           {"source": "reports/ADOBE_2017_10K.pdf", "doc_id": "bbb-2"},
           {"source": "src/tool.py", "doc_id": "ccc-3"}]


def test_resolve_paths_globs_names_and_ids():
    assert resolve_scope(Scope(("reports/ADOBE_2016_10K.pdf",)), SOURCES).doc_ids == {"aaa-1"}
    assert resolve_scope(Scope(("./reports/ADOBE_2016_10K.pdf",)), SOURCES).doc_ids == {"aaa-1"}
    assert resolve_scope(Scope(("reports/*",)), SOURCES).doc_ids == {"aaa-1", "bbb-2"}
    assert resolve_scope(Scope(("*2017*",)), SOURCES).doc_ids == {"bbb-2"}
    assert resolve_scope(Scope(("tool.py", "aaa-1")), SOURCES).doc_ids == {"aaa-1", "ccc-3"}
    whole = resolve_scope(Scope(kinds=("code",), pages=(2, 3)), SOURCES)
    assert whole.doc_ids is None and whole.kinds == ("code",) and whole.pages == (2, 3)
    assert not whole.names_documents and resolve_scope(Scope(("tool.py",)), SOURCES).names_documents


def test_resolve_errors_name_what_did_not_match():
    with pytest.raises(InputError, match=r"document 'reports/\*2031\*' matches none of the 3 indexed documents"):
        resolve_scope(Scope(("reports/*2016*", "reports/*2031*")), SOURCES)
    with pytest.raises(InputError, match="unknown passage kind 'figure'; valid: prose, code, table"):
        resolve_scope(Scope(kinds=("figure",)), SOURCES)
    with pytest.raises(InputError, match="pages are numbered from 1"):
        resolve_scope(Scope(pages=(0, 2)), SOURCES)
    for bad in ("x", "3-", "5-2"):
        with pytest.raises(InputError, match="pages"):
            parse_pages(bad)


def test_scope_of_loose_inputs_and_emptiness():
    assert not Scope() and not Scope.of(None, None, None)
    assert Scope.of(["a"], ["table"], [2, 4]) == Scope(("a",), ("table",), (2, 4))
    assert Scope.of(pages="7").pages == (7, 7)
    p = Passage(id="p", doc_id="d", source="s", text="t", chars=(0, 1), page=3, kind="table")
    assert ResolvedScope(frozenset({"d"}), ("table",), (3, 3)).allows(p)
    assert not ResolvedScope(None, (), (4, 9)).allows(p) and not ResolvedScope(frozenset({"e"})).allows(p)


# -- search inside a scope ---------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["dense", "bm25", "hybrid"])
def test_every_mode_stays_inside_the_scope(reader: IndexReader, mode: str):
    s = searcher(reader, route=False)
    query = "turbine revenue"
    assert len(names(s.search(query, 20, mode=mode))) >= 3  # unscoped: hits all over the corpus
    only = s.search(query, 20, mode=mode, scope=Scope(("*GLOBEX*",)))
    assert only and names(only) == {"GLOBEX_2020_10K.txt"}
    code = s.search(query, 20, mode=mode, scope=Scope(kinds=("code",)))
    assert code and {h.passage.kind for h in code} == {"code"} and names(code) == {"tool.py"}
    page2 = s.search(query, 20, mode=mode, scope=Scope(("manual.pdf",), pages=(2, 3)))
    assert page2 and {h.passage.page for h in page2} <= {2, 3} and names(page2) == {"manual.pdf"}


def test_scoped_dense_finds_what_the_global_top_k_misses(reader: IndexReader):
    s = searcher(reader, route=False)
    top = s.search("ACME revenue fiscal 2019", 1, mode="dense")[0]
    assert "ACME" in top.passage.text
    inside = s.search("ACME revenue fiscal 2019", 1, mode="dense", scope=Scope(("manual.pdf",)))
    assert names(inside) == {"manual.pdf"}


def test_scope_matching_no_passage_is_an_input_error(reader: IndexReader):
    s = searcher(reader)
    with pytest.raises(InputError, match=r"no passage on pages 1-2 in the 1 scoped document\(s\)"):
        s.search("turbine", 3, scope=Scope(("tool.py",), pages=(1, 2)))
    with pytest.raises(InputError, match="no passage of kind table in the index"):
        s.search("turbine", 3, scope=Scope(kinds=("table",)))
    with pytest.raises(InputError, match="matches none"):
        s.search("turbine", 3, scope=Scope(("nothing-*.pdf",)))


def test_file_level_search_inside_documents(reader: IndexReader):
    s = searcher(reader)
    files = s.search("turbine revenue", 5, level="file", scope=Scope(("reports/*",)))
    assert files and names(files) <= {"ACME_2019_10K.txt", "ACME_2020_10K.txt", "GLOBEX_2020_10K.txt"}
    with pytest.raises(InputError, match="documents only"):
        s.search("turbine", 3, level="file", scope=Scope(kinds=("code",)))


# -- routing in the searcher --------------------------------------------------------------------------------
def test_routing_narrows_to_the_named_filings_and_says_so(reader: IndexReader):
    found = searcher(reader).retrieve("What was ACME revenue in FY2019?", 3)
    assert found.route is not None and found.route.confident
    assert set(found.route.doc_ids) == {doc_id(reader, "ACME_2019_10K.txt"), doc_id(reader, "ACME_2020_10K.txt")}
    assert names(found.hits) <= {"ACME_2019_10K.txt", "ACME_2020_10K.txt"}
    assert any(d.startswith("routed to 2 document(s)") and "ACME_2019_10K" in d for d in found.details)
    unrouted = searcher(reader, route=False).retrieve("What was ACME revenue in FY2019?", 3)
    assert unrouted.route is None and not unrouted.details


def test_unsure_routing_searches_everything(reader: IndexReader):
    found = searcher(reader).retrieve("turbine revenue", 10)
    assert found.route is not None and not found.route.confident
    assert "GLOBEX_2020_10K.txt" in names(found.hits) and "manual.pdf" in names(found.hits)
    assert any(d.startswith("not routed") for d in found.details)


def test_routed_search_is_filled_from_the_rest_when_short(reader: IndexReader):
    found = searcher(reader).retrieve("Globex turbine revenue fiscal 2020", 6, mode="bm25")
    assert found.route is not None and found.route.doc_ids == (doc_id(reader, "GLOBEX_2020_10K.txt"),)
    assert names(found.hits[:1]) == {"GLOBEX_2020_10K.txt"} and len(found.hits) == 6
    assert any("more from the rest of the scope" in d for d in found.details)


def test_named_documents_switch_routing_off(reader: IndexReader):
    found = searcher(reader).retrieve("What was ACME revenue in FY2019?", 3, scope=Scope(("*GLOBEX*",)))
    assert found.route is None and names(found.hits) == {"GLOBEX_2020_10K.txt"}
    assert found.details == ("scope: 1 document(s)",)



def test_an_index_scope_still_routes_inside_that_index(corpus: tuple[Path, Path]):
    """``index:NAME`` names an index, not documents: the router still picks the filings the question names."""
    from retrieval.multi import MultiReader

    multi = MultiReader.open({"east": corpus[1], "west": corpus[1]})
    try:
        found = Searcher(multi, FakeEmbedder(), SearchSettings(), router=FilingsRouter()).retrieve(
            "What was ACME revenue in FY2019?", 3, scope=Scope(("index:west",)))
        assert found.route is not None and found.route.confident
        assert found.route.doc_ids and all(d.startswith("west:") for d in found.route.doc_ids)
        assert names(found.hits) <= {"ACME_2019_10K.txt", "ACME_2020_10K.txt"}
        assert all(h.passage.id.startswith("west:") for h in found.hits)
        assert resolve_scope(Scope(("index:west", "*GLOBEX*")), multi.manifest.sources).names_documents
    finally:
        multi.close()

# -- answering inside a scope -------------------------------------------------------------------------------
def test_ask_respects_the_scope_in_retrieval_and_whole_document_modes(corpus: tuple[Path, Path]):
    _, idx = corpus
    for mode in ("retrieve", "full"):
        settings = Settings().replace(answer={"mode": mode})
        index = Index(IndexReader(idx), settings, embedder=FakeEmbedder(), llm=ScriptedLLM("It covers blades [1]."))
        answer = index.ask("What does the warranty cover?", scope=Scope(("manual.pdf",), pages=(2, 2)))
        assert answer.passages and {(Path(p.source).name, p.page) for p in answer.passages} == {("manual.pdf", 2)}
        assert any("scope: 1 document(s), pages 2-2" in n for n in answer.notes), answer.notes
        index.close()


def test_answer_notes_say_where_routing_sent_the_question(corpus: tuple[Path, Path]):
    index = Index(IndexReader(corpus[1]), Settings(), embedder=FakeEmbedder(), llm=ScriptedLLM("510 [1]."))
    answer = index.ask("What was ACME revenue in FY2019?")
    assert any(n.startswith("retrieve (hybrid): routed to 2 document(s)") for n in answer.notes), answer.notes
    assert {Path(p.source).name for p in answer.passages} <= {"ACME_2019_10K.txt", "ACME_2020_10K.txt"}
    index.close()


# -- surfaces: CLI, HTTP, MCP -------------------------------------------------------------------------------
@pytest.fixture
def fake_cli(corpus: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI opening the test index with the fake embedder."""
    monkeypatch.setattr(cli, "_open", lambda args, settings, explicit_settings: Index(
        IndexReader(corpus[1]), settings, embedder=FakeEmbedder(), llm=ScriptedLLM("It covers blades [1].")))


def test_cli_scope_flags(capsys: pytest.CaptureFixture[str], fake_cli: None):
    code = cli.main(["search", "--index", "x", "turbine revenue", "-k", "9", "--doc", "*GLOBEX*", "--doc", "tool.py",
                     "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert {Path(h["label"].split(":")[0]).name for h in json.loads(out)} == {"GLOBEX_2020_10K.txt", "tool.py"}
    assert cli.main(["search", "--index", "x", "turbine", "--kind", "code", "--json"]) == 0
    assert {Path(h["label"].split(":")[0]).name for h in json.loads(capsys.readouterr()[0])} == {"tool.py"}
    code = cli.main(["ask", "--index", "x", "What does the warranty cover?", "--doc", "manual.pdf", "--pages", "2-2",
                     "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    labels = [p["label"] for p in json.loads(out)["passages"]]
    assert labels and all(label.endswith("manual.pdf p.2") for label in labels)


@pytest.mark.parametrize(("flags", "needle"), [
    (["--doc", "nope*.pdf"], "document 'nope*.pdf' matches none"),
    (["--pages", "9-3"], "the first page is after the last"),
    (["--doc", "tool.py", "--pages", "1-2"], "no passage on pages 1-2"),
])
def test_cli_scope_that_matches_nothing_exits_1(capsys: pytest.CaptureFixture[str], fake_cli: None,
                                                flags: list[str], needle: str):
    for command in ("search", "ask"):
        code = cli.main([command, "--index", "x", "turbine", *flags])
        err = capsys.readouterr()[1]
        lines = [line for line in err.splitlines() if line.startswith("docqa: error:")]
        assert code == 1 and len(lines) == 1 and needle in lines[0], err


def test_http_scope_on_search_ask_and_chat(corpus: tuple[Path, Path]):
    from app.server import create_app

    settings = Settings()
    index = Index(IndexReader(corpus[1]), settings, embedder=FakeEmbedder(),
                  llm=ScriptedLLM(*["It covers blades [1]."] * 3))
    with TestClient(create_app(index, settings, api_key="")) as client:
        r = client.post("/v1/search", json={"query": "turbine revenue", "k": 9, "scope": {"documents": ["*GLOBEX*"]}})
        assert r.status_code == 200 and {Path(h["source"]).name for h in r.json()["hits"]} == {"GLOBEX_2020_10K.txt"}
        r = client.post("/v1/search", json={"query": "turbine", "scope": {"kinds": ["code"]}})
        assert r.status_code == 200 and {h["kind"] for h in r.json()["hits"]} == {"code"}
        r = client.post("/v1/ask", json={"question": "What does the warranty cover?",
                                         "scope": {"documents": ["manual.pdf"], "pages": [2, 2]}})
        assert r.status_code == 200 and {p["label"][-3:] for p in r.json()["passages"]} == {"p.2"}
        r = client.post("/v1/chat/completions", json={"model": "docqa", "scope": {"documents": ["manual.pdf"]},
                                                      "messages": [{"role": "user", "content": "warranty?"}]})
        assert r.status_code == 200 and "manual.pdf" in r.json()["choices"][0]["message"]["content"]
        for path, body in (("/v1/search", {"query": "turbine", "scope": {"documents": ["nope*"]}}),
                           ("/v1/ask", {"question": "turbine?", "scope": {"documents": ["nope*"]}}),
                           ("/v1/ask/stream", {"question": "turbine?", "scope": {"pages": [5, 9]}}),
                           ("/v1/search", {"query": "turbine", "scope": {"kinds": ["figure"]}})):
            r = client.post(path, json=body)
            assert r.status_code == 422, (path, r.text)
            assert r.json()["error"]["type"] == "invalid_request_error"
    index.close()


def test_mcp_tools_take_a_scope(corpus: tuple[Path, Path]):
    from mcp.server.mcpserver.exceptions import ToolError

    from app.mcp_server import create_mcp_server

    settings = Settings()
    index = Index(IndexReader(corpus[1]), settings, embedder=FakeEmbedder(), llm=ScriptedLLM("It covers blades [1]."))
    server = create_mcp_server(index, settings)

    async def calls() -> list[Any]:
        return [await server.call_tool("search", {"query": "turbine revenue", "k": 9, "documents": ["*GLOBEX*"]}),
                await server.call_tool("ask", {"question": "warranty?", "documents": ["manual.pdf"], "pages": "2-2"})]

    hits, answer = anyio.run(calls)
    assert {Path(h["source"]).name for h in hits.structured_content["hits"]} == {"GLOBEX_2020_10K.txt"}
    citations = answer.structured_content["citations"]
    assert citations and all(c["label"].endswith("manual.pdf p.2") for c in citations)
    for tool, args in (("search", {"query": "turbine", "documents": ["nope*"]}),
                       ("ask", {"question": "turbine?", "pages": "4-1"})):
        with pytest.raises(ToolError, match="matches none|first page is after the last"):
            anyio.run(server.call_tool, tool, args)
    index.close()


def test_settings_give_a_default_scope_that_a_question_scope_replaces(reader: IndexReader, tmp_path: Path):
    from app.settings import load_settings

    config = tmp_path / "docqa.toml"
    config.write_text('[search]\ndocuments = ["*GLOBEX*", "tool.py"]\nroute = false\n')
    settings = load_settings(config, env={})
    assert settings.search.documents == ("*GLOBEX*", "tool.py")
    s = Searcher(reader, FakeEmbedder(), settings.search)
    assert names(s.search("turbine revenue", 20)) == {"GLOBEX_2020_10K.txt", "tool.py"}
    assert names(s.search("turbine revenue", 20, scope=Scope(("manual.pdf",)))) == {"manual.pdf"}
    from_env = load_settings(env={"DOCQA_SEARCH_KINDS": "code", "DOCQA_SEARCH_PAGES": ""})
    assert from_env.search.kinds == ("code",)
    assert {h.passage.kind for h in Searcher(reader, FakeEmbedder(), from_env.search).search("turbine", 20)} == {
        "code"}
    with pytest.raises(InputError, match="pages must be"):
        load_settings(env={"DOCQA_SEARCH_PAGES": "two"})
    with pytest.raises(InputError, match="unknown kinds"):
        load_settings(env={"DOCQA_SEARCH_KINDS": "prose,figure"})
