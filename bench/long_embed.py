"""Long-context embedding benchmark: truncation vs chunk-and-pool vs position interpolation.

LongEmbed-style synthetic probes built from the Paul Graham essays (read from
``../shared/data``, never copied into the repository):

- passkey: "<Name>'s pass key is 71432. Remember it. ..." inserted into the repeated noise
  "The grass is green. The sky is blue. ..." (as in LongEmbed and the original passkey test);
  query "What is <Name>'s pass key?".
- needle: "The best thing to do in <City> is to <activity>." inserted into Paul Graham essay
  text; query "What is the best thing to do in <City>?".

For each task and length, N candidate documents are built that share one haystack (the same
filler text) and differ only in their fact and its depth (depths cycle through --depths), so
the only evidence that tells them apart is the fact: a method that does not see it cannot
rank its document first. Query i must rank document i strictly first among the N (Acc@1).
Also: Recall@5 on SQuAD articles regrouped into 1k-2k-token passages, and embedding throughput
(document tokens per second) as a ratio against truncation measured in the same run, since other
processes share the CPU.

Run from the repository root:
    python bench/long_embed.py --out /tmp/long_embed.json > /tmp/long_embed.md
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ingest.core.settings import EmbedSettings  # noqa: E402
from ingest.embed import SentenceTransformerEmbedder  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
if not DATA.exists():
    DATA = Path("/work/shared/data")

NAMES = [
    "Alice", "Bruno", "Chiara", "Dmitri", "Elena", "Farid", "Greta", "Hiroshi", "Ingrid", "Jamal",
    "Katarina", "Lorenzo", "Mei", "Nikolai", "Olga", "Pedro", "Quentin", "Rosa", "Sven", "Tamara",
    "Umberto", "Vera", "Wilhelm", "Ximena", "Yusuf", "Zofia", "Anton", "Beatriz", "Cyril", "Daria",
]
CITIES = [
    ("Lisbon", "ride the old yellow tram up the hill at dawn"),
    ("Kyoto", "walk through the bamboo grove before the crowds arrive"),
    ("Reykjavik", "soak in a geothermal pool while it snows"),
    ("Marrakesh", "bargain for lanterns in the covered market"),
    ("Oslo", "take the ferry out to the islands with a picnic"),
    ("Cusco", "drink coca tea on a balcony above the plaza"),
    ("Hanoi", "eat noodle soup on a tiny plastic stool by the lake"),
    ("Tbilisi", "visit the sulphur baths in the old town"),
    ("Valparaiso", "climb the painted staircases to watch the harbour"),
    ("Tallinn", "walk the medieval walls and count the towers"),
    ("Zanzibar", "sail a wooden dhow at sunset"),
    ("Quebec", "skate on the frozen river under the citadel"),
    ("Seville", "watch flamenco in a courtyard full of orange trees"),
    ("Krakow", "eat dumplings in the cellar restaurants of the square"),
    ("Hobart", "take a boat to the island museum of strange art"),
    ("Bergen", "ride the funicular and look down on the fjord"),
    ("Granada", "see the palace gardens lit up at night"),
    ("Ljubljana", "cycle along the river past the dragon bridge"),
    ("Montevideo", "grill meat at the port market with strangers"),
    ("Sapporo", "sculpt snow at the winter festival"),
    ("Porto", "taste wine in the cellars across the river"),
    ("Dubrovnik", "kayak around the city walls"),
    ("Istanbul", "cross the strait by ferry while drinking tea"),
    ("Havana", "ride in a pink convertible along the seafront"),
    ("Bruges", "row a boat through the narrow canals"),
    ("Salzburg", "hear a string quartet in a candlelit fortress"),
    ("Chiang Mai", "release a paper lantern over the river"),
    ("Cape Town", "hike up the flat mountain for the view"),
    ("Edinburgh", "climb the extinct volcano in the park"),
    ("Vancouver", "cycle the sea wall around the big park"),
]


@dataclass(frozen=True)
class Probe:
    task: str
    length: int
    docs: list[str]
    queries: list[str]
    depths: list[float]


NOISE = "The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again. "


def haystack() -> str:
    files = sorted((DATA / "needle" / "PaulGrahamEssays").glob("*.txt"))
    return "\n\n".join(f.read_text(encoding="utf-8", errors="replace") for f in files)


def filler_text(task: str, essays: str) -> str:
    """The haystack a task's facts are hidden in: repeated noise for passkey, essays for needle."""
    return NOISE * 2000 if task == "passkey" else essays


