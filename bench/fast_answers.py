"""Issue 23 benchmark: answers in seconds on a laptop CPU (evidence-dense context, prompt work done once).

Subcommands:

  budget   no model call: for SQuAD v1.1 questions of the development articles, the passages the default
           pipeline hands the model (top-k of the hybrid search, merged), and of those what
           ``generation/evidence.py`` keeps at each evidence budget: does the kept text still hold a gold
           answer, and how many tokens (the answering model's tokenizer) it is. Chooses the default budget.
  answers  the packaged model answering, variant by variant for each question in turn (interleaved, so a
           machine that drifts affects every variant alike): ``today`` (whole passages, the separate yes/no
           answer check), ``new`` (the new defaults), ``langchain`` (DESIGN §6: LangChain's top-4 chunks
           into the same model with a plain prompt, no checks). Sets: SQuAD v1.1 questions of held-out
           articles, SQuAD v2.0 unanswerable questions of held-out articles, HotpotQA, FinanceBench dev.
           Writes one JSON record per answer; ``report`` summarises them.
  report   the table of a records file: p50/p90 seconds (first token, total), prompt tokens, contains-gold,
           F1, citation precision/recall, abstention and false abstention, per set and variant.

    python bench/fast_answers.py budget --articles dev --questions 300
    python bench/fast_answers.py answers --squad 60 --unanswerable 40 --hotpot 20 --financebench 20 \
        --out bench/out/fast_answers.jsonl
    python bench/fast_answers.py report bench/out/fast_answers.jsonl

Articles: the development half is ``bench/answerable.py``'s tuning half (where thresholds are tuned); the
held-out half is never used to choose anything here.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from answerable import split_articles  # noqa: E402

from app.evaluate import EvalItem  # noqa: E402
from app.metrics import Evidence, contains_gold  # noqa: E402
from generation.answer import PASSAGE_OVERHEAD_TOKENS, context_budget, header_tokens  # noqa: E402
from generation.context import merge_overlaps, pack_passages  # noqa: E402
from generation.evidence import blend, lexical_scores, select_evidence  # noqa: E402
from ingest.core.records import Passage  # noqa: E402
from ingest.core.settings import Settings  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
BUDGETS = (0, 400, 300, 200, 150, 100)
log = logging.getLogger("fast_answers")


def squad_rows() -> dict[str, dict[str, Any]]:
    return {json.loads(line)["doc_id"]: json.loads(line)
            for line in (DATA / "squad" / "squad-v1.1-dev-longdoc.jsonl").open(encoding="utf-8")}


def article_file(folder: Path, art: dict[str, Any]) -> Path:
    path = folder / f"squad-{art['doc_id']}.txt"
    if not path.exists():
        path.write_text(art["title"] + "\n\n" + "".join(p + "\n\n" for p in art["paragraphs"]), encoding="utf-8")
    return path


def half(name: str) -> list[str]:
    """The SQuAD articles of one half ("dev" or "held-out"), as ``bench/answerable.py`` splits them."""
    unanswerable = {json.loads(line)["doc_id"]
                    for line in (DATA / "squad" / "squad-v2.0-dev-unanswerable.jsonl").open(encoding="utf-8")}
    tune, held = split_articles(sorted(unanswerable))
    return tune if name == "dev" else held


def contexts(settings: Settings, llm: Any, items: list[tuple[str, dict[str, Any]]],
             cache: Path | None) -> list[list[Passage]]:
    """Per question, the passages the default pipeline packs into the prompt (read from ``cache`` when it holds
    them: plain JSON of ``ingest/core/serialize.py``)."""
    from app.sdk import open_adhoc
    from ingest.core.serialize import passage_from_dict, passage_to_dict

    if cache is not None and cache.is_file():
        return [[passage_from_dict(p) for p in ps] for ps in json.loads(cache.read_text(encoding="utf-8"))]
    rows = squad_rows()
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        indexes: dict[str, Any] = {}
        for n, (doc, q) in enumerate(items, 1):
            if doc not in indexes:
                indexes[doc] = open_adhoc([str(article_file(Path(tmp), rows[doc]))], settings=settings, llm=llm)
            hits = indexes[doc].search(q["question"], settings.answer.top_k)
            passages = merge_overlaps([h.passage for h in hits])
            room = context_budget(llm, q["question"], settings.llm.max_answer_tokens)
            out.append(pack_passages(passages, room, llm.count_tokens, overhead_tokens=PASSAGE_OVERHEAD_TOKENS
                                     + header_tokens(passages, llm)).passages)
            if n % 50 == 0:
                log.info("%d/%d", n, len(items))
        for index in indexes.values():
            index.close()
    if cache is not None:
        cache.write_text(json.dumps([[passage_to_dict(p) for p in ps] for ps in out]), encoding="utf-8")
    return out


def budget(args: argparse.Namespace) -> int:
    """Gold answers kept in the prompt's text at each evidence budget, on development articles."""
    from generation.llamacpp import LlamaCppLLM

    settings = Settings()
    llm = LlamaCppLLM(settings.llm, settings.cache)
    rows = squad_rows()
    rng = random.Random(5)
    docs = half(args.articles)
    items = [(d, q) for d in docs for q in rows[d]["questions"] if not q.get("is_impossible")]
    items = rng.sample(items, min(args.questions, len(items)))
    kept = {b: 0 for b in BUDGETS}
    tokens: dict[int, list[int]] = {b: [] for b in BUDGETS}
    scorer = lexical_scores
    if args.scorer != "lexical":
        from app.factory import make_embedder

        embedder = make_embedder(settings.embed, settings.cache)

        def scorer(question: str, texts: Sequence[str]) -> list[float]:
            vectors = embedder.embed_passages(list(texts))
            cosine = [float(x) for x in vectors @ embedder.embed_queries([question])[0]]
            return cosine if args.scorer == "embedder" else blend(lexical_scores(question, texts), cosine, 0.5)
    for (_, q), packed in zip(items, contexts(settings, llm, items, args.cache), strict=True):
        for b in BUDGETS:
            if b == 0:
                text = "\n".join(p.text for p in packed)
                count = sum(llm.count_tokens(p.text) for p in packed)
            else:
                ev = select_evidence(q["question"], packed, b, llm.count_tokens, scorer=scorer,
                                     neighbours=args.neighbours)
                text, count = "\n".join(e.text() for e in ev.excerpts), ev.tokens
            kept[b] += contains_gold(text, q["answers"]) > 0
            tokens[b].append(count)
    n = len(items)
    print(f"\n{n} SQuAD v1.1 questions of the {args.articles} articles ({', '.join(docs)}); scorer {args.scorer}, "
          f"{args.neighbours} neighbour(s)\n")
    print("| evidence budget | gold answer in the prompt's text | passage tokens p50 | p90 |")
    print("|---|---|---|---|")
    for b in BUDGETS:
        t = sorted(tokens[b])
        print(f"| {b or 'whole passages'} | {kept[b] / n:.3f} ({kept[b]}/{n}) | {statistics.median(t):.0f} | "
              f"{t[int(0.9 * (len(t) - 1))]} |")
    return 0


