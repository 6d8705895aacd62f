"""Code search benchmark: AST splitting vs LangChain's code splitter vs fixed token windows, and unit/file
aggregation vs best block, all with the same embedder (all-MiniLM-L6-v2).

Two sets:

- **CoSQA** (``../shared/data/cosqa``): 500 dev queries, gold ``retrieval_idx`` into ``code_idx_map.txt``
  (6,267 Python functions, code -> id). The corpus is the gold functions plus a seeded random sample of
  distractors (``--cosqa-corpus``; the whole map takes too long to embed on 2 shared cores); each function is
  one document.
- **stdlib**: packages of this interpreter's standard library (``--packages``). All docstrings are removed from
  the indexed code; a query is the first sentence of a function's docstring; gold is that function (module- and
  class-level ``def``s; its file and line span after stripping). Queries are sampled (``--stdlib-queries``).

Ranking is over functions: a chunk belongs to the function its lines overlap most (chunks of the AST splitter
too, so all splitters are judged alike); block-only ranks a function by its best chunk. Unit aggregation ranks
it by the mean of its AST blocks (L2-normalised, the vector the index stores); "unit+block" averages the two
scores. File level ranks files (mean of all blocks vs best block) with the gold function's file as target.

Run: ``python bench/code_search.py`` (prints Markdown tables; ``--json PATH`` saves the numbers).
``--embed-backend onnx-int8`` runs the same with another embedder runtime; ``--splitters ast`` keeps only the
named splitters (``ast``, ``langchain``, ``tokens``; with ``--symbol-header`` also ``ast+symbol header``, on both
sets).
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import random
import re
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from app.factory import make_embedder  # noqa: E402
from ingest.code import CodeSplitter, code_units, module_path  # noqa: E402
from ingest.core.protocols import Embedder  # noqa: E402
from ingest.core.records import Document, line_span  # noqa: E402
from ingest.core.settings import CacheSettings, EmbedSettings, SplitSettings  # noqa: E402
from ingest.core.vectors import mean_unit_vectors  # noqa: E402
from ingest.loaders import load_file  # noqa: E402
from ingest.split import locate_chunks  # noqa: E402

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "cosqa"
STDLIB = Path(ast.__file__).parent


@dataclass
class Chunk:
    doc: int  # index into the corpus documents
    chars: tuple[int, int]
    lines: tuple[int, int]
    text: str
    symbol: str | None = None


@dataclass
class Item:
    """A function that can be retrieved."""

    doc: int
    lines: tuple[int, int]
    symbol: str


# -- splitters --------------------------------------------------------------------------------------------------
def ast_chunks(docs: Sequence[Document], splitter: CodeSplitter, *, header: bool = False) -> list[Chunk]:
    """AST passages; with ``header`` the embedded text starts with the passage's symbol path."""
    out = []
    for i, d in enumerate(docs):
        for p in splitter.split(d):
            text = f"{p.symbol}\n{p.text}" if header and p.symbol else p.text
            out.append(Chunk(i, p.chars, p.lines or (1, 1), text, p.symbol))
    return out


def langchain_chunks(docs: Sequence[Document], budget: int, overlap: int, count: Callable[[str], int]) -> list[Chunk]:
    from langchain_text_splitters import Language, RecursiveCharacterTextSplitter

    splitter = RecursiveCharacterTextSplitter.from_language(Language.PYTHON, chunk_size=budget, chunk_overlap=overlap,
                                                            length_function=count)
    out = []
    for i, d in enumerate(docs):
        texts = [c for c in splitter.split_text(d.text) if c.strip()]
        for a, b in locate_chunks(d.text, texts):
            out.append(Chunk(i, (a, b), line_span(d.text, a, b), d.text[a:b]))
    return out


def token_window_chunks(docs: Sequence[Document], budget: int, overlap: int, tokenizer: object) -> list[Chunk]:
    out = []
    step = budget - overlap
    for i, d in enumerate(docs):
        offsets = tokenizer(d.text, add_special_tokens=False, return_offsets_mapping=True,  # type: ignore[operator]
                            verbose=False)["offset_mapping"]
        start = 0
        while start < len(offsets):
            end = min(start + budget, len(offsets))
            a, b = offsets[start][0], offsets[end - 1][1]
            out.append(Chunk(i, (a, b), line_span(d.text, a, b), d.text[a:b]))
            if end == len(offsets):
                break
            start += step
    return out


