"""Issue 13 benchmark: FinanceBench evidence retrieval and answers, docqa's default vs each change vs all together
vs the LangChain pipeline of DESIGN §6 (PyPDFLoader + RecursiveCharacterTextSplitter 1000/200 +
HuggingFaceEmbeddings + LangChain FAISS, same embedder).

Subcommands (each runs alone; indexes are cached under ``~/.cache/docqa-bench/financebench`` or
``$DOCQA_BENCH_CACHE``, keyed by the files and every setting that shapes an index, never in the repo):

  retrieval  one corpus-wide index per variant (all filings in one index); evidence-page hit@1/5/10 and MRR@10,
             corpus-wide and scoped to the question's filing (the same search restricted to its passages)
  answers    the default packaged model answering over the corpus-wide index (``Index.ask``; LangChain: its
             retriever's top-4 chunks into the same model with a plain prompt): numeric match (gold number
             within 1%), contains-gold, citation precision/recall, seconds per question
  squad      SQuAD v1.1 long documents, hit@1/5/10 of the gold paragraph, default vs all (scored as
             ``bench/ingest_qa.py`` does)
  leval      L-Eval financial_qa (earnings calls; no evidence spans): answer contains-gold and token F1, default
             vs all
  all        the four in turn, each with its default variants (retrieval: every variant; answers: default, all,
             langchain; squad and leval: default, all), each writing bench/out/financebench-<part>.json

Variants: ``default`` = today's default (pypdf, headers/tables/route/compute off); ``pdfium``, ``headers``,
``tables``, ``route``, ``compute`` = the default with that one change (``tables`` also reads with PDFium: on
pypdf's one-cell-per-line text every table is unsure and kept as page text, so alone it would change nothing);
``all`` = every change; ``langchain`` = the baseline. A variant whose feature is not implemented yet simply
scores as the default. ``route`` and ``compute`` act at question time, so they reuse the default's index; ``all``
has its own.

A retrieval hit: a retrieved passage from the gold filing whose 1-based page - 1 is an evidence ``page0``.

    python bench/financebench.py all                                         # everything, one command
    python bench/financebench.py retrieval --variants default,langchain
    python bench/financebench.py retrieval --variants default,pdfium,headers,tables,route,all,langchain
    python bench/financebench.py answers --variants default,all,langchain
    python bench/financebench.py retrieval --variants default --embedder sentence-transformers/all-mpnet-base-v2 \
        --embed-backend onnx
    python bench/financebench.py retrieval --filings 2 --questions 5 --variants default,langchain   # smoke test
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import inspect
import json
import logging
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from fb_scoring import (  # noqa: E402
    Location,
    citation_scores,
    cited_numbers,
    first_hit,
    gold_number,
    numeric_match,
    retrieval_summary,
)

from ingest.core.errors import QAError  # noqa: E402
from ingest.core.settings import Settings  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
if not DATA.is_dir():
    DATA = Path("/work/shared/data")
FB = DATA / "financebench_dev"
CACHE = Path(os.environ.get("DOCQA_BENCH_CACHE", "~/.cache/docqa-bench")).expanduser() / "financebench"
K = 10  # passages retrieved per question
LANGCHAIN_K = 4  # what a LangChain retriever hands the model by default (VectorStoreRetriever k=4)
LANGCHAIN_SPLIT = {"chunk_size": 1000, "chunk_overlap": 200}

log = logging.getLogger("financebench")

# today's default: every issue-13 change off; each variant turns some on (settings sections -> changes)
DEFAULT: dict[str, dict[str, Any]] = {"ingest": {"pdf_extractor": "pypdf"},
                                      "split": {"headers": False, "tables": False},
                                      "search": {"route": False}, "answer": {"compute": False}}
CHANGES: dict[str, dict[str, dict[str, Any]]] = {
    "default": {},
    "pdfium": {"ingest": {"pdf_extractor": "pdfium"}},
    "headers": {"split": {"headers": True}},
    "tables": {"ingest": {"pdf_extractor": "pdfium"}, "split": {"tables": True}},  # tables need PDFium's row lines
    "route": {"search": {"route": True}},
    "compute": {"answer": {"compute": True}},
    "all": {"ingest": {"pdf_extractor": "pdfium"}, "split": {"headers": True, "tables": True},
            "search": {"route": True}, "answer": {"compute": True}},
}
VARIANTS = (*CHANGES, "langchain")


# ------------------------------------------------------------------ data ----------------------------------------------
@dataclass(frozen=True)
class Question:
    """One FinanceBench question: its gold filing (``doc``, the PDF's stem) and 0-based evidence pages."""

    id: str
    doc: str
    pdf: Path
    question: str
    answer: str
    pages0: tuple[int, ...]
    kind: str


def resolve_pdf(relative: str, folder: Path, fallback: Path) -> Path:
    """A question's ``pdf`` path: beside its questions file when there, else in ``fallback`` (the dev set's folder,
    so a held-out questions file elsewhere can name the dev set's filings), else beside the file as written.

    >>> resolve_pdf("pdfs/X.pdf", Path("/nowhere"), Path("/also-nowhere"))
    PosixPath('/nowhere/pdfs/X.pdf')
    """
    beside = folder / relative
    if beside.exists() or not (fallback / relative).exists():
        return beside
    return fallback / relative


def load_questions(path: Path) -> list[Question]:
    """The questions of a questions file (the dev set's ``questions.jsonl`` or one in its format).

    :raises SystemExit: no such file, or a line that is not JSON or lacks a field (one line naming the file).
    """
    if not path.is_file():
        raise SystemExit(f"{path}: no such questions file")
    out = []
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                out.append(Question(id=str(row["id"]), doc=row["doc"], pdf=resolve_pdf(row["pdf"], path.parent, FB),
                                    question=row["question"], answer=str(row["answer"]),
                                    pages0=tuple(int(e["page0"]) for e in row["evidence"]),
                                    kind=row.get("question_type", "")))
            except (ValueError, KeyError, TypeError) as err:
                raise SystemExit(f"{path}:{n}: bad question ({type(err).__name__}: {err})") from err
    return out


def select(questions: list[Question], pdfs: list[Path], filings: str | None, limit: int | None
           ) -> tuple[list[Question], list[Path]]:
    """The questions and the corpus to run: ``filings`` is N (the first N filings asked about) or stems
    separated by commas (None: every PDF); ``limit`` caps the questions (spread over the filings).

    >>> qs = [Question(str(i), d, Path(d + ".pdf"), "q", "a", (0,), "") for i, d in enumerate("AABC")]
    >>> sel, corpus = select(qs, [Path(x + ".pdf") for x in "ABCD"], "2", None)
    >>> [q.id for q in sel], [p.stem for p in corpus]
    (['0', '1', '2'], ['A', 'B'])
    >>> [q.id for q in select(qs, [Path(x + ".pdf") for x in "ABCD"], None, 2)[0]]
    ['0', '2']
    """
    if filings:
        stems = list(dict.fromkeys(q.doc for q in questions))[: int(filings)] if filings.isdigit() \
            else filings.split(",")
        known = {p.stem for p in pdfs}
        missing = [s for s in stems if s not in known]
        if missing:
            raise SystemExit(f"{FB / 'pdfs'}: no filing named {', '.join(missing)}")
        pdfs = [p for p in pdfs if p.stem in stems]
        questions = [q for q in questions if q.doc in stems]
    if limit is not None and limit < len(questions):
        # round-robin over filings, so a short run still covers many of them
        by_doc: dict[str, list[Question]] = {}
        for q in questions:
            by_doc.setdefault(q.doc, []).append(q)
        picked: list[Question] = []
        while len(picked) < limit:
            for qs in by_doc.values():
                if qs and len(picked) < limit:
                    picked.append(qs.pop(0))
        order = {q.id: i for i, q in enumerate(questions)}
        questions = sorted(picked, key=lambda q: order[q.id])
    return questions, pdfs


# -------------------------------------------------------------- settings ----------------------------------------------
def variant_settings(name: str, base: Settings) -> Settings:
    """Today's default with the variant's changes on top of ``base``.

    >>> s = variant_settings("all", Settings()); (s.ingest.pdf_extractor, s.split.headers, s.search.route)
    ('pdfium', True, True)
    >>> s = variant_settings("headers", Settings()); (s.ingest.pdf_extractor, s.split.headers, s.split.tables)
    ('pypdf', True, False)
    """
    merged = {section: dict(values) for section, values in DEFAULT.items()}
    for section, values in CHANGES[name].items():
        merged.setdefault(section, {}).update(values)
    return base.replace(**merged)


def files_digest(paths: Sequence[Path]) -> str:
    """sha256 over the files' names and contents (the corpus part of a cache key)."""
    h = hashlib.sha256()
    for path in sorted(paths):
        h.update(path.name.encode() + b"\0")
        with path.open("rb") as f:
            h.update(hashlib.file_digest(f, "sha256").digest())
    return h.hexdigest()


def index_key(corpus: str, settings: Settings, splitter_identity: dict[str, Any]) -> str:
    """Cache key of a docqa index: the corpus, the extractor, the embedder (runtime knobs aside) and the splitter
    (its settings and its identity, so a splitter whose code version changes gets a new index).

    >>> a = index_key("c", variant_settings("default", Settings()), {"v": 1})
    >>> a == index_key("c", variant_settings("route", Settings()), {"v": 1})  # route acts at question time
    True
    >>> a == index_key("c", variant_settings("headers", Settings()), {"v": 1})
    False
    """
    from ingest.core.settings import EmbedSettings
    from ingest.embed import canonical_model_id

    embed = dataclasses.asdict(settings.embed)
    for runtime in EmbedSettings.RUNTIME:
        embed.pop(runtime)
    embed["model"] = canonical_model_id(settings.embed.model)
    embed["runtime"] = settings.embed.backend  # onnx vectors differ slightly from PyTorch's
    shape = {"corpus": corpus, "extractor": settings.ingest.pdf_extractor, "embed": embed,
             "split": dataclasses.asdict(settings.split), "splitter": splitter_identity}
    return hashlib.sha256(json.dumps(shape, sort_keys=True, default=str).encode()).hexdigest()[:20]


def base_settings(args: argparse.Namespace) -> Settings:
    """The settings every variant starts from: the embedder asked for, generous per-file bounds (a 300-page
    10-K must not time out on a shared CPU)."""
    embed: dict[str, Any] = {"backend": args.embed_backend}
    if args.embedder:
        embed["model"] = args.embedder
    return Settings().replace(embed=embed, ingest={"timeout_seconds": 3600.0, "memory_mb": 8192})


# ------------------------------------------------------------------ docqa ---------------------------------------------
def progress_printer(label: str):
    """A ``progress(stage, done, total)`` that prints about every tenth step."""
    last: dict[str, int] = {}

    def progress(stage: str, done: int, total: int) -> None:
        step = max(1, total // 10)
        if done == total or done - last.get(stage, -step) >= step:
            last[stage] = done
            print(f"  {label}: {stage} {done}/{total}", flush=True)

    return progress


def docqa_index(name: str, pdfs: list[Path], corpus: str, base: Settings, *, rebuild: bool = False, llm: Any = None):
    """The variant's corpus-wide index (built once, then opened from the cache) and its build record."""
    from app import Index
    from app.factory import make_splitter
    from app.runtime import default_runtime
    from ingest.core.errors import IndexMismatchError

    settings = variant_settings(name, base)
    embedder = default_runtime().embedder(settings.embed, settings.cache)
    key = index_key(corpus, settings, make_splitter(settings.split, embedder).identity())
    directory = CACHE / f"docqa-{key}"
    record_path = directory / "bench-build.json"
    if rebuild and directory.exists():
        shutil.rmtree(directory)
    if (directory / "manifest.json").is_file() and record_path.is_file():
        try:
            index = Index.open(directory, settings=settings, llm=llm)
            print(f"{name}: index {directory} (cached)", flush=True)
            return index, json.loads(record_path.read_text())
        except IndexMismatchError as err:  # an older store schema or embedder: build it again
            print(f"{name}: cached index unusable ({err}); rebuilding", flush=True)
            shutil.rmtree(directory)
    print(f"{name}: building {directory} over {len(pdfs)} filings", flush=True)
    t = time.perf_counter()
    index, report = Index.build_with_report(pdfs, directory, settings=settings, progress=progress_printer(name),
                                            llm=llm)
    docs = index.documents()
    record = {"seconds": time.perf_counter() - t, "stages": report.seconds, "documents": report.documents,
              "passages": report.passages, "pages": sum(s.get("pages", 0) for s in report.manifest.sources),
              "skipped": [list(s) for s in report.skipped],
              "extractors": sorted({d.meta.get("extractor", "?") for d in docs}),
              "table_passages": sum(p.kind == "table" for p in index.passages()),
              "with_header": sum(bool(p.header) for p in index.passages()),
              "embedder": report.manifest.embedder, "built": time.strftime("%Y-%m-%d %H:%M:%S")}
    record_path.write_text(json.dumps(record, indent=1, default=str))
    return index, record


def location(passage: Any) -> Location:
    """(filing stem, 1-based page) of a docqa passage."""
    return Path(passage.source).stem, passage.page


def scoped_search(index: Any, question: str, doc_id: str, k: int) -> list[Any]:
    """The index's search restricted to one document: ``Index.search(scope=Scope(documents=(doc_id,)))``, or,
    before scoped search existed, the search mode run on that document's passages only (the same thing)."""
    try:
        from retrieval.scope import Scope
    except ImportError:
        Scope = None  # noqa: N806
    if Scope is not None and "scope" in inspect.signature(index.search).parameters:
        return index.search(question, k, scope=Scope(documents=(doc_id,)))
    from ingest.core.text import check_question

    run = getattr(index.searcher, index.settings.search.mode)
    return run(check_question(question), k, doc_ids=[doc_id])


def docqa_retrieval(name: str, questions: list[Question], pdfs: list[Path], corpus: str, base: Settings,
                    rebuild: bool) -> dict[str, Any]:
    """Corpus-wide and scoped evidence-page ranks of one docqa variant."""
    index, record = docqa_index(name, pdfs, corpus, base, rebuild=rebuild)
    doc_ids = {Path(d.source).stem: d.doc_id for d in index.documents()}
    rows, seconds = [], []
    for q in questions:
        t = time.perf_counter()
        wide = [location(r.passage) for r in index.search(q.question, K)]
        seconds.append(time.perf_counter() - t)
        scoped = [location(r.passage) for r in scoped_search(index, q.question, doc_ids[q.doc], K)] \
            if q.doc in doc_ids else []
        rows.append({"id": q.id, "doc": q.doc, "pages0": list(q.pages0), "rank": first_hit(wide, q.doc, q.pages0),
                     "scoped_rank": first_hit(scoped, q.doc, q.pages0), "top": wide,
                     "gold_doc_in_top": sum(loc[0] == q.doc for loc in wide)})
    index.close()
    return {"build": record, "search_seconds_median": statistics.median(seconds) if seconds else None,
            **summaries(rows), "rows": rows}


def summaries(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Corpus-wide and scoped retrieval summaries of per-question rows."""
    return {"corpus": retrieval_summary([r["rank"] for r in rows]),
            "scoped": retrieval_summary([r["scoped_rank"] for r in rows]),
            "gold_filing_share_top10": statistics.mean(r["gold_doc_in_top"] / K for r in rows) if rows else None}


# -------------------------------------------------------------- langchain ---------------------------------------------
def langchain_embeddings(model: str):
    """LangChain's HuggingFaceEmbeddings over the same model docqa uses (normalised, as docqa's)."""
    from langchain_huggingface import HuggingFaceEmbeddings

    from ingest.embed import resolve_model_path

    return HuggingFaceEmbeddings(model_name=resolve_model_path(model), encode_kwargs={"normalize_embeddings": True})


@dataclass
class LangChainCorpus:
    """The baseline's chunks (text, filing stem, 1-based page) and their vectors, with FAISS stores over them."""

    texts: list[str]
    locations: list[Location]
    vectors: Any  # float32 [n, dim]
    embeddings: Any
    record: dict[str, Any]

    def store(self, doc: str | None = None):
        """LangChain FAISS over every chunk, or over one filing's chunks."""
        from langchain_community.vectorstores import FAISS

        rows = [i for i, loc in enumerate(self.locations) if doc is None or loc[0] == doc]
        return FAISS.from_embeddings([(self.texts[i], self.vectors[i].tolist()) for i in rows], self.embeddings,
                                     metadatas=[{"doc": self.locations[i][0], "page": self.locations[i][1]}
                                                for i in rows])


def langchain_corpus(pdfs: list[Path], model: str, *, rebuild: bool = False) -> LangChainCorpus:
    """Load, split and embed the filings the LangChain way, each filing cached on its own (JSON + .npy, no pickle;
    keyed by its content, the model and the splitter) so that a run cut short resumes."""
    import numpy as np

    from ingest.embed import canonical_model_id

    embeddings = langchain_embeddings(model)
    key = hashlib.sha256(json.dumps({"model": canonical_model_id(model), **LANGCHAIN_SPLIT},
                                    sort_keys=True).encode()).hexdigest()[:20]
    directory = CACHE / f"langchain-{key}"
    if rebuild and directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True, exist_ok=True)
    print(f"langchain: chunks in {directory}", flush=True)
    texts: list[str] = []
    locations: list[Location] = []
    blocks = []
    records = []
    for n, pdf in enumerate(pdfs, 1):
        stem = directory / f"{pdf.stem}-{files_digest([pdf])[:16]}"
        if not stem.with_suffix(".json").is_file():
            record, chunks, vecs = langchain_filing(pdf, embeddings)
            np.save(stem.with_suffix(".npy"), vecs, allow_pickle=False)
            stem.with_suffix(".json").write_text(json.dumps({"record": record, "texts": chunks}))
            print(f"  langchain: {n}/{len(pdfs)} {pdf.name}: {record}", flush=True)
        data = json.loads(stem.with_suffix(".json").read_text())
        records.append(data["record"])
        if data["record"]["failed"]:
            continue
        texts += [t for t, _ in data["texts"]]
        locations += [(pdf.stem, page) for _, page in data["texts"]]
        blocks.append(np.load(stem.with_suffix(".npy"), allow_pickle=False))
    vectors = np.concatenate(blocks) if blocks else np.zeros((0, 1), dtype=np.float32)
    stages = {k: sum(r["seconds"][k] for r in records) for k in ("load", "split", "embed")}
    record = {"seconds": sum(stages.values()), "stages": stages, "pages": sum(r["pages"] for r in records),
              "passages": len(texts), "failed_files": [r["file"] for r in records if r["failed"]]}
    return LangChainCorpus(texts, locations, vectors, embeddings, record)


def langchain_filing(pdf: Path, embeddings: Any) -> tuple[dict[str, Any], list[tuple[str, int]], Any]:
    """One filing through PyPDFLoader, the 1000/200 splitter and the embeddings: (record, [(chunk, 1-based
    page)], vectors). A file the tokenizer rejects (lone surrogates) is lost, as the user would lose it."""
    import numpy as np
    from langchain_community.document_loaders import PyPDFLoader
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    seconds = {}
    t = time.perf_counter()
    docs = PyPDFLoader(str(pdf)).load()
    seconds["load"] = time.perf_counter() - t
    t = time.perf_counter()
    chunks = [c for c in RecursiveCharacterTextSplitter(**LANGCHAIN_SPLIT).split_documents(docs)
              if c.page_content.strip()]
    seconds["split"] = time.perf_counter() - t
    t = time.perf_counter()
    failed = False
    try:
        vecs = np.asarray(embeddings.embed_documents([c.page_content for c in chunks]), dtype=np.float32)
    except TypeError:
        failed, vecs = True, np.zeros((0, 1), dtype=np.float32)
    seconds["embed"] = time.perf_counter() - t
    record = {"file": pdf.name, "pages": len(docs), "chunks": len(chunks), "failed": failed, "seconds": seconds}
    return record, [(c.page_content, int(c.metadata["page"]) + 1) for c in chunks], vecs


def lc_locations(hits: list[Any]) -> list[Location]:
    return [(d.metadata["doc"], d.metadata["page"]) for d, _ in hits]


def langchain_retrieval(questions: list[Question], pdfs: list[Path], model: str,
                        rebuild: bool) -> dict[str, Any]:
    """Corpus-wide and per-filing evidence-page ranks of LangChain FAISS."""
    lc = langchain_corpus(pdfs, model, rebuild=rebuild)
    store = lc.store()
    per_doc: dict[str, Any] = {}
    rows, seconds = [], []
    for q in questions:
        t = time.perf_counter()
        wide = lc_locations(store.similarity_search_with_score(q.question, k=K))
        seconds.append(time.perf_counter() - t)
        if q.doc not in per_doc:
            per_doc[q.doc] = lc.store(q.doc) if any(loc[0] == q.doc for loc in lc.locations) else None
        scoped = lc_locations(per_doc[q.doc].similarity_search_with_score(q.question, k=K)) if per_doc[q.doc] else []
        rows.append({"id": q.id, "doc": q.doc, "pages0": list(q.pages0), "rank": first_hit(wide, q.doc, q.pages0),
                     "scoped_rank": first_hit(scoped, q.doc, q.pages0), "top": wide,
                     "gold_doc_in_top": sum(loc[0] == q.doc for loc in wide)})
    return {"build": lc.record, "search_seconds_median": statistics.median(seconds) if seconds else None,
            **summaries(rows), "rows": rows}


# ---------------------------------------------------------------- answers ---------------------------------------------
PLAIN_PROMPT = ("Use the following pieces of context to answer the question at the end. If you don't know the answer, "
                "just say that you don't know, don't try to make up an answer. Cite the pieces you use by their "
                "numbers, like [1].\n\n{context}\n\nQuestion: {question}\nHelpful Answer:")


def plain_prompt(question: str, chunks: Sequence[str]) -> str:
    """LangChain's "stuff" QA prompt, with the chunks numbered so that citations can be scored.

    >>> plain_prompt("Why?", ["a", "b"]).split("\\n\\n")[1:3]
    ['[1] a', '[2] b']
    """
    context = "\n\n".join(f"[{i}] {c}" for i, c in enumerate(chunks, 1))
    return PLAIN_PROMPT.format(context=context, question=question)


def answer_row(q: Question, text: str, cited: list[Location], seconds: float) -> dict[str, Any]:
    """One answer's scores (numeric match only when the gold answer is a number)."""
    from app.metrics import contains_gold

    gold = gold_number(q.answer)
    hits, total, recalled = citation_scores(cited, q.doc, q.pages0)
    return {"id": q.id, "doc": q.doc, "kind": q.kind, "answer": q.answer, "prediction": text,
            "numeric": None if gold is None else numeric_match(text, gold), "contains": contains_gold(text, [q.answer]),
            "cited": cited, "cited_evidence": hits, "citations": total, "cited_some_evidence": recalled,
            "seconds": round(seconds, 3)}


def answer_summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Numeric match (over questions whose gold is a number), contains-gold, citation precision (micro) and
    recall (share of questions citing some evidence page), seconds per question.

    >>> answer_summary([{"numeric": True, "contains": 1.0, "cited_evidence": 1, "citations": 2,
    ...                  "cited_some_evidence": True, "seconds": 2.0},
    ...                 {"numeric": None, "contains": 0.0, "cited_evidence": 0, "citations": 0,
    ...                  "cited_some_evidence": False, "seconds": 4.0}])["numeric_match"]
    1.0
    """
    numeric = [r["numeric"] for r in rows if r["numeric"] is not None]
    total = sum(r["citations"] for r in rows)
    n = len(rows)
    return {"questions": n, "numeric_questions": len(numeric),
            "numeric_match": sum(numeric) / len(numeric) if numeric else None,
            "contains_gold": sum(r["contains"] for r in rows) / n if n else None,
            "citation_precision": sum(r["cited_evidence"] for r in rows) / total if total else None,
            "citation_recall": sum(r["cited_some_evidence"] for r in rows) / n if n else None,
            "citations_per_answer": total / n if n else None,
            "seconds_per_question": statistics.mean(r["seconds"] for r in rows) if rows else None}


def docqa_answers(name: str, questions: list[Question], pdfs: list[Path], corpus: str, base: Settings, llm: Any,
                  rebuild: bool) -> dict[str, Any]:
    """``Index.ask`` over the corpus-wide index of the variant."""
    index, _ = docqa_index(name, pdfs, corpus, base, rebuild=rebuild, llm=llm)
    rows = []
    for q in questions:
        t = time.perf_counter()
        answer = index.ask(q.question)
        seconds = time.perf_counter() - t
        rows.append(answer_row(q, answer.text, [location(c.passage) for c in answer.citations], seconds))
        rows[-1]["notes"] = list(answer.notes)
        rows[-1]["model"] = answer.model  # "docqa figures (no model call)" when the planner answered
        print(f"  {name} {q.id}: numeric={rows[-1]['numeric']} cites={rows[-1]['cited_evidence']}/"
              f"{rows[-1]['citations']} {seconds:.1f}s | {answer.text[:100]!r}", flush=True)
    index.close()
    return {**answer_summary(rows), "rows": rows}


def langchain_answers(questions: list[Question], pdfs: list[Path], model: str, llm: Any,
                      max_tokens: int, rebuild: bool) -> dict[str, Any]:
    """The LangChain retriever's top-4 chunks into the same model with the plain prompt."""
    from ingest.core.records import Message

    lc = langchain_corpus(pdfs, model, rebuild=rebuild)
    store = lc.store()
    rows = []
    for q in questions:
        t = time.perf_counter()
        hits = store.similarity_search_with_score(q.question, k=LANGCHAIN_K)
        chunks = [d.page_content for d, _ in hits]
        completion = llm.complete([Message("user", plain_prompt(q.question, chunks))], max_tokens=max_tokens)
        seconds = time.perf_counter() - t
        located = lc_locations(hits)
        cited = [located[n - 1] for n in cited_numbers(completion.text, len(chunks))]
        rows.append(answer_row(q, completion.text, cited, seconds))
        print(f"  langchain {q.id}: numeric={rows[-1]['numeric']} cites={rows[-1]['cited_evidence']}/"
              f"{rows[-1]['citations']} {seconds:.1f}s | {completion.text[:100]!r}", flush=True)
    return {**answer_summary(rows), "rows": rows}


# ------------------------------------------------------------------ squad ---------------------------------------------
def squad(variants: list[str], base: Settings, per_article: int, articles: int | None) -> dict[str, Any]:
    """SQuAD hit@1/5/10 of the gold paragraph (docqa's default search), one index per article and variant."""
    from ingest_qa import article_text, hits_at, squad_articles

    from app import Index

    out: dict[str, Any] = {}
    arts = squad_articles()[:articles]
    with tempfile.TemporaryDirectory() as tmp:
        for name in variants:
            settings = variant_settings(name, base)
            spans, golds = [], []
            for art in arts:
                text, starts = article_text(art)
                path = Path(tmp) / f"{art['doc_id']}.txt"
                path.write_text(text, encoding="utf-8")
                index = Index.build([path], Path(tmp) / f"{name}-{art['doc_id']}", settings=settings)
                for q in [q for q in art["questions"] if not q.get("is_impossible")][:per_article]:
                    g = q["gold_paragraph"]
                    golds.append((starts[g], starts[g] + len(art["paragraphs"][g])))
                    spans.append([r.passage.chars for r in index.search(q["question"], K)])
                index.close()
            out[name] = {"questions": len(golds), "articles": len(arts), **hits_at(spans, golds)}
            print(f"squad {name}: {out[name]}", flush=True)
    return out


# ------------------------------------------------------------------ leval ---------------------------------------------
def leval(variants: list[str], base: Settings, llm: Any, docs: int, per_doc: int) -> dict[str, Any]:
    """L-Eval financial_qa: answers from one index per earnings call, contains-gold and token F1."""
    from app import Index
    from app.metrics import contains_gold, token_f1

    path = DATA / "leval" / "financial_qa.jsonl"
    rows_in = []
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if len(rows_in) >= docs:
                break
            try:
                rows_in.append(json.loads(line))
            except ValueError as err:
                raise SystemExit(f"{path}:{n}: not JSON ({err})") from err
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in variants:
            settings = variant_settings(name, base)
            rows = []
            for d, row in enumerate(rows_in):
                doc = Path(tmp) / f"earnings-call-{d}.txt"
                doc.write_text(row["input"], encoding="utf-8")
                index = Index.build([doc], Path(tmp) / f"{name}-{d}", settings=settings, llm=llm)
                for q, gold in list(zip(row["instructions"], row["outputs"], strict=True))[:per_doc]:
                    q = re.sub(r"^You are asked to act as a member of the Financial Results Conference Call and "
                               r"answer the question:\s*", "", q)
                    t = time.perf_counter()
                    text = index.ask(q).text
                    rows.append({"question": q, "answer": gold, "prediction": text,
                                 "contains": contains_gold(text, [gold]), "f1": token_f1(text, [gold]),
                                 "seconds": time.perf_counter() - t})
                index.close()
            n = len(rows)
            out[name] = {"questions": n, "contains_gold": sum(r["contains"] for r in rows) / n if n else None,
                         "f1": sum(r["f1"] for r in rows) / n if n else None,
                         "seconds_per_question": sum(r["seconds"] for r in rows) / n if n else None, "rows": rows}
            print(f"leval {name}: {({k: v for k, v in out[name].items() if k != 'rows'})}", flush=True)
    return out


# ------------------------------------------------------------------- main ---------------------------------------------
def warm(llm: Any) -> Any:
    """The model loaded before any question is timed."""
    if hasattr(llm, "warm_up"):
        llm.warm_up()
    return llm


def table(results: dict[str, Any], columns: Sequence[tuple[str, str]]) -> str:
    """A markdown table, one row per variant; ``columns`` are (header, dotted key into the variant's result).

    >>> print(table({"a": {"corpus": {"hit@5": 0.5}}}, [("hit@5", "corpus.hit@5")]))
    | variant | hit@5 |
    |---|---|
    | a | 0.500 |
    """
    lines = ["| variant | " + " | ".join(h for h, _ in columns) + " |", "|---|" + "---|" * len(columns)]
    for name, res in results.items():
        cells = []
        for _, key in columns:
            value: Any = res
            for part in key.split("."):
                value = value.get(part) if isinstance(value, dict) else None
            cells.append("-" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value))
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


