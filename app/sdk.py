"""The Python SDK: ``ask(doc, question)``, :class:`Index` and :class:`Conversation`."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from app.factory import build_pipeline, make_splitter
from app.pipeline import AnswerStream, Pipeline
from app.profiles import describer_for, profile_for
from app.runtime import Runtime, default_runtime
from ingest.core.protocols import LLM, Embedder, Reranker
from ingest.core.records import Answer, Document, Message, Passage, Ranked
from ingest.core.settings import EmbedSettings, SearchLevel, SearchMode, SearchSettings, Settings
from ingest.core.text import check_question
from ingest.embed import canonical_model_id
from ingest.loaders import expand_paths
from retrieval.build import BuildReport, Engine, Progress, build_index
from retrieval.dense import DenseConfig
from retrieval.multi import MultiReader, open_reader
from retrieval.scope import ResolvedScope, Scope
from retrieval.search import Retrieval, Searcher
from retrieval.store import DocPassages, IndexReader, Manifest, Reader

PathLike = str | os.PathLike[str]
PIPELINE_PARTS = frozenset({"shortcut", "selector", "generator", "verifier", "calculator"})  # besides llm, reranker


def build_parts(settings: Settings) -> tuple[Embedder, Any, Any]:
    """The embedder, splitter and describer a build uses under ``settings`` (what a Ray worker builds for itself)."""
    embedder = default_runtime().embedder(settings.embed, settings.cache)
    return embedder, make_splitter(settings.split, embedder), describer_for(settings.profile.name)


def build_engine(settings: Settings) -> Engine | None:
    """The engine ``[index] engine`` names (None: the local one).

    :raises InputError: ``ray`` without Ray installed (says how to install it), or an unreachable cluster.
    """
    if settings.index.engine != "ray":
        return None
    from retrieval.ray_engine import RayEngine

    key = hashlib.sha256(repr(settings).encode()).hexdigest()[:16]
    return RayEngine(functools.partial(build_parts, settings), key, settings.index)


def dense_config(search: SearchSettings) -> DenseConfig:
    """When a build's dense index becomes approximate, from ``[search]``."""
    return DenseConfig(approximate_above=search.approximate_above, target_recall=search.approximate_recall)


def _embed_settings_from(manifest: Manifest, base: EmbedSettings) -> EmbedSettings:
    """Embed settings that reproduce the manifest's embedder (runtime-only knobs taken from ``base``)."""
    known = {f.name for f in dataclasses.fields(EmbedSettings)}
    values = {k: v for k, v in manifest.embedder.items() if k in known}
    # the runtime that made the vectors (openvino, onnx, onnx-int8) queries them; no runtime recorded: PyTorch
    values["backend"] = manifest.embedder.get("runtime", "sentence-transformers")
    return dataclasses.replace(base, **values)


