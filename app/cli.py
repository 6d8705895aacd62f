"""The ``docqa`` command line: index, status, ask, search, eval, info, ui, serve, mcp.

Every command exits non-zero with a one-line ``docqa: error: ...`` on bad input.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ingest.core.errors import QAError

EXIT_ERROR = 1
EXIT_USAGE = 2


OWN_PACKAGES = ("app", "ingest", "retrieval", "rerank", "generation")  # docqa's loggers: __name__ of its modules
LIBRARY_LOGGERS = ("sentence_transformers", "transformers", "torch", "onnxscript", "onnx_ir", "onnxruntime",
                   "openvino", "huggingface_hub", "httpx", "httpx2", "httpcore", "httpcore2", "openai", "faiss",
                   "faiss.loader", "urllib3", "filelock", "langchain_text_splitters")


class _LibraryRecords(logging.Filter):
    """What reaches the terminal: docqa's own records, and other libraries' errors; with ``-v`` every record
    (libraries' warnings, PyTorch's exporter notes, Python warnings as ``py.warnings``)."""

    def __init__(self, verbose: bool) -> None:
        super().__init__()
        self.verbose = verbose

    def filter(self, record: logging.LogRecord) -> bool:
        return (self.verbose or record.levelno >= logging.ERROR
                or record.name.split(".", 1)[0] in OWN_PACKAGES)


def _configure_logging(verbose: bool) -> logging.Handler | None:
    """docqa's log on stderr (progress details with ``-v``); library warnings go to it too, where
    :class:`_LibraryRecords` keeps them off a normal run's terminal. Python warnings become log records
    (``logging.captureWarnings``). Returns the handler added (None when logging was already configured:
    an embedding application's or pytest's)."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    root = logging.getLogger()
    handler = None
    if not root.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("docqa: %(message)s"))
        handler.addFilter(_LibraryRecords(verbose))
        root.addHandler(handler)
    root.setLevel(logging.INFO if verbose else logging.WARNING)
    for name in LIBRARY_LOGGERS:  # their warnings, not their progress; and libraries with a handler of their
        logging.getLogger(name).setLevel(logging.WARNING if verbose else logging.ERROR)  # own (transformers)
    logging.captureWarnings(True)
    return handler


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
    """Settings from the config file and environment, then the flags given (all through the one schema)."""
    from app.settings import load_settings

    settings = load_settings(args.config)
    changes: dict[str, dict[str, Any]] = {}
    for section, f, _ in schema_flags():
        value = getattr(args, _dest(section, f.name), None)
        if value is not None:
            changes.setdefault(section, {})[f.name] = value
    if "top_k" in changes.get("answer", {}):  # a bigger -k widens the candidate pool with it
        changes["answer"].setdefault("rerank_candidates", max(settings.answer.rerank_candidates,
                                                              changes["answer"]["top_k"]))
    return settings.replace(**changes) if changes else settings


def schema_flags() -> list[tuple[str, Any, Any]]:
    """``(section, field, type)`` of every setting that has a command-line flag."""
    from app.settings import schema_fields

    return [(section, f, kind) for section, f, kind in schema_fields() if f.metadata.get("flag")]


def _dest(section: str, key: str) -> str:
    return f"set_{section}_{key}"


def add_setting_flags(sp: argparse.ArgumentParser, *sections: str) -> None:
    """Add the flags of the schema's ``sections`` to a subcommand: type, choices, help and default from the schema."""
    from ingest.core.settings import choices

    for section, f, kind in schema_flags():
        if section not in sections:
            continue
        literal = next((k for k in (kind, *typing.get_args(kind)) if typing.get_origin(k) is typing.Literal), None)
        options: dict[str, Any] = {"dest": _dest(section, f.name), "default": None,
                                   "help": f"{f.metadata['help']} (default: {f.default}; [{section}] {f.name})"}
        if literal is not None:
            options["choices"] = choices(literal)
        else:
            options["metavar"] = f.name.upper()
        if literal is None and kind in (int, float):
            options["type"] = kind
        elif literal is None and int in typing.get_args(kind):
            options["type"] = int
        sp.add_argument(f.metadata["flag"], **options)


