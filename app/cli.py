"""The ``docqa`` command line: index, ask, search, eval, info, ui.

Every command exits non-zero with a one-line ``docqa: error: ...`` on bad input.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from typing import Any

from ingest.errors import QAError

EXIT_ERROR = 1
EXIT_USAGE = 2


def _quiet_libraries() -> None:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    for name in ("sentence_transformers", "transformers", "httpx", "faiss", "faiss.loader"):
        logging.getLogger(name).setLevel(logging.ERROR)


def _progress_bar(enabled: bool) -> Any:
    """A ``progress(stage, done, total)`` callback drawing tqdm bars on stderr."""
    if not enabled:
        return None
    from tqdm import tqdm

    bars: dict[str, Any] = {}

    def progress(stage: str, done: int, total: int) -> None:
        bar = bars.get(stage)
        if bar is None:
            bar = bars[stage] = tqdm(total=total, desc=f"{stage:>5}", unit="psg" if stage == "embed" else "doc",
                                     file=sys.stderr, leave=True, dynamic_ncols=True)
        bar.n = done
        bar.refresh()
        if done >= total:
            bar.close()

    return progress


def _settings(args: argparse.Namespace) -> Any:
    from app.settings import load_settings

    settings = load_settings(args.config)
    changes: dict[str, dict[str, Any]] = {}
    for flag, (section, key) in {"embedder": ("embed", "model"), "backend": ("llm", "backend"),
                                 "model": ("llm", "model"), "context": ("llm", "context_tokens"),
                                 "mode": ("search", "mode"), "coarse": ("search", "coarse_docs"),
                                 "k": ("answer", "top_k"),
                                 "rerank": ("answer", "rerank"), "answer_mode": ("answer", "mode"),
                                 "select": ("answer", "select"), "order": ("answer", "order"),
                                 "verify": ("answer", "verify"), "unsupported": ("answer", "unsupported")}.items():
        value = getattr(args, flag, None)
        if value is not None:
            changes.setdefault(section, {})[key] = value
    if "answer" in changes and "top_k" in changes["answer"]:
        s = settings.answer
        changes["answer"].setdefault("rerank_candidates", max(s.rerank_candidates, changes["answer"]["top_k"]))
    return settings.replace(**changes) if changes else settings


def _open(args: argparse.Namespace, settings: Any, *, explicit_settings: bool) -> Any:
    from app.sdk import Index, open_adhoc

    if args.index:
        if args.paths:
            raise QAError(f"give either --index or paths, not both (got {' '.join(args.paths)})")
        # without an explicit embedder the index's own is used; every other flag and setting applies
        return Index.open(args.index, settings=settings, embed_from_index=not explicit_settings)
    if not args.paths:
        raise QAError("nothing to search: give --index DIR or one or more files/directories")
    return open_adhoc(args.paths, settings=settings, password=args.password,
                      progress=_progress_bar(not args.json and sys.stderr.isatty()))


def _explicit(args: argparse.Namespace) -> bool:
    return bool(args.config or os.environ.get("DOCQA_CONFIG") or getattr(args, "embedder", None)
                or os.environ.get("DOCQA_EMBED_MODEL"))


def cmd_index(args: argparse.Namespace) -> int:
    from app.sdk import Index, index_info

    settings = _settings(args)
    index, report = Index.build_with_report(args.paths, args.index, settings=settings, password=args.password,
                                            add=args.add, progress=_progress_bar(not args.json and not args.quiet))
    info = index_info(index)
    info.update(embedded=report.embedded, reused=report.reused, skipped=[list(s) for s in report.skipped],
                empty_pages={k: list(v) for k, v in report.empty_pages.items()}, seconds=report.seconds)
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        print(f"indexed {report.documents} documents, {report.passages} passages "
              f"({report.embedded} embedded, {report.reused} reused) into {args.index}")
        for path, pages in report.empty_pages.items():
            print(f"  {path}: {len(pages)} pages without extractable text: {pages}")
        for path, why in report.skipped:
            print(f"  skipped {path}: {why}")
    index.close()
    return 0


def _split_question(args: argparse.Namespace) -> None:
    if not args.paths:
        raise QAError("missing question")
    *args.paths, args.question = args.paths


def cmd_search(args: argparse.Namespace) -> int:
    from generation.answer import check_question

    _split_question(args)
    check_question(args.question)
    index = _open(args, _settings(args), explicit_settings=_explicit(args))
    hits = index.search(args.question, args.k or 5, mode=args.mode, level=args.level)
    if args.json:
        print(json.dumps([{"rank": i, "score": h.score, "id": h.passage.id, "label": h.passage.label,
                           "symbol": h.passage.symbol, "text": h.passage.text} for i, h in enumerate(hits, 1)],
                         indent=2))
    else:
        for i, h in enumerate(hits, 1):
            snippet = " ".join(h.passage.text.split())[:160]
            symbol = f" [{h.passage.symbol}]" if h.passage.symbol else ""
            print(f"{i:>2}. {h.passage.label}{symbol}  ({h.score:.4f})\n    {snippet}")
    index.close()
    return 0


def cmd_ask(args: argparse.Namespace) -> int:
    from generation.answer import check_question, warning_notes
    from generation.types import Answer

    _split_question(args)
    check_question(args.question)
    index = _open(args, _settings(args), explicit_settings=_explicit(args))
    final: Answer | None = None
    stream = not args.json and not args.no_stream
    streamed = []
    for piece in index.ask_stream(args.question):
        if isinstance(piece, Answer):
            final = piece
        elif stream:
            streamed.append(piece)
            sys.stdout.write(piece)
            sys.stdout.flush()
    assert final is not None
    if args.json:
        print(json.dumps(final.to_dict(), indent=2))
    else:
        if stream:
            sys.stdout.write("\n")
            if final.text != "".join(streamed).strip():  # citation checks changed markers after streaming
                print(f"\nChecked: {final.text}")
        else:
            print(final.text)
        if final.citations:
            print("\nSources:")
            for c in final.citations:
                print(f"  [{c.number}] {c.label}")
        for note in warning_notes(final):
            print(f"warning: {note}", file=sys.stderr)
    index.close()
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from app.evaluate import evaluate, load_dataset
    from app.sdk import Index

    settings = _settings(args)
    items = load_dataset(args.dataset)
    source = None
    if args.index:  # the embedder the index was built with unless one is named; the rest from the flags
        source = Index.open(args.index, settings=settings, embed_from_index=not _explicit(args))
        settings = source.settings
    bar = None
    if not args.json and sys.stderr.isatty():
        from tqdm import tqdm

        bar = tqdm(total=min(len(items), args.limit or len(items)), desc="eval", unit="q", file=sys.stderr)
    report = evaluate(source, items, settings=settings, limit=args.limit, out=args.out,
                      progress=(lambda *_: bar.update(1)) if bar else None)
    if bar is not None:
        bar.close()
    if source is not None:
        source.close()
    if args.json:
        print(json.dumps(report, indent=2, default=str))
    else:
        for key, value in report["summary"].items():
            print(f"{key:>22}: {'-' if value is None else f'{value:.3f}' if isinstance(value, float) else value}")
        if args.out:
            print(f"report written to {args.out}")
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    from app.sdk import Index, index_info

    index = Index.open(args.index)
    print(json.dumps(index_info(index), indent=2))
    index.close()
    return 0


def cmd_ui(args: argparse.Namespace) -> int:
    import subprocess
    from pathlib import Path

    ui = Path(__file__).with_name("ui.py")
    cmd = [sys.executable, "-m", "streamlit", "run", str(ui), "--server.headless", "true",
           "--server.port", str(args.port), "--server.address", args.address,
           "--browser.gatherUsageStats", "false"]
    return subprocess.call(cmd + (["--", "--index", args.index] if args.index else []))


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for tests and docs)."""
    p = argparse.ArgumentParser(prog="docqa", description="Ask questions of documents and code, with citations.")
    p.add_argument("--config", help="TOML settings file (or $DOCQA_CONFIG)")
    p.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = p.add_subparsers(dest="command", required=True)

    def common(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--embedder", help="embedding model: hub id or local dir")
        sp.add_argument("--password", help="password for encrypted PDFs")
        sp.add_argument("--json", action="store_true", help="machine-readable output")

    def answer_flags(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--backend", help="LLM backend: llama-cpp (default) or transformers")
        sp.add_argument("--model", help="packaged model name, .gguf path, hub id or local dir")
        sp.add_argument("--context", type=int, help="LLM context tokens")
        sp.add_argument("--rerank", help="reranker: none (default), full, full-logits, window, pointwise")
        sp.add_argument("--answer-mode", choices=["auto", "full", "retrieve"], help="whole documents or retrieval")
        sp.add_argument("--select", choices=["none", "embedding", "llm"], help="segment relevance scoring")
        sp.add_argument("--order", choices=["rank", "edges", "document"], help="passage order in the prompt")
        sp.add_argument("--verify", choices=["none", "lexical", "llm"], help="citation check after generation")
        sp.add_argument("--unsupported", choices=["flag", "abstain"],
                        help="an answer no passage supports: keep it flagged, or say the document does not say")

    sp = sub.add_parser("index", help="index files and directories into an index directory")
    sp.add_argument("paths", nargs="+", help="files and directories")
    sp.add_argument("--index", required=True, help="index directory (created or updated atomically)")
    sp.add_argument("--add", action="store_true", help="keep already-indexed documents not named here")
    sp.add_argument("--quiet", action="store_true", help="no progress bar")
    common(sp)
    sp.set_defaults(func=cmd_index)

    for name, func, helptext in (("ask", cmd_ask, "answer a question with citations"),
                                 ("search", cmd_search, "show the best passages for a query")):
        sp = sub.add_parser(name, help=helptext, description=f"docqa {name} (--index DIR | PATH...) QUESTION")
        sp.add_argument("paths", nargs="*", metavar="PATH... QUESTION", help="files/dirs (without --index), then "
                                                                            "the question")
        sp.add_argument("--index", help="an index directory built by `docqa index`")
        sp.add_argument("-k", dest="k", type=int, help="passages to use/show")
        sp.add_argument("--mode", choices=["dense", "bm25", "hybrid"], help="first-stage retrieval")
        sp.add_argument("--coarse", type=int, metavar="N", help="coarse-to-fine: search passages only in the N "
                                                                "documents whose file vectors match best")
        common(sp)
        if name == "search":
            sp.add_argument("--level", choices=["passage", "unit", "file"], default="passage",
                            help="return blocks (default), whole functions/classes, or whole files")
        if name == "ask":
            answer_flags(sp)
            sp.add_argument("--no-stream", action="store_true", help="print the answer when complete")
        sp.set_defaults(func=func)

    sp = sub.add_parser("eval", help="score answers, retrieval and citations on a JSONL question set",
                        description="docqa eval DATASET.jsonl (format: docs/eval-format.md)")
    sp.add_argument("dataset", help="JSONL questions with answers, doc paths and evidence")
    sp.add_argument("--index", help="ask every question of this index (default: each question's own doc)")
    sp.add_argument("--out", help="write the JSON report here (rewritten after each question)")
    sp.add_argument("--limit", type=int, help="first N questions only")
    sp.add_argument("-k", dest="k", type=int, help="passages in the prompt")
    sp.add_argument("--mode", choices=["dense", "bm25", "hybrid"], help="first-stage retrieval")
    answer_flags(sp)
    common(sp)
    sp.set_defaults(func=cmd_eval)

    sp = sub.add_parser("info", help="show how an index was built")
    sp.add_argument("--index", required=True)
    sp.set_defaults(func=cmd_info)

    sp = sub.add_parser("ui", help="start the Streamlit web UI")
    sp.add_argument("--index", help="open this index")
    sp.add_argument("--port", type=int, default=8501)
    sp.add_argument("--address", default="127.0.0.1", help="interface to listen on (0.0.0.0 in containers)")
    sp.set_defaults(func=cmd_ui)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``docqa`` script."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="docqa: %(message)s",
                        stream=sys.stderr)
    _quiet_libraries()
    try:
        return int(args.func(args))
    except QAError as err:
        print(f"docqa: error: {err}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("docqa: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
