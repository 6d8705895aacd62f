"""Rerankers: prompt building, parsing and repair, window arithmetic, scripted-LLM mechanics, real backends."""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Iterator, Sequence

import pytest

from app.factory import make_reranker, reranker_names
from ingest.core.errors import GenerationError, UnknownBackendError
from ingest.core.protocols import LogitsLLM
from ingest.core.records import Completion, ContinuationScores, Message, Passage, Ranked
from ingest.core.settings import RerankSettings
from rerank.listwise import (
    FullListwiseReranker,
    SinglePassListwiseReranker,
    fit_prompt,
    keep_order,
)
from rerank.metrics import ndcg_at_k, read_qrels
from rerank.parse import parse_ranking
from rerank.pointwise import PointwiseReranker
from rerank.prompts import (
    ASSISTANT_PREFIX,
    defang,
    identifier_continuations,
    listwise_messages,
    pointwise_messages,
    ranking_example,
)
from rerank.window import SlidingWindowReranker, windows
from tests.fakes import ScriptedLLM

# -- fixtures ------------------------------------------------------------------------------------------


def ranked(texts: Sequence[str]) -> list[Ranked]:
    """Candidates p0, p1, ... in first-stage order, with decreasing scores."""
    return [Ranked(Passage(id=f"p{i}", doc_id="d", source="s.txt", text=t, chars=(0, len(t))), float(-i))
            for i, t in enumerate(texts)]


def prompt_passages(messages: Sequence[Message]) -> list[str]:
    """The ``[i] text`` lines of a listwise prompt, in order."""
    return re.findall(r"^\[\d+\] (.*)$", messages[-1].content, flags=re.M)


def relevance(text: str) -> int:
    """Hidden relevance for fakes: passages are written as "rel=<k> ..."."""
    m = re.search(r"rel=(\d+)", text)
    return int(m.group(1)) if m else 0


class OracleLLM(ScriptedLLM):
    """Generates the ideal ranking of the passages in the prompt (by their hidden ``rel=``)."""

    def stream(self, messages: Sequence[Message], *, max_tokens: int) -> Iterator[str | Completion]:
        texts = prompt_passages(messages)
        order = sorted(range(len(texts)), key=lambda i: -relevance(texts[i]))
        self.replies.append(" > ".join(f"[{i + 1}]" for i in order))
        yield from super().stream(messages, max_tokens=max_tokens)


class FakeLogitsLLM(ScriptedLLM):
    """A generative fake that also scores continuations with ``score(messages, continuation)``."""

    def __init__(self, score: Callable[[Sequence[Message], str], float], **kw: int) -> None:
        super().__init__(**kw)
        self.score = score
        self.scored: list[tuple[list[Message], list[str], str]] = []

    def continuation_logprobs(self, messages: Sequence[Message], continuations: Sequence[str], *,
                              assistant_prefix: str = "") -> ContinuationScores:
        self.scored.append((list(messages), list(continuations), assistant_prefix))
        return ContinuationScores(logprobs=tuple(self.score(messages, c) for c in continuations),
                                  prompt_tokens=sum(self.count_tokens(m.content) for m in messages), extra_tokens=0,
                                  seconds=0.0)


class FailingLLM(ScriptedLLM):
    def stream(self, messages: Sequence[Message], *, max_tokens: int) -> Iterator[str | Completion]:
        raise GenerationError("backend down")


def ids(rs: Sequence[Ranked]) -> list[str]:
    return [r.passage.id for r in rs]


# -- pure functions ------------------------------------------------------------------------------------


def test_repair_example_from_methods() -> None:
    p = parse_ranking("[3] > [1] > [3] > [7] > [2]", 5)
    assert [i + 1 for i in p.order] == [3, 1, 2, 4, 5]
    assert (p.outcome, p.missing, p.dropped) == ("repetition", 2, 2)