def _open(args: argparse.Namespace, settings: Any, *, explicit_settings: bool) -> Any:
    from app.sdk import Index, open_adhoc

    if args.index and args.paths:
        raise QAError(f"give either --index or paths, not both (got {' '.join(args.paths)})")
    if args.index or (settings.search.indexes and not args.paths):
        # without an explicit embedder the index's own is used; every other flag and setting applies
        return Index.open(_index_specs(args, settings), settings=settings, embed_from_index=not explicit_settings)
    if not args.paths:
        raise QAError("nothing to search: give --index DIR, one or more files/directories, or [search] indexes "
                      "in the settings")
    return open_adhoc(args.paths, settings=settings, password=args.password,
                      progress=_progress_bar(not args.json and sys.stderr.isatty()))


def _explicit(args: argparse.Namespace) -> bool:
    """Whether the user named an embedder (config, environment or flag); else an opened index's own is used."""
    return bool(args.config or os.environ.get("DOCQA_CONFIG") or getattr(args, _dest("embed", "model"), None)
                or any(k.startswith("DOCQA_EMBED_") and v for k, v in os.environ.items()))


class _IndexProgress:
    """Progress of ``docqa index`` on stderr: files read (with pages and passages, and an ETA), passages
    embedded, documents written. Its :meth:`file` is called by the build after each file read."""

    def __init__(self) -> None:
        from tqdm import tqdm

        self._tqdm = tqdm
        self.bars: dict[str, Any] = {}
        self.pages = self.passages = 0

    def _bar(self, stage: str, total: int) -> Any:
        bar = self.bars.get(stage)
        if bar is None:
            unit = {"read": "file", "embed": "psg", "write": "doc"}.get(stage, "it")
            bar = self.bars[stage] = self._tqdm(total=total, desc=f"{stage:>5}", unit=unit, file=sys.stderr,
                                                leave=True, dynamic_ncols=True)
        return bar

    def __call__(self, stage: str, done: int, total: int) -> None:
        bar = self._bar(stage, total)
        bar.total = max(total, done)
        bar.n = done
        if stage == "read":
            bar.set_postfix(pages=self.pages, passages=self.passages, refresh=False)
        bar.refresh()
        if stage != "embed" and done >= total:
            bar.close()

    def file(self, source: str, pages: int, passages: int) -> None:
        """One more file read."""
        self.pages += pages
        self.passages += passages

    def close(self) -> None:
        """Close the bars still open."""
        for bar in self.bars.values():
            bar.close()


def _plan(args: argparse.Namespace, settings: Any) -> int:
    """``docqa index --plan``: what a build would add, update, delete and skip, and why; nothing is written."""
    from app.factory import make_splitter
    from app.profiles import describer_for
    from app.runtime import default_runtime
    from retrieval.plan import plan_build

    embedder = default_runtime().embedder(settings.embed, settings.cache)
    describer = describer_for(settings.profile.name)
    plan = plan_build(args.paths, args.index, embedder_id=embedder.identity(),
                      splitter_id=make_splitter(settings.split, embedder).identity(), ingest=settings.ingest,
                      password=args.password, add=args.add,
                      describer=describer.name if describer is not None else "general")
    if args.json:
        print(json.dumps(plan.to_dict(), indent=2))
        return 0
    counts = plan.counts()
    print(f"plan for {args.index}: " + ", ".join(f"{n} {a}" for a, n in counts.items() if n)
          + (" (up to date: nothing to do)" if plan.up_to_date else ""))
    if plan.embedder_changed:
        print(f"  embedder changed: {'; '.join(plan.embedder_changed)} (passages are re-embedded, not re-read)")
    for f in plan.files:
        if f.action != "skip" or f.reason != "unchanged" or args.verbose:
            print(f"  {f.action:<6} {f.source}: {f.reason}")
    return 0


