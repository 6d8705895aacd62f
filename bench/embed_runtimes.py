"""Embedder runtimes side by side: PyTorch vs ONNX Runtime (fp32, int8) and OpenVINO on the SQuAD dev long articles.

Same process, same passages, same queries. For each article one index is built per runtime; retrieval is scored
as in ``bench/ingest_qa.py`` (a hit is a passage sharing half of itself or of the gold paragraph). Embedding speed
is timed on the same passage texts, the runtimes taking turns article by article (the order rotates) so machine
noise falls on all of them alike. Reports passages/s, the ratio to PyTorch, hit@1/5/10 (dense and hybrid) and the
cosine of each runtime's vectors to PyTorch's.

    python bench/embed_runtimes.py [--articles N] [--questions 30] [--runtimes onnx,openvino] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from ingest_qa import article_text, hits_at, squad_articles  # noqa: E402

from app import Index, Settings  # noqa: E402
from app.factory import make_embedder  # noqa: E402

RUNTIMES = ("sentence-transformers", "onnx", "onnx-int8", "openvino")  # the first is the reference


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--articles", type=int, default=None, help="first N articles only")
    p.add_argument("--questions", type=int, default=30, help="questions per article (the first N answerable)")
    p.add_argument("--runtimes", default=",".join(RUNTIMES[1:]), help="runtimes beside PyTorch, comma-separated")
    p.add_argument("--out", default=str(ROOT / "bench" / "out" / "embed_runtimes.json"))
    args = p.parse_args()
    runtimes = (RUNTIMES[0], *(r for r in args.runtimes.split(",") if r))
    base = Settings()
    settings = {r: base.replace(embed={"backend": r}) for r in runtimes}
    embedders = {r: make_embedder(settings[r].embed, base.cache) for r in runtimes}
    for e in embedders.values():  # exports (cached) and loads before any timing
        e.embed_passages(["warm up"])
    seconds = dict.fromkeys(runtimes, 0.0)
    passages_timed = 0
    cosines: dict[str, list[float]] = {r: [] for r in runtimes[1:]}
    spans: dict[str, list] = {f"{r}/{m}": [] for r in runtimes for m in ("dense", "hybrid")}
    golds: list[tuple[int, int]] = []
    articles = squad_articles()[: args.articles]
    with tempfile.TemporaryDirectory() as tmp:
        for n, art in enumerate(articles):
            text, starts = article_text(art)
            path = Path(tmp) / f"{art['doc_id']}.txt"
            path.write_text(text)
            questions = [q for q in art["questions"] if not q.get("is_impossible")][: args.questions]
            indexes = {r: Index.build([path], Path(tmp) / f"{art['doc_id']}-{r}", settings=settings[r],
                                      embedder=embedders[r]) for r in runtimes}
            texts = [p.text for p in indexes[runtimes[0]].passages()]
            order = runtimes[n % len(runtimes):] + runtimes[: n % len(runtimes)]
            vectors = {}
            for r in order:
                t = time.perf_counter()
                vectors[r] = embedders[r].embed_passages(texts)
                seconds[r] += time.perf_counter() - t
            passages_timed += len(texts)
            for r in runtimes[1:]:
                cosines[r].extend((vectors[r] * vectors[runtimes[0]]).sum(axis=1).tolist())
            for q in questions:
                g = q["gold_paragraph"]
                golds.append((starts[g], starts[g] + len(art["paragraphs"][g])))
                for r in runtimes:
                    for m in ("dense", "hybrid"):
                        spans[f"{r}/{m}"].append([h.passage.chars for h in indexes[r].search(q["question"], 10,
                                                                                              mode=m)])
            for index in indexes.values():
                index.close()
            print(f"[{n + 1}/{len(articles)}] {art['doc_id']}: {len(texts)} passages, {len(questions)} questions",
                  file=sys.stderr)
    report = {
        "articles": len(articles), "questions": len(golds), "passages_timed": passages_timed,
        "passages_per_second": {r: passages_timed / seconds[r] for r in runtimes},
        "speed_vs_pytorch": {r: seconds[runtimes[0]] / seconds[r] for r in runtimes},
        "cosine_to_pytorch": {r: {"min": float(np.min(c)), "mean": float(np.mean(c))} for r, c in cosines.items()},
        "retrieval": {k: hits_at(v, golds) for k, v in spans.items()},
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
