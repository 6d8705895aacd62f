"""Several indexes searched as one (retrieval/multi.py): the same dense hits as one index holding every
passage, ids qualified by the index's name, citations that resolve, ``index:NAME`` scopes, and one-line errors;
through the SDK, the CLI and the HTTP server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.cli import main
from app.sdk import Index
from ingest.core.errors import IndexMismatchError, IndexMissingError, InputError
from ingest.core.registry import LLMS
from ingest.core.settings import CacheSettings, LLMSettings, Settings
from retrieval.multi import index_specs, open_reader
from retrieval.scope import Scope
from retrieval.store import IndexReader
from tests.fakes import FakeEmbedder, ScriptedLLM
from tests.test_server import running

HARBOUR = {
    "harbour.txt": "The harbour of Vellmar was dredged in 1921.\nShips of deeper draught could then dock.\n\n"
                   "The lighthouse keeper, Ida Marsh, kept a log of every arrival for forty years.\n",
    "ferry.txt": "The ferry to Osterby leaves the harbour at dawn.\n\nIt carries forty cars and the mail.\n",
}
RAIL = {
    "rail.txt": "The railway reached Vellmar in 1889.\nThe station has two platforms.\n\n"
                "Trains run hourly to Osterby.\nThe line was electrified in 1962.\n",
    "tram.txt": "A horse tram ran from the station to the harbour until 1911.\n\nIts depot is now a museum.\n",
}
REPLY = "The railway reached Vellmar in 1889 [1]."
SMALL = Settings().replace(split={"chunk_tokens": 24, "overlap_tokens": 4})  # a passage per paragraph


def _write(root: Path, docs: dict[str, str]) -> list[Path]:
    root.mkdir(parents=True, exist_ok=True)
    for name, text in docs.items():
        (root / name).write_text(text)
    return [root / name for name in docs]


@pytest.fixture(scope="module")
def indexes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Index "harbour" and index "rail" (fake embedder), and "union" of all their files."""
    root = tmp_path_factory.mktemp("multi")
    harbour, rail = _write(root / "docs", HARBOUR), _write(root / "docs", RAIL)
    for name, files in (("harbour", harbour), ("rail", rail), ("union", harbour + rail)):
        Index.build(files, root / name, settings=SMALL, embedder=FakeEmbedder()).close()
    return {name: root / name for name in ("harbour", "rail", "union")}


@pytest.fixture
def both(indexes: dict[str, Path]) -> Iterator[Index]:
    index = Index(open_reader([str(indexes["harbour"]), str(indexes["rail"])]), Settings(), embedder=FakeEmbedder(),
                  llm=ScriptedLLM(REPLY, REPLY))
    yield index
    index.close()


def _unqualified(pid: str) -> str:
    return pid.split(":", 1)[1]


@pytest.mark.parametrize("scope", [None, Scope.of(kinds=["prose"])])
def test_dense_hits_across_indexes_are_those_of_one_index_holding_every_passage(both: Index, indexes, scope):
    union = Index(IndexReader(indexes["union"]), Settings(), embedder=FakeEmbedder())
    try:
        for query in ("when did the railway reach Vellmar", "harbour ferry dawn", "museum depot tram"):
            multi = both.search(query, 4, mode="dense", scope=scope)
            one = union.search(query, 4, mode="dense", scope=scope)
            assert [round(h.score, 5) for h in multi] == [round(h.score, 5) for h in one]
            last = round(one[-1].score, 5)  # passages tied at the cut may come in either order
            assert {_unqualified(h.passage.id) for h in multi if round(h.score, 5) > last} == \
                {h.passage.id for h in one if round(h.score, 5) > last}
            assert {h.passage.id.split(":")[0] for h in multi} <= {"harbour", "rail"}
        hybrid = both.search("when did the railway reach Vellmar", 3)  # the default mode: RRF of the merged lists
        assert hybrid[0].passage.id.startswith("rail:") and "1889" in hybrid[0].passage.text
    finally:
        union.close()


def test_large_sets_are_searched_on_one_thread_per_index_with_the_same_hits(both: Index,
                                                                             monkeypatch: pytest.MonkeyPatch):
    import threading

    import retrieval.multi as multi

    query = "when did the railway reach Vellmar"
    before = {mode: [(h.passage.id, h.score) for h in both.search(query, 5, mode=mode)]
              for mode in ("dense", "bm25", "hybrid")}
    threads: set[str] = set()
    for reader in both.reader.readers.values():
        for method in ("dense", "bm25"):
            search = getattr(reader, method)

            def spy(*args, _search=search, **kwargs):
                threads.add(threading.current_thread().name)
                return _search(*args, **kwargs)

            monkeypatch.setattr(reader, method, spy)
    assert both.search(query, 5, mode="dense") and threads == {threading.current_thread().name}  # small: in turn
    threads.clear()
    monkeypatch.setattr(multi, "PARALLEL_ABOVE", 0)
    after = {mode: [(h.passage.id, h.score) for h in both.search(query, 5, mode=mode)]
             for mode in ("dense", "bm25", "hybrid")}
    assert after == before
    assert threads and all(name.startswith("docqa-index") for name in threads)