class Index:
    """An index directory opened for search and questions.

    >>> # idx = Index.build(["paper.pdf"], "idx/"); idx.ask("What dataset do they use?").text
    """

    def __init__(self, reader: Reader, settings: Settings, *, embedder: Embedder | None = None,
                 llm: LLM | None = None, reranker: Reranker | None = None, runtime: Runtime | None = None,
                 **parts: Any) -> None:
        """Use :meth:`open` or :meth:`build`; the parts given here replace the ones the settings would build.

        :param embedder: embeds queries (must match the index's embedder; default: the runtime's for the settings).
        :param llm: answers questions (default: the runtime's for the settings, loaded on first use).
        :param reranker: reorders candidates (default: ``settings.answer.rerank``).
        :param runtime: owns the models built from settings (default: the process's, :func:`default_runtime`).
        :param parts: any other part of the pipeline (``shortcut``, ``selector``, ``generator``, ``verifier``,
            ``calculator``), as for :func:`app.factory.build_pipeline`.
        """
        self.reader = reader
        self.manifest: Manifest = reader.manifest  # how the index was built
        self.directory: Path = reader.directory
        self.settings = settings
        self.runtime = runtime or default_runtime()
        self.embedder = embedder or self.runtime.embedder(settings.embed, settings.cache)
        self.reader.check_embedder(self.embedder.identity())
        self.profile = profile_for(settings.profile.name, reader.manifest.sources)  # auto: by the documents
        self.searcher = Searcher(reader, self.embedder, settings.search, router=self.profile.router,
                                 planner=self.profile.planner)
        unknown = sorted(set(parts) - PIPELINE_PARTS)
        if unknown:
            raise TypeError(f"Index: unknown part(s) {', '.join(unknown)}; parts: {', '.join(sorted(PIPELINE_PARTS))}")
        self._parts: dict[str, Any] = {"llm": llm, "reranker": reranker, **parts}
        self._pipeline: Pipeline | None = None
        self._by_doc: DocPassages | None = None

    # -- construction ---------------------------------------------------
    @classmethod
    def build(cls, paths: PathLike | Sequence[PathLike], directory: PathLike, *, settings: Settings | None = None,
              password: str | None = None, add: bool = False, progress: Progress | None = None,
              **parts: Any) -> Index:
        """Index files and directories into ``directory`` (atomically) and open the result.

        :param paths: files and/or directories.
        :param directory: the index directory.
        :param settings: defaults to :class:`Settings()`.
        :param password: for encrypted PDFs.
        :param add: keep documents already indexed that are not among ``paths``.
        :param progress: ``progress(stage, done, total)`` callback.
        :param parts: ``embedder``, ``llm``, ``reranker``, ``runtime`` (or any part of the pipeline) to use instead
            of building them from settings.
        """
        index, _ = cls.build_with_report(paths, directory, settings=settings, password=password, add=add,
                                         progress=progress, **parts)
        return index

    @classmethod
    def build_with_report(cls, paths: PathLike | Sequence[PathLike], directory: PathLike, *,
                          settings: Settings | None = None, password: str | None = None, add: bool = False,
                          progress: Progress | None = None, **parts: Any) -> tuple[Index, BuildReport]:
        """:meth:`build`, also returning what the build did."""
        settings = settings or Settings()
        path_list = [paths] if isinstance(paths, str | os.PathLike) else list(paths)
        embedder = parts.pop("embedder", None) or (parts.get("runtime") or default_runtime()).embedder(
            settings.embed, settings.cache)
        engine = build_engine(settings)
        try:
            report = build_index(path_list, directory, embedder=embedder,
                                 splitter=make_splitter(settings.split, embedder), password=password, add=add,
                                 progress=progress, ingest=settings.ingest,
                                 describer=describer_for(settings.profile.name), dense=dense_config(settings.search),
                                 engine=engine)
        finally:
            close = getattr(engine, "close", None)
            if callable(close):
                close()
        return cls(IndexReader(directory), settings, embedder=embedder, **parts), report

    @classmethod
    def open(cls, directory: PathLike | Sequence[PathLike] | Mapping[str, PathLike], *,
             settings: Settings | None = None, embed_from_index: bool = False, **parts: Any) -> Index:
        """Open an existing index, or several searched as one: a list of directories (``NAME=DIR`` or ``DIR``,
        named after its last component) or a mapping of names to directories (:mod:`retrieval.multi`: passage
        and doc ids qualified by the index's name, ``index:NAME`` scopes to one index).

        Without ``settings`` (or with ``embed_from_index``) the embedder recorded in the manifest is
        used, with the other settings as given; with settings whose embedder differs from the
        manifest's, :class:`IndexMismatchError` is raised (as it is for indexes built with different embedders).
        """
        reader = open_reader(directory)
        if settings is None or embed_from_index:
            base = settings or Settings()
            settings = dataclasses.replace(base, embed=_embed_settings_from(reader.manifest, base.embed))
        return cls(reader, settings, **parts)

    # -- reading --------------------------------------------------------
    def documents(self) -> list[Document]:
        """Indexed documents with their full text."""
        return self.reader.documents()

    def passages(self) -> list[Passage]:
        """Every passage in the index."""
        return self.reader.all_passages()

    def search(self, query: str, k: int = 5, *, mode: SearchMode | None = None, level: SearchLevel = "passage",
               docs: int | None = None, scope: Scope | None = None) -> list[Ranked]:
        """Best ``k`` passages for ``query`` ("dense", "bm25" or "hybrid"; default from settings).

        ``level="unit"`` returns whole functions/classes and ``level="file"`` whole files, ranked by their
        unit vectors (dense only). ``docs=N`` searches coarse-to-fine: passages of the N best documents
        only (default: ``settings.search.coarse_docs``; 0 is off). ``scope`` restricts the search to some
        documents (paths, globs, doc ids), passage kinds and pages (:class:`retrieval.scope.Scope`); a question
        naming an issuer and period is routed to its filings (``settings.search.route``).

        :raises InputError: an empty query, an unknown mode or level, ``k < 1``, or a scope matching nothing.
        """
        return self.searcher.search(check_question(query), k, mode=mode, level=level, docs=docs, scope=scope)

    def retrieve(self, query: str, k: int = 5, *, scope: Scope | None = None,
                 mode: SearchMode | None = None) -> Retrieval:
        """:meth:`search` at passage level with its account: the scope and routing decisions (``details``)."""
        return self.searcher.retrieve(check_question(query), k, scope=scope, mode=mode)

    def resolve_scope(self, scope: Scope | None) -> ResolvedScope | None:
        """``scope`` resolved against this index (None: no scope).

        :raises InputError: a scope that matches nothing (names what did not match).
        """
        return self.searcher.resolve(scope)

    def as_retriever(self, k: int = 5, **options: Any) -> Any:
        """This index as a LangChain ``BaseRetriever`` (:class:`app.langchain_retriever.DocqaRetriever`);
        ``options``: ``mode``, ``level``, ``docs``, ``scope`` as for :meth:`search`."""
        from app.langchain_retriever import DocqaRetriever

        return DocqaRetriever(index=self, k=k, **options)

    @property
    def pipeline(self) -> Pipeline:
        """The question-answering pipeline over this index (built on first use; models load when first needed)."""
        if self._pipeline is None:
            self._pipeline = build_pipeline(self.settings, retriever=self.searcher, corpus=self,
                                            embedder=self.embedder, runtime=self.runtime, profile=self.profile,
                                            **self._parts)
        return self._pipeline

    @property
    def llm(self) -> LLM:
        """The answering model."""
        return self.pipeline.generator.llm

    def doc_passages(self) -> Mapping[str, Sequence[Passage]]:
        """Every passage of each document, in document order: a mapping that reads a document's passages from the
        index when it is asked for (a few kept), never the whole corpus."""
        if self._by_doc is None:
            self._by_doc = DocPassages(self.reader)
        return self._by_doc

    def ask_stream(self, question: str, *, scope: Scope | None = None,
                   history: Sequence[Message] = ()) -> AnswerStream:
        """Answer ``question`` as it is generated: iterate the :class:`~app.pipeline.AnswerStream` for text pieces;
        its ``answer`` then holds the final :class:`Answer`.

        Depending on ``settings.answer.mode`` the model reads whole documents (when they fit its
        context budget) or a key context built from retrieval, reranking and segment scoring; both stay
        inside ``scope`` when given. With ``history`` (the conversation so far) a follow-up is first rewritten
        to stand alone (see :class:`Conversation`).
        """
        return self.pipeline.stream(question, scope=scope, history=history)

    def ask(self, question: str, *, scope: Scope | None = None, history: Sequence[Message] = ()) -> Answer:
        """Answer ``question`` from this index (inside ``scope`` when given; a follow-up to ``history``), citing
        passages."""
        return self.pipeline.run(question, scope=scope, history=history)

    def conversation(self, *, scope: Scope | None = None) -> Conversation:
        """A new :class:`Conversation` with this index."""
        return Conversation(self, scope=scope)

    def close(self) -> None:
        """Release files."""
        self.reader.close()

    def __enter__(self) -> Index:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Conversation:
    """Questions asked of one index in turn, each follow-up rewritten with the turns before it.

    >>> # chat = index.conversation(); chat.ask("Who built the dam?"); chat.ask("When did they finish it?")

    :param history: earlier turns to continue from (user and assistant messages, oldest first).
    :param scope: every question of the conversation stays inside it.
    """

    def __init__(self, index: Index, *, scope: Scope | None = None, history: Sequence[Message] = ()) -> None:
        self.index, self.scope = index, scope
        self.messages: list[Message] = list(history)  # the standalone questions and the answers, oldest first
        self.answers: list[Answer] = []

    def ask_stream(self, question: str) -> AnswerStream:
        """:meth:`Index.ask_stream` with the conversation so far; the turn is kept once the answer arrives."""
        stream = self.index.ask_stream(question, scope=self.scope, history=tuple(self.messages))
        stream.on_answer(self._keep)
        return stream

    def ask(self, question: str) -> Answer:
        """:meth:`Index.ask` with the conversation so far; the turn is kept."""
        return self.ask_stream(question).finish()

    def _keep(self, answer: Answer) -> None:
        self.messages += [Message("user", answer.question), Message("assistant", answer.text)]
        self.answers.append(answer)

    def clear(self) -> None:
        """Forget the turns: the next question starts a new conversation."""
        self.messages.clear()
        self.answers.clear()