def build_probes(
    tokenizer: object, text: str, *, task: str, length: int, n: int, depths: Sequence[float], seed: int
) -> Probe:
    """N documents of about ``length`` tokens (special tokens included), fact i in document i.

    All N share one stretch of filler (same start), so documents differ only in their fact and depth.
    """
    rng = random.Random(f"{task}-{length}-{seed}")
    text = filler_text(task, text)
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True, verbose=False)  # type: ignore[operator]
    offsets = enc["offset_mapping"]
    start = rng.randrange(0, len(offsets) - length - 1)  # one haystack for every document of this length
    docs, queries, doc_depths = [], [], []
    for i in range(n):
        if task == "passkey":
            name, key = NAMES[i % len(NAMES)], rng.randint(10000, 99999)
            fact = f"{name}'s pass key is {key}. Remember it. {key} is the pass key of {name}."
            query = f"What is {name}'s pass key?"
        else:
            city, activity = CITIES[i % len(CITIES)]
            fact = f"The best thing to do in {city} is to {activity}."
            query = f"What is the best thing to do in {city}?"
        fact_tokens = len(tokenizer(fact, add_special_tokens=False)["input_ids"])  # type: ignore[operator]
        # 2% margin: re-tokenising the joined text can add a token or two at the seams.
        filler_tokens = max(8, int(length * 0.98) - 2 - fact_tokens)
        depth = depths[i % len(depths)]
        cut = start + round(depth * filler_tokens)
        a, c, b = offsets[start][0], offsets[cut][0], offsets[start + filler_tokens - 1][1]
        docs.append((text[a:c].rstrip() + " " + fact + " " + text[c:b].lstrip()).strip())
        queries.append(query)
        doc_depths.append(depth)
    return Probe(task, length, docs, queries, doc_depths)


def acc_at_1(doc_vecs: np.ndarray, query_vecs: np.ndarray) -> np.ndarray:
    """Per query: 1 if its own document scores strictly highest."""
    scores = query_vecs @ doc_vecs.T
    own = np.diag(scores)
    others = np.where(np.eye(len(own), dtype=bool), -np.inf, scores).max(axis=1)
    return (own > others).astype(float)


def squad_passages(
    tokenizer: object, *, articles: int, questions: int, seed: int
) -> tuple[list[str], list[str], list[int]]:
    """Consecutive paragraphs grouped into 1k-2k-token passages; gold = passage holding the gold paragraph."""
    rows = [json.loads(line) for line in (DATA / "squad" / "squad-v1.1-dev-longdoc.jsonl").open(encoding="utf-8")]
    rng = random.Random(seed)
    rows = rng.sample(rows, min(articles, len(rows)))
    passages: list[str] = []
    qs: list[tuple[str, int]] = []
    for row in rows:
        encoded = tokenizer(row["paragraphs"], add_special_tokens=False, verbose=False)  # type: ignore[operator]
        lengths = [len(ids) for ids in encoded["input_ids"]]
        where: dict[int, int] = {}
        current: list[str] = []
        size = 0
        for idx, (para, n) in enumerate(zip(row["paragraphs"], lengths, strict=True)):
            if current and size >= 1000 or current and size + n > 2000:
                passages.append("\n\n".join(current))
                current, size = [], 0
            current.append(para)
            size += n
            where[idx] = len(passages)
        if current:
            passages.append("\n\n".join(current))
        qs += [(q["question"], where[q["gold_paragraph"]]) for q in row["questions"] if not q.get("is_impossible")]
    qs = rng.sample(qs, min(questions, len(qs)))
    return passages, [q for q, _ in qs], [g for _, g in qs]


def squad_corpus(
    folder: Path, *, questions: int, seed: int
) -> tuple[list[Path], list[tuple[str, int, tuple[int, int]]]]:
    """Every SQuAD long-document article as one text file; sampled questions with (article, gold char span)."""
    rows = [json.loads(line) for line in (DATA / "squad" / "squad-v1.1-dev-longdoc.jsonl").open(encoding="utf-8")]
    rng = random.Random(seed)
    paths, qs = [], []
    for a, row in enumerate(rows):
        text, starts = row["title"] + "\n\n", []
        for para in row["paragraphs"]:
            starts.append(len(text))
            text += para + "\n\n"
        path = folder / f"article-{a:02d}.txt"
        path.write_text(text, encoding="utf-8")
        paths.append(path)
        for q in row["questions"]:
            if not q.get("is_impossible"):
                start = starts[q["gold_paragraph"]]
                qs.append((q["question"], a, (start, start + len(row["paragraphs"][q["gold_paragraph"]]))))
    return paths, rng.sample(qs, min(questions, len(qs)))


