"""Issue 25 benchmark: large generated indexes, and the Ray engine against the local one.

  index   a synthetic index of N passages (dimension D; topic-clustered unit vectors, 20 short passages per
          document, written by the real IndexWriter: SQLite/FTS5 + the dense index it picks), then, in a fresh
          child process: memory when opening it and when serving (peak RSS, anonymous RSS: mapped index
          files are shared page cache, not counted there), dense p50/p99 and recall@10 against exact search
          on perturbed stored vectors (exact answers streamed over the regenerated vectors), BM25 and hybrid
          p50/p99, scoped p50/p99 (one document; one passage kind = 10% of the index)
  ann     the three FAISS kinds compared on the same generated vectors (build time, recall@10, p50/p99):
          how the approximate kind was chosen
  ray     a small text corpus (and a long PDF with --pdf-pages) built with the local engine and with the Ray engine
          on a local cluster of 2 CPUs and of 1 CPU (as many embedding actors), interleaved repeat by repeat
          (local, Ray 2, Ray 1), the packaged embedder (or --fake); the cluster's start and the actors' model
          load are timed apart; the one-minute load average before and after each build

Usage:
  python bench/scale.py index --passages 1000000 [--dim 384] [--queries 200] [--out FILE.json]
  python bench/scale.py index --passages 1000000 --keep DIR --build-only; ... --keep DIR --serve-only
  python bench/scale.py ann --passages 200000
  python bench/scale.py ray [--files 60] [--pdf-pages 0] [--repeats 2] [--fake]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def _loadavg() -> str:
    return Path("/proc/loadavg").read_text().split(" ", 3)[:3].__str__()


def _status(key: str) -> int:
    """A /proc/self/status field in bytes (VmHWM: peak RSS; RssAnon: anonymous RSS)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    return 0


def percentiles(values: list[float]) -> dict[str, float]:
    return {"p50_ms": round(float(np.percentile(values, 50)) * 1e3, 2),
            "p99_ms": round(float(np.percentile(values, 99)) * 1e3, 2), "n": len(values)}


# -- index -------------------------------------------------------------------------------------------------------

def build_generated(directory: Path, passages: int, dim: int, approximate_above: int) -> dict[str, Any]:
    from retrieval.dense import DenseConfig
    from tests.synthetic import write_generated

    t = time.perf_counter()
    manifest = write_generated(directory, passages, dim, dense=DenseConfig(approximate_above=approximate_above))
    seconds = time.perf_counter() - t
    files = {p.name: p.stat().st_size for p in directory.iterdir() if p.is_file()}
    return {"build_seconds": round(seconds, 1), "bytes": sum(files.values()), "files": files,
            "dense": manifest.dense, "build_peak_rss": _status("VmHWM")}


def exact_answers(queries: np.ndarray, passages: int, dim: int, k: int = 10) -> np.ndarray:
    """Exact top-k rows for ``queries``, streamed over the regenerated vectors (never all in memory)."""
    from tests.synthetic import topic_chunks

    best_s = np.full((len(queries), k), -np.inf, dtype=np.float32)
    best_i = np.full((len(queries), k), -1, dtype=np.int64)
    start = 0
    for chunk in topic_chunks(passages, dim):
        scores = queries @ chunk.T
        ids = np.broadcast_to(np.arange(start, start + len(chunk)), scores.shape)
        s = np.concatenate([best_s, scores], axis=1)
        i = np.concatenate([best_i, ids], axis=1)
        top = np.argsort(-s, axis=1)[:, :k]
        best_s, best_i = np.take_along_axis(s, top, 1), np.take_along_axis(i, top, 1)
        start += len(chunk)
    return best_i


def sample_queries(passages: int, dim: int, count: int, seed: int = 11) -> np.ndarray:
    """Stored vectors of random rows, perturbed (a query near, not on, a passage)."""
    from tests.synthetic import topic_chunks

    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(passages, count, replace=False))
    out, start, j = [], 0, 0
    for chunk in topic_chunks(passages, dim):
        while j < len(rows) and rows[j] < start + len(chunk):
            out.append(chunk[rows[j] - start])
            j += 1
        start += len(chunk)
    q = np.stack(out) + rng.standard_normal((count, dim)).astype(np.float32) * (0.15 / np.sqrt(dim))
    return (q / np.linalg.norm(q, axis=1, keepdims=True)).astype(np.float32)