# -- embedding with a per-run cache (identical chunks across splitters are embedded once) -------------------------
class CachedEmbedder:
    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder
        self.cache: dict[str, np.ndarray] = {}
        self.embedded = 0
        self.seconds = 0.0

    def passages(self, texts: Sequence[str]) -> np.ndarray:
        todo = sorted({t for t in texts if t not in self.cache}, key=len, reverse=True)
        t0 = time.perf_counter()
        for start in range(0, len(todo), 256):
            batch = todo[start:start + 256]
            for text, vec in zip(batch, self.embedder.embed_passages(batch), strict=True):
                self.cache[text] = vec
        self.seconds += time.perf_counter() - t0
        self.embedded += len(todo)
        return np.stack([self.cache[t] for t in texts]) if texts else np.zeros((0, self.embedder.dim), np.float32)


# -- metrics ----------------------------------------------------------------------------------------------------
def attribute(chunks: Sequence[Chunk], items: Sequence[Item]) -> list[int]:
    """Index of the item each chunk overlaps most by lines (-1: none)."""
    by_doc: dict[int, list[int]] = {}
    for j, it in enumerate(items):
        by_doc.setdefault(it.doc, []).append(j)
    out = []
    for c in chunks:
        best, best_overlap = -1, 0
        for j in by_doc.get(c.doc, []):
            a, b = items[j].lines
            overlap = min(b, c.lines[1]) - max(a, c.lines[0]) + 1
            if overlap > best_overlap:
                best, best_overlap = j, overlap
        out.append(best)
    return out


def max_by_group(scores: np.ndarray, groups: Sequence[int], n: int) -> np.ndarray:
    """Per query row, the best score of each group (-inf where a group has no member)."""
    out = np.full((scores.shape[0], n), -np.inf, dtype=np.float32)
    g = np.asarray(groups)
    keep = g >= 0
    for col in np.flatnonzero(keep):
        np.maximum(out[:, g[col]], scores[:, col], out=out[:, g[col]])
    return out


def metrics(item_scores: np.ndarray, gold: Sequence[int]) -> dict[str, float]:
    """MRR and Recall@1/5/10 (rank = 1 + items scoring strictly higher than the gold item)."""
    ranks = np.array([1 + int((row > row[g]).sum()) if np.isfinite(row[g]) else len(row)
                      for row, g in zip(item_scores, gold, strict=True)])
    return {"MRR": float((1.0 / ranks).mean()), "R@1": float((ranks <= 1).mean()), "R@5": float((ranks <= 5).mean()),
            "R@10": float((ranks <= 10).mean()), "n": len(ranks)}


# -- data sets --------------------------------------------------------------------------------------------------
def load_cosqa(corpus_size: int, seed: int) -> tuple[list[Document], list[str], list[int]]:
    dev = json.loads((DATA / "cosqa-retrieval-dev-500.json").read_text())
    code_to_id = json.loads((DATA / "code_idx_map.txt").read_text())
    by_id = {i: code for code, i in code_to_id.items()}
    gold_ids = sorted({q["retrieval_idx"] for q in dev})
    others = sorted(set(by_id) - set(gold_ids))
    rng = random.Random(seed)
    chosen = gold_ids + rng.sample(others, max(0, min(len(others), corpus_size - len(gold_ids))))
    docs = [Document(doc_id=f"c{i}", source=f"cosqa_{i}.py", text=by_id[i], kind="code", language="python")
            for i in chosen]
    position = {i: k for k, i in enumerate(chosen)}
    return docs, [q["doc"] for q in dev], [position[q["retrieval_idx"]] for q in dev]


def first_sentence(doc: str) -> str:
    """First sentence of a docstring, on one line.

    >>> first_sentence("Return the thing.  More text.\\n\\nDetails.")
    'Return the thing.'
    """
    para = re.split(r"\n\s*\n", doc.strip(), maxsplit=1)[0]
    para = " ".join(para.split())
    m = re.match(r"(.+?[.!?])(\s|$)", para)
    return m.group(1) if m else para