def coarse_to_fine(args: argparse.Namespace) -> dict:
    """Document vectors for coarse-to-fine search over all SQuAD long documents (issue 4, item 5).

    Documents are ranked for each question by: ``truncate`` (the first native window only),
    ``passage-mean`` (the index's default file vector: mean of its passage vectors), and ``pi-L``
    (``embed_documents`` with PI to L tokens: the document embedded in sections of L tokens, pooled).
    Passage hit@5 (a top-5 passage overlaps the gold paragraph) compares flat hybrid search with
    searching only the best ``--coarse-docs`` documents by each kind of document vector.
    """
    import tempfile

    from ingest.core.settings import SearchSettings, SplitSettings
    from ingest.long_inputs import embed_documents
    from ingest.split import DocumentSplitter, ProseSplitter
    from retrieval.build import build_index
    from retrieval.search import Searcher
    from retrieval.store import IndexReader

    folder = Path(tempfile.mkdtemp(prefix="long-embed-c2f-"))
    paths, qs = squad_corpus(folder, questions=args.c2f_questions, seed=args.seed)
    base = SentenceTransformerEmbedder(EmbedSettings(device="cpu", batch_size=args.batch_size))
    base.warm_up()
    split = SplitSettings()
    t = time.perf_counter()
    build_index(paths, folder / "index", embedder=base,
                splitter=DocumentSplitter(split, ProseSplitter(split, base.count_tokens)))
    index_s = time.perf_counter() - t
    reader = IndexReader(folder / "index")
    docs = reader.documents()
    order = {d.source: i for i, d in enumerate(docs)}
    gold_doc = [order[str(paths[a])] for _, a, _ in qs]
    means = reader.file_vectors()
    texts = [d.text for d in docs]
    doc_vectors = {"passage-mean": np.stack([means[d.doc_id] for d in docs])}
    seconds = {"passage-mean": 0.0}
    t = time.perf_counter()
    doc_vectors["truncate"] = base.embed_passages(texts)
    seconds["truncate"] = time.perf_counter() - t
    for length in args.c2f_lengths:
        e = SentenceTransformerEmbedder(EmbedSettings(device="cpu", batch_size=args.batch_size, extension="pi",
                                                      max_length=length))
        e.warm_up()
        t = time.perf_counter()
        doc_vectors[f"pi-{length}"] = embed_documents(e, texts)
        seconds[f"pi-{length}"] = time.perf_counter() - t
        logging.info("c2f pi-%d document vectors in %.0fs", length, seconds[f"pi-{length}"])
    q_vecs = base.embed_queries([q for q, _, _ in qs])
    searcher = Searcher(reader, base, SearchSettings())
    doc_ids = [d.doc_id for d in docs]

    def hit5(hits: list, span: tuple[int, int], source: str) -> bool:
        return any(h.passage.source == source and h.passage.chars[0] < span[1] and span[0] < h.passage.chars[1]
                   for h in hits[:5])

    out: dict = {"documents": len(docs), "questions": len(qs), "coarse_docs": args.coarse_docs,
                 "document_tokens": int(sum(base.count_tokens_batch(texts))), "index_seconds": index_s,
                 "doc_recall": {}, "seconds": seconds, "passage_hit5": {}}
    flat = [hit5(searcher.search(q, 5), span, str(paths[a])) for q, a, span in qs]
    out["passage_hit5"]["flat"] = float(np.mean(flat))
    for name, vecs in doc_vectors.items():
        ranks = np.argsort(-(q_vecs @ vecs.T), axis=1)
        out["doc_recall"][name] = {k: float(np.mean([g in r[:k] for g, r in zip(gold_doc, ranks, strict=True)]))
                                   for k in (1, 3)}
        hits = [hit5(searcher.hybrid(q, 5, doc_ids=[doc_ids[j] for j in r[: args.coarse_docs]]), span, str(paths[a]))
                for (q, a, span), r in zip(qs, ranks, strict=True)]
        out["passage_hit5"][f"coarse({name})"] = float(np.mean(hits))
        logging.info("c2f %s doc R@1=%.3f R@3=%.3f passage hit@5=%.3f", name, out["doc_recall"][name][1],
                     out["doc_recall"][name][3], out["passage_hit5"][f"coarse({name})"])
    reader.close()
    return out


