"""End-to-end QA benchmark: answers, citations and abstention, plain top-k prompt vs. the context features.

Builds eval sets from /work/shared/data (written under a temp folder, never into the repo) in the
``docqa eval`` JSONL format, then answers every question with each pipeline variant, question by
question (so a run cut short by ``--minutes`` still compares the variants on the same questions):

- ``plain``: retrieval top-k in rank order, no citation check;
- ``edges``: the same passages, best first and last (docs/METHODS.md, "Edges-first ordering");
- ``select-emb`` / ``select-llm``: segment relevance scoring of ``--pool`` candidates (embedding cosine /
  the answering model's question likelihood, XL3M-style), key context in document order;
- ``full``: long-document mode (whole document when it fits the context; its own llama.cpp instance, so
  the document's KV cache is reused by the next question on that document, as for a user asking
  several questions of one file);
- ``all``: retrieval with every feature on (segment scoring by embeddings, neighbours, edges order).

Every variant runs with the default citation settings (``verify="lexical"``, ``unsupported="abstain"``,
so the prompt asks for an answer outright) unless it says otherwise; ``plain-offer`` is the plain prompt
that offers "The document does not say." instead (session 2's default). The bare variant rows score the
model's draft (``Answer.draft``) unchecked; ``+check`` applies the lexical citation check to the draft
and ``+check+abstain`` also withholds a draft no passage supports; ``+check+abstain+answer-check`` is the
answer as the pipeline returned it, which also withholds an answer whose cited passages the model judges
not to answer the question (the default). ``auto`` rows combine ``full`` (documents that fit) and ``all`` (others),
checked: the full pipeline as a user gets it with ``mode="auto"``.

Usage (background, with a log)::

    nohup python bench/qa_eval.py --minutes 45 > /tmp/qa_eval.log 2>&1 &
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import random
import re
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.evaluate import EvalItem, score_item, summarize  # noqa: E402
from app.metrics import Evidence  # noqa: E402
from app.sdk import open_adhoc  # noqa: E402
from generation.answer import context_budget  # noqa: E402
from generation.citations import parse_citations  # noqa: E402
from generation.prompt import NOT_FOUND  # noqa: E402
from generation.verify import verify_citations, withhold_unsupported  # noqa: E402
from ingest.core.records import Answer  # noqa: E402
from ingest.core.settings import Settings  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
if not DATA.is_dir():
    DATA = Path("/work/shared/data")

VARIANTS: dict[str, dict[str, Any]] = {
    "plain": {"mode": "retrieve", "order": "rank", "select": "none", "neighbours": False},
    "edges": {"mode": "retrieve", "order": "edges", "select": "none", "neighbours": False},
    "select-emb": {"mode": "retrieve", "order": "document", "select": "embedding", "neighbours": False},
    "select-llm": {"mode": "retrieve", "order": "document", "select": "llm", "neighbours": False},
    "full": {"mode": "full", "order": "rank", "select": "none", "neighbours": False},
    "all": {"mode": "retrieve", "order": "edges", "select": "embedding", "neighbours": True},
    # session-2 default: the prompt offers "The document does not say." (as it does with unsupported="flag")
    "plain-offer": {"mode": "retrieve", "order": "rank", "select": "none", "neighbours": False, "unsupported": "flag"},
}

log = logging.getLogger("qa_eval")


# -- datasets ------------------------------------------------------------------------------------------------
def _write(folder: Path, name: str, text: str) -> str:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def squad_items(folder: Path, *, articles: list[str], per_article: int, seed: int = 0) -> list[EvalItem]:
    """SQuAD long documents: one text file per article (title, then paragraphs split by blank lines);
    evidence is the first occurrence of a gold answer inside the gold paragraph (else the paragraph)."""
    rng = random.Random(seed)
    rows = {json.loads(line)["doc_id"]: json.loads(line)
            for line in (DATA / "squad" / "squad-v1.1-dev-longdoc.jsonl").open()}
    items = []
    for name in articles:
        art = rows[name]
        text = art["title"] + "\n\n"
        starts = []
        for para in art["paragraphs"]:
            starts.append(len(text))
            text += para + "\n\n"
        path = _write(folder, f"squad-{name}.txt", text)
        questions = [q for q in art["questions"] if not q.get("is_impossible")]
        for q in rng.sample(questions, min(per_article, len(questions))):
            para = art["paragraphs"][q["gold_paragraph"]]
            start = starts[q["gold_paragraph"]]
            found = [(para.find(a), a) for a in q["answers"] if para.find(a) >= 0]
            if found:
                offset, ans = min(found)
                span = (start + offset, start + offset + len(ans))
            else:
                span = (start, start + len(para))
            items.append(EvalItem(question=q["question"], answers=tuple(q["answers"]), docs=(path,),
                                  evidence=(Evidence(chars=span),), id=f"squad:{q['id']}", tags=("squad", name)))
    rng.shuffle(items)  # articles mixed, so the first N questions (``--limit``) cover all of them
    return items


def unanswerable_items(folder: Path, *, pairs: list[tuple[str, str]], per_pair: int, seed: int = 1) -> list[EvalItem]:
    """Questions from one SQuAD article asked of another, unrelated one: the document does not answer them."""
    rng = random.Random(seed)
    rows = {json.loads(line)["doc_id"]: json.loads(line)
            for line in (DATA / "squad" / "squad-v1.1-dev-longdoc.jsonl").open()}
    items = []
    for doc_name, question_source in pairs:
        art = rows[doc_name]
        path = folder / f"squad-{doc_name}.txt"
        if not path.exists():
            _write(folder, path.name, art["title"] + "\n\n" + "".join(p + "\n\n" for p in art["paragraphs"]))
        for q in rng.sample(rows[question_source]["questions"], per_pair):
            items.append(EvalItem(question=q["question"], answers=(), docs=(str(path),), id=f"unans:{q['id']}",
                                  tags=("unanswerable", doc_name)))
    rng.shuffle(items)
    return items


def hotpot_items(folder: Path, *, n: int, seed: int = 2) -> list[EvalItem]:
    """HotpotQA distractor items: the 2 gold and ~8 distractor paragraphs, shuffled, as one document;
    evidence is each gold paragraph (both are needed)."""
    rng = random.Random(seed)
    data = json.loads((DATA / "hotpotqa" / "hotpotqa_dev_sample100.json").read_text())
    items = []
    for row in data[:n]:
        paras = [(row["title_a"], "".join(row["para_a"]), "a"), (row["title_b"], "".join(row["para_b"]), "b")]
        paras += [(d[0], "".join(d[1]), "") for d in row["distractors"]]
        rng.shuffle(paras)
        text, evidence = "", []
        for title, body, gold in paras:
            start = len(text)
            text += f"{title}\n{body.strip()}\n\n"
            if gold:
                evidence.append(Evidence(chars=(start, len(text) - 2)))
        path = _write(folder, f"hotpot-{row['_id']}.txt", text)
        items.append(EvalItem(question=row["question"], answers=(row["answer"],), docs=(path,),
                              evidence=tuple(evidence), id=f"hotpot:{row['_id']}", tags=("hotpotqa",)))
    return items


def leval_items(folder: Path, *, task: str, docs: int, per_doc: int) -> list[EvalItem]:
    """L-Eval open-ended QA over long documents (no evidence spans: answer scores only)."""
    items = []
    for d, line in enumerate((DATA / "leval" / f"{task}.jsonl").open()):
        if d >= docs:
            break
        row = json.loads(line)
        path = _write(folder, f"leval-{task}-{d}.txt", row["input"])
        for i, (q, a) in enumerate(list(zip(row["instructions"], row["outputs"], strict=True))[:per_doc]):
            q = re.sub(r"^You are asked to act as a member of the Financial Results Conference Call and answer the "
                       r"question:\s*", "", q)
            items.append(EvalItem(question=q, answers=(a,), docs=(path,), id=f"leval:{task}:{d}:{i}",
                                  tags=("leval", task)))
    return items


# -- running ---------------------------------------------------------------------------------------------------
def drafted(answer: Answer) -> Answer:
    """The answer as the model wrote it, before the citation check."""
    text, citations, _ = parse_citations(answer.draft, answer.passages)
    return dataclasses.replace(answer, text=text, citations=tuple(citations))


def checked(answer: Answer, *, abstain: bool = False) -> Answer:
    """The answer after the lexical citation check of its draft; with ``abstain``, a draft no passage
    supports becomes the not-found answer (``unsupported="abstain"``)."""
    v = verify_citations(answer.draft, answer.passages)
    if abstain:
        v = withhold_unsupported(v, NOT_FOUND)
    return dataclasses.replace(answer, text=v.text, citations=v.citations)


def interleave(sets: dict[str, list[EvalItem]]) -> list[tuple[str, int, EvalItem]]:
    """(set, index in set, item), taking one question of each set in turn, so a run cut short covers every set.

    >>> [(s, i) for s, i, _ in interleave({"a": [1, 2, 3], "b": [4]})]
    [('a', 0), ('b', 0), ('a', 1), ('a', 2)]
    """
    out = []
    for i in range(max((len(v) for v in sets.values()), default=0)):
        out += [(name, i, items[i]) for name, items in sets.items() if i < len(items)]
    return out


def run_all(schedule: list[tuple[str, int, EvalItem]], variants: dict[str, list[str]], *, base: Settings,
            llms: dict[str, Any], deadline: float, limits: dict[str, int],
            on_record: Callable[[str, str, dict[str, Any]], None]) -> None:
    """Answer each question with every variant of its set until the deadline."""
    for n, (name, qi, item) in enumerate(schedule):
        if time.monotonic() > deadline:
            log.info("deadline reached after %d of %d questions", n, len(schedule))
            return
        for variant in variants[name]:
            if qi >= limits.get(variant, 10**9):
                continue
            settings = base.replace(answer=VARIANTS[variant])
            llm = llms["full"] if variant == "full" else llms["main"]
            index = open_adhoc(list(item.docs), settings=settings, llm=llm)
            if variant == "full":
                fits = index.pipeline.selector.full_text(item.question, [])[0] is not None  # decide before answering
                if not fits:
                    index.close()
                    on_record(name, "full", {"id": item.id, "skipped": "document does not fit the context"})
                    continue
            retrieved = index.search(item.question, 10) if item.evidence else []
            start = time.perf_counter()
            answer = index.ask(item.question)
            seconds = time.perf_counter() - start
            index.close()
            raw = score_item(item, drafted(answer), retrieved, seconds)
            raw["notes"] = list(answer.notes)
            on_record(name, variant, raw)
            on_record(name, variant + "+check", score_item(item, checked(answer), retrieved, seconds))
            on_record(name, variant + "+check+abstain", score_item(item, checked(answer, abstain=True), retrieved,
                                                                   seconds))
            if settings.answer.verify != "none" and settings.answer.unsupported == "abstain":
                on_record(name, variant + "+check+abstain+answer-check", score_item(item, answer, retrieved, seconds))
            log.info("%s q%d %s %.1fs f1=%s cites=%s | %s", name, qi, variant, seconds, raw.get("f1"),
                     [c.rsplit("/", 1)[-1] for c in raw["cited"]], answer.text[:120].replace("\n", " "))


def auto_rows(rows: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Per question: ``full+check`` where the document fit, else ``all+check`` (what mode="auto" runs)."""
    full = {r["id"]: r for r in rows.get("full+check", []) if "skipped" not in r}
    return [full.get(r["id"], r) for r in rows.get("all+check", [])]