def adhoc_index_key(paths: Sequence[PathLike], settings: Settings) -> str:
    """Cache key of an ad-hoc index: the files' contents and names plus the settings that shape the index."""
    h = hashlib.sha256()
    for path, _ in sorted(expand_paths(paths), key=lambda x: os.fsencode(x[0])):
        h.update(os.fsencode(path) + b"\0")  # bytes: a name that is not UTF-8 still has a key
        try:
            with open(path, "rb") as f:
                h.update(hashlib.file_digest(f, "sha256").digest())
        except OSError as err:  # unreadable: the build reports it; the key just has to be stable
            h.update(f"unreadable:{err.errno}".encode())
    shape: dict[str, Any] = {"embed": dataclasses.asdict(settings.embed), "split": dataclasses.asdict(settings.split),
                             "pdf_extractor": settings.ingest.pdf_extractor, "ocr": settings.ingest.ocr,
                             "ocr_languages": settings.ingest.ocr_languages}
    shape["embed"]["model"] = canonical_model_id(settings.embed.model)
    for runtime in EmbedSettings.RUNTIME:
        shape["embed"].pop(runtime)
    h.update(json.dumps(shape, sort_keys=True).encode())
    return h.hexdigest()[:20]


def open_adhoc(doc: PathLike | Sequence[PathLike], *, settings: Settings, password: str | None = None,
               progress: Progress | None = None, **parts: Any) -> Index:
    """An index for files asked about directly, cached by content (in ``settings.cache.index_dir``) so a
    second question does not re-embed. ``parts``: as for :class:`Index`."""
    paths = [doc] if isinstance(doc, str | os.PathLike) else list(doc)
    directory = settings.cache.index_dir / adhoc_index_key(paths, settings)
    if (directory / "manifest.json").is_file():
        return Index(IndexReader(directory), settings, **parts)
    return Index.build(paths, directory, settings=settings, password=password, progress=progress, **parts)