def test_ids_are_qualified_and_resolve_to_their_document_and_lines(both: Index, indexes):
    answer = both.ask("When did the railway reach Vellmar?")
    assert answer.text.startswith("The railway reached Vellmar in 1889")
    cited = answer.citations[0].passage
    assert cited.id.startswith("rail:p-") and cited.doc_id.startswith("rail:")
    assert cited.source.endswith("rail.txt") and cited.lines == (1, 2)
    assert both.reader.passage_by_id(cited.id) == cited
    assert both.reader.passage_by_id(_unqualified(cited.id)) is None  # an id without its index's name
    own = IndexReader(indexes["rail"])
    try:
        assert own.passage_by_id(_unqualified(cited.id)).text == cited.text
    finally:
        own.close()
    docs = {d.doc_id: d for d in both.documents()}
    assert docs[cited.doc_id].text[cited.chars[0]:cited.chars[1]] == cited.text
    assert [p.id for p in both.doc_passages()[cited.doc_id]][0] == cited.id
    assert {s["index"] for s in both.manifest.sources} == {"harbour", "rail"}
    assert both.manifest.counts["documents"] == 4


def test_whole_files_and_coarse_to_fine_search_across_indexes(both: Index):
    files = both.search("railway Vellmar station platforms", 2, level="file")
    assert [h.passage.splitter for h in files] == ["file", "file"]
    assert files[0].passage.doc_id.startswith("rail:") and files[0].passage.source.endswith("rail.txt")
    coarse = both.search("railway Vellmar station platforms", 5, docs=1)  # passages of the best file only
    assert {h.passage.doc_id for h in coarse} == {files[0].passage.doc_id}


def test_scope_to_one_index_and_its_errors(both: Index):
    hits = both.search("harbour railway Vellmar", 10, scope=Scope.of(["index:harbour"]))
    assert hits and all(h.passage.id.startswith("harbour:") for h in hits)
    doc = next(h.passage.doc_id for h in hits)
    assert {h.passage.doc_id for h in both.search("Vellmar", 10, scope=Scope.of([doc]))} == {doc}  # a doc id
    assert all(h.passage.source.endswith("rail.txt")
               for h in both.search("Vellmar", 5, scope=Scope.of(["rail.txt"])))  # a path, as for one index
    with pytest.raises(InputError, match=r"^scope: 'index:road': no index of that name is searched "
                                         r"\(indexes: harbour, rail\)$"):
        both.search("Vellmar", 3, scope=Scope.of(["index:road"]))


def test_bad_paths_names_and_embedders_are_one_line_errors(indexes, tmp_path: Path):
    with pytest.raises(IndexMissingError, match="nowhere: no docqa index here"):
        open_reader([str(indexes["harbour"]), str(tmp_path / "nowhere")])
    with pytest.raises(InputError, match="the name 'harbour' is given twice"):
        index_specs([indexes["harbour"], f"harbour={indexes['rail']}"])
    with pytest.raises(InputError, match="must be letters"):
        index_specs([f"a b={indexes['rail']}"])
    assert index_specs([f"two={indexes['rail']}", indexes["harbour"]]) == {"two": indexes["rail"],
                                                                          "harbour": indexes["harbour"]}
    _write(tmp_path / "docs", {"x.txt": "Other words entirely.\n"})
    Index.build([tmp_path / "docs" / "x.txt"], tmp_path / "other", settings=Settings(),
                embedder=FakeEmbedder(name="other")).close()
    with pytest.raises(IndexMismatchError, match=r"^index 'other' \(.*\) was built with a different embedder than "
                                                 r"'harbour' \(model: fake -> other\)"):
        open_reader([str(indexes["harbour"]), str(tmp_path / "other")])


def test_the_http_server_searches_and_answers_over_two_indexes(both: Index):
    with running(both, Settings(), api_key="") as base:
        hits = httpx.post(f"{base}/v1/search", json={"query": "railway station platforms 1889", "k": 3},
                           timeout=30).json()
        assert hits["hits"][0]["id"].startswith("rail:") and hits["hits"][0]["label"].endswith("rail.txt:1-2")
        scoped = httpx.post(f"{base}/v1/search", json={"query": "railway station platforms 1889", "k": 5,
                                                      "scope": {"documents": ["index:harbour"]}}, timeout=30).json()
        assert scoped["hits"] and all(h["id"].startswith("harbour:") for h in scoped["hits"])
        bad = httpx.post(f"{base}/v1/search", json={"query": "Vellmar", "scope": {"documents": ["index:road"]}},
                         timeout=30)
        assert bad.status_code == 422 and "no index of that name" in bad.json()["error"]["message"]
        answer = httpx.post(f"{base}/v1/ask", json={"question": "When did the railway reach Vellmar?"},
                            timeout=60).json()
        cited = answer["citations"][0]
        pid = cited["passage_id"]
        assert pid.startswith("rail:") and cited["source"].endswith("rail.txt") and cited["lines"] == [1, 2]
        passage = httpx.get(f"{base}/v1/passages/{pid}", timeout=30)
        assert passage.status_code == 200 and "1889" in passage.json()["text"]
        assert httpx.get(f"{base}/v1/passages/{_unqualified(pid)}", timeout=30).status_code == 404
        documents = httpx.get(f"{base}/v1/documents", timeout=30).json()["documents"]
        assert sorted(d["index"] for d in documents) == ["harbour", "harbour", "rail", "rail"]
        assert httpx.get(f"{base}/health", timeout=30).json()["documents"] == 4