class GivenVectors:
    """An embedder whose query vectors are given (the generated index has no model)."""

    def __init__(self, by_text: dict[str, np.ndarray], dim: int) -> None:
        self.by_text, self.dim = by_text, dim

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return np.stack([self.by_text[t] for t in texts])


def serve(directory: Path, queries_file: Path, exact_file: Path, keyword_queries: int) -> dict[str, Any]:
    """In a fresh process: open, then search as a server would; memory and latencies."""
    import tracemalloc

    from ingest.core.settings import SearchSettings
    from retrieval.dense import recall_at
    from retrieval.scope import Scope
    from retrieval.search import Searcher
    from retrieval.store import IndexReader
    from tests.synthetic import passage_words

    queries, exact = np.load(queries_file), np.load(exact_file)
    out: dict[str, Any] = {"before_open": {"rss_anon": _status("RssAnon"), "peak_rss": _status("VmHWM")}}
    tracemalloc.start()
    t = time.perf_counter()
    reader = IndexReader(directory)
    out["open_seconds"] = round(time.perf_counter() - t, 3)
    out["open"] = {"python_peak": tracemalloc.get_traced_memory()[1], "rss_anon": _status("RssAnon"),
                   "peak_rss": _status("VmHWM")}
    tracemalloc.stop()
    rows = np.random.default_rng(5).choice(reader.manifest.counts["passages"], len(queries), replace=False)
    texts = list(dict.fromkeys(" ".join(passage_words(int(r))[:4]) for r in rows))[:keyword_queries]
    searcher = Searcher(reader, GivenVectors(dict(zip(texts, queries[:len(texts)], strict=True)), queries.shape[1]),
                        SearchSettings(mode="hybrid"))
    dense_t, found = [], []
    for q in queries:
        t = time.perf_counter()
        hits = reader.dense(q, 10)
        dense_t.append(time.perf_counter() - t)
        found.append([r for r, _ in hits] + [-1] * (10 - len(hits)))
    out["dense"] = {**percentiles(dense_t), "recall_at_10": round(recall_at(np.array(found), exact), 4)}
    for name, run in (("dense_search", searcher.dense), ("bm25", searcher.bm25), ("hybrid", searcher.hybrid)):
        times = []
        for text in texts:
            t = time.perf_counter()
            run(text, 10)
            times.append(time.perf_counter() - t)
        out[name] = percentiles(times)
    docs = reader.manifest.counts["documents"]
    for name, scope_of in (("scoped_document", lambda i: Scope.of([f"d-{(i * 7919) % docs:06d}"])),
                           ("scoped_kind_table", lambda i: Scope.of(kinds=["table"]))):
        times = []
        for i, text in enumerate(texts[:max(10, keyword_queries // 2)]):
            t = time.perf_counter()
            searcher.retrieve(text, 10, scope=scope_of(i))
            times.append(time.perf_counter() - t)
        out[name] = percentiles(times)
    out["serving"] = {"rss_anon": _status("RssAnon"), "peak_rss": _status("VmHWM")}
    reader.close()
    return out


def cmd_index(args: argparse.Namespace) -> dict[str, Any]:
    """Build (and, unless --build-only, serve) a generated index; with --keep DIR it stays in DIR."""
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="docqa-scale-", dir=args.tmp))
    try:
        result: dict[str, Any] = {"passages": args.passages, "dim": args.dim, "load_before": _loadavg()}
        if not args.serve_only:
            result["build"] = _child("build", str(work / "index"), str(args.passages), str(args.dim),
                                     str(args.approximate_above))
        if not args.build_only:
            queries = sample_queries(args.passages, args.dim, args.queries)
            t = time.perf_counter()
            exact = exact_answers(queries, args.passages, args.dim)
            result["exact_answers_seconds"] = round(time.perf_counter() - t, 1)
            np.save(work / "q.npy", queries)
            np.save(work / "exact.npy", exact)
            result["serve"] = _child("serve", str(work / "index"), str(work / "q.npy"), str(work / "exact.npy"),
                                     str(args.keyword_queries))
        result["load_after"] = _loadavg()
        return result
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


def _child(*argv: str) -> dict[str, Any]:
    """Run one step in a fresh interpreter (its own peak memory); its JSON result."""
    proc = subprocess.run([sys.executable, __file__, "_child", *argv], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"child {argv[0]} failed: {proc.stderr[-2000:]}")
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def cmd_child(argv: list[str]) -> dict[str, Any]:
    if argv[0] == "build":
        return build_generated(Path(argv[1]), int(argv[2]), int(argv[3]), int(argv[4]))
    return serve(Path(argv[1]), Path(argv[2]), Path(argv[3]), int(argv[4]))


# -- ann ---------------------------------------------------------------------------------------------------------

def cmd_ann(args: argparse.Namespace) -> dict[str, Any]:
    import faiss

    from retrieval.dense import ivf_lists, recall_at
    from tests.synthetic import topic_vectors

    x = topic_vectors(args.passages, args.dim)
    queries = sample_queries(args.passages, args.dim, args.queries)
    flat = faiss.IndexFlatIP(args.dim)
    flat.add(x)
    _, exact = flat.search(queries, 10)

    def latency(index: Any) -> dict[str, float]:
        times = []
        for q in queries:
            t = time.perf_counter()
            index.search(q[None], 10)
            times.append(time.perf_counter() - t)
        return percentiles(times)

    out: dict[str, Any] = {"passages": args.passages, "dim": args.dim, "load_before": _loadavg(),
                           "flat": latency(flat)}
    nlist = ivf_lists(args.passages)
    rng = np.random.default_rng(0)
    for kind in ("ivf-flat", "ivf-pq", "hnsw"):
        t = time.perf_counter()
        if kind == "hnsw":
            index: Any = faiss.IndexHNSWFlat(args.dim, 32, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = 40
            index.add(x)
        else:
            quantizer = faiss.IndexFlatIP(args.dim)
            index = (faiss.IndexIVFFlat(quantizer, args.dim, nlist, faiss.METRIC_INNER_PRODUCT) if kind == "ivf-flat"
                     else faiss.IndexIVFPQ(quantizer, args.dim, nlist, 48, 8, faiss.METRIC_INNER_PRODUCT))
            index.train(x[rng.choice(len(x), min(len(x), nlist * 40), replace=False)])
            index.add(x)
        built = round(time.perf_counter() - t, 1)
        rows = []
        for param in ((32, 64, 128) if kind == "hnsw" else (16, 32, 64)):
            if kind == "hnsw":
                index.hnsw.efSearch = param
            else:
                index.nprobe = param
            _, got = index.search(queries, 10)
            rows.append({"param": param, "recall_at_10": round(recall_at(got, exact), 4), **latency(index)})
        out[kind] = {"build_seconds": built, "nlist": nlist if kind != "hnsw" else None, "runs": rows}
        print(kind, out[kind], file=sys.stderr, flush=True)
    out["load_after"] = _loadavg()
    return out


# -- ray ---------------------------------------------------------------------------------------------------------

def _corpus(root: Path, files: int) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    words = ("kestrel", "clipper", "glacier", "copper", "orchard", "harbour", "ledger", "turbine", "lantern")
    for i in range(files):
        paragraphs = [" ".join(f"The {words[(i + j + w) % len(words)]} of paragraph {j} in file {i} note {w}."
                               for w in range(12)) for j in range(12)]
        (root / f"file-{i:03d}.txt").write_text("\n\n".join(paragraphs) + "\n")
    return root


RAY_RUNS = (("local", 0), ("ray-2", 2), ("ray-1", 1))  # (name, Ray CPUs = embedding actors; 0: the local engine)


def _load1() -> float:
    """The one-minute load average."""
    return float(Path("/proc/loadavg").read_text().split()[0])


def _ray_run(name: str, cpus: int, corpus: Path, idx: Path, parts: Any, key: str) -> dict[str, Any]:
    """One build of ``corpus`` into ``idx``: by the local engine (``cpus`` 0), or by the Ray engine on a local
    cluster of ``cpus`` CPUs with as many embedding actors (the cluster's start and the actors' model load are
    timed apart from the build)."""
    import ray

    from ingest.core.settings import IndexSettings
    from retrieval.build import build_index
    from retrieval.ray_engine import RayEngine

    embedder, splitter, describer = parts()
    load_before, setup = _load1(), 0.0
    engine = None
    if cpus:
        t = time.perf_counter()
        ray.init(num_cpus=cpus, address="local", include_dashboard=False, log_to_driver=False)
        engine = RayEngine(parts, key, IndexSettings(engine="ray", embed_actors=cpus))
        engine._pool(embedder)
        setup = time.perf_counter() - t
    try:
        t = time.perf_counter()
        report = build_index([corpus], idx, embedder=embedder, splitter=splitter, describer=describer, engine=engine)
        seconds = time.perf_counter() - t
    finally:
        if engine is not None:
            stats = dict(engine.stats)
            engine.close()
            ray.shutdown()
    return {"engine": name, "seconds": round(seconds, 2), "setup_seconds": round(setup, 2),
            "passages": report.passages, "documents": report.documents, "load_before": load_before,
            "load_after": _load1(), **({"page_range_tasks": stats["page_range_tasks"]} if cpus else {})}


def cmd_ray(args: argparse.Namespace) -> dict[str, Any]:
    """Local and Ray builds of one corpus, interleaved repeat by repeat: local, Ray on 2 CPUs, Ray on 1 CPU."""
    import functools

    from app.sdk import build_parts
    from ingest.core.settings import Settings
    from tests.conftest import write_pdf

    work = Path(tempfile.mkdtemp(prefix="docqa-ray-", dir=args.tmp))
    parts: Any = _fake_parts if args.fake else functools.partial(build_parts, Settings())
    corpus = _corpus(work / "corpus", args.files)
    if args.pdf_pages:  # a long PDF: split by page-range tasks under Ray ([index] pdf_pages_per_task)
        words = ("kestrel", "clipper", "glacier", "copper", "orchard", "harbour", "ledger", "turbine", "lantern")
        write_pdf(corpus / "long.pdf", [" ".join(f"Page {n}: the {words[(n + w) % len(words)]} note {w}."
                                                 for w in range(60)) for n in range(args.pdf_pages)])
    os.environ["PYTHONPATH"] = str(ROOT)
    os.environ.setdefault("RAY_worker_niceness", "0")  # Ray's default (15) would embed behind the other users here
    out: dict[str, Any] = {"files": args.files, "pdf_pages": args.pdf_pages, "fake": args.fake, "runs": []}
    try:
        for repeat in range(args.repeats):
            for name, cpus in RAY_RUNS:
                run = _ray_run(name, cpus, corpus, work / f"idx-{name}-{repeat}", parts, f"bench-{args.fake}")
                out["runs"].append({**run, "repeat": repeat})
                print(out["runs"][-1], file=sys.stderr, flush=True)
                shutil.rmtree(work / f"idx-{name}-{repeat}", ignore_errors=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    by: dict[str, list[float]] = {}
    for r in out["runs"]:
        by.setdefault(r["engine"], []).append(r["seconds"])
    out["median_seconds"] = {k: statistics.median(v) for k, v in by.items()}
    local = out["median_seconds"]["local"]
    out["ratio_to_local"] = {k: round(v / local, 3) for k, v in out["median_seconds"].items()}
    pairs = [b["seconds"] / a["seconds"] for a, b in zip(out["runs"], out["runs"][1:], strict=False)
             if a["engine"] == "local" and b["engine"] == "ray-2" and a["repeat"] == b["repeat"]]
    out["ray2_over_local_per_repeat"] = [round(x, 3) for x in pairs]
    out["ray1_over_ray2"] = round(out["median_seconds"]["ray-1"] / out["median_seconds"]["ray-2"], 3)
    return out


def _fake_parts() -> Any:
    from ingest.core.settings import SplitSettings
    from ingest.split import DocumentSplitter, ProseSplitter
    from tests.fakes import FakeEmbedder

    embedder = FakeEmbedder()
    s = SplitSettings()
    return embedder, DocumentSplitter(s, ProseSplitter(s, embedder.count_tokens)), None


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_child":
        print(json.dumps(cmd_child(sys.argv[2:])))
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=("index", "ann", "ray"))
    ap.add_argument("--passages", type=int, default=1_000_000)
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--approximate-above", type=int, default=200_000)
    ap.add_argument("--keyword-queries", type=int, default=200, help="index: BM25 and hybrid queries (four words of "
                                                                     "a passage each); half as many scoped")
    ap.add_argument("--keep", help="index: build into (or serve from) this directory and keep it")
    ap.add_argument("--build-only", action="store_true")
    ap.add_argument("--serve-only", action="store_true", help="index: serve the index --keep names")
    ap.add_argument("--files", type=int, default=60)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--fake", action="store_true", help="ray: the hashing embedder instead of the packaged model")
    ap.add_argument("--pdf-pages", type=int, default=0, help="ray: add a PDF of this many pages to the corpus")
    ap.add_argument("--tmp", default=None, help="where the index is written (default: the system's temp dir)")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    result = {"ann": cmd_ann, "index": cmd_index, "ray": cmd_ray}[args.what](args)
    result["date"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