# -- answers: today's default, the new default and LangChain, question by question -----------------------------

#: The variants' settings over ``Settings()``: ``today`` is the default before issue 23 (whole passages, the system
#: prompt read again each question); ``new`` is the current default.
TODAY = {"answer": {"evidence_tokens": 0, "answer_check": "separate"}, "llm": {"keep_system_prompt": False}}


def eval_items(args: argparse.Namespace, folder: Path) -> list[tuple[str, EvalItem]]:
    """(set, item) for every set asked for, interleaved one question of each set in turn."""
    from answerable import questions
    from financebench import FB, load_questions
    from qa_eval import hotpot_items, interleave

    rows = squad_rows()
    held = half("held-out")
    rng = random.Random(11)
    squad: list[EvalItem] = []
    pool = [(d, q) for d in held for q in rows[d]["questions"] if not q.get("is_impossible")]
    for doc, q in rng.sample(pool, min(args.squad, len(pool))):
        path = str(article_file(folder, rows[doc]))
        start = [len(rows[doc]["title"]) + 2]
        for para in rows[doc]["paragraphs"]:
            start.append(start[-1] + len(para) + 2)
        para = rows[doc]["paragraphs"][q["gold_paragraph"]]
        squad.append(EvalItem(q["question"], tuple(q["answers"]), (path,),
                              (Evidence(chars=(start[q["gold_paragraph"]], start[q["gold_paragraph"]] + len(para))),),
                              id=f"squad:{q['id']}", tags=("squad", doc)))
    unanswerable = [EvalItem(q["question"], (), (str(article_file(folder, rows[q["doc"]])),), id=f"v2:{q['id']}",
                             tags=("unanswerable", q["doc"]))
                    for q in questions("held-out", held, unanswerable=args.unanswerable, answerable=0)
                    ][: args.unanswerable]
    hotpot = hotpot_items(folder, n=args.hotpot)
    fb_questions = load_questions(FB / "questions.jsonl")
    by_doc: dict[str, list[Any]] = {}
    for q in fb_questions:
        by_doc.setdefault(q.doc, []).append(q)
    chosen: list[Any] = []  # whole filings, most questions first, until enough: fewer indexes to build
    for doc in sorted(by_doc, key=lambda d: (-len(by_doc[d]), d)):
        if len(chosen) >= args.financebench:
            break
        chosen += by_doc[doc]
    fb = [EvalItem(q.question, (q.answer,), (str(q.pdf),), tuple(Evidence(page=p + 1) for p in q.pages0),
                   id=f"fb:{q.id}", tags=("financebench", q.doc)) for q in chosen]
    random.Random(3).shuffle(fb)
    sets = {"squad": squad, "unanswerable": unanswerable, "hotpotqa": hotpot, "financebench": fb}
    return [(name, item) for name, _, item in interleave({k: v for k, v in sets.items() if v})]


