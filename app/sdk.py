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
from generation.answer import PASSAGE_OVERHEAD_TOKENS, check_question, context_budget, stream_answer
from generation.context import trim_overlaps
from generation.select import key_context, not_full_note, plan_full_text
from generation.types import LLM, Answer, final_item
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
        self._by_doc: dict[str, list[Passage]] | None = None
        self._tokens_by_doc: dict[str, int] = {}

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
    def open(cls, directory: PathLike, *, settings: Settings | None = None, llm: LLM | None = None,
             embed_from_index: bool = False) -> Index:
        """Open an existing index.

        Without ``settings`` (or with ``embed_from_index``) the embedder recorded in the manifest is
        used, with the other settings as given; with settings whose embedder differs from the
        manifest's, :class:`IndexMismatchError` is raised.
        """
        reader = IndexReader(directory)
        if settings is None or embed_from_index:
            base = settings or Settings()
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

    def search(self, query: str, k: int = 5, *, mode: str | None = None, level: str = "passage",
               docs: int | None = None) -> list[Ranked]:
        """Best ``k`` passages for ``query`` ("dense", "bm25" or "hybrid"; default from settings).

        ``level="unit"`` returns whole functions/classes and ``level="file"`` whole files, ranked by their
        unit vectors (dense only). ``docs=N`` searches coarse-to-fine: passages of the N best documents
        only (default: ``settings.search.coarse_docs``; 0 is off).
        """
        return self.searcher.search(check_question(query), k, mode=mode, level=level, docs=docs)

    def as_retriever(self, k: int = 5, **options: Any) -> Any:
        """This index as a LangChain ``BaseRetriever`` (:class:`app.langchain_retriever.DocqaRetriever`);
        ``options``: ``mode``, ``level``, ``docs`` as for :meth:`search`."""
        from app.langchain_retriever import DocqaRetriever

        return DocqaRetriever(index=self, k=k, **options)

    @property
    def llm(self) -> LLM:
        """The answering model (loaded on first use)."""
        if self._llm is None:
            self._llm = get_llm(self.settings.llm)
        return self._llm

    def ask_stream(self, question: str) -> Iterator[str | Answer]:
        """Yield answer text as it is generated, then the final :class:`Answer`.

        Depending on ``settings.answer.mode`` the model reads whole documents (when they fit its
        context budget) or a key context built from retrieval, reranking and segment scoring.
        """
        question = check_question(question)
        s = self.settings.answer
        timings: dict[str, float] = {}
        tokens: dict[str, int] = {}
        pool = s.rerank_candidates if s.rerank != "none" or s.select != "none" else s.top_k
        t = time.perf_counter()
        candidates = self.search(question, max(s.top_k, pool))
        timings["retrieve"] = time.perf_counter() - t
        notes = [f"retrieval: {self.settings.search.mode}, {len(candidates)} candidates"]
        full, why = self.full_text(question, candidates)
        notes.append(why)
        if full is not None:
            yield from stream_answer(self.llm, question, full, max_answer_tokens=self.settings.llm.max_answer_tokens,
                                     timings=timings, notes=notes, order="rank", verify=s.verify, tokens=tokens,
                                     unsupported=s.unsupported)
            return
        t = time.perf_counter()
        reranker = make_reranker(self.settings, lambda: self.llm)
        ranked, cost = reranker.rank(question, candidates, top_k=len(candidates) if s.select != "none" else s.top_k)
        timings["rerank"] = time.perf_counter() - t
        notes += [f"reranker: {cost.method} ({cost.llm_calls} LLM calls, {cost.input_tokens} input tokens, "
                  f"{cost.output_tokens} output tokens, {cost.seconds:.1f} s, outcome {cost.outcome})",
                  *(f"reranker: {note}" for note in cost.notes)]
        passages, by_document = key_context(question, [r.passage for r in ranked], select=s.select, top_k=s.top_k,
                                            neighbours=s.neighbours, llm=self.llm, embedder=self.embedder,
                                            doc_passages=self._doc_passages, timings=timings, tokens=tokens,
                                            notes=notes)
        order = "document" if by_document else s.order
        for piece in stream_answer(self.llm, question, passages,
                                   max_answer_tokens=self.settings.llm.max_answer_tokens, timings=timings,
                                   notes=notes, order=order, verify=s.verify, tokens=tokens,
                                   unsupported=s.unsupported):
            if isinstance(piece, Answer) and cost.llm_calls:
                piece = dataclasses.replace(piece, tokens={**piece.tokens, "rerank_input": cost.input_tokens,
                                                           "rerank_output": cost.output_tokens})
            yield piece

    def _doc_passages(self) -> dict[str, list[Passage]]:
        """Every passage of each document, in document order (read once per opened index)."""
        if self._by_doc is None:
            by_doc: dict[str, list[Passage]] = {}
            for p in sorted(self.passages(), key=lambda p: (p.doc_id, p.chars)):
                by_doc.setdefault(p.doc_id, []).append(p)
            self._by_doc = by_doc
        return self._by_doc

    def _doc_tokens(self, doc_id: str, cap: int) -> int:
        """Prompt tokens of a whole document as trimmed passages (``cap + 1`` when it clearly exceeds ``cap``)."""
        passages = self._doc_passages()[doc_id]
        if doc_id not in self._tokens_by_doc:
            if (passages[-1].chars[1] - passages[0].chars[0]) / 8 > cap:  # over cap even at 8 characters a token
                return cap + 1
            self._tokens_by_doc[doc_id] = sum(self.llm.count_tokens(p.text) + PASSAGE_OVERHEAD_TOKENS
                                              for p in trim_overlaps(passages))
        return self._tokens_by_doc[doc_id]

    def full_text(self, question: str, candidates: Sequence[Ranked]) -> tuple[list[Passage] | None, str]:
        """Whole documents as numbered passages in document order (overlaps trimmed) when the answer mode
        asks for them and they fit the context budget, else None; and a note saying which mode ran and why."""
        s = self.settings.answer
        if s.mode == "retrieve":
            return None, not_full_note(s.mode, 0)
        budget = context_budget(self.llm, question, self.settings.llm.max_answer_tokens)
        cap = min(budget, s.full_max_tokens) if s.mode == "auto" and s.full_max_tokens else budget
        by_doc = self._doc_passages()
        plan = plan_full_text(s.mode, doc_ids=list(by_doc), cap=cap, doc_tokens=self._doc_tokens,
                              hit_docs=[r.passage.doc_id for r in candidates[: s.top_k]])
        if plan is None:
            return None, not_full_note(s.mode, cap)
        passages = [p for doc_id in plan.doc_ids for p in trim_overlaps(by_doc[doc_id])]
        return passages, plan.note(len(passages))

    def ask(self, question: str) -> Answer:
        """Answer ``question`` from this index, citing passages."""
        return final_item(self.ask_stream(question), Answer)

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
