"""Faster decoding where free (issue 23, item 4): prompt-lookup decoding and stop sequences, measured on the
prompts docqa really sends.

For SQuAD questions of the development articles (the tuning half of ``bench/answerable.py``'s split), docqa's answer
prompt is built over the question's gold paragraph and the next one, cut to the default evidence budget. Each
prompt is completed, greedy, by three loaded copies of the packaged model, in a seeded random order per prompt:

- **plain**: llama.cpp as docqa loads it (last-position logits only);
- **lookup**: the same GGUF with llama-cpp-python's ``LlamaPromptLookupDecoding`` as its draft model (answers that
  copy the passages are proposed from the prompt's own n-grams and checked in one batch). llama-cpp-python needs
  every position's logits for this (``logits_all``), which also costs time and memory on the prompt;
- **flash**: the same GGUF with llama.cpp's flash attention on (``flash_attn=True``).

Both read the whole prompt (no cache reuse), so total time compares like with like. Per prompt the script records
total and first-token seconds, decode tokens/s, whether the two texts are identical, and how many of the answer's
tokens come after its first line (what a newline stop sequence would save).

Usage::

    python bench/decoding.py --questions 10 --out /tmp/decoding.jsonl
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from answerable import _unanswerable, questions, split_articles  # noqa: E402

from ingest.core.records import Message  # noqa: E402
from ingest.core.settings import Settings  # noqa: E402

log = logging.getLogger("decoding")


def squad_prompts(n: int) -> list[tuple[str, list[Message], int]]:
    """(question, answer messages, max tokens) for ``n`` answerable SQuAD questions of the development articles:
    docqa's answer prompt (``generation.prompt.build_messages``) over the question's gold paragraph and the
    paragraph after it, each cut to what the default evidence budget keeps (``generation.evidence``)."""
    from answerable import _articles

    from generation.answer import offers_not_found
    from generation.evidence import select_evidence
    from generation.prompt import build_messages
    from ingest.core.records import Passage

    settings = Settings()
    tune, _ = split_articles([q["doc_id"] for q in _unanswerable()])
    items = questions("tune", tune, unanswerable=0, answerable=3, seed=7)[:n]
    arts = _articles()
    out = []
    for item in items:
        paragraphs = arts[item["doc"]]["paragraphs"]
        gold = next(q["gold_paragraph"] for q in arts[item["doc"]]["questions"] if q["id"] == item["id"])
        passages = [Passage(id=f"p{i}", doc_id=item["doc"], source=f"{item['doc']}.txt", text=paragraphs[i],
                            chars=(0, len(paragraphs[i])), lines=(i + 1, i + 1))
                    for i in (gold, gold + 1) if i < len(paragraphs)]
        kept = select_evidence(item["question"], passages, settings.answer.evidence_tokens,
                               lambda t: len(t.split()) * 4 // 3)
        out.append((item["question"], build_messages(item["question"], kept.excerpts, offer_not_found=offers_not_found(
            settings.answer.verify, settings.answer.unsupported)),
                    settings.llm.max_answer_tokens))
    return out


def complete(llm: Any, messages: list[Message], max_tokens: int) -> dict[str, Any]:
    """Greedy streamed completion: text, seconds, first-token seconds, completion tokens."""
    start = time.perf_counter()
    first = None
    parts = []
    llm.reset()  # read the whole prompt: no prefix reuse from the previous call
    for chunk in llm.create_chat_completion(messages=[{"role": m.role, "content": m.content} for m in messages],
                                            max_tokens=max_tokens, temperature=0.0, top_k=1, seed=0, stream=True):
        piece = chunk["choices"][0].get("delta", {}).get("content") or ""
        if piece:
            first = first if first is not None else time.perf_counter() - start
            parts.append(piece)
    text = "".join(parts)
    tokens = len(llm.tokenize(text.encode(), add_bos=False, special=False)) if text else 0
    head = text.split("\n", 1)[0]
    after = tokens - (len(llm.tokenize(head.encode(), add_bos=False, special=False)) if head else 0)
    seconds = time.perf_counter() - start
    decode = seconds - (first or seconds)
    return {"text": text, "seconds": round(seconds, 3), "first": round(first or seconds, 3), "tokens": tokens,
            "after_first_line": after, "decode_tps": round((tokens - 1) / decode, 2) if decode > 0 and tokens > 1
            else None}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--questions", type=int, default=10)
    ap.add_argument("--out", default="/tmp/decoding.jsonl")
    ap.add_argument("--pred-tokens", type=int, default=10, help="prompt-lookup: tokens proposed per step")
    ap.add_argument("--n-ctx", type=int, default=4096)
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    prompts = squad_prompts(args.questions)
    log.info("captured %d prompts", len(prompts))

    import llama_cpp
    from llama_cpp.llama_speculative import LlamaPromptLookupDecoding

    from generation.llamacpp import resolve_gguf

    settings = Settings()
    path = str(resolve_gguf(settings.llm.model, model_dir=settings.cache.model_dir))
    threads = settings.llm.threads or os.cpu_count() or 2
    common = {"model_path": path, "n_ctx": args.n_ctx, "n_threads": threads, "n_batch": 512, "seed": 0,
              "verbose": False}
    models = {"plain": llama_cpp.Llama(**common),
              "lookup": llama_cpp.Llama(**common, draft_model=LlamaPromptLookupDecoding(
                  num_pred_tokens=args.pred_tokens)),
              "flash": llama_cpp.Llama(**common, flash_attn=True)}
    rows = []
    with open(args.out, "w", encoding="utf-8") as f:
        for i, (question, messages, max_tokens) in enumerate(prompts):
            order = list(models)
            random.Random(i).shuffle(order)
            row: dict[str, Any] = {"question": question, "load": os.getloadavg()[0]}
            for name in order:
                row[name] = complete(models[name], messages, max_tokens)
            row["identical"] = row["plain"]["text"] == row["lookup"]["text"] == row["flash"]["text"]
            rows.append(row)
            f.write(json.dumps(row) + "\n")
            log.info("%d/%d %s identical=%s | %s", i + 1, len(prompts),
                     " ".join(f"{k} {row[k]['seconds']:.1f}s ({row[k]['decode_tps']} tok/s)" for k in models),
                     row["identical"], row["plain"]["text"][:80].replace("\n", " "))

    def med(name: str, key: str) -> float:
        return statistics.median(r[name][key] for r in rows if r[name][key] is not None)

    print(f"prompts: {len(rows)}; load average median {statistics.median(r['load'] for r in rows):.1f}")
    print("| variant | total s p50 | first token s p50 | decode tokens/s p50 | answer tokens p50 |")
    print("|---|---|---|---|---|")
    for name in models:
        print(f"| {name} | {med(name, 'seconds'):.2f} | {med(name, 'first'):.2f} | {med(name, 'decode_tps'):.1f} | "
              f"{med(name, 'tokens'):.0f} |")
    for name in ("lookup", "flash"):
        ratios = [r[name]["seconds"] / r["plain"]["seconds"] for r in rows]
        first = [r[name]["first"] / r["plain"]["first"] for r in rows]
        print(f"{name} / plain per prompt: total time median {statistics.median(ratios):.2f} (min {min(ratios):.2f}, "
              f"max {max(ratios):.2f}); first token median {statistics.median(first):.2f}")
    print(f"identical texts {sum(r['identical'] for r in rows)}/{len(rows)}; answer tokens after the first line: "
          f"{sum(r['plain']['after_first_line'] for r in rows)} of {sum(r['plain']['tokens'] for r in rows)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