class LangChainBaseline:
    """DESIGN §6: the loader (PyPDFLoader / TextLoader), RecursiveCharacterTextSplitter 1000/200, the same
    embedder through HuggingFaceEmbeddings, LangChain's FAISS, top-4 chunks into the same model with the "stuff"
    prompt (``bench/financebench.py``); no citation check, no abstention."""

    def __init__(self, model: str) -> None:
        from financebench import langchain_embeddings

        self.embeddings = langchain_embeddings(model)
        self.stores: dict[str, Any] = {}

    def store(self, path: str) -> Any:
        from financebench import LANGCHAIN_SPLIT
        from langchain_community.document_loaders import PyPDFLoader, TextLoader
        from langchain_community.vectorstores import FAISS
        from langchain_text_splitters import RecursiveCharacterTextSplitter

        if path not in self.stores:
            docs = (PyPDFLoader(path) if path.endswith(".pdf") else TextLoader(path, encoding="utf-8")).load()
            chunks = [c for c in RecursiveCharacterTextSplitter(**LANGCHAIN_SPLIT).split_documents(docs)
                      if c.page_content.strip()]
            self.stores[path] = FAISS.from_documents(chunks, self.embeddings)
        return self.stores[path]

    def answer(self, item: EvalItem, llm: Any, max_tokens: int) -> dict[str, Any]:
        from financebench import LANGCHAIN_K, plain_prompt

        from ingest.core.records import Message

        store = self.store(item.docs[0])  # built before the clock starts, as docqa's index is
        start = time.perf_counter()
        hits = store.similarity_search(item.question, k=LANGCHAIN_K)
        prompt = plain_prompt(item.question, [d.page_content for d in hits])
        completion = llm.complete([Message("user", prompt)], max_tokens=max_tokens)
        seconds = time.perf_counter() - start
        first = None if completion.first_token_seconds is None else seconds - completion.seconds + \
            completion.first_token_seconds
        return {"text": completion.text, "seconds": seconds, "first_token": first,
                "prompt_tokens": completion.prompt_tokens, "read_tokens": completion.prompt_tokens,
                "chunks": [d.page_content for d in hits], "pages": [d.metadata.get("page") for d in hits]}


def docqa_answer(index: Any, item: EvalItem) -> tuple[Any, dict[str, Any]]:
    """The pipeline's answer as a user gets it (streamed: first text piece timed), and its timings."""
    start = time.perf_counter()
    stream = index.ask_stream(item.question)
    first = None
    for _ in stream:
        if first is None:
            first = time.perf_counter() - start
    answer = stream.answer
    seconds = time.perf_counter() - start
    model = [s for s in answer.trace if s.name in ("generate", "answer_check")]
    prompt = sum(s.prompt_tokens for s in model)
    cached = sum(s.cached_tokens for s in model)
    checks = {s.name: [s.outcome, *s.details] for s in answer.trace if s.name in ("answerable", "answer_check")}
    return answer, {"text": answer.text, "seconds": seconds, "checks": checks, "draft": answer.draft,
                    "first_token": first if first is not None else seconds,
                    "prompt_tokens": prompt, "read_tokens": prompt - cached,
                    "notes": [d for s in answer.trace if s.name == "prompt" for d in s.details]}


