"""Issue 14 benchmark: corpus builds, docqa vs the LangChain pipeline of DESIGN §6, with the same embedder.

Every measurement runs in its own child process (peak memory is the child's ``ru_maxrss``):

  throughput   pages/s on ../shared/data/pdfs (docqa: one ``build_index`` of all of them, workers reading
               while the embedder embeds; LangChain: PyPDFLoader + RecursiveCharacterTextSplitter 1000/200 +
               FAISS.from_documents), and chars/s on the SQuAD long-document articles (one .txt each;
               LangChain: TextLoader)
  incremental  docqa on >= 200 text files cut from the SQuAD articles: the first build, a no-op rerun, and a
               rerun after one file changed (LangChain has no incremental build: its numbers are the full
               rebuild, for comparison)
  memory       docqa's peak memory on the shared PDFs 1x and 10x (each file copied under ten names in a
               temporary directory); LangChain's as well

Usage:
  python bench/index_corpus.py {throughput,incremental,memory,all} [--repeats N] [--runtimes R,R] [--out FILE.json]
  python bench/index_corpus.py all --fake --limit 3     # smoke test: hashing embedders, 3 files per corpus
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data"
PASSWORD = "1234"  # 2206.01062_pg3_password.pdf; the other PDFs are not encrypted, so it is ignored for them
MIN_FILES = 200
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


# ---------------------------------------------------------------- corpora ---------------------------------------------
def pdf_paths(limit: int | None) -> list[Path]:
    paths = sorted((DATA / "pdfs" / "sources").glob("*.pdf")) + sorted((DATA / "pdfs" / "extra").glob("*.pdf"))
    return paths[:limit] if limit else paths


def squad_articles(limit: int | None) -> list[dict]:
    with open(DATA / "squad" / "squad-v1.1-dev-longdoc.jsonl") as f:
        arts = [json.loads(line) for line in f]
    return arts[:limit] if limit else arts


def write_pdfs(folder: Path, copies: int, limit: int | None) -> Path:
    """The shared PDFs, each under ``copies`` names (distinct documents to the index)."""
    folder.mkdir(parents=True, exist_ok=True)
    for path in pdf_paths(limit):
        for c in range(copies):
            shutil.copyfile(path, folder / f"{path.stem}-{c:02d}.pdf")
    return folder


def write_articles(folder: Path, limit: int | None) -> Path:
    """One .txt per SQuAD article."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, art in enumerate(squad_articles(limit)):
        (folder / f"{i:03d}.txt").write_text("\n\n".join(art["paragraphs"]))
    return folder