def timed(embedder: SentenceTransformerEmbedder, texts: list[str]) -> tuple[np.ndarray, float]:
    t = time.perf_counter()
    vecs = embedder.embed_passages(texts)
    return vecs, time.perf_counter() - t


def run_model(model: str, args: argparse.Namespace, text: str) -> dict:
    lengths = args.mpnet_lengths if "mpnet" in model else args.lengths
    tasks = args.mpnet_tasks if "mpnet" in model else args.tasks
    n = args.mpnet_candidates if "mpnet" in model else args.candidates
    target = max(lengths)
    methods = {
        "truncate": EmbedSettings(model=model, device="cpu", batch_size=args.batch_size),
        "chunk": EmbedSettings(
            model=model, device="cpu", batch_size=args.batch_size, extension="chunk", max_length=target
        ),
        "pi": EmbedSettings(model=model, device="cpu", batch_size=args.batch_size, extension="pi", max_length=target),
    }
    if args.attn_scale:
        methods["pi+scale"] = EmbedSettings(
            model=model, device="cpu", batch_size=args.batch_size, extension="pi", max_length=target, attn_scale=True
        )
    methods = {k: v for k, v in methods.items() if k == "truncate" or k in args.methods or k == "pi+scale"}
    embedders = {name: SentenceTransformerEmbedder(s) for name, s in methods.items()}
    for e in embedders.values():
        e.warm_up()
    tok = embedders["truncate"].tokenizer
    out: dict = {"model": model, "native": embedders["truncate"].max_length, "candidates": n, "results": []}
    out["identity"] = {name: e.identity() for name, e in embedders.items()}
    for task in tasks:
        for length in lengths:
            probe = build_probes(tok, text, task=task, length=length, n=n, depths=args.depths, seed=args.seed)
            doc_tokens = [len(ids) for ids in tok(probe.docs, verbose=False)["input_ids"]]
            for name, e in embedders.items():
                vecs, secs = timed(e, probe.docs)
                hits = acc_at_1(vecs, e.embed_queries(probe.queries))
                by_depth = {
                    str(d): float(hits[[i for i, x in enumerate(probe.depths) if x == d]].mean()) for d in args.depths
                }
                out["results"].append({
                    "task": task, "length": length, "method": name, "acc1": float(hits.mean()), "by_depth": by_depth,
                    "doc_tokens": int(sum(doc_tokens)), "seconds": secs,
                })
                logging.info("%s %s %d %s acc@1=%.2f %.1fs", model, task, length, name, hits.mean(), secs)
    if args.squad_articles and "mpnet" not in model:
        passages, questions, gold = squad_passages(tok, articles=args.squad_articles, questions=args.squad_questions,
                                                   seed=args.seed)
        p_tokens = [len(ids) for ids in tok(passages, verbose=False)["input_ids"]]
        out["squad"] = {"passages": len(passages), "questions": len(questions),
                        "passage_tokens": [int(np.min(p_tokens)), int(np.median(p_tokens)), int(np.max(p_tokens))],
                        "recall5": {}, "seconds": {}}
        for name, e in embedders.items():
            vecs, secs = timed(e, passages)
            top = np.argsort(-(e.embed_queries(questions) @ vecs.T), axis=1)[:, :5]
            out["squad"]["recall5"][name] = float(np.mean([g in row for g, row in zip(gold, top, strict=True)]))
            out["squad"]["seconds"][name] = secs
            logging.info("%s squad %s R@5=%.3f %.1fs", model, name, out["squad"]["recall5"][name], secs)
    return out