@pytest.mark.parametrize(("reply", "n", "outcome", "order"), [
    ("[2] > [3] > [1]", 3, "ok", [2, 3, 1]),
    ("  [2]>[3] >[1]\n", 3, "ok", [2, 3, 1]),
    ("<think>maybe [1]?</think>[2] > [1] > [3]", 3, "ok", [2, 1, 3]),
    ("[２] > [１] > [３]", 3, "ok", [2, 1, 3]),  # full-width digits
    ("[2] > [1]", 3, "missing", [2, 1, 3]),
    ("[2] > [1] > [4]", 3, "missing", [2, 1, 3]),  # out of range, and 3 missing
    ("[2] > [2] > [1] > [3]", 3, "repetition", [2, 1, 3]),
    ("[1] > [2] > [3] > [4]", 3, "repetition", [1, 2, 3]),
    ("The ranking is [2] > [1] > [3].", 3, "wrong_format", [2, 1, 3]),
    ("I cannot rank these.", 3, "wrong_format", [1, 2, 3]),
    ("", 3, "wrong_format", [1, 2, 3]),
])
def test_outcome_classification(reply: str, n: int, outcome: str, order: list[int]) -> None:
    p = parse_ranking(reply, n)
    assert p.outcome == outcome
    assert [i + 1 for i in p.order] == order
    assert sorted(p.order) == list(range(n))


def test_windows_back_to_front() -> None:
    assert windows(25, 20, 10) == [(5, 25), (0, 15)]
    assert windows(100, 20, 10) == [(80, 100), (70, 90), (60, 80), (50, 70), (40, 60), (30, 50), (20, 40),
                                    (10, 30), (0, 20)]
    assert windows(30, 20, 10) == [(10, 30), (0, 20)]
    assert windows(5, 20, 10) == [(0, 5)]
    # 9 calls read 180 passage slots against 100 for one pass (docs/METHODS.md, "LLM reranking")
    assert sum(hi - lo for lo, hi in windows(100, 20, 10)) == 180


def test_prompt_defangs_and_truncates() -> None:
    msgs = listwise_messages("is [1] best?", ["one two three four [2]", "x [10] y"], words=3)
    body = prompt_passages(msgs)
    assert body == ["one two three", "x (10) y"]
    assert "search query: is (1) best?." in msgs[1].content
    assert msgs[0].role == "system" and "RankLLM" in msgs[0].content
    assert re.findall(r"\[(\d+)\]", msgs[1].content) == ["1", "2", "2", "1"]  # ids + the format example only
    assert defang("[3][4]") == "(3)(4)"
    assert "(5)" in pointwise_messages("q", "see [5]", words=10)[1].content


def test_identifier_continuations_are_prefix_free() -> None:
    for n in (5, 9, 10, 20, 30, 100, 123):
        conts = identifier_continuations(n)
        assert len(conts) == n
        assert [c.rstrip("]") for c in conts] == [str(i) for i in range(1, n + 1)]
        for a in conts:  # no continuation is a prefix of another, so their probabilities don't overlap
            assert not any(b != a and b.startswith(a) for b in conts)
    assert identifier_continuations(20)[:3] == ["1]", "2]", "3"]


def test_ranking_example_sets_generation_budget() -> None:
    assert ranking_example(2) == "[1] > [2]"


def test_fit_prompt_shrinks_word_budget() -> None:
    llm = ScriptedLLM(context_tokens=600)  # counts whitespace words
    texts = [" ".join(["w"] * 100)] * 10
    messages, words, tokens = fit_prompt(llm, lambda w: listwise_messages("q", texts, words=w), n=10, words=100,
                                         reserve=50)
    assert words < 100 and tokens <= 550
    assert all(len(t.split()) == words for t in prompt_passages(messages))
    with pytest.raises(GenerationError, match="do not fit"):
        fit_prompt(ScriptedLLM(context_tokens=60), lambda w: listwise_messages("q", texts, words=w), n=10,
                   words=100, reserve=50)


def test_ndcg_matches_trec_eval_definition() -> None:
    qrels = read_qrels(["1 0 a 3", "1 0 b 2", "1 0 c 0", "1 0 d 1", "2 0 z 0"])
    # linear gains, log2(i+1) discount, unjudged = 0
    dcg = 2 / math.log2(2) + 0 + 3 / math.log2(4)
    idcg = 3 / math.log2(2) + 2 / math.log2(3) + 1 / math.log2(4)
    assert ndcg_at_k(["b", "x", "a", "c"], qrels["1"]) == pytest.approx(dcg / idcg)
    assert ndcg_at_k(["a", "b", "d"], qrels["1"]) == pytest.approx(1.0)
    assert ndcg_at_k(["d"] + ["x"] * 9 + ["a"], qrels["1"], k=10) == pytest.approx(1 / idcg)  # cut at 10
    assert ndcg_at_k(["z"], qrels["2"]) == 0.0