def write_many(folder: Path, limit: int | None, minimum: int = MIN_FILES) -> Path:
    """At least ``minimum`` text files: the SQuAD articles cut into runs of paragraphs."""
    folder.mkdir(parents=True, exist_ok=True)
    paras = [p for art in squad_articles(limit) for p in art["paragraphs"]]
    per_file = max(1, len(paras) // minimum)
    for n, start in enumerate(range(0, len(paras), per_file)):
        (folder / f"part{n:04d}.txt").write_text("\n\n".join(paras[start:start + per_file]))
    return folder


# ---------------------------------------------------------------- pipelines -------------------------------------------
def docqa_parts(fake: bool, backend: str | None = None) -> tuple[object, object]:
    from app.factory import make_splitter
    from app.runtime import default_runtime
    from ingest.core.settings import Settings

    settings = Settings() if backend is None else Settings().replace(embed={"backend": backend})
    if fake:
        from tests.fakes import FakeEmbedder

        embedder = FakeEmbedder(dim=384)
    else:
        embedder = default_runtime().embedder(settings.embed, settings.cache)
        embedder.warm_up()  # type: ignore[attr-defined]
    return embedder, make_splitter(settings.split, embedder)


def run_docqa(corpus: Path, index: Path, fake: bool, *, steps: list[str], backend: str | None = None) -> dict:
    """Build ``corpus`` into ``index``; ``steps`` may add "noop" (a rerun) and "update" (one file changed);
    ``backend`` overrides the default embedder runtime."""
    from retrieval.build import build_index

    embedder, splitter = docqa_parts(fake, backend)
    out: dict = {"runtime": embedder.identity().get("runtime", "sentence-transformers")}  # type: ignore[attr-defined]

    def timed(name: str) -> None:
        t = time.perf_counter()
        report = build_index([corpus], index, embedder=embedder, splitter=splitter,  # type: ignore[arg-type]
                             password=PASSWORD)
        out[name] = {"seconds": time.perf_counter() - t, "parsed": report.parsed, "embedded": report.embedded,
                     "reused": report.reused, "documents": report.documents, "passages": report.passages,
                     "pages": sum(s["pages"] for s in report.manifest.sources),
                     "chars": _chars(index), "stages": {k: round(v, 3) for k, v in report.seconds.items()}}

    timed("build")
    if "noop" in steps:
        timed("noop")
    if "update" in steps:
        target = sorted(p for p in corpus.iterdir() if p.suffix == ".txt")[0]
        target.write_text(target.read_text() + "\n\nOne more paragraph, added to measure a one-file update.")
        timed("update")
    return out


def _chars(index: Path) -> int:
    from retrieval.store import IndexReader

    reader = IndexReader(index)
    try:
        return sum(len(d.text) for d in reader.documents())
    finally:
        reader.close()


def run_langchain(corpus: Path, index: Path, fake: bool) -> dict:
    """LangChain over every file of ``corpus``: load, split 1000/200, embed, FAISS (one store), save."""
    from langchain_community.document_loaders import PyPDFLoader, TextLoader
    from langchain_community.vectorstores import FAISS
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    if fake:
        from langchain_community.embeddings import DeterministicFakeEmbedding

        embeddings = DeterministicFakeEmbedding(size=384)
    else:
        from langchain_huggingface import HuggingFaceEmbeddings

        from ingest.embed import resolve_model_path

        embeddings = HuggingFaceEmbeddings(model_name=resolve_model_path("all-MiniLM-L6-v2"),
                                           encode_kwargs={"normalize_embeddings": True})
        embeddings.embed_query("warm up")
    splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)
    t = time.perf_counter()
    docs, failed = [], []
    for path in sorted(corpus.iterdir()):
        try:
            password = PASSWORD if "password" in path.name else None
            loader = PyPDFLoader(str(path), password=password) if path.suffix == ".pdf" else TextLoader(str(path))
            loaded = loader.load()
        except Exception as err:  # noqa: BLE001 - a file LangChain cannot load is counted, not fatal
            failed.append(f"{path.name}: {type(err).__name__}")
            continue
        try:  # the tokenizer rejects text with lone surrogates (pypdf gives them for some fonts)
            for d in loaded:
                d.page_content.encode("utf-8")
        except UnicodeEncodeError:
            failed.append(f"{path.name}: lone surrogates (the embedder's tokenizer refuses the file)")
            continue
        docs += loaded
    chunks = [c for c in splitter.split_documents(docs) if c.page_content.strip()]
    if not chunks:
        raise SystemExit(f"LangChain read nothing from {corpus} ({'; '.join(failed[:5])})")
    FAISS.from_documents(chunks, embeddings).save_local(str(index))
    pages = sum(str(d.metadata.get("source", "")).endswith(".pdf") for d in docs)  # PyPDFLoader: one per page
    return {"build": {"seconds": time.perf_counter() - t, "pages": pages,
                      "chars": sum(len(d.page_content) for d in docs), "passages": len(chunks),
                      "failed_files": failed}}