def lc_score(item: EvalItem, out: dict[str, Any]) -> dict[str, Any]:
    """Scores of a LangChain answer: the cited chunks hold the evidence when they contain the gold paragraph's
    answer span (SQuAD, HotpotQA: chunks overlap their evidence's text) or sit on an evidence page."""
    from financebench import cited_numbers

    from app import metrics

    cited = [n - 1 for n in cited_numbers(out["text"], len(out["chunks"]))]
    rec: dict[str, Any] = {"abstained": metrics.abstained(out["text"]) or "don't know" in out["text"].lower(),
                           "answerable": item.answerable}
    if item.answerable:
        rec.update(f1=metrics.token_f1(out["text"], item.answers), contains=metrics.contains_gold(out["text"],
                                                                                                 item.answers))
    if item.evidence:
        text = Path(item.docs[0]).read_text(encoding="utf-8") if not item.docs[0].endswith(".pdf") else ""

        def holds(i: int) -> bool:
            chunk = out["chunks"][i]
            at = text.find(chunk) if text else -1  # a chunk is a verbatim piece of the text file
            for e in item.evidence:
                if e.page is not None and out["pages"][i] is not None and int(out["pages"][i]) + 1 == e.page:
                    return True
                if e.chars is not None and at >= 0 and at < e.chars[1] and e.chars[0] < at + len(chunk):
                    return True
            return False
        good = [holds(i) for i in cited]
        rec.update(cited_with_evidence=sum(good), citations=len(good), citation_recall=float(any(good)),
                   citation_check="span")
    return rec


def answers(args: argparse.Namespace) -> int:
    """Each question answered by every variant in turn; one JSON line per answer in ``args.out``."""
    from app.evaluate import score_item
    from app.sdk import open_adhoc
    from generation.llamacpp import LlamaCppLLM

    base = Settings()
    settings = {"today": base.replace(**TODAY), "new": base}
    llms = {name: LlamaCppLLM(s.llm, s.cache) for name, s in settings.items()}
    lc_llm = LlamaCppLLM(base.llm, base.cache)
    baseline = LangChainBaseline(base.embed.model)
    folder = Path(tempfile.mkdtemp(prefix="fast-answers-"))
    schedule = eval_items(args, folder)
    log.info("%d questions: %s", len(schedule), {s: sum(1 for n, _ in schedule if n == s) for s, _ in schedule})
    deadline = time.monotonic() + args.minutes * 60
    args.out.parent.mkdir(parents=True, exist_ok=True)
    done = set()  # a run cut short resumes: answers already recorded are not asked again
    if args.out.is_file():
        done = {(r["set"], r["id"], r["variant"]) for r in map(json.loads, args.out.open(encoding="utf-8"))}
    with args.out.open("a", encoding="utf-8") as f:
        for n, (name, item) in enumerate(schedule, 1):
            if time.monotonic() > deadline:
                log.info("deadline after %d questions", n - 1)
                break
            order = list(args.variants)
            random.Random(n).shuffle(order)  # no variant always runs first (warm caches, drift)
            for variant in order:
                if (name, item.id, variant) in done:
                    continue
                if variant == "langchain":
                    out = baseline.answer(item, lc_llm, base.llm.max_answer_tokens)
                    rec = lc_score(item, out)
                    out.pop("chunks")
                else:
                    index = open_adhoc(list(item.docs), settings=settings[variant], llm=llms[variant])
                    answer, out = docqa_answer(index, item)
                    retrieved = index.search(item.question, 10) if item.evidence else []
                    index.close()
                    rec = score_item(item, answer, retrieved, out["seconds"])
                rec.update({k: v for k, v in out.items() if k != "text"}, set=name, variant=variant, id=item.id,
                           question=item.question, answers=list(item.answers), prediction=out["text"],
                           at=round(time.time(), 1), load=round(os.getloadavg()[0], 2))
                f.write(json.dumps(rec) + "\n")
                f.flush()
                log.info("%s %d %s %.1fs read %s | %s", name, n, variant, out["seconds"], out["read_tokens"],
                         out["text"][:100].replace("\n", " "))
    return 0


