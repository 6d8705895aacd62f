"""Every pipeline decision is an injected part; the stream object; follow-ups in the pipeline; the runtime."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import pytest

from app.factory import build_pipeline
from app.parts import Direct, NoShortcut, Search
from app.pipeline import AnswerStream
from app.runtime import Runtime
from app.sdk import Conversation, Index
from generation.answer import Checked, Draft, FormulaCalculator, Verifier
from generation.number_check import Asked
from generation.prompt import NOT_FOUND
from generation.select import Corpus
from ingest.core.records import Answer, Message, Passage, Ranked, StageTrace
from ingest.core.settings import CacheSettings, LLMSettings, Settings
from retrieval.scope import Scope
from retrieval.search import Retrieval
from tests.fakes import FakeEmbedder, ScriptedLLM, StaticSearcher, pipeline_over


def _p(n: int, text: str, doc: str = "d1") -> Passage:
    return Passage(f"p{n}", doc, f"{doc}.txt", text, (n * 100, n * 100 + len(text)), lines=(n, n))


PASSAGES = [_p(1, "The bridge opened in 1932."), _p(2, "It is 503 metres long.")]


class TableShortcut:
    """A direct answerer that answers questions about length from a search of its own."""

    name = "test-shortcut"

    def __init__(self) -> None:
        self.searched: list[tuple[str, int, Scope | None]] = []

    def answer(self, question: str, *, search: Search, retrieval: Retrieval, scope: Scope | None,
               candidates: Sequence[Ranked], corpus: Corpus | None) -> Direct | None:
        if "long" not in question:
            return None
        found = search("length metres", 1, scope)
        self.searched.append(("length metres", 1, scope))
        p = found.hits[0].passage
        return Direct(StageTrace("shortcut", self.name, details=("answered from a search",)),
                      Answer(question=question, text=f"{p.text} [1]", citations=(), passages=(p,), model="none"))


def test_an_injected_shortcut_answers_without_the_model_and_is_in_the_trace():
    llm = ScriptedLLM()  # no replies: a model call would fail
    shortcut = TableShortcut()
    searcher = StaticSearcher(PASSAGES)
    pipeline = build_pipeline(Settings(), retriever=searcher, corpus=searcher, embedder=FakeEmbedder(), llm=llm,
                              shortcut=shortcut)
    answer = pipeline.run("How long is it?")
    assert answer.text.startswith("The bridge opened") and not llm.calls and shortcut.searched
    assert [s.name for s in answer.trace] == ["retrieve", "shortcut"]
    assert pipeline.shortcut is shortcut


def test_the_general_shortcut_answers_nothing_and_compute_picks_the_figures_stage():
    searcher = StaticSearcher(PASSAGES)
    general = build_pipeline(Settings().replace(answer={"compute": False}), retriever=searcher, corpus=searcher,
                             embedder=FakeEmbedder(), llm=ScriptedLLM())
    assert isinstance(general.shortcut, NoShortcut) and general.shortcut.name == "general"
    figures = build_pipeline(Settings().replace(answer={"compute": True}), retriever=searcher, corpus=searcher,
                             embedder=FakeEmbedder(), llm=ScriptedLLM())
    assert figures.shortcut.name == "figures" and isinstance(figures.calculator, FormulaCalculator)


def test_build_pipeline_takes_every_part_and_needs_a_selector_or_what_builds_one():
    from ingest.core.errors import InputError

    llm = ScriptedLLM()
    base = pipeline_over(PASSAGES, llm)
    parts = {name: getattr(base, name) for name in ("shortcut", "selector", "reranker", "generator", "verifier",
                                                    "calculator")}
    again = build_pipeline(Settings(), retriever=base.retriever, **parts)  # no llm, corpus, embedder needed
    assert all(getattr(again, name) is part for name, part in parts.items())
    with pytest.raises(InputError, match="give a selector"):
        build_pipeline(Settings(), retriever=base.retriever, llm=llm)


class CountingCalculator:
    def __init__(self) -> None:
        self.calls = 0

    def calculate(self, question: str, draft: Draft) -> tuple[Checked, Draft]:
        self.calls += 1
        return Checked("computed [1]", draft.citations, (), (StageTrace("compute", "test"),)), draft


def test_the_calculator_is_a_part_run_before_the_verifier_only_for_a_calculation():
    calc = CountingCalculator()
    searcher = StaticSearcher(PASSAGES)
    settings = Settings().replace(answer={"compute": True})
    pipeline = build_pipeline(settings, retriever=searcher, corpus=searcher, embedder=FakeEmbedder(),
                              llm=ScriptedLLM("CALCULATION", "It opened in 1932 [1]."), calculator=calc,
                              shortcut=NoShortcut())
    derived = pipeline.run("What is the ratio of the length to the year, as a percentage?")
    assert calc.calls == 1 and derived.stage("compute") is not None
    plain = pipeline.run("When did it open?")
    assert calc.calls == 1 and plain.stage("compute") is None and plain.stage("verify") is not None
    assert isinstance(pipeline.verifier, Verifier)


def test_a_scoped_selector_reads_only_what_the_scope_allows():
    pipeline = pipeline_over([*PASSAGES, _p(3, "Other document.", "d2")], ScriptedLLM())
    scoped = pipeline.selector.scoped(lambda p: p.doc_id == "d2")
    assert {d: [p.id for p in ps] for d, ps in scoped.corpus.doc_passages().items()} == {"d2": ["p3"]}
    assert scoped.settings is pipeline.selector.settings and scoped.llm is pipeline.selector.llm
    assert set(pipeline.selector.corpus.doc_passages()) == {"d1", "d2"}  # the injected one is unchanged


def test_the_stream_object_yields_text_then_holds_the_answer():
    stream = pipeline_over(PASSAGES, ScriptedLLM("It opened in 1932 [1]."), verify="none").stream("When?")
    assert isinstance(stream, AnswerStream)
    with pytest.raises(RuntimeError, match="read the stream to its end"):
        _ = stream.answer
    seen: list[Answer] = []
    stream.on_answer(seen.append)
    pieces = list(stream)
    assert all(isinstance(p, str) for p in pieces) and "".join(pieces) == "It opened in 1932 [1]."
    assert seen == [stream.answer] and stream.answer.text == "It opened in 1932 [1]."
    late: list[Answer] = []
    stream.on_answer(late.append)  # registered after the end: called at once
    assert late == seen and list(stream) == [] and stream.finish() is stream.answer


def test_a_stream_closed_early_has_no_answer():
    stream = pipeline_over(PASSAGES, ScriptedLLM("It opened in 1932 [1]."), verify="none").stream("When?")
    assert next(stream) == "It "
    stream.close()
    with pytest.raises(RuntimeError, match="not ready"):
        stream.finish()


def test_history_makes_the_pipeline_rewrite_a_follow_up_and_trace_it():
    llm = ScriptedLLM("How long is the bridge?", "It is 503 metres long [2].")
    history = [Message("user", "When did the bridge open?"), Message("assistant", "In 1932 [1].")]
    stream = pipeline_over(PASSAGES, llm, verify="none").stream("How long is it?", history=history)
    answer = stream.finish()
    assert stream.rewrite is not None and stream.rewrite.standalone == "How long is the bridge?"
    assert answer.question == "How long is the bridge?" and "How long is the bridge?" in llm.calls[1][-1].content
    followup = answer.trace[0]
    assert followup.name == "followup" and followup.outcome == "rewritten" and followup.calls == 1
    assert followup.details[:2] == ("history: 1 turn(s): 'When did the bridge open?'", "asked: 'How long is it?'")


@pytest.fixture
def index(tmp_path: Path) -> Index:
    (tmp_path / "bridge.txt").write_text("The bridge opened in 1932.\n\nIt is 503 metres long.\n")
    return Index.build([tmp_path / "bridge.txt"], tmp_path / "idx", embedder=FakeEmbedder(),
                       llm=ScriptedLLM("It opened in 1932 [1].", "How long is the bridge?", "It is 503 metres [1]."))


def test_a_conversation_keeps_its_turns_and_rewrites_follow_ups(index: Index):
    chat = index.conversation()
    assert isinstance(chat, Conversation)
    first = chat.ask("When did the bridge open?")
    assert first.stage("followup") is None and len(chat.messages) == 2
    second = chat.ask_stream("How long is it?")
    "".join(second)
    assert second.answer.question == "How long is the bridge?" and second.answer.stage("followup") is not None
    assert [m.role for m in chat.messages] == ["user", "assistant", "user", "assistant"]
    assert chat.messages[2].content == "How long is the bridge?" and chat.answers[-1] is second.answer
    chat.clear()
    assert not chat.messages and not chat.answers
    index.close()


class Closable:
    def __init__(self) -> None:
        self.closed = False

    def close(self) -> None:
        self.closed = True


def test_the_runtime_shares_models_by_settings_one_queue_per_model_and_closes_them(monkeypatch):
    import app.runtime

    built: list[Closable] = []
    monkeypatch.setattr(app.runtime, "make_llm", lambda s, c: built.append(Closable()) or built[-1])
    rt = Runtime(max_llms=1)
    a = rt.llm(LLMSettings(), CacheSettings())
    assert rt.llm(LLMSettings(), CacheSettings()) is a and len(built) == 1
    queue = rt.answer_queue(a, capacity=2)
    assert rt.answer_queue(a, capacity=5) is queue and queue.capacity == 2
    b = rt.llm(LLMSettings(model="other.gguf"), CacheSettings())  # over max_llms: a is let go, not closed
    assert b is not a and rt.held()["llms"] == 1 and not a.closed  # type: ignore[attr-defined]
    assert rt.answer_queue(a, capacity=2) is queue  # a model still in use keeps its queue
    rt.close()
    assert b.closed and rt.held() == {"llms": 0, "embedders": 0}  # type: ignore[attr-defined]


class PartShortcut:
    """A shortcut that answers nothing but says which part of the company the question asks about."""

    name = "part-shortcut"

    def answer(self, question: str, *, search: Search, retrieval: Retrieval, scope: Scope | None,
               candidates: Sequence[Ranked], corpus: Corpus | None) -> Direct | None:
        return Direct(StageTrace("shortcut", self.name, details=("a part asked",)), asked=Asked(part="Brazil"))


def test_a_part_the_shortcut_names_reaches_the_number_check():
    """A sentence naming the part must cite a place that names it: the company's total is not Brazil's."""
    region = Passage("r", "d1", "d1.txt", "Net sales in Brazil were $1,412 million. Total net sales were $24,977 "
                     "million.", (0, 80), lines=(1, 1))

    def run(reply: str) -> Answer:
        searcher = StaticSearcher([region])
        pipeline = build_pipeline(Settings().replace(answer={"evidence_tokens": 0}), retriever=searcher,
                                  corpus=searcher, embedder=FakeEmbedder(), llm=ScriptedLLM(reply),
                                  shortcut=PartShortcut())
        return pipeline.run("What were the company's net sales in Brazil in 2019?")

    total = run("Net sales in Brazil were $24,977 million [1].")
    assert total.text == NOT_FOUND and total.stage("numbers").outcome == "withheld"
    assert any("does not name Brazil" in str(w) for w in total.warnings)
    assert run("Net sales in Brazil were $1,412 million [1].").text == "Net sales in Brazil were $1,412 million [1]."


class StatingSearcher(StaticSearcher):
    """A first stage whose plan found the sentence that states what the question needs."""

    def retrieve(self, query: str, k: int, *, scope: Scope | None = None) -> Retrieval:
        found = super().retrieve(query, k, scope=scope)
        p = self.passages[0]
        start = p.text.index("We had")
        return dataclasses.replace(found, stated=((p, (start, p.text.index(".", start) + 1)),))


def test_a_sentence_stating_a_planned_need_is_kept_in_a_tight_evidence_budget():
    text = " ".join(f"Filler sentence number {i} about offices and leases." for i in range(40))
    long = Passage("l", "d1", "d1.txt", f"{text} We had approximately 37,000 employees. {text}", (0, 5000),
                   lines=(1, 1))
    searcher = StatingSearcher([long])
    llm = ScriptedLLM("It had about 37,000 employees [1].")
    pipeline = build_pipeline(Settings().replace(answer={"evidence_tokens": 40}), retriever=searcher, corpus=searcher,
                              embedder=FakeEmbedder(), llm=llm, shortcut=NoShortcut())
    answer = pipeline.run("How many people worked there?")
    assert "We had approximately 37,000 employees." in llm.calls[0][1].content
    assert "1 planned piece(s) kept first" in " ".join(answer.notes)