def table(results: dict[str, dict[str, list[dict[str, Any]]]]) -> str:
    """Markdown tables, one row per set and variant."""
    cols = ["n", "f1", "em", "contains", "citation_precision", "citation_recall", "hit@5", "context_hit",
            "abstention", "false_abstention", "tokens_per_question", "seconds_per_question"]
    lines = ["| set | variant | " + " | ".join(cols) + " |", "|---|---|" + "---|" * len(cols)]
    for set_name, rows in results.items():
        variants = dict(rows)
        if "all+check" in variants:
            variants["auto+check"] = auto_rows(rows)
        for variant, recs in variants.items():
            recs = [r for r in recs if "skipped" not in r]
            if not recs:
                continue
            s = summarize(recs)
            s["n"] = len(recs)
            cells = [("-" if s.get(c) is None else f"{s[c]:.2f}" if isinstance(s[c], float) else str(s[c]))
                     for c in cols]
            lines.append(f"| {set_name} | {variant} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--squad-articles", default="Construction,1973_oil_crisis,Black_Death,Oxygen,Nikola_Tesla")
    ap.add_argument("--squad-per-article", type=int, default=4)
    ap.add_argument("--hotpot", type=int, default=6)
    ap.add_argument("--leval-docs", type=int, default=1)
    ap.add_argument("--leval-per-doc", type=int, default=3)
    ap.add_argument("--unanswerable-per-pair", type=int, default=3)
    ap.add_argument("--sets", default="squad,unanswerable,hotpotqa,leval")
    ap.add_argument("--variants", default="plain,full,all,edges,select-emb,select-llm")
    ap.add_argument("--variants-for", action="append", default=[], metavar="SET=V1,V2",
                    help="variants for one set (e.g. unanswerable=plain,all)")
    ap.add_argument("--limit", action="append", default=[], metavar="VARIANT=N",
                    help="answer only the first N questions of each set with VARIANT (e.g. select-llm=3)")
    ap.add_argument("--pool", type=int, default=12, help="candidates scored by segment selection")
    ap.add_argument("--minutes", type=float, default=45.0, help="stop starting questions after this long")
    ap.add_argument("--out", default="/tmp/qa_eval.json")
    ap.add_argument("--model", help="LLM (packaged name or .gguf); default: the default Qwen2.5-Coder-1.5B")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    for noisy in ("sentence_transformers", "transformers", "httpx", "faiss", "faiss.loader"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    os.environ.setdefault("DOCQA_INDEX_CACHE", tempfile.mkdtemp(prefix="qa-eval-idx-"))
    folder = Path(tempfile.mkdtemp(prefix="qa-eval-data-"))
    base = Settings().replace(answer={"rerank_candidates": args.pool},
                              **({"llm": {"model": args.model}} if args.model else {}))
    from app.runtime import default_runtime
    from generation.llamacpp import LlamaCppLLM

    llms = {"main": default_runtime().llm(base.llm, base.cache), "full": LlamaCppLLM(dataclasses.replace(base.llm))}
    sets: dict[str, list[EvalItem]] = {}
    wanted = args.sets.split(",")
    articles = args.squad_articles.split(",")
    if "squad" in wanted:
        sets["squad"] = squad_items(folder, articles=articles, per_article=args.squad_per_article)
    if "unanswerable" in wanted:
        pairs = [(articles[i], articles[(i + 2) % len(articles)]) for i in range(len(articles))]
        sets["unanswerable"] = unanswerable_items(folder, pairs=pairs, per_pair=args.unanswerable_per_pair)
    if "hotpotqa" in wanted:
        sets["hotpotqa"] = hotpot_items(folder, n=args.hotpot)
    if "leval" in wanted:
        sets["leval"] = (leval_items(folder, task="scientific_qa", docs=args.leval_docs, per_doc=args.leval_per_doc)
                         + leval_items(folder, task="financial_qa", docs=args.leval_docs, per_doc=args.leval_per_doc))
    limits = {k: int(v) for k, v in (x.split("=") for x in args.limit)}
    results: dict[str, dict[str, list[dict[str, Any]]]] = {}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()

    def on_record(set_name: str, variant: str, record: dict[str, Any]) -> None:
        results.setdefault(set_name, {}).setdefault(variant, []).append(record)
        out.write_text(json.dumps({"args": vars(args), "minutes": (time.monotonic() - started) / 60,
                                   "results": results}, indent=1, default=str))

    deadline = started + args.minutes * 60
    budget = context_budget(llms["main"], "", base.llm.max_answer_tokens)
    log.info("sets: %s; variants: %s; context budget %d tokens", {k: len(v) for k, v in sets.items()},
             args.variants, budget)
    variants = {name: args.variants.split(",") for name in sets}
    for spec in args.variants_for:
        name, _, listed = spec.partition("=")
        variants[name] = listed.split(",")
    run_all(interleave(sets), variants, base=base, llms=llms, deadline=deadline, limits=limits, on_record=on_record)
    print(table(results))
    print(f"\nminutes: {(time.monotonic() - started) / 60:.1f}; report: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