def cmd_index(args: argparse.Namespace) -> int:
    from app.sdk import Index, index_info

    settings = _settings(args)
    if args.plan:
        return _plan(args, settings)
    progress = _IndexProgress() if not args.json and not args.quiet else None
    try:
        index, report = Index.build_with_report(args.paths, args.index, settings=settings, password=args.password,
                                                add=args.add, progress=progress)
    except KeyboardInterrupt:
        if progress is not None:
            progress.close()
        print(f"docqa: interrupted; {args.index} is unchanged, and the next run resumes where this one stopped",
              file=sys.stderr)
        return 130
    if progress is not None:
        progress.close()
    info = index_info(index)
    info.update(parsed=report.parsed, resumed=report.resumed, skipped_unchanged=report.unchanged,
                embedded=report.embedded, reused=report.reused, removed=report.removed,
                up_to_date=bool(report.plan and report.plan.up_to_date),
                skipped=[list(s) for s in report.skipped],
                empty_pages={k: list(v) for k, v in report.empty_pages.items()}, seconds=report.seconds,
                plan=report.plan.counts() if report.plan else {})
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        if report.plan is not None and report.plan.up_to_date:
            print(f"{args.index} is up to date: {report.documents} documents, {report.passages} passages "
                  f"({report.unchanged} files unchanged)")
        else:
            print(f"indexed {report.documents} documents, {report.passages} passages "
                  f"({report.embedded} embedded, {report.reused} reused) into {args.index}: {report.parsed} files "
                  f"parsed, {report.resumed} resumed, {report.unchanged} unchanged, {report.removed} removed")
        if report.plan is not None and report.plan.splitter_changed and report.parsed:
            print(f"  splitter settings changed ({'; '.join(report.plan.splitter_changed)}): files re-split")
        if report.plan is not None and report.plan.embedder_changed:
            print(f"  embedder changed ({'; '.join(report.plan.embedder_changed)}): passages re-embedded")
        for path, pages in report.empty_pages.items():
            print(f"  {path}: {len(pages)} pages without extractable text: {pages}")
        for path, why in report.skipped:
            print(f"  skipped {path}: {why}")
    index.close()
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    """``docqa status --index DIR``: every file of the index's ledger, indexed, skipped or failed, and why (of
    each index in turn when ``--index`` is repeated)."""
    from retrieval.multi import index_specs

    named = index_specs(args.index) if len(args.index) > 1 else {args.index[0]: Path(args.index[0])}
    reports = [_index_status(name, directory) for name, directory in named.items()]
    if args.json:
        print(json.dumps(reports[0] if len(reports) == 1 else {"indexes": reports}, indent=2))
        return 0
    for report in reports:
        counts = report["counts"]
        print(f"{report['index']}: build {report['build']} ({report['created']}): {counts['documents']} documents, "
              f"{counts['passages']} passages; files: " + ", ".join(f"{n} {k}" for k, n in
                                                                   sorted(report["statuses"].items())))
        for e in report["files"]:
            seconds = f"{e['seconds']:.2f} s" if e["seconds"] is not None else "-"
            ocr = f", {len(e['ocr_pages'])} read by OCR: {e['ocr_pages']}" if e["ocr_pages"] else ""
            detail = (f"{e['pages']} pages ({len(e['empty_pages'])} empty{ocr}), " if e["pages"] else "") + \
                f"{e['passages']} passages, {seconds}"
            print(f"  {e['status']:<8} {e['source']}: " + (e["reason"] if e["status"] != "indexed" else detail))
    return 0


def _index_status(name: str, directory: Path) -> dict[str, Any]:
    """One index's files from its ledger (its documents for builds before ledgers), as ``status`` reports them."""
    from retrieval.ledger import ledger
    from retrieval.store import IndexReader

    reader = IndexReader(directory)
    try:
        entries = ledger(reader)
        manifest = reader.manifest
    finally:
        reader.close()
    if not entries:  # an index built before ledgers: its documents only
        entries_out = [{"source": s["source"], "status": "indexed", "reason": "", "pages": s["pages"],
                        "empty_pages": s["empty_pages"], "passages": s["passages"], "seconds": None}
                       for s in manifest.sources]
    else:
        entries_out = [e.to_dict() for e in entries]
    ocr_pages = {s["source"]: s.get("ocr_pages") or [] for s in manifest.sources}  # builds before OCR: none
    for e in entries_out:
        e["ocr_pages"] = ocr_pages.get(e["source"], [])
    statuses: dict[str, int] = {}
    for e in entries_out:
        statuses[e["status"]] = statuses.get(e["status"], 0) + 1
    return {"index": name, "build": manifest.build, "created": manifest.created,
            "counts": {**statuses, **manifest.counts}, "statuses": statuses, "files": entries_out}


def add_scope_flags(sp: argparse.ArgumentParser) -> None:
    """``--doc``, ``--kind``, ``--pages``: restrict a search or a question (:class:`retrieval.scope.Scope`)."""
    from ingest.core.records import PassageKind
    from ingest.core.settings import choices

    sp.add_argument("--doc", dest="scope_docs", action="append", metavar="PATTERN",
                    help="only this document: a source path, a glob such as 'reports/*2019*.pdf', or a doc id "
                         "(repeatable)")
    sp.add_argument("--kind", dest="scope_kinds", action="append", choices=choices(PassageKind),
                    help="only passages of this kind (repeatable)")
    sp.add_argument("--pages", dest="scope_pages", metavar="A-B", help="only passages starting on pages A to B "
                                                                       "(1-based, inclusive; PDFs)")


