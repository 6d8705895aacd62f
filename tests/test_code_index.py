"""Code in the index: unit and file vectors (SEA mean aggregation), unit/file search, and code QA end to end."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ingest.code import CodeSplitter
from ingest.core.errors import IndexMismatchError, InputError
from ingest.core.settings import SearchSettings, SplitSettings
from ingest.split import DocumentSplitter, ProseSplitter
from retrieval.build import build_index
from retrieval.search import Searcher
from retrieval.store import IndexReader
from tests.fakes import FakeEmbedder, ScriptedLLM

COUNT = FakeEmbedder().count_tokens

RETRY = '''"""Retry helpers for the HTTP client."""
import random
import time

MAX_ATTEMPTS = 5


def should_retry(status, attempt):
    """Decide the retry policy: retry on server errors and throttling until attempts run out."""
    if attempt >= MAX_ATTEMPTS:
        return False
    return status in (429, 500, 502, 503, 504)


def backoff_delay(attempt, base=0.5):
    """Exponential backoff with jitter, in seconds."""
    return base * (2 ** attempt) + random.random() * base


class RetryingSession:
    """Wraps a session and retries failed requests."""

    def __init__(self, session):
        self.session = session

    def request(self, method, url):
        attempt = 0
        while True:
            response = self.session.request(method, url)
            if not should_retry(response.status, attempt):
                return response
            time.sleep(backoff_delay(attempt))
            attempt += 1
'''

CACHE = '''"""A small least-recently-used cache."""
from collections import OrderedDict


class LRUCache:
    """Keeps the most recently used entries up to a capacity."""

    def __init__(self, capacity):
        self.capacity = capacity
        self.entries = OrderedDict()

    def get(self, key):
        """Return a cached value and mark it as recently used."""
        value = self.entries.pop(key)
        self.entries[key] = value
        return value

    def put(self, key, value):
        """Store a value, evicting the least recently used entry when full."""
        self.entries[key] = value
        if len(self.entries) > self.capacity:
            self.entries.popitem(last=False)
'''

URLS = '''// URL helpers for the web client.
export function joinPath(base, path) {
  return base.replace(/\\/$/, "") + "/" + path.replace(/^\\//, "");
}

export function parseQuery(search) {
  const params = {};
  for (const pair of search.replace(/^\\?/, "").split("&")) {
    const [key, value] = pair.split("=");
    params[decodeURIComponent(key)] = decodeURIComponent(value || "");
  }
  return params;
}
'''

README = """# netlib