def child(args: list[str]) -> None:
    """In the child: ``pipeline corpus-kind copies limit fake steps``; prints one JSON line."""
    pipeline, kind, copies, limit, fake, steps = args
    lim = int(limit) or None
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        if kind == "pdfs":
            corpus = write_pdfs(base / "corpus", int(copies), lim)
        elif kind == "articles":
            corpus = write_articles(base / "corpus", lim)
        else:
            corpus = write_many(base / "corpus", lim, minimum=MIN_FILES if not lim else 3 * lim)
        files = len(list(corpus.iterdir()))
        if pipeline.startswith("docqa"):
            result = run_docqa(corpus, base / "idx", fake == "1", steps=steps.split(",") if steps else [],
                               backend=pipeline.partition(":")[2] or None)
        else:
            result = run_langchain(corpus, base / "idx", fake == "1")
    result["files"] = files
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    # docqa parses in worker processes: the largest of them (LangChain has none)
    result["peak_rss_workers_mb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(json.dumps(result))


def spawn(pipeline: str, kind: str, *, copies: int = 1, limit: int | None, fake: bool, steps: str = "") -> dict:
    out = subprocess.run([sys.executable, __file__, "_child", pipeline, kind, str(copies), str(limit or 0),
                          "1" if fake else "0", steps], capture_output=True, text=True, cwd=ROOT)
    if out.returncode:
        raise SystemExit(f"{pipeline} {kind}: child failed ({out.returncode}):\n{out.stderr[-3000:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    print(pipeline, kind, f"x{copies}" if copies > 1 else "", json.dumps(result), flush=True)
    return result


# ---------------------------------------------------------------- benchmarks ------------------------------------------
def bench_throughput(repeats: int, limit: int | None, fake: bool, runtimes: list[str]) -> dict:
    """Median build seconds per pipeline, the pipelines taking turns (the order reversed every repeat); with
    each of ``runtimes`` adds docqa with that embedder runtime (pipeline "docqa:RUNTIME": what the default gains)."""
    out: dict = {}
    order = ["langchain", "docqa", *(f"docqa:{r}" for r in runtimes)]
    for kind, unit in (("pdfs", "pages"), ("articles", "chars")):
        runs: dict[str, list[dict]] = {p: [] for p in order}
        for r in range(repeats):
            for pipeline in (order if r % 2 == 0 else order[::-1]):
                runs[pipeline].append(spawn(pipeline, kind, limit=limit, fake=fake))
        summary = {}
        for pipeline, rs in runs.items():
            secs = statistics.median(x["build"]["seconds"] for x in rs)
            summary[pipeline] = {"seconds_median": round(secs, 3), "runtime": rs[0].get("runtime"),
                                 unit: rs[0]["build"][unit],
                                 f"{unit}_per_s": rs[0]["build"][unit] / secs, "passages": rs[0]["build"]["passages"],
                                 "peak_rss_mb": max(x["peak_rss_mb"] for x in rs)}
        summary["ratio"] = summary["docqa"][f"{unit}_per_s"] / summary["langchain"][f"{unit}_per_s"]
        for r in runtimes:
            summary[f"ratio:{r}"] = summary[f"docqa:{r}"][f"{unit}_per_s"] / summary["langchain"][f"{unit}_per_s"]
        out[kind] = summary
    return out


def bench_incremental(limit: int | None, fake: bool) -> dict:
    docqa = spawn("docqa", "many", limit=limit, fake=fake, steps="noop,update")
    langchain = spawn("langchain", "many", limit=limit, fake=fake)
    return {"files": docqa["files"], "docqa": {k: docqa[k] for k in ("build", "noop", "update")},
            "langchain_full_rebuild_seconds": langchain["build"]["seconds"],
            "docqa_peak_rss_mb": docqa["peak_rss_mb"]}


def bench_memory(limit: int | None, fake: bool) -> dict:
    out: dict = {}
    for copies in (1, 10):
        for pipeline in ("docqa", "langchain"):
            r = spawn(pipeline, "pdfs", copies=copies, limit=limit, fake=fake)
            out[f"{pipeline}_x{copies}"] = {"peak_rss_mb": r["peak_rss_mb"],
                                            "peak_rss_workers_mb": r["peak_rss_workers_mb"],
                                            "seconds": r["build"]["seconds"],
                                            "files": r["files"], "passages": r["build"]["passages"]}
    for pipeline in ("docqa", "langchain"):
        out[f"{pipeline}_growth_10x_over_1x"] = out[f"{pipeline}_x10"]["peak_rss_mb"] / out[f"{pipeline}_x1"][
            "peak_rss_mb"]
    return out


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_child":
        child(sys.argv[2:])
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=["throughput", "incremental", "memory", "all"])
    ap.add_argument("--repeats", type=int, default=3, help="throughput runs per pipeline (median)")
    ap.add_argument("--limit", type=int, help="first N files per corpus (smoke test)")
    ap.add_argument("--fake", action="store_true", help="hashing embedders instead of the model (smoke test)")
    ap.add_argument("--runtimes", default="",
                    help="throughput: also docqa with these embedder runtimes, comma-separated (e.g. onnx-int8)")
    ap.add_argument("--pytorch", action="store_true", help="the same as --runtimes sentence-transformers")
    ap.add_argument("--out", help="write the results as JSON here")
    args = ap.parse_args()
    results: dict = {"fake_embedder": args.fake, "limit": args.limit, "cpus": os.cpu_count()}
    if args.what in ("throughput", "all"):
        runtimes = [r for r in args.runtimes.split(",") if r] + (["sentence-transformers"] if args.pytorch else [])
        results["throughput"] = bench_throughput(args.repeats, args.limit, args.fake, runtimes)
    if args.what in ("incremental", "all"):
        results["incremental"] = bench_incremental(args.limit, args.fake)
    if args.what in ("memory", "all"):
        results["memory"] = bench_memory(args.limit, args.fake)
    text = json.dumps(results, indent=2)
    print(text)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
