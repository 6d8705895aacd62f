"""The Python SDK: ``ask(doc, question)`` and :class:`Index`."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from app.components import get_embedder, get_llm, make_reranker, make_splitter
from app.settings import Settings, index_cache_dir
from generation.answer import check_question, stream_answer
from generation.types import LLM, Answer
from ingest.embed import EmbedSettings, canonical_model_id
from ingest.loaders import expand_paths
from ingest.types import Document, Passage
from rerank.types import Ranked
from retrieval.build import BuildReport, Progress, build_index
from retrieval.search import Searcher
from retrieval.store import IndexReader, Manifest

PathLike = str | os.PathLike[str]


def _embed_settings_from(manifest: Manifest, base: EmbedSettings) -> EmbedSettings:
    """Embed settings that reproduce the manifest's embedder (runtime-only knobs taken from ``base``)."""
    known = {f.name for f in dataclasses.fields(EmbedSettings)}
    values = {k: v for k, v in manifest.embedder.items() if k in known}
    return dataclasses.replace(base, **values)


class Index:
    """An index directory opened for search and questions.

    >>> # idx = Index.build(["paper.pdf"], "idx/"); idx.ask("What dataset do they use?").text
    """

    def __init__(self, reader: IndexReader, settings: Settings, *, llm: LLM | None = None) -> None:
        self.reader = reader
        self.settings = settings
        self.embedder = get_embedder(settings.embed)
        self.reader.check_embedder(self.embedder.identity())
        self.searcher = Searcher(reader, self.embedder, settings.search)
        self._llm = llm

    # -- construction ---------------------------------------------------
    @classmethod
    def build(cls, paths: PathLike | Sequence[PathLike], directory: PathLike, *, settings: Settings | None = None,
              password: str | None = None, add: bool = False, progress: Progress | None = None,
              llm: LLM | None = None) -> Index:
        """Index files and directories into ``directory`` (atomically) and open the result.

        :param paths: files and/or directories.
        :param directory: the index directory.
        :param settings: defaults to :class:`Settings()`.
        :param password: for encrypted PDFs.
        :param add: keep documents already indexed that are not among ``paths``.
        :param progress: ``progress(stage, done, total)`` callback.
        :param llm: an LLM backend to answer with (else built from settings on first question).
        """
        index, _ = cls.build_with_report(paths, directory, settings=settings, password=password, add=add,
                                         progress=progress, llm=llm)
        return index

    @classmethod
    def build_with_report(cls, paths: PathLike | Sequence[PathLike], directory: PathLike, *,
                          settings: Settings | None = None, password: str | None = None, add: bool = False,
                          progress: Progress | None = None, llm: LLM | None = None) -> tuple[Index, BuildReport]:
        """:meth:`build`, also returning what the build did."""
        settings = settings or Settings()
        path_list = [paths] if isinstance(paths, str | os.PathLike) else list(paths)
        embedder = get_embedder(settings.embed)
        report = build_index(path_list, directory, embedder=embedder,
                             splitter=make_splitter(settings.split, embedder), password=password, add=add,
                             progress=progress)
        return cls(IndexReader(directory), settings, llm=llm), report

    @classmethod
    def open(cls, directory: PathLike, *, settings: Settings | None = None, llm: LLM | None = None) -> Index:
        """Open an existing index.

        Without ``settings`` the embedder recorded in the manifest is used; with settings
        whose embedder differs from the manifest's, :class:`IndexMismatchError` is raised.
        """
        reader = IndexReader(directory)
        if settings is None:
            base = Settings()
            settings = dataclasses.replace(base, embed=_embed_settings_from(reader.manifest, base.embed))
        return cls(reader, settings, llm=llm)

    # -- reading --------------------------------------------------------
    @property
    def manifest(self) -> Manifest:
        """How the index was built."""
        return self.reader.manifest

    @property
    def directory(self) -> Path:
        """The index directory."""
        return self.reader.directory

    def documents(self) -> list[Document]:
        """Indexed documents with their full text."""
        return self.reader.documents()

    def passages(self) -> list[Passage]:
        """Every passage in the index."""
        return self.reader.all_passages()

    def search(self, query: str, k: int = 5, *, mode: str | None = None, level: str = "passage") -> list[Ranked]:
        """Best ``k`` passages for ``query`` ("dense", "bm25" or "hybrid"; default from settings).

        ``level="unit"`` returns whole functions/classes and ``level="file"`` whole files, ranked by the
        mean of their block vectors (dense only).
        """
        return self.searcher.search(check_question(query), k, mode=mode, level=level)

    @property
    def llm(self) -> LLM:
        """The answering model (loaded on first use)."""
        if self._llm is None:
            self._llm = get_llm(self.settings.llm)
        return self._llm

    def ask_stream(self, question: str) -> Iterator[str | Answer]:
        """Yield answer text as it is generated, then the final :class:`Answer`."""
        question = check_question(question)
        s = self.settings.answer
        timings: dict[str, float] = {}
        t = time.perf_counter()
        candidates = self.search(question, max(s.top_k, s.rerank_candidates if s.rerank != "none" else s.top_k))
        timings["retrieve"] = time.perf_counter() - t
        t = time.perf_counter()
        reranker = make_reranker(self.settings, lambda: self.llm)
        ranked, cost = reranker.rank(question, candidates, top_k=s.top_k)
        timings["rerank"] = time.perf_counter() - t
        notes = [f"retrieval: {self.settings.search.mode}, {len(candidates)} candidates",
                 f"reranker: {cost.method} ({cost.llm_calls} LLM calls, {cost.input_tokens} input tokens, "
                 f"{cost.output_tokens} output tokens, {cost.seconds:.1f} s, outcome {cost.outcome})",
                 *(f"reranker: {note}" for note in cost.notes)]
        for piece in stream_answer(self.llm, question, [r.passage for r in ranked],
                                   max_answer_tokens=self.settings.llm.max_answer_tokens, timings=timings,
                                   notes=notes):
            if isinstance(piece, Answer) and cost.llm_calls:
                piece = dataclasses.replace(piece, tokens={**piece.tokens, "rerank_input": cost.input_tokens,
                                                           "rerank_output": cost.output_tokens})
            yield piece

    def ask(self, question: str) -> Answer:
        """Answer ``question`` from this index, citing passages."""
        final = None
        for piece in self.ask_stream(question):
            if isinstance(piece, Answer):
                final = piece
        assert final is not None
        return final

    def close(self) -> None:
        """Release files."""
        self.reader.close()

    def __enter__(self) -> Index:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def adhoc_index_key(paths: Sequence[PathLike], settings: Settings) -> str:
    """Cache key of an ad-hoc index: the files' contents and names plus the settings that shape the index."""
    h = hashlib.sha256()
    for path, _ in sorted(expand_paths(paths), key=lambda x: str(x[0])):
        h.update(str(path).encode() + b"\0")
        with open(path, "rb") as f:
            h.update(hashlib.file_digest(f, "sha256").digest())
    shape = {"embed": dataclasses.asdict(settings.embed), "split": dataclasses.asdict(settings.split)}
    shape["embed"]["model"] = canonical_model_id(settings.embed.model)
    for runtime in ("batch_size", "device"):
        shape["embed"].pop(runtime)
    h.update(json.dumps(shape, sort_keys=True).encode())
    return h.hexdigest()[:20]