def _definitions(tree: ast.Module) -> list[tuple[list[str], ast.FunctionDef | ast.AsyncFunctionDef]]:
    """Module- and class-level functions with their class path (not functions nested in functions)."""
    out: list[tuple[list[str], ast.FunctionDef | ast.AsyncFunctionDef]] = []

    def visit(body: list[ast.stmt], path: list[str]) -> None:
        for node in body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                out.append((path, node))
            elif isinstance(node, ast.ClassDef):
                visit(node.body, [*path, node.name])

    visit(tree.body, [])
    return out


def strip_docstrings(source: str) -> tuple[str, dict[str, str]]:
    """Source without docstrings (a docstring-only body becomes ``pass``), and each function's first sentence
    by qualified name."""
    tree = ast.parse(source)
    lines = source.split("\n")
    queries: dict[str, str] = {}
    drop: dict[int, str | None] = {}  # 0-based line -> replacement (None: delete)
    kinds = ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef
    owners = [tree] + [n for n in ast.walk(tree) if isinstance(n, kinds)]
    for path, fn in _definitions(tree):
        doc = ast.get_docstring(fn)
        if doc and len(first_sentence(doc).split()) >= 3:
            queries[".".join([*path, fn.name])] = first_sentence(doc)
    for owner in owners:
        body = owner.body
        if not (body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)):
            continue
        node = body[0]
        first, last = node.lineno - 1, (node.end_lineno or node.lineno) - 1
        if lines[first][:node.col_offset].strip() or lines[last][node.end_col_offset or 0:].strip():
            continue  # shares a line with other code: leave it
        only = len(body) == 1 and not isinstance(owner, ast.Module)
        for r in range(first, last + 1):
            drop[r] = None
        if only:
            drop[first] = " " * node.col_offset + "pass"
    out = [drop.get(r, line) for r, line in enumerate(lines) if r not in drop or drop[r] is not None]
    return "\n".join(out), queries


def load_stdlib(packages: Sequence[str], workdir: Path, n_queries: int, seed: int
                ) -> tuple[list[Document], list[Item], list[str], list[int]]:
    docs: list[Document] = []
    items: list[Item] = []
    queries: list[tuple[str, int]] = []
    sentences: dict[Path, dict[str, str]] = {}
    for package in packages:  # write every stripped file first: module paths climb the __init__.py files
        for path in sorted((STDLIB / package).rglob("*.py")):
            if "test" in path.relative_to(STDLIB).parts or "tests" in path.relative_to(STDLIB).parts:
                continue
            try:
                stripped, sentences[workdir / path.relative_to(STDLIB)] = strip_docstrings(path.read_text("utf-8"))
                ast.parse(stripped)
            except (SyntaxError, UnicodeDecodeError):
                continue
            target = workdir / path.relative_to(STDLIB)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(stripped if stripped.strip() else "# empty\n")
    for path, qs in sentences.items():
        doc = load_file(path)
        module = module_path(str(path))
        d = len(docs)
        docs.append(doc)
        seen: set[str] = set()
        for cls_path, fn in _definitions(ast.parse(doc.text)):
            qual = ".".join([*cls_path, fn.name])
            if qual in seen:  # property setters and overloads share a name: ambiguous gold
                continue
            seen.add(qual)
            start = min([fn.lineno] + [dec.lineno for dec in fn.decorator_list])
            items.append(Item(d, (start, fn.end_lineno or fn.lineno), f"{module}.{qual}"))
            if qual in qs:
                queries.append((qs[qual], len(items) - 1))
    dup = {q for q, _ in queries if sum(1 for x, _ in queries if x == q) > 1}
    queries = [(q, i) for q, i in queries if q not in dup]  # the same sentence on several functions: ambiguous
    rng = random.Random(seed)
    sample = sorted(rng.sample(range(len(queries)), min(n_queries, len(queries))))
    return docs, items, [queries[k][0] for k in sample], [queries[k][1] for k in sample]


