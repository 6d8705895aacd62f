"""One registry for pluggable parts: built-ins by path, third-party parts through entry points."""

from __future__ import annotations

import importlib.metadata
import sys
from pathlib import Path

import pytest

from app.factory import llm_names, make_reranker, reranker_names
from ingest.core.errors import UnknownBackendError
from ingest.core.records import Ranked
from ingest.core.registry import Registry
from ingest.core.settings import RerankSettings
from tests.fakes import StaticSearcher
from tests.test_answer import _p

PLUGIN = '''
from ingest.core.records import StageTrace


class ReverseReranker:
    """A third-party reranker: reverses the first-stage order."""

    name = "reverse"

    def __init__(self, llm_factory, settings):
        self.settings = settings

    def rank(self, query, candidates, *, top_k):
        return list(reversed(candidates))[:top_k], StageTrace("rerank", self.name)
'''


@pytest.fixture
def plugin_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An installed distribution (a dist-info on sys.path) whose entry point registers the reranker "reverse"."""
    (tmp_path / "docqa_reverse.py").write_text(PLUGIN)
    info = tmp_path / "docqa_reverse-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: docqa-reverse\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[docqa.rerankers]\nreverse = docqa_reverse:ReverseReranker\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    yield tmp_path
    sys.modules.pop("docqa_reverse", None)


def test_builtins_are_registered_by_name() -> None:
    assert {"llama-cpp", "transformers"} <= set(llm_names())
    assert {"none", "full", "full-logits", "window", "pointwise"} <= set(reranker_names())


def test_a_third_party_reranker_loads_from_its_entry_point(plugin_package: Path) -> None:
    registry = Registry("reranker", "docqa.rerankers")  # a fresh registry reads the entry points anew
    assert registry.names() == ["reverse"]
    reranker = registry.get("reverse")(None, RerankSettings())
    ranked = [Ranked(_p(i), 1.0 / i) for i in (1, 2, 3)]
    out, trace = reranker.rank("q", ranked, top_k=2)
    assert [r.passage.id for r in out] == ["p3", "p2"] and trace.method == "reverse"


def test_the_pipeline_uses_a_plugin_chosen_in_the_settings(plugin_package: Path) -> None:
    from app.factory import build_pipeline
    from ingest.core.registry import RERANKERS
    from ingest.core.settings import Settings
    from tests.fakes import FakeEmbedder, ScriptedLLM

    RERANKERS.refresh()  # the process-wide registry was read before the plugin was installed
    passages = [_p(i, f"passage number {i}") for i in (1, 2, 3)]
    searcher = StaticSearcher(passages)
    settings = Settings().replace(answer={"rerank": "reverse", "top_k": 3, "verify": "none"})
    try:
        answer = build_pipeline(settings, retriever=searcher, corpus=searcher, embedder=FakeEmbedder(),
                                llm=ScriptedLLM("It is passage three [1].")).run("which passage?")
    finally:
        RERANKERS.unregister("reverse")
    assert [p.id for p in answer.passages] == ["p3", "p2", "p1"] and answer.stage("rerank").method == "reverse"


def test_unknown_names_list_the_known_ones() -> None:
    with pytest.raises(UnknownBackendError, match="unknown reranker 'bogus'; known: full, full-logits"):
        make_reranker("bogus", lambda: None, RerankSettings())  # type: ignore[arg-type, return-value]
    registry = Registry("widget", "docqa.no-such-group")
    registry.register("a", "ingest.core.text:check_question")
    with pytest.raises(ValueError, match="duplicate widget 'a'"):
        registry.register("a", "x:y")
    assert registry.get("a")("  q ") == "q"  # registered by path, imported on first use