def ask(doc: PathLike | Sequence[PathLike] | Index, question: str, *, settings: Settings | None = None,
        password: str | None = None, progress: Callable[[str, int, int], None] | None = None,
        scope: Scope | None = None, **parts: Any) -> Answer:
    """Answer ``question`` about ``doc``: a file, a directory, a list of them, or an :class:`Index`.

    Files are indexed on the fly into a cache keyed by their content. ``scope`` restricts the answer to some
    of the documents, kinds and pages (:class:`retrieval.scope.Scope`). ``parts``: ``embedder``, ``llm``,
    ``reranker`` to use instead of building them from settings.
    """
    check_question(question)
    if isinstance(doc, Index):
        return doc.ask(question, scope=scope)
    index = open_adhoc(doc, settings=settings or Settings(), password=password, progress=progress, **parts)
    try:
        return index.ask(question, scope=scope)
    finally:
        index.close()


def index_info(index: Index | IndexReader | MultiReader) -> dict[str, Any]:
    """A JSON-able summary of an index (opened for search, or only read: no embedder needed); of several opened
    as one, each one's by name."""
    m = index.manifest
    reader = index.reader if isinstance(index, Index) else index
    if isinstance(reader, MultiReader):
        return {"indexes": {name: index_info(r) for name, r in reader.readers.items()}, "counts": m.counts,
                "embedder": m.embedder}
    return {"directory": str(index.directory), "build": m.build, "created": m.created, "embedder": m.embedder,
            "splitter": m.splitter, "counts": m.counts, "dense": m.dense, "sources": m.sources}