def test_keep_order_scores() -> None:
    cands = ranked(["a", "b"])
    assert [(r.passage.id, r.score) for r in keep_order(cands, [1, 0], [0.1, 0.9])] == [("p1", 0.9), ("p0", 0.1)]


def test_settings_reject_bad_values() -> None:
    with pytest.raises(ValueError, match="stride"):
        RerankSettings(window=10, stride=20)
    with pytest.raises(ValueError, match="passage_words"):
        RerankSettings(passage_words=0)


# -- rerankers with scripted LLMs ----------------------------------------------------------------------


def test_full_generative_repairs_reply_and_records_outcome() -> None:
    llm = ScriptedLLM("[3] > [1] > [3] > [7] > [2]")
    cands = ranked(["a", "b", "c", "d", "e"])
    out, cost = FullListwiseReranker(lambda: llm, RerankSettings()).rank("q", cands, top_k=5)
    assert ids(out) == ["p2", "p0", "p1", "p3", "p4"]
    assert cost.method == "full" and cost.calls == 1 and cost.outcome == "repetition"
    assert cost.prompt_tokens > 0 and cost.completion_tokens == 9
    assert len(llm.calls) == 1 and len(prompt_passages(llm.calls[0])) == 5


def test_full_generative_notes_an_echoed_order() -> None:
    llm = ScriptedLLM("[1] > [2] > [3]")
    out, cost = FullListwiseReranker(lambda: llm, RerankSettings()).rank("q", ranked("abc"), top_k=3)
    assert ids(out) == ["p0", "p1", "p2"] and cost.outcome == "ok"
    assert cost.details == ("the reply repeats the input order",)


def test_full_generative_flags_many_missing_ids() -> None:
    llm = ScriptedLLM("[4]")
    out, cost = FullListwiseReranker(lambda: llm, RerankSettings()).rank("q", ranked("abcde"), top_k=3)
    assert ids(out) == ["p3", "p0", "p1"]
    assert cost.outcome == "missing" and any("alert" in n for n in cost.details)


def test_failure_keeps_first_stage_order_or_raises() -> None:
    cands = ranked("abc")
    out, cost = FullListwiseReranker(lambda: FailingLLM(), RerankSettings()).rank("q", cands, top_k=2)
    assert ids(out) == ["p0", "p1"] and cost.outcome == "fallback" and "backend down" in cost.details[0]
    with pytest.raises(GenerationError):
        FullListwiseReranker(lambda: FailingLLM(), RerankSettings(raise_on_failure=True)).rank("q", cands, top_k=2)


def test_single_pass_ranks_by_identifier_logprobs() -> None:
    # the fake prefers passages with higher rel=; identifiers are read back from the continuation
    def score(messages: Sequence[Message], cont: str) -> float:
        texts = prompt_passages(messages)
        return float(relevance(texts[int(cont.rstrip("]")) - 1]))

    llm = FakeLogitsLLM(score)
    rels = [0, 2, 0, 3, 1, 0, 0, 0, 0, 0, 0, 5]
    cands = ranked([f"rel={r} passage {i}" for i, r in enumerate(rels)])
    out, cost = SinglePassListwiseReranker(lambda: llm, RerankSettings()).rank("q", cands, top_k=12)
    assert ids(out)[:4] == ["p11", "p3", "p1", "p4"]
    assert ids(out)[4:] == ["p0", "p2", "p5", "p6", "p7", "p8", "p9", "p10"]  # ties keep first-stage order
    assert [r.score for r in out[:2]] == [5.0, 3.0]
    (messages, conts, prefix), = llm.scored
    assert prefix == ASSISTANT_PREFIX and conts == identifier_continuations(12) and conts[0] == "1]"
    assert cost.calls == 1 and cost.completion_tokens == 0 and cost.outcome == "ok" and not llm.calls


def test_logit_rerankers_need_a_logits_backend() -> None:
    assert isinstance(FakeLogitsLLM(lambda m, c: 0.0), LogitsLLM)
    assert not isinstance(ScriptedLLM(), LogitsLLM)
    for reranker in (SinglePassListwiseReranker, PointwiseReranker):  # first-stage order, and the reason noted
        out, trace = reranker(lambda: ScriptedLLM(), RerankSettings()).rank("q", ranked("ab"), top_k=1)
        assert ids(out) == ["p0"] and trace.outcome == "fallback" and "cannot score" in trace.details[0]
        with pytest.raises(GenerationError, match="cannot score"):
            reranker(lambda: ScriptedLLM(), RerankSettings(raise_on_failure=True)).rank("q", ranked("ab"), top_k=1)