def report(args: argparse.Namespace) -> int:
    """The summary table of a records file."""
    from answerable import wilson

    rows = [json.loads(line) for line in args.records.open(encoding="utf-8") if line.strip()]
    ids = {}
    for r in rows:  # only questions every variant answered
        ids.setdefault((r["set"], r["id"]), set()).add(r["variant"])
    variants = sorted({r["variant"] for r in rows})
    complete = {k for k, v in ids.items() if len(v) == len(variants)}
    cols = ("n", "first token p50", "p90", "total p50", "p90", "prompt tokens p50", "read p50", "contains-gold",
            "F1", "citation precision", "citation recall", "abstention", "false abstention")
    print("| set | variant | " + " | ".join(cols) + " |\n|---|---|" + "---|" * len(cols))
    for name in ("squad", "unanswerable", "hotpotqa", "financebench", "all"):
        for variant in variants:
            rs = [r for r in rows if r["variant"] == variant and (r["set"], r["id"]) in complete
                  and (name == "all" or r["set"] == name)]
            if not rs:
                continue
            ans = [r for r in rs if r["answerable"]]
            # LangChain's citations were scored by text overlap before the span check: those are left out
            cite = [r for r in ans if r["variant"] != "langchain" or r.get("citation_check") == "span"]
            una = [r for r in rs if not r["answerable"]]
            cited = sum(r.get("citations", 0) for r in cite)
            def rate(k: int, n: int) -> str:
                if not n:
                    return "-"
                lo, hi = wilson(k, n)
                return f"{k / n:.2f} [{lo:.2f}-{hi:.2f}]"
            cells = [str(len(rs)),
                     f"{percentile([r['first_token'] for r in rs], 0.5):.1f}",
                     f"{percentile([r['first_token'] for r in rs], 0.9):.1f}",
                     f"{percentile([r['seconds'] for r in rs], 0.5):.1f}",
                     f"{percentile([r['seconds'] for r in rs], 0.9):.1f}",
                     f"{percentile([r['prompt_tokens'] for r in rs], 0.5):.0f}",
                     f"{percentile([r['read_tokens'] for r in rs], 0.5):.0f}",
                     rate(sum(correct(r) for r in ans), len(ans)),
                     f"{statistics.mean([r.get('f1', 0.0) for r in ans]):.2f}" if ans else "-",
                     f"{sum(r.get('cited_with_evidence', 0) for r in cite) / cited:.2f}" if cited else "-",
                     f"{statistics.mean([r.get('citation_recall', 0.0) for r in cite if 'citation_recall' in r]):.2f}"
                     if any("citation_recall" in r for r in cite) else "-",
                     rate(sum(r["abstained"] for r in una), len(una)),
                     rate(sum(r["abstained"] for r in ans), len(ans))]
            print(f"| {name} | {variant} | " + " | ".join(cells) + " |")
    return 0


def correct(record: dict[str, Any]) -> bool:
    """A gold answer in the prediction; for a FinanceBench question with a numeric gold, the number within 1%
    (``bench/fb_scoring.py``: "$1,603.451 million" is answered by "1,603,451 thousand")."""
    from fb_scoring import gold_number, numeric_match

    if record["set"] == "financebench" and record["answers"]:
        gold = gold_number(record["answers"][0])
        if gold is not None:
            return bool(numeric_match(record["prediction"], gold))
    return record.get("contains", 0) > 0


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-quantile (nearest rank).

    >>> percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.9), percentile([3.0], 0.5)
    (9, 3.0)
    """
    s = sorted(values)
    return s[max(0, min(len(s) - 1, round(q * (len(s) - 1))))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("budget")
    b.add_argument("--articles", choices=("dev", "held-out"), default="dev")
    b.add_argument("--questions", type=int, default=300)
    b.add_argument("--scorer", choices=("lexical", "embedder", "both"), default="lexical")
    b.add_argument("--neighbours", type=int, default=1)
    b.add_argument("--cache", type=Path, help="a JSON file for the packed passages (written, then read back)")
    a = sub.add_parser("answers")
    a.add_argument("--squad", type=int, default=60)
    a.add_argument("--unanswerable", type=int, default=40)
    a.add_argument("--hotpot", type=int, default=20)
    a.add_argument("--financebench", type=int, default=20)
    a.add_argument("--variants", type=lambda s: s.split(","), default=["today", "new", "langchain"])
    a.add_argument("--minutes", type=float, default=120)
    a.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "fast_answers.jsonl")
    r = sub.add_parser("report")
    r.add_argument("records", type=Path)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    logging.getLogger("docqa").setLevel(logging.WARNING)
    return {"budget": budget, "answers": answers, "report": report}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