def markdown(report: list[dict], args: argparse.Namespace) -> str:
    lines = []
    for m in report:
        rows = m["results"]
        lengths = sorted({r["length"] for r in rows})
        methods = list(dict.fromkeys(r["method"] for r in rows))
        lines.append(
            f"\n**{m['model']}** (native window {m['native']} tokens; {m['candidates']} candidates per probe set)\n"
        )
        head = "| task | method | " + " | ".join(str(n) for n in lengths) + " | avg ≤512 | avg >512 |"
        lines += [head, "|" + "---|" * (len(lengths) + 4)]
        for task in dict.fromkeys(r["task"] for r in rows):
            for meth in methods:
                acc = {r["length"]: r["acc1"] for r in rows if r["task"] == task and r["method"] == meth}
                lo = [acc[n] for n in lengths if n <= 512]
                hi = [acc[n] for n in lengths if n > 512]
                cells = " | ".join(f"{100 * acc[n]:.0f}" for n in lengths)
                lines.append(f"| {task} | {meth} | {cells} | {100 * np.mean(lo):.1f} | {100 * np.mean(hi):.1f} |")
        lines.append("\nThroughput, document tokens/s (ratio to truncation in the same run):\n")
        lines += ["| method | " + " | ".join(str(n) for n in lengths) + " |", "|" + "---|" * (len(lengths) + 1)]
        for meth in methods:
            cells = []
            for n in lengths:
                sel = [r for r in rows if r["length"] == n]
                tps = sum(r["doc_tokens"] for r in sel if r["method"] == meth) / sum(
                    r["seconds"] for r in sel if r["method"] == meth)
                base = sum(r["doc_tokens"] for r in sel if r["method"] == "truncate") / sum(
                    r["seconds"] for r in sel if r["method"] == "truncate")
                cells.append(f"{tps:.0f} ({tps / base:.2f}×)")
            lines.append(f"| {meth} | " + " | ".join(cells) + " |")
        if "squad" in m:
            s = m["squad"]
            lines.append(
                f"\nSQuAD long documents: {s['passages']} passages of "
                f"{s['passage_tokens'][0]}–{s['passage_tokens'][2]} "
                f"tokens (median {s['passage_tokens'][1]}), {s['questions']} questions, Recall@5: "
                + ", ".join(f"{k} {v:.3f}" for k, v in s["recall5"].items())
            )
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="+", default=["all-MiniLM-L6-v2", "all-mpnet-base-v2"])
    p.add_argument("--tasks", nargs="+", default=["passkey", "needle"])
    p.add_argument("--lengths", nargs="+", type=int, default=[256, 512, 1024, 2048, 4096])
    p.add_argument("--depths", nargs="+", type=float, default=[0.0, 0.25, 0.5, 0.75, 1.0])
    p.add_argument("--candidates", type=int, default=20)
    p.add_argument("--mpnet-lengths", nargs="+", type=int, default=[512, 1024, 2048])
    p.add_argument("--mpnet-tasks", nargs="+", default=["needle"])
    p.add_argument("--mpnet-candidates", type=int, default=10)
    p.add_argument("--squad-articles", type=int, default=6)
    p.add_argument("--squad-questions", type=int, default=200)
    p.add_argument("--attn-scale", action="store_true", help="also run PI with log-length attention scaling")
    p.add_argument("--methods", nargs="+", default=["chunk", "pi"], choices=["chunk", "pi"],
                   help="methods besides truncation (the throughput baseline, always run)")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, help="write the raw results as JSON here")
    p.add_argument("--parts", nargs="+", default=["probes", "c2f"], choices=["probes", "c2f"],
                   help="probes: synthetic probes + SQuAD passages + throughput; c2f: coarse-to-fine documents")
    p.add_argument("--c2f-questions", type=int, default=300)
    p.add_argument("--c2f-lengths", nargs="+", type=int, default=[2048], help="PI targets for document vectors")
    p.add_argument("--coarse-docs", type=int, default=3, help="documents searched after the coarse step")
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    for name in ("sentence_transformers", "transformers", "ingest"):
        logging.getLogger(name).setLevel(logging.WARNING)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    report = [run_model(m, args, haystack()) for m in args.models] if "probes" in args.parts else []
    c2f = coarse_to_fine(args) if "c2f" in args.parts else None
    if args.out:
        args.out.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, "report": report,
                                        "coarse_to_fine": c2f}, indent=1))
    sys.stdout.write(markdown(report, args))
    if c2f:
        sys.stdout.write(c2f_markdown(c2f))


def c2f_markdown(c: dict) -> str:
    """The coarse-to-fine table."""
    lines = [f"\nCoarse-to-fine over {c['documents']} SQuAD long documents ({c['document_tokens']} tokens), "
             f"{c['questions']} questions, all-MiniLM-L6-v2; coarse step keeps {c['coarse_docs']} documents:\n",
             "| document vectors | doc R@1 | doc R@3 | passage hit@5 after coarse step | doc-vector seconds |",
             "|---|---|---|---|---|"]
    for name, r in c["doc_recall"].items():
        lines.append(f"| {name} | {r[1]:.3f} | {r[3]:.3f} | {c['passage_hit5'][f'coarse({name})']:.3f} "
                     f"| {c['seconds'][name]:.0f} |")
    lines.append(f"| flat hybrid search (no coarse step) | – | – | {c['passage_hit5']['flat']:.3f} | – |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
