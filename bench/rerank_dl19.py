"""TREC DL19 passage reranking: nDCG@10 and cost of the LLM rerankers against BM25 and a dense first stage.

Reads ``<data>/bm25_top100_dl19.json`` (43 queries, BM25 top-100 with passage text) and
``<data>/qrels.dl19-passage.txt`` (graded 0-3). Reports, over the chosen queries:

- BM25: the file's order.
- dense: the same 100 candidates re-scored by the default embedder (all-MiniLM-L6-v2, cosine).
- each reranker over the BM25 top-N (the rest keep BM25 order): ``full`` (generative full ranking),
  ``full-logits`` (single pass), ``window`` (20/10, back to front), ``pointwise`` (P(Yes)).

nDCG@10 follows trec_eval's ``ndcg_cut.10`` (linear gains, unjudged = 0): :func:`rerank.metrics.ndcg_at_k`.
Methods run query by query, interleaved, so machine load falls on all of them alike; llama.cpp's
prompt cache is cleared before each method (``full`` and ``full-logits`` send the same prompt).

Usage::

    python bench/rerank_dl19.py --candidates 30 --queries 8 --out /tmp/rerank_dl19.jsonl
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
import time
from pathlib import Path
from typing import TextIO

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from app.factory import make_llm, make_reranker  # noqa: E402
from ingest.core.records import (
    Passage,  # noqa: E402
    Ranked,  # noqa: E402
)
from ingest.core.settings import (
    LLMSettings,
    RerankSettings,  # noqa: E402
)
from rerank.metrics import ndcg_at_k, read_qrels  # noqa: E402

METHODS = ("full-logits", "full", "window", "pointwise")


def emit(text: str = "", *, file: TextIO = sys.stdout, flush: bool = False) -> None:
    """One line of the report (stdout) or of progress (stderr)."""
    file.write(text + "\n")
    if flush:
        file.flush()


def load(data: Path) -> tuple[list[dict], dict[str, dict[str, int]]]:
    """Queries with their BM25 hits, and the qrels."""
    topics = json.loads((data / "bm25_top100_dl19.json").read_text())
    qrels = read_qrels((data / "qrels.dl19-passage.txt").read_text().splitlines())
    for t in topics:
        t["qid"] = str(t["hits"][0]["qid"])
        t["hits"] = sorted(t["hits"], key=lambda h: h["rank"])
    return topics, qrels


def subset(topics: list[dict], n: int) -> list[dict]:
    """A fixed subset: ``n`` queries evenly spaced over the topics sorted by qid."""
    ordered = sorted(topics, key=lambda t: int(t["qid"]))
    if n >= len(ordered):
        return ordered
    step = len(ordered) / n
    return [ordered[int(i * step)] for i in range(n)]


def dense_rankings(topics: list[dict]) -> dict[str, list[str]]:
    """BM25 top-100 re-scored by cosine similarity with the default embedder."""
    import numpy as np

    from ingest.core.settings import EmbedSettings
    from ingest.embed import SentenceTransformerEmbedder

    embedder = SentenceTransformerEmbedder(EmbedSettings())
    embedder.warm_up()
    out = {}
    for t in topics:
        q = embedder.embed_queries([t["query"]])[0]
        p = embedder.embed_passages([h["content"] for h in t["hits"]])
        order = np.argsort(-(p @ q), kind="stable")
        out[t["qid"]] = [t["hits"][i]["docid"] for i in order]
    return out


def token_costs(llm: object, topics: list[dict], ns: list[int], words: int, settings: RerankSettings) -> None:
    """Tokens each method would read and write, from the exact prompts and the model's tokenizer (no inference).

    Generative calls are charged their full-list budget (``[1] > ... > [n]``), the most a complete
    answer takes; the quality run reports what was actually generated.
    """
    from rerank.prompts import identifier_continuations, listwise_messages, pointwise_messages, ranking_example
    from rerank.window import windows

    def toks(text: str) -> int:
        return len(llm.llama.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    def prompt(messages: list) -> int:
        return toks(llm.chat_prompt_text(messages))

    emit(f"\ntoken cost from the prompts (all {len(topics)} queries, {words} words per passage, tokenizer of "
          f"{llm.name}; generative output = full-list budget)")
    emit("\n| N | method | LLM calls/q | input tok/q | output tok/q | total tok/q | total vs window |")
    emit("|---|---|---|---|---|---|---|")
    for n in ns:
        rows: dict[str, list[tuple[int, int, int]]] = {m: [] for m in METHODS}
        for t in topics:
            texts = [h["content"] for h in t["hits"][:n]]
            q = t["query"]
            extra = sum(1 for c in identifier_continuations(n) if c.endswith("]"))
            rows["full-logits"].append((1, prompt(listwise_messages(q, texts, words=words)) + 1 + extra, 0))
            rows["full"].append((1, prompt(listwise_messages(q, texts, words=words)), toks(ranking_example(n))))
            spans = windows(n, settings.window, settings.stride)
            rows["window"].append((len(spans), sum(prompt(listwise_messages(q, texts[a:b], words=words))
                                                   for a, b in spans),
                                   sum(toks(ranking_example(b - a)) for a, b in spans)))
            rows["pointwise"].append((n, sum(prompt(pointwise_messages(q, x, words=words)) for x in texts), 0))
        win = statistics.fmean(i + o for _, i, o in rows["window"])
        for m, r in rows.items():
            calls, tin, tout = (statistics.fmean(x[k] for x in r) for k in range(3))
            emit(f"| {n} | {m} | {calls:.0f} | {tin:.0f} | {tout:.0f} | {tin + tout:.0f} | {(tin + tout) / win:.2f} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "data" / "trec_dl19"))
    ap.add_argument("--candidates", type=int, default=30, help="BM25 top-N handed to the rerankers")
    ap.add_argument("--queries", type=int, default=43, help="evenly spaced subset of the 43 queries")
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--words", type=int, default=100, help="words per passage in prompts")
    ap.add_argument("--model", default=LLMSettings().model)
    ap.add_argument("--context", type=int, default=8192)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--gpu-layers", type=int, default=0, help="llama.cpp layers on a GPU (-1: all)")
    ap.add_argument("--out", default="/tmp/rerank_dl19.jsonl", help="per query and method records")
    ap.add_argument("--dense-cache", default="/tmp/rerank_dl19_dense.json", help="dense rankings, reused if present")
    ap.add_argument("--budget-s", type=float, default=float("inf"), help="start no query after this many seconds")
    ap.add_argument("--tokens-only", default="", help="comma-separated N: count prompt tokens, run no inference")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    topics, qrels = load(Path(args.data))
    if args.tokens_only:
        llm = make_llm(LLMSettings(model=args.model, context_tokens=args.context, threads=args.threads,
                                   gpu_layers=args.gpu_layers))
        token_costs(llm, topics, [int(x) for x in args.tokens_only.split(",")], args.words,
                    RerankSettings(passage_words=args.words))
        return
    chosen = subset(topics, args.queries)
    methods = [m for m in args.methods.split(",") if m]
    cache = Path(args.dense_cache)
    if cache.is_file():
        dense = json.loads(cache.read_text())
    else:
        dense = dense_rankings(topics)
        cache.write_text(json.dumps(dense))
    base = {"bm25": {t["qid"]: [h["docid"] for h in t["hits"]] for t in topics}, "dense": dense,
            f"oracle order of BM25 top-{args.candidates} (ceiling)": {
                t["qid"]: sorted([h["docid"] for h in t["hits"][: args.candidates]],
                                 key=lambda d, q=t["qid"]: -qrels.get(q, {}).get(d, 0))
                for t in topics}}
    results: dict[str, list[float]] = {m: [] for m in methods}
    costs: dict[str, list[dict]] = {m: [] for m in methods}

    llm = make_llm(LLMSettings(model=args.model, context_tokens=args.context, threads=args.threads,
                                   gpu_layers=args.gpu_layers))
    llm.warm_up()
    settings = RerankSettings(passage_words=args.words)
    rerankers = {m: make_reranker(m, lambda: llm, settings) for m in methods}
    wall = time.perf_counter()
    with open(args.out, "w") as log_file:
        for qi, t in enumerate(chosen, 1):
            if time.perf_counter() - wall > args.budget_s:
                emit(f"budget of {args.budget_s:.0f} s spent: stopping after {qi - 1} queries", file=sys.stderr)
                break
            hits = t["hits"]
            cands = [Ranked(Passage(id=h["docid"], doc_id=h["docid"], source=f"msmarco:{h['docid']}",
                                    text=h["content"], chars=(0, len(h["content"]))), float(h["score"]))
                     for h in hits[: args.candidates]]
            rest = [h["docid"] for h in hits[args.candidates:]]
            for m in methods:
                llm.llama.reset()  # no prompt reuse across methods
                ranked, cost = rerankers[m].rank(t["query"], cands, top_k=len(cands))
                ids = [r.passage.id for r in ranked] + rest
                score = ndcg_at_k(ids, qrels.get(t["qid"], {}))
                results[m].append(score)
                rec = {"qid": t["qid"], "method": m, "ndcg10": score, "llm_calls": cost.calls,
                       "input_tokens": cost.prompt_tokens, "output_tokens": cost.completion_tokens,
                       "seconds": cost.seconds, "outcome": cost.outcome, "notes": list(cost.details)}
                costs[m].append(rec)
                log_file.write(json.dumps(rec) + "\n")
                log_file.flush()
                emit(f"[{qi}/{len(chosen)}] {t['qid']} {m:12s} nDCG@10={score:.3f} calls={cost.calls} "
                      f"in={cost.prompt_tokens} out={cost.completion_tokens} {cost.seconds:.1f}s {cost.outcome}",
                      file=sys.stderr, flush=True)
    wall = time.perf_counter() - wall
    chosen_ids = {c["qid"] for c in costs[methods[0]]} if methods else set()

    def mean(xs: list[float]) -> float:
        return statistics.fmean(xs) if xs else float("nan")

    emit(f"\nqueries: {len(chosen_ids)} of {len(topics)} ({','.join(sorted(chosen_ids, key=int))}); "
          f"candidates: BM25 top-{args.candidates}; passage words: {args.words}; model: {args.model}; "
          f"wall {wall:.0f} s")
    emit("\n| ranking | nDCG@10 (subset) | nDCG@10 (all 43) | LLM calls/q | input tok/q | output tok/q | s/q "
          "| s/q vs full | malformed |")
    emit("|---|---|---|---|---|---|---|---|---|")
    for name, runs in base.items():
        sub = mean([ndcg_at_k(runs[q], qrels.get(q, {})) for q in chosen_ids])
        full = mean([ndcg_at_k(runs[q], qrels.get(q, {})) for q in runs])
        emit(f"| {name} | {sub:.4f} | {full:.4f} | 0 | 0 | 0 | 0 | – | – |")
    ref_s = mean([c["seconds"] for c in costs["full"]]) if "full" in costs else float("nan")
    for m in methods:
        c = costs[m]
        secs = mean([x["seconds"] for x in c])
        bad = sum(x["outcome"] != "ok" for x in c)
        calls = sum(x["llm_calls"] for x in c)
        kinds = sorted({x["outcome"] for x in c if x["outcome"] != "ok"})
        emit(f"| {m} | {mean(results[m]):.4f} | – | {calls / len(c):.1f} | {mean([x['input_tokens'] for x in c]):.0f} "
             f"| {mean([x['output_tokens'] for x in c]):.0f} | {secs:.1f} | {secs / ref_s:.2f} "
             f"| {bad}/{len(c)} queries" + (f" ({', '.join(kinds)})" if bad else "") + " |")


if __name__ == "__main__":
    main()