def _scope(args: argparse.Namespace) -> Any:
    """The scope the flags ask for (None without scope flags)."""
    from retrieval.scope import Scope

    scope = Scope.of(args.scope_docs, args.scope_kinds, args.scope_pages)
    return scope or None


def _split_question(args: argparse.Namespace) -> None:
    if not args.paths:
        raise QAError("missing question")
    *args.paths, args.question = args.paths


def cmd_search(args: argparse.Namespace) -> int:
    from ingest.core.text import check_question

    _split_question(args)
    check_question(args.question)
    scope = _scope(args)
    index = _open(args, _settings(args), explicit_settings=_explicit(args))
    hits = index.search(args.question, args.k, level=args.level, scope=scope)
    if args.json:  # the hits as the HTTP API and MCP give them (ingest.core.serialize)
        from ingest.core.serialize import hits_to_list

        print(json.dumps(hits_to_list(hits), indent=2))
    else:
        for i, h in enumerate(hits, 1):
            snippet = " ".join(h.passage.text.split())[:160]
            symbol = f" [{h.passage.symbol}]" if h.passage.symbol else ""
            print(f"{i:>2}. {h.passage.label}{symbol}  ({h.score:.4f})\n    {snippet}")
    index.close()
    return 0


def cmd_ask(args: argparse.Namespace) -> int:
    from ingest.core.serialize import answer_to_dict
    from ingest.core.text import check_question

    _split_question(args)
    check_question(args.question)
    scope = _scope(args)
    index = _open(args, _settings(args), explicit_settings=_explicit(args))
    stream = not args.json and not args.no_stream
    streamed = []
    answering = index.ask_stream(args.question, scope=scope)
    for piece in answering:
        if stream:
            streamed.append(piece)
            sys.stdout.write(piece)
            sys.stdout.flush()
    final = answering.answer
    if args.json:
        print(json.dumps(answer_to_dict(final), indent=2))
    else:
        if stream:
            sys.stdout.write("\n")
            from app.changes import checked_note

            note = checked_note("".join(streamed), final.text,
                                label="Computed" if final.calculation else "Checked")
            if note:  # the checks changed the streamed draft: what changed, not the answer again
                print(f"\n{note}")
        else:
            print(final.text)
        if final.calculation:
            print("\nOperands (each found in the passage it cites; the arithmetic is docqa's, not the model's):")
            for o in final.calculation.operands:
                print(f"  {o.name} = {o.value}{o.unit if o.unit == '%' else ''} [{o.citation}]: {o.quote[:100]}")
        if final.citations:
            print("\nSources:")
            for c in final.citations:
                print(f"  [{c.number}] {c.label}")
        for warning in final.warnings:
            print(f"warning: {warning}", file=sys.stderr)
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
    """``docqa info --index DIR``: how the index was built, from its manifest (no model is loaded); with
    ``--index`` repeated, each index's by name."""
    from app.sdk import index_info
    from retrieval.multi import open_reader

    reader = open_reader(args.index)
    try:
        print(json.dumps(index_info(reader), indent=2))
    finally:
        reader.close()
    return 0


def cmd_ui(args: argparse.Namespace) -> int:
    """Run the Streamlit server as a child: print its URL, and stop it when this process is stopped."""
    import signal
    import socket
    import subprocess

    port = args.port
    if port == 0:  # any free port
        with socket.socket() as s:
            s.bind((args.address, 0))
            port = s.getsockname()[1]
    ui = Path(__file__).with_name("ui.py")
    cmd = [sys.executable, "-m", "streamlit", "run", str(ui), "--server.headless", "true",
           "--server.port", str(port), "--server.address", args.address, "--browser.gatherUsageStats", "false",
           "--server.fileWatcherType", "none", "--client.toolbarMode", "viewer", "--theme.base", "light"]
    if args.index:
        cmd += ["--", "--index", str(Path(args.index).expanduser().resolve())]

    def die_with_parent() -> None:  # Linux: the child gets SIGTERM if this process dies, even by SIGKILL
        with contextlib.suppress(OSError, AttributeError):
            import ctypes

            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG

    child = subprocess.Popen(cmd, preexec_fn=die_with_parent if sys.platform == "linux" else None)  # noqa: PLW1509
    host = "127.0.0.1" if args.address in ("0.0.0.0", "") else args.address
    where = "" if args.address == host else f" (listening on {args.address})"
    print(f"docqa: web UI at http://{host}:{port}{where}; Ctrl-C stops it", flush=True)

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        return child.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        signal.signal(signal.SIGTERM, previous)
        if child.poll() is None:
            child.terminate()
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()