def test_sliding_window_carries_best_to_the_front() -> None:
    llm = OracleLLM()
    rels = [0] * 25
    rels[24], rels[20], rels[7] = 3, 2, 1  # the best two start in the last window
    cands = ranked([f"rel={r} passage {i}" for i, r in enumerate(rels)])
    out, cost = SlidingWindowReranker(lambda: llm, RerankSettings(window=20, stride=10)).rank("q", cands, top_k=3)
    assert ids(out) == ["p24", "p20", "p7"]
    assert cost.calls == 2 == len(llm.calls)
    assert [len(prompt_passages(c)) for c in llm.calls] == [20, 15]
    assert cost.outcome == "ok" and cost.prompt_tokens > 0 and cost.completion_tokens > 0


def test_sliding_window_reports_worst_outcome() -> None:
    llm = ScriptedLLM("[2] > [1]", "nonsense")
    out, cost = SlidingWindowReranker(lambda: llm, RerankSettings(window=2, stride=1)).rank("q", ranked("abc"),
                                                                                             top_k=3)
    assert ids(out) == ["p0", "p2", "p1"]  # window (1, 3) swapped, then (0, 2) kept by repair
    assert cost.outcome == "wrong_format" and cost.details[0] == "outcomes: ok=1, wrong_format=1"


def test_pointwise_scores_yes_probability() -> None:
    def score(messages: Sequence[Message], cont: str) -> float:
        rel = relevance(messages[-1].content)
        return math.log(0.2 + 0.2 * rel) if cont == "Yes" else math.log(0.5)

    llm = FakeLogitsLLM(score)
    cands = ranked(["rel=0 a", "rel=2 b", "rel=1 c"])
    out, cost = PointwiseReranker(lambda: llm, RerankSettings()).rank("q", cands, top_k=3)
    assert ids(out) == ["p1", "p2", "p0"]
    assert out[0].score == pytest.approx(0.6 / 1.1)
    assert cost.calls == 3 and all(c == ["Yes", "No"] for _, c, _ in llm.scored)


def test_registry_and_app_wiring() -> None:
    assert reranker_names() == ["full", "full-logits", "none", "pointwise", "window"]
    with pytest.raises(UnknownBackendError, match="known: full, full-logits"):
        make_reranker("bogus", ScriptedLLM, RerankSettings())
    built: list[int] = []

    def factory() -> ScriptedLLM:
        built.append(1)
        return ScriptedLLM("[2] > [1]")

    reranker = make_reranker("full", factory, RerankSettings())
    assert not built  # the LLM is built on first use
    out, _ = reranker.rank("q", ranked("ab"), top_k=2)
    assert ids(out) == ["p1", "p0"] and built

    from app.factory import build_pipeline
    from ingest.core.settings import Settings
    from tests.fakes import FakeEmbedder, StaticSearcher

    s = Settings().replace(answer={"rerank": "window"}, rerank={"window": 4, "stride": 2})
    searcher = StaticSearcher([c.passage for c in ranked("ab")])
    r = build_pipeline(s, retriever=searcher, corpus=searcher, embedder=FakeEmbedder(), llm=ScriptedLLM()).reranker
    assert isinstance(r, SlidingWindowReranker) and r.settings.window == 4


def test_single_candidate_needs_no_llm() -> None:
    for name in ("full", "full-logits", "window", "pointwise"):
        out, cost = make_reranker(name, FailingLLM, RerankSettings()).rank("q", ranked(["a"]), top_k=1)
        assert ids(out) == ["p0"] and cost.calls == 0


# -- real backends -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def smollm():  # noqa: ANN201
    pytest.importorskip("llama_cpp")
    from app.factory import make_llm
    from ingest.core.settings import LLMSettings

    llm = make_llm(LLMSettings(model="smollm2-135m-instruct-q4_1", context_tokens=4096, threads=2))
    llm.warm_up()
    return llm