# -- runs -------------------------------------------------------------------------------------------------------
def run_set(name: str, docs: list[Document], items: list[Item] | None, queries: list[str], gold: list[int],
            embedder: CachedEmbedder, splitters: dict[str, Callable[[], list[Chunk]]]) -> dict[str, object]:
    """Evaluate every splitter on one set; ``items`` None means each document is one item (CoSQA)."""
    lines = sum(d.text.count("\n") + 1 for d in docs)
    q = embedder.embedder.embed_queries(queries)
    rows: dict[str, dict[str, float]] = {}
    split_seconds: dict[str, float] = {}
    chunk_counts: dict[str, int] = {}
    n_items = len(items) if items is not None else len(docs)
    file_of_gold = [items[g].doc for g in gold] if items is not None else gold
    for label, make in splitters.items():
        t0 = time.perf_counter()
        chunks = make()
        split_seconds[label] = time.perf_counter() - t0
        chunk_counts[label] = len(chunks)
        vectors = embedder.passages([c.text for c in chunks])
        scores = q @ vectors.T
        owner = attribute(chunks, items) if items is not None else [c.doc for c in chunks]
        block = max_by_group(scores, owner, n_items)
        rows[f"{label} / best block"] = metrics(block, gold)
        if items is not None:
            rows[f"{label} / file: best block"] = metrics(max_by_group(scores, [c.doc for c in chunks], len(docs)),
                                                          file_of_gold)
        if not label.startswith("ast"):
            continue
        # unit vectors: mean of the unit's AST blocks (what retrieval.units stores)
        if items is None:  # one function per document: the unit is the document
            groups = [[k for k, c in enumerate(chunks) if c.doc == d] for d in range(len(docs))]
            unit = q @ mean_unit_vectors(vectors, groups).T
        else:
            unit = np.full((len(queries), n_items), -np.inf, dtype=np.float32)
            symbol_item = {it.symbol: j for j, it in enumerate(items)}
            by_doc: dict[int, list[int]] = {}
            for k, c in enumerate(chunks):
                by_doc.setdefault(c.doc, []).append(k)
            from ingest.core.records import Passage

            for d, ks in by_doc.items():
                ps = [Passage(id=str(k), doc_id=str(d), source=docs[d].source, text=chunks[k].text,
                              chars=chunks[k].chars, lines=chunks[k].lines, kind="code", symbol=chunks[k].symbol,
                              splitter="ast") for k in ks]
                for symbol, members in code_units(ps):
                    j = symbol_item.get(symbol)
                    if j is not None:
                        vec = mean_unit_vectors(vectors, [[ks[m] for m in members]])[0]
                        unit[:, j] = q @ vec
            missing = int(np.isinf(unit[0]).sum())
            # an item the AST splitter did not make a unit (rare): fall back to its best block
            unit = np.where(np.isfinite(unit), unit, block)
            rows[f"{label} / unit (mean of blocks)"] = {**metrics(unit, gold), "items_without_unit": missing}
            files = q @ mean_unit_vectors(vectors, [[k for k, c in enumerate(chunks) if c.doc == d]
                                                  for d in range(len(docs))]).T
            rows[f"{label} / file: mean of blocks"] = metrics(files, file_of_gold)
        if items is None:
            rows[f"{label} / unit (mean of blocks)"] = metrics(unit, gold)
        rows[f"{label} / unit+block (avg of scores)"] = metrics((unit + block) / 2, gold)
    return {"set": name, "documents": len(docs), "lines": lines, "items": n_items, "queries": len(queries),
            "rows": rows, "split_seconds": split_seconds, "chunks": chunk_counts,
            "split_lines_per_s": {k: lines / v for k, v in split_seconds.items() if v > 0}}


def indexing_throughput(docs: list[Document], embedder: Embedder,
                        splitters: dict[str, Callable[[], list[Chunk]]]) -> dict[str, dict[str, float]]:
    """Split + embed (no cache) of the same documents: lines per second per splitter."""
    lines = sum(d.text.count("\n") + 1 for d in docs)
    out = {}
    for label, make in splitters.items():
        t0 = time.perf_counter()
        chunks = make()
        t1 = time.perf_counter()
        embedder.embed_passages([c.text for c in chunks])
        t2 = time.perf_counter()
        out[label] = {"lines": lines, "chunks": len(chunks), "split_s": t1 - t0, "embed_s": t2 - t1,
                      "lines_per_s": lines / (t2 - t0)}
    return out