def open_adhoc(doc: PathLike | Sequence[PathLike], *, settings: Settings, password: str | None = None,
               progress: Progress | None = None, llm: LLM | None = None,
               cache_dir: PathLike | None = None) -> Index:
    """An index for files asked about directly, cached by content so a second question does not re-embed."""
    paths = [doc] if isinstance(doc, str | os.PathLike) else list(doc)
    key = adhoc_index_key(paths, settings)
    directory = Path(cache_dir or index_cache_dir()) / key
    if (directory / "manifest.json").is_file():
        return Index(IndexReader(directory), settings, llm=llm)
    return Index.build(paths, directory, settings=settings, password=password, progress=progress, llm=llm)


def ask(doc: PathLike | Sequence[PathLike] | Index, question: str, *, settings: Settings | None = None,
        password: str | None = None, llm: LLM | None = None,
        progress: Callable[[str, int, int], None] | None = None) -> Answer:
    """Answer ``question`` about ``doc``: a file, a directory, a list of them, or an :class:`Index`.

    Files are indexed on the fly into a cache keyed by their content.
    """
    check_question(question)
    if isinstance(doc, Index):
        return doc.ask(question)
    index = open_adhoc(doc, settings=settings or Settings(), password=password, progress=progress, llm=llm)
    try:
        return index.ask(question)
    finally:
        index.close()


def index_info(index: Index) -> dict[str, Any]:
    """A JSON-able summary of an index."""
    m = index.manifest
    return {"directory": str(index.directory), "build": m.build, "created": m.created, "embedder": m.embedder,
            "splitter": m.splitter, "counts": m.counts, "sources": m.sources}