@pytest.mark.slow
def test_llamacpp_single_pass_returns_full_permutation(smollm) -> None:  # noqa: ANN001
    texts = [f"Passage {i} about {'the capital of France, Paris' if i == 7 else 'bananas and fruit'}."
             for i in range(12)]
    cands = ranked(texts)
    start = time.perf_counter()
    out, cost = SinglePassListwiseReranker(lambda: smollm, RerankSettings()).rank("capital of France?", cands,
                                                                                 top_k=12)
    assert sorted(ids(out)) == sorted(ids(cands))
    assert all(math.isfinite(r.score) and r.score <= 0 for r in out)
    assert cost.calls == 1 and cost.prompt_tokens > 100 and cost.seconds <= time.perf_counter() - start
    # the trie walk through the KV cache agrees with scoring the same tokens step by step
    msgs = listwise_messages("capital of France?", texts, words=100)
    both = smollm.continuation_logprobs(msgs, ["12", "1]"], assistant_prefix="[")
    one = smollm.continuation_logprobs(msgs, ["1"], assistant_prefix="[").logprobs[0]
    two = smollm.continuation_logprobs(msgs, ["2", "]"], assistant_prefix="[1").logprobs
    assert both.logprobs == pytest.approx((one + two[0], one + two[1]), abs=1e-3)
    assert both.extra_tokens == 1
    # generation still works after the manual evaluation (shared KV cache state)
    assert smollm.complete([Message("user", "Say hi.")], max_tokens=4).completion_tokens > 0


@pytest.mark.slow
def test_llamacpp_pointwise_probabilities(smollm) -> None:  # noqa: ANN001
    out, cost = PointwiseReranker(lambda: smollm, RerankSettings()).rank(
        "capital of France?", ranked(["Paris is the capital of France.", "Bananas are yellow."]), top_k=2)
    assert all(0.0 <= r.score <= 1.0 for r in out) and cost.calls == 2


@pytest.fixture(scope="module")
def tiny_hf_dir(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    """A random-weight 2-layer Qwen2 with the MiniLM WordPiece tokenizer and a plain chat template."""
    torch = pytest.importorskip("torch")
    from transformers import AutoTokenizer, Qwen2Config, Qwen2ForCausalLM

    from ingest.embed import resolve_model_path

    tok = AutoTokenizer.from_pretrained(resolve_model_path("all-MiniLM-L6-v2"))
    tok.chat_template = ("{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
                         "{% if add_generation_prompt %}assistant: {% endif %}")
    torch.manual_seed(0)
    config = Qwen2Config(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=2048)
    path = tmp_path_factory.mktemp("tiny-qwen2")
    Qwen2ForCausalLM(config).save_pretrained(path)
    tok.save_pretrained(path)
    return path


@pytest.mark.slow
def test_transformers_single_pass_and_trie_scores(tiny_hf_dir) -> None:  # noqa: ANN001
    import torch

    from generation.hf import TransformersLLM
    from ingest.core.settings import LLMSettings

    llm = TransformersLLM(LLMSettings(backend="transformers", model=str(tiny_hf_dir), context_tokens=2048,
                                      device="cpu"))
    cands = ranked([f"passage number {i} text" for i in range(12)])
    out, cost = SinglePassListwiseReranker(lambda: llm, RerankSettings()).rank("which one?", cands, top_k=12)
    assert sorted(ids(out)) == sorted(ids(cands)) and cost.calls == 1 and cost.outcome == "ok"
    # chain-rule scores through the cached prompt equal a plain forward pass over the whole sequence
    msgs = [Message("user", "pick one")]
    got = llm.continuation_logprobs(msgs, ["12", "1]", "3"], assistant_prefix="[").logprobs
    text = llm._tok.apply_chat_template([{"role": "user", "content": "pick one"}], add_generation_prompt=True,
                                        tokenize=False) + "["
    for cont, value in zip(["12", "1]", "3"], got, strict=True):
        base = llm._tok(text, add_special_tokens=False)["input_ids"]
        full = llm._tok(text + cont, add_special_tokens=False)["input_ids"]
        with torch.inference_mode():
            logp = torch.log_softmax(llm._model(input_ids=torch.tensor([full])).logits[0].float(), dim=-1)
        want = sum(float(logp[i - 1, full[i]]) for i in range(len(base), len(full)))
        assert value == pytest.approx(want, abs=1e-4)