RETRIEVAL_COLUMNS = [("hit@1", "corpus.hit@1"), ("hit@5", "corpus.hit@5"), ("hit@10", "corpus.hit@10"),
                     ("MRR", "corpus.mrr"), ("scoped hit@1", "scoped.hit@1"), ("scoped hit@5", "scoped.hit@5"),
                     ("scoped hit@10", "scoped.hit@10"), ("scoped MRR", "scoped.mrr"),
                     ("gold filing share of top 10", "gold_filing_share_top10"), ("passages", "build.passages"),
                     ("build s", "build.seconds")]
ANSWER_COLUMNS = [("numeric match", "numeric_match"), ("numeric n", "numeric_questions"),
                  ("contains-gold", "contains_gold"), ("citation precision", "citation_precision"),
                  ("citation recall", "citation_recall"), ("s/question", "seconds_per_question")]


def parse_variants(text: str, allowed: Sequence[str]) -> list[str]:
    """Comma-separated variant names, checked.

    >>> parse_variants("default, all", VARIANTS)
    ['default', 'all']
    """
    names = [v.strip() for v in text.split(",") if v.strip()]
    bad = [v for v in names if v not in allowed]
    if bad:
        raise SystemExit(f"--variants: unknown {', '.join(bad)}; valid: {', '.join(allowed)}")
    return names