def cmd_serve(args: argparse.Namespace) -> int:
    from app.server import check_bind, create_app, resolve_api_key, serve

    settings = _settings(args)
    host = args.host or settings.serve.host
    port = settings.serve.port if args.port is None else args.port
    key = resolve_api_key(args.api_key, settings.serve)
    check_bind(host, key, env_name=settings.serve.api_key_env)  # before the index and its embedder load
    index = _open_index(args, settings)
    app = create_app(index, settings, api_key=key)

    def listening(url: str) -> None:
        served = ", ".join(_index_specs(args, settings))
        print(f"docqa: serving {served} at {url} (REST and OpenAI-compatible API under {url}/v1, "
              f"OpenAPI at {url}/openapi.json{'; bearer-token auth on' if key else ''})", flush=True)

    try:
        serve(app, host=host, port=port, on_listening=listening, log_level="info" if args.verbose else "warning")
    finally:
        index.close()
    return 0


def cmd_mcp(args: argparse.Namespace) -> int:
    from app.mcp_server import run_stdio

    settings = _settings(args)
    with contextlib.redirect_stdout(sys.stderr):  # stdout carries the protocol: nothing else may reach it
        index = _open_index(args, settings)
    try:
        run_stdio(index, settings)
    finally:
        index.close()
    return 0


def _index_specs(args: argparse.Namespace, settings: Any) -> list[str]:
    """The indexes to open: ``--index`` as given, else the settings' ``[search] indexes``.

    :raises QAError: neither names one.
    """
    specs = list(args.index or settings.search.indexes)
    if not specs:
        raise QAError(f"docqa {args.command}: no index: give --index DIR (repeat for several) or set "
                      "[search] indexes in the settings")
    return specs


def _open_index(args: argparse.Namespace, settings: Any) -> Any:
    """The index (or indexes, searched as one) of ``--index`` or ``[search] indexes`` with the given settings
    (their own embedder unless one is named)."""
    from app.sdk import Index

    return Index.open(_index_specs(args, settings), settings=settings, embed_from_index=not _explicit(args))