def scripted_llm(settings: LLMSettings, cache: CacheSettings | None = None) -> ScriptedLLM:
    """Registry factory: a model that answers every question with REPLY."""
    return ScriptedLLM(*[REPLY] * 8)


@pytest.fixture
def cli_indexes(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """Two indexes built by ``docqa index`` (the default embedder), and a scripted model for ``--backend``."""
    for name, docs in (("harbour", HARBOUR), ("rail", RAIL)):
        assert main(["index", *map(str, _write(tmp_path / name / "docs", docs)), "--index", str(tmp_path / name),
                     "--quiet"]) == 0
    LLMS.register("scripted-multi", scripted_llm)
    yield tmp_path / "harbour", tmp_path / "rail"
    LLMS.unregister("scripted-multi")


@pytest.mark.slow
def test_the_cli_searches_and_asks_two_indexes(capsys: pytest.CaptureFixture[str], cli_indexes, tmp_path: Path):
    harbour, rail = map(str, cli_indexes)
    capsys.readouterr()
    assert main(["search", "--index", harbour, "--index", f"trains={rail}", "when did the railway reach Vellmar",
                 "-k", "3", "--json"]) == 0
    hits = json.loads(capsys.readouterr().out)
    assert hits[0]["id"].startswith("trains:") and "1889" in hits[0]["text"]
    assert {h["id"].split(":")[0] for h in hits} <= {"harbour", "trains"}
    assert main(["search", "--index", harbour, "--index", rail, "railway", "--doc", "index:harbour", "--json"]) == 0
    assert all(h["id"].startswith("harbour:") for h in json.loads(capsys.readouterr().out))
    assert main(["ask", "--index", harbour, "--index", rail, "When did the railway reach Vellmar?",
                 "--backend", "scripted-multi", "--rerank", "none", "--json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["citations"][0]["passage_id"].startswith("rail:") and answer["citations"][0]["lines"][0] == 1
    for argv, needle in (
            (["search", "--index", harbour, "--index", str(tmp_path / "nowhere"), "railway"], "no docqa index here"),
            (["search", "--index", harbour, "--index", rail, "railway", "--doc", "index:road"], "index:road"),
            (["serve", "--index", harbour, "--index", str(tmp_path / "nowhere")], "nowhere")):
        assert main(argv) == 1
        lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("docqa: error:")]
        assert len(lines) == 1 and needle in lines[0], lines


@pytest.mark.slow
def test_the_settings_name_the_indexes_when_no_index_flag_does(capsys: pytest.CaptureFixture[str], cli_indexes,
                                                                tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    harbour, rail = map(str, cli_indexes)
    monkeypatch.delenv("DOCQA_CONFIG", raising=False)
    config = tmp_path / "docqa.toml"
    config.write_text(f'[search]\nindexes = ["{harbour}", "trains={rail}"]\n')
    capsys.readouterr()
    assert main(["--config", str(config), "search", "when did the railway reach Vellmar", "-k", "3", "--json"]) == 0
    hits = json.loads(capsys.readouterr().out)
    assert hits[0]["id"].startswith("trains:") and "1889" in hits[0]["text"]
    # --index replaces the settings' list
    assert main(["--config", str(config), "search", "--index", harbour, "railway", "--json"]) == 0
    assert all(":" not in h["id"] for h in json.loads(capsys.readouterr().out))
    for argv in (["serve"], ["mcp"]):  # no --index and no [search] indexes: one line, exit 1
        assert main(argv) == 1
        lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("docqa: error:")]
        assert len(lines) == 1 and "no index: give --index DIR" in lines[0] and argv[0] in lines[0], lines


@pytest.mark.slow
def test_info_and_status_report_each_index(capsys: pytest.CaptureFixture[str], cli_indexes):
    harbour, rail = map(str, cli_indexes)
    capsys.readouterr()
    assert main(["info", "--index", harbour, "--index", f"trains={rail}"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert set(info["indexes"]) == {"harbour", "trains"} and info["counts"]["documents"] == 4
    assert main(["status", "--index", harbour, "--index", f"trains={rail}", "--json"]) == 0
    reports = json.loads(capsys.readouterr().out)["indexes"]
    assert [r["index"] for r in reports] == ["harbour", "trains"]
    assert all(r["statuses"] == {"indexed": 2} for r in reports)
    assert main(["status", "--index", rail]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{rail}: build ") and out.count("indexed ") == 2