DEFAULT_VARIANTS = {"retrieval": "default,pdfium,headers,tables,route,all,langchain",
                    "answers": "default,all,langchain", "squad": "default,all", "leval": "default,all"}
PARTS = tuple(DEFAULT_VARIANTS)


def run_part(what: str, variants: list[str], args: argparse.Namespace, base: Settings, out: Path) -> dict[str, Any]:
    """One subcommand: results per variant, saved to ``out`` after each variant (a run cut short keeps them)."""
    asked = load_questions(Path(args.questions_file))
    if args.numeric_only:  # the questions whose gold answer is a number (the numeric-match population)
        asked = [q for q in asked if gold_number(q.answer) is not None]
    questions, pdfs = select(asked, sorted((FB / "pdfs").glob("*.pdf")), args.filings, args.questions)
    model = base.embed.model
    started = time.perf_counter()
    results: dict[str, Any] = {}
    meta = {"part": what, "args": vars(args), "embedder": model, "embed_backend": args.embed_backend,
            "date": time.strftime("%Y-%m-%d %H:%M:%S"), "filings": len(pdfs), "questions": len(questions)}

    def save() -> None:
        meta["minutes"] = (time.perf_counter() - started) / 60
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps({**meta, "results": results}, indent=1, default=str))

    corpus = files_digest(pdfs) if what in ("retrieval", "answers") else ""
    if what in ("retrieval", "answers"):
        print(f"{what}: {len(questions)} questions over {len(pdfs)} filings; cache {CACHE}", flush=True)
    if what == "retrieval":
        for name in variants:
            t = time.perf_counter()
            results[name] = (langchain_retrieval(questions, pdfs, model, args.rebuild) if name == "langchain"
                             else docqa_retrieval(name, questions, pdfs, corpus, base, args.rebuild))
            results[name]["variant_seconds"] = time.perf_counter() - t
            save()
            print(table({name: results[name]}, RETRIEVAL_COLUMNS), flush=True)
        print(table(results, RETRIEVAL_COLUMNS))
    elif what == "answers":
        from app.runtime import default_runtime

        llm = warm(default_runtime().llm(base.llm, base.cache))
        for name in variants:
            results[name] = (langchain_answers(questions, pdfs, model, llm, base.llm.max_answer_tokens,
                                               args.rebuild) if name == "langchain"
                             else docqa_answers(name, questions, pdfs, corpus, base, llm, args.rebuild))
            save()
        print(table(results, ANSWER_COLUMNS))
    elif what == "squad":
        results.update(squad(variants, base, args.squad_per_article, args.squad_articles))
        print(table(results, [("hit@1", "hit@1"), ("hit@5", "hit@5"), ("hit@10", "hit@10"),
                              ("questions", "questions")]))
    else:
        from app.runtime import default_runtime

        results.update(leval(variants, base, warm(default_runtime().llm(base.llm, base.cache)), args.leval_docs,
                             args.leval_per_doc))
        print(table(results, [("contains-gold", "contains_gold"), ("F1", "f1"),
                              ("s/question", "seconds_per_question"), ("questions", "questions")]))
    save()
    print(f"{what}: {(time.perf_counter() - started) / 60:.1f} min; results: {out}", flush=True)
    return results


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("what", choices=[*PARTS, "all"], help="one part, or all four in turn (each with its default "
                                                         "variants unless --variants is given)")
    p.add_argument("--variants", default=None, help="comma-separated: " + ", ".join(VARIANTS) + "; default per part: "
                   + "; ".join(f"{k}: {v}" for k, v in DEFAULT_VARIANTS.items()))
    p.add_argument("--questions", type=int, default=None, help="at most N questions (spread over filings)")
    p.add_argument("--numeric-only", action="store_true", help="only questions whose gold answer is a number")
    p.add_argument("--questions-file", default=str(FB / "questions.jsonl"),
                   help="questions in the dev set's JSONL format (default: the dev set's); `pdf` paths resolve beside "
                        "it, else in the dev set's folder")
    p.add_argument("--filings", default=None, help="N (the first N filings asked about) or stems, comma-separated")
    p.add_argument("--embedder", default=None, help="embedding model (default: docqa's, MiniLM)")
    p.add_argument("--embed-backend", default="sentence-transformers", help="sentence-transformers, onnx, onnx-int8")
    p.add_argument("--rebuild", action="store_true", help="rebuild cached indexes")
    p.add_argument("--squad-per-article", type=int, default=30)
    p.add_argument("--squad-articles", type=int, default=None, help="first N SQuAD articles (default: all 24)")
    p.add_argument("--leval-docs", type=int, default=8)
    p.add_argument("--leval-per-doc", type=int, default=3)
    p.add_argument("--out", default=None, help="JSON results (default: bench/out/financebench-<part>.json; with "
                                               "`all`, a folder)")
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s", stream=sys.stderr)
    base = base_settings(args)
    parts = PARTS if args.what == "all" else (args.what,)
    folder = Path(args.out) if args.out and args.what == "all" else ROOT / "bench" / "out"
    for what in parts:
        allowed = VARIANTS if what in ("retrieval", "answers") else tuple(CHANGES)
        wanted = parse_variants(args.variants or DEFAULT_VARIANTS[what], VARIANTS)
        variants = [v for v in wanted if v in allowed]
        out = Path(args.out) if args.out and args.what != "all" else folder / f"financebench-{what}.json"
        try:
            run_part(what, variants, args, base, out)
        except QAError as err:  # a model not installed, an unreadable index, ...: one line, not a traceback
            print(f"financebench {what}: {err}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