MULTI_INDEX_HELP = ("an index directory built by `docqa index`; repeat to search several as one (ids qualified by "
                    "NAME, the directory's name unless given; --doc index:NAME scopes to one; default: [search] "
                    "indexes of the settings)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for tests and docs)."""
    from ingest.core.settings import SearchLevel, choices

    p = argparse.ArgumentParser(prog="docqa", description="Ask questions of documents and code, with citations.")
    p.add_argument("--config", help="TOML settings file (or $DOCQA_CONFIG)")
    p.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = p.add_subparsers(dest="command", required=True)

    def common(sp: argparse.ArgumentParser) -> None:
        add_setting_flags(sp, "embed", "profile", "ingest")  # --ocr auto|off|force
        sp.add_argument("--password", help="password for encrypted PDFs")
        sp.add_argument("--json", action="store_true", help="machine-readable output")

    sp = sub.add_parser("index", help="index files and directories into an index directory")
    sp.add_argument("paths", nargs="+", help="files and directories")
    sp.add_argument("--index", required=True, help="index directory (created or updated atomically)")
    sp.add_argument("--add", action="store_true", help="keep already-indexed documents not named here")
    sp.add_argument("--plan", action="store_true", help="show what a build would add, update, delete and skip "
                                                        "(and why), without doing it")
    sp.add_argument("--quiet", action="store_true", help="no progress bar")
    common(sp)
    add_setting_flags(sp, "index")  # --engine local|ray, --ray-address
    sp.set_defaults(func=cmd_index)

    sp = sub.add_parser("status", help="list every file of an index: indexed, skipped or failed, and why")
    sp.add_argument("--index", required=True, action="append", metavar="[NAME=]DIR",
                    help="an index directory built by `docqa index` (repeat for several)")
    sp.add_argument("--json", action="store_true", help="machine-readable output")
    sp.set_defaults(func=cmd_status)

    for name, func, helptext in (("ask", cmd_ask, "answer a question with citations"),
                                 ("search", cmd_search, "show the best passages for a query")):
        sp = sub.add_parser(name, help=helptext, description=f"docqa {name} (--index DIR | PATH...) QUESTION")
        sp.add_argument("paths", nargs="*", metavar="PATH... QUESTION", help="files/dirs (without --index), then "
                                                                            "the question")
        sp.add_argument("--index", action="append", metavar="[NAME=]DIR", help=MULTI_INDEX_HELP)
        add_setting_flags(sp, "search")
        add_scope_flags(sp)
        common(sp)
        if name == "search":
            sp.add_argument("-k", dest="k", type=int, default=5, help="passages to show (default: 5)")
            sp.add_argument("--level", choices=choices(SearchLevel), default="passage",
                            help="return blocks (default), whole functions/classes, or whole files")
        if name == "ask":
            add_setting_flags(sp, "llm", "answer")
            sp.add_argument("--no-stream", action="store_true", help="print the answer when complete")
        sp.set_defaults(func=func)

    sp = sub.add_parser("eval", help="score answers, retrieval and citations on a JSONL question set",
                        description="docqa eval DATASET.jsonl (format: docs/eval-format.md)")
    sp.add_argument("dataset", help="JSONL questions with answers, doc paths and evidence")
    sp.add_argument("--index", action="append", metavar="[NAME=]DIR",
                    help="ask every question of this index, or of several searched as one when repeated "
                         "(default: each question's own doc)")
    sp.add_argument("--out", help="write the JSON report here (rewritten after each question)")
    sp.add_argument("--limit", type=int, help="first N questions only")
    add_setting_flags(sp, "search", "llm", "answer")
    common(sp)
    sp.set_defaults(func=cmd_eval)

    sp = sub.add_parser("info", help="show how an index was built")
    sp.add_argument("--index", required=True, action="append", metavar="[NAME=]DIR",
                    help="an index directory (repeat for several: each one's by name)")
    sp.set_defaults(func=cmd_info)

    sp = sub.add_parser("ui", help="start the Streamlit web UI")
    sp.add_argument("--index", help="open this index")
    sp.add_argument("--port", type=int, default=8501)
    sp.add_argument("--address", default="127.0.0.1", help="interface to listen on (0.0.0.0 in containers)")
    sp.set_defaults(func=cmd_ui)

    sp = sub.add_parser("serve", help="serve an index over HTTP: REST, OpenAI-compatible chat, OpenAPI",
                        description="docqa serve --index DIR: see the README section 'Server'")
    sp.add_argument("--index", action="append", metavar="[NAME=]DIR", help=MULTI_INDEX_HELP)
    sp.add_argument("--host", help="interface to listen on (default: [serve] host, 127.0.0.1); any other than "
                                   "loopback needs an API key")
    sp.add_argument("--port", type=int, help="port (default: [serve] port, 8000; 0: any free port)")
    sp.add_argument("--api-key", help="bearer token clients must send (default: $DOCQA_SERVE_API_KEY, the "
                                      "variable [serve] api_key_env names; prefer it: flags show in `ps`)")
    add_setting_flags(sp, "embed", "search", "llm", "answer", "profile")
    sp.set_defaults(func=cmd_serve)

    sp = sub.add_parser("mcp", help="serve an index to agents over MCP (stdio): tools search and ask",
                        description="docqa mcp --index DIR: a Model Context Protocol server on stdin/stdout")
    sp.add_argument("--index", action="append", metavar="[NAME=]DIR", help=MULTI_INDEX_HELP)
    add_setting_flags(sp, "embed", "search", "llm", "answer", "profile")
    sp.set_defaults(func=cmd_mcp)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``docqa`` script."""
    args = build_parser().parse_args(argv)
    handler = _configure_logging(args.verbose)
    try:
        return int(args.func(args))
    except QAError as err:
        print(f"docqa: error: {err}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("docqa: interrupted", file=sys.stderr)
        return 130
    finally:  # main may run more than once in a process (tests, an embedding application)
        logging.captureWarnings(False)
        if handler is not None:
            logging.getLogger().removeHandler(handler)


if __name__ == "__main__":
    sys.exit(main())