netlib is a tiny networking library used in the examples. It ships an HTTP client with retries,
a least-recently-used cache and URL helpers. The project is licensed under the Apache License 2.0.
"""


@pytest.fixture
def code_dir(tmp_path: Path) -> Path:
    root = tmp_path / "src"
    (root / "netlib").mkdir(parents=True)
    (root / "netlib" / "__init__.py").write_text('"""netlib: networking helpers."""\n')
    (root / "netlib" / "retry.py").write_text(RETRY)
    (root / "netlib" / "cache.py").write_text(CACHE)
    (root / "web").mkdir()
    (root / "web" / "urls.js").write_text(URLS)
    (root / "README.md").write_text(README)
    return root


def fake_build(paths: list[Path], idx: Path, *, embedder: FakeEmbedder | None = None, chunk: int = 200):
    embedder = embedder or FakeEmbedder()
    s = SplitSettings(chunk_tokens=chunk, overlap_tokens=min(32, chunk // 4))
    splitter = DocumentSplitter(s, ProseSplitter(s, embedder.count_tokens), CodeSplitter(s, embedder.count_tokens))
    return build_index(paths, idx, embedder=embedder, splitter=splitter)


def test_units_and_files_are_mean_block_vectors(code_dir: Path, tmp_path: Path) -> None:
    fake_build([code_dir], tmp_path / "idx", chunk=48)
    reader = IndexReader(tmp_path / "idx")
    assert reader.has_units and "units" in reader.manifest.files
    assert reader.manifest.splitter["code"] == "ast"
    passages, vectors = reader.all_passages(), reader.vectors()
    n_units = sum(1 for _ in reader._db.execute("SELECT row FROM units"))
    units = reader.units(list(range(n_units)))
    import faiss

    unit_vectors = faiss.read_index(str(reader.directory / reader.manifest.files["units"])).reconstruct_n(0, n_units)
    kinds = [u.kind for u in units]
    assert kinds == sorted(kinds, key=lambda k: k != "unit")  # unit rows first, then file rows
    assert {u.source for u in units if u.kind == "file"} == {p.source for p in passages}  # one per document
    for u, v in zip(units, unit_vectors, strict=True):
        mean = vectors[list(u.members)].mean(axis=0)
        assert np.allclose(v, mean / np.linalg.norm(mean), atol=1e-5)
        assert len(u.members) >= 1
    by_symbol = {u.symbol: u for u in units if u.kind == "unit"}
    session = by_symbol["netlib.retry.RetryingSession"]  # a class holds all its members' blocks
    assert {passages[r].symbol for r in session.members} >= {"netlib.retry.RetryingSession.request"}
    request = by_symbol["netlib.retry.RetryingSession.request"]
    assert len(request.members) > 1  # a long method: several SEA blocks, one unit vector
    assert request.lines == (min(passages[r].lines[0] for r in request.members),
                             max(passages[r].lines[1] for r in request.members))
    assert "web.urls.joinPath" not in by_symbol and "urls.joinPath" in by_symbol
    reader.close()


def test_unit_and_file_search_return_whole_spans(code_dir: Path, tmp_path: Path) -> None:
    embedder = FakeEmbedder()
    fake_build([code_dir], tmp_path / "idx", embedder=embedder, chunk=48)
    reader = IndexReader(tmp_path / "idx")
    searcher = Searcher(reader, embedder, SearchSettings())
    top = searcher.search("request session response status attempt sleep backoff", 3, level="unit")[0].passage
    assert top.symbol == "netlib.retry.RetryingSession.request" and top.splitter == "unit" and top.kind == "code"
    retry_py = str(code_dir / "netlib" / "retry.py")
    assert top.label == f"{retry_py}:{top.lines[0]}-{top.lines[1]}"
    assert top.text.startswith("    def request(self, method, url):") and top.text.endswith("attempt += 1")
    assert RETRY.split("\n")[top.lines[0] - 1] == "    def request(self, method, url):"
    files = searcher.search("least recently used cache capacity entries", 5, level="file")
    assert files[0].passage.source.endswith("cache.py") and files[0].passage.splitter == "file"
    assert files[0].passage.text == CACHE and files[0].passage.lines == (1, CACHE.count("\n"))
    prose = searcher.search("project licensed Apache License", 5, level="file")[0].passage
    assert prose.source.endswith("README.md") and prose.kind == "prose" and prose.symbol is None
    assert all(h.passage.splitter == "unit" for h in searcher.search("cache", 50, level="unit"))
    with pytest.raises(InputError, match="dense only"):
        searcher.search("cache", 3, mode="bm25", level="unit")
    with pytest.raises(InputError, match="level"):
        searcher.search("cache", 3, level="module")
    with pytest.raises(InputError, match="unknown search mode 'x'; valid: dense, bm25, hybrid"):
        searcher.search("cache", 3, mode="x")  # type: ignore[arg-type]
    reader.close()


def test_index_without_unit_vectors_says_to_rebuild(code_dir: Path, tmp_path: Path) -> None:
    idx = tmp_path / "idx"
    fake_build([code_dir / "netlib"], idx)
    manifest = json.loads((idx / "manifest.json").read_text())
    del manifest["files"]["units"]  # what an index from before unit vectors looks like
    (idx / "manifest.json").write_text(json.dumps(manifest))
    reader = IndexReader(idx)
    assert not reader.has_units
    assert reader.dense(FakeEmbedder().embed_queries(["cache"])[0], 2)  # passage search still works
    with pytest.raises(IndexMismatchError, match="rebuild"):
        Searcher(reader, FakeEmbedder(), SearchSettings()).search("cache", 3, level="unit")
    reader.close()


def test_rebuild_replaces_unit_files_and_add_keeps_units(code_dir: Path, tmp_path: Path) -> None:
    idx = tmp_path / "idx"

    def unit_symbols() -> set[str | None]:
        reader = IndexReader(idx)
        rows = [r for (r,) in reader._db.execute("SELECT row FROM units")]
        symbols = {u.symbol for u in reader.units(rows) if u.kind == "unit"}
        reader.close()
        return symbols

    first = fake_build([code_dir / "netlib"], idx).manifest.files["units"]
    second = fake_build([code_dir / "web"], idx).manifest.files["units"]  # replaces the corpus
    names = {p.name for p in idx.iterdir()}
    assert first not in names and second in names
    assert "urls.parseQuery" in unit_symbols() and "netlib.cache.LRUCache" not in unit_symbols()
    s = SplitSettings()
    splitter = DocumentSplitter(s, ProseSplitter(s, COUNT), CodeSplitter(s, COUNT))
    report = build_index([code_dir / "netlib"], idx, embedder=FakeEmbedder(), splitter=splitter, add=True)
    assert report.documents == 4 and report.reused > 0
    assert {"urls.parseQuery", "netlib.cache.LRUCache", "netlib.retry.should_retry"} <= unit_symbols()


@pytest.mark.slow
def test_code_directory_end_to_end_with_real_embedder(code_dir: Path, tmp_path: Path, capsys) -> None:
    """Real MiniLM: build an index of a code directory (plus a README), find the function, cite path:lines."""
    from app.cli import main
    from app.sdk import Index

    idx = tmp_path / "idx"
    index = Index.build([code_dir], idx)
    assert index.manifest.splitter["code"] == "ast"
    retry_py = str(code_dir / "netlib" / "retry.py")
    first = RETRY.split("\n").index("def should_retry(status, attempt):") + 1
    last = RETRY.split("\n").index("    return status in (429, 500, 502, 503, 504)") + 1

    hits = index.search("where is the retry policy decided?", 3, mode="dense")
    assert hits[0].passage.symbol == "netlib.retry.should_retry"
    assert hits[0].passage.label == f"{retry_py}:{first}-{last}"
    unit = index.search("where is the retry policy decided?", 3, level="unit")[0].passage
    assert unit.symbol == "netlib.retry.should_retry" and unit.label == f"{retry_py}:{first}-{last}"
    cache = index.search("evict the least recently used entry", 3, level="unit")[0].passage
    assert cache.symbol in ("netlib.cache.LRUCache.put", "netlib.cache.LRUCache")
    assert index.search("parse the query string of a URL", 1, level="file")[0].passage.source.endswith("urls.js")
    assert index.search("what license is the project under?", 1, level="file")[0].passage.source.endswith("README.md")

    # answering: the prompt shows path:lines and the symbol; citations render as path:start-end
    llm = ScriptedLLM("Retries are decided by should_retry [1].")
    with Index.open(idx, llm=llm) as opened:
        answer = opened.ask("Where is the retry policy decided?")
    prompt = llm.calls[0][-1].content
    assert f"{retry_py}:{first}-{last} (netlib.retry.should_retry)" in prompt
    assert answer.citations and answer.citations[0].label == f"{retry_py}:{first}-{last}"

    code = main(["search", "--index", str(idx), "--level", "unit", "--json", "-k", "2",
                 "where is the retry policy decided?"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out[0]["symbol"] == "netlib.retry.should_retry"
    assert out[0]["label"] == f"{retry_py}:{first}-{last}"
    index.close()