def table(result: dict[str, object]) -> str:
    rows = result["rows"]
    assert isinstance(rows, dict)
    out = ["| method | MRR | R@1 | R@5 | R@10 |", "|---|---|---|---|---|"]
    for name, m in rows.items():
        out.append(f"| {name} | {m['MRR']:.4f} | {m['R@1']:.3f} | {m['R@5']:.3f} | {m['R@10']:.3f} |")
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cosqa-corpus", type=int, default=2000, help="functions in the CoSQA corpus (gold + sampled)")
    ap.add_argument("--packages", default="json,http,urllib,logging", help="stdlib packages to index")
    ap.add_argument("--stdlib-queries", type=int, default=300)
    ap.add_argument("--throughput-package", default="json", help="stdlib package timed for split+embed")
    ap.add_argument("--chunk-tokens", type=int, default=200)
    ap.add_argument("--overlap-tokens", type=int, default=32)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--skip-cosqa", action="store_true")
    ap.add_argument("--symbol-header", action="store_true", help="also embed AST blocks with their symbol path "
                                                                 "as a first line (stdlib set)")
    ap.add_argument("--embed-backend", default="sentence-transformers",
                    help="embedder runtime: sentence-transformers, onnx, onnx-int8")
    ap.add_argument("--splitters", default="", help="comma-separated splitters to run (default: all)")
    ap.add_argument("--skip-throughput", action="store_true", help="skip the split+embed timing")
    ap.add_argument("--json", help="write the numbers here")
    args = ap.parse_args(argv)

    t_start = time.perf_counter()
    st = make_embedder(EmbedSettings(backend=args.embed_backend), CacheSettings())
    st.warm_up()  # type: ignore[attr-defined]
    count = st.count_tokens
    settings = SplitSettings(chunk_tokens=args.chunk_tokens, overlap_tokens=args.overlap_tokens)
    ast_splitter = CodeSplitter(settings, count)
    cached = CachedEmbedder(st)

    def splitters(docs: list[Document], *, header: bool = False) -> dict[str, Callable[[], list[Chunk]]]:
        out = {"ast": lambda: ast_chunks(docs, ast_splitter),
               "langchain": lambda: langchain_chunks(docs, args.chunk_tokens, args.overlap_tokens, count),
               "tokens": lambda: token_window_chunks(docs, args.chunk_tokens, args.overlap_tokens, st.tokenizer)}
        if header:
            out["ast+symbol header"] = lambda: ast_chunks(docs, ast_splitter, header=True)
        keep = [k for k in args.splitters.split(",") if k]
        return {k: v for k, v in out.items() if not keep or k in keep}

    results = []
    with tempfile.TemporaryDirectory() as tmp:
        packages = [p for p in args.packages.split(",") if p]
        docs, items, queries, gold = load_stdlib(packages, Path(tmp), args.stdlib_queries, args.seed)
        results.append(run_set(f"stdlib ({', '.join(packages)})", docs, items, queries, gold, cached,
                               splitters(docs, header=args.symbol_header)))
        tp_docs = [d for d in docs if Path(d.source).relative_to(tmp).parts[0] == args.throughput_package]
        throughput = {} if args.skip_throughput else indexing_throughput(
            tp_docs, st, {k: v for k, v in splitters(tp_docs).items() if k != "tokens"})
    if not args.skip_cosqa:
        docs, queries, gold = load_cosqa(args.cosqa_corpus, args.seed)
        results.append(run_set("CoSQA dev", docs, None, queries, gold, cached,
                               splitters(docs, header=args.symbol_header)))
    total = time.perf_counter() - t_start

    for r in results:
        print(f"\n### {r['set']}: {r['documents']} files, {r['lines']} lines, {r['items']} functions, "
              f"{r['queries']} queries\n")
        print(table(r))
        print(f"\nchunks: {r['chunks']}; split lines/s: "
              + ", ".join(f"{k} {v:,.0f}" for k, v in r["split_lines_per_s"].items()))
    print("\n### indexing throughput (split + embed, no cache)\n")
    for k, v in throughput.items():
        print(f"- {k}: {v['lines']} lines, {v['chunks']} chunks, split {v['split_s']:.2f}s, embed {v['embed_s']:.1f}s,"
              f" {v['lines_per_s']:.1f} lines/s")
    print(f"\nembedded {cached.embedded} distinct chunks in {cached.seconds:.0f}s; total {total:.0f}s")
    if args.json:
        Path(args.json).write_text(json.dumps({"results": results, "throughput": throughput, "seconds": total,
                                               "args": vars(args)}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
