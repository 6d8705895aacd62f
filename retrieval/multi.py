"""Several indexes searched as one: :class:`MultiReader` reads named :class:`~retrieval.store.IndexReader`\\ s
behind the one reader interface (:class:`~retrieval.store.Reader`) that search, scope, whole-document reading
and the servers already use, so every front end (SDK, CLI, HTTP, MCP) gets multi-index search from one place.

- **Names.** Each index has a name (``NAME=DIR``, or the directory's own name); passage ids and doc ids are
  qualified by it (``team-a:p-1f…``, ``team-a:3c9e…-0a1b``), so they stay unique across indexes and a citation,
  a ``GET /v1/passages/{id}`` or a scope naming a doc id finds its index. Sources (paths), pages, line spans
  and character offsets are the index's own: a citation resolves to its document, page and lines as before.
- **Scope.** Each document in :attr:`MultiReader.manifest` carries ``"index": NAME``; the document pattern
  ``index:NAME`` (``--doc index:team-a``, ``"documents": ["index:team-a"]``) names every document of one index
  (:func:`retrieval.scope.matches_source`).
- **In parallel.** Past :data:`PARALLEL_ABOVE` passages in all, each search asks every index at once, one
  thread per index (FAISS and SQLite release the GIL while they search), so a search takes about the time of the
  slowest index, not the sum; below it the indexes are asked in turn, since a thread's hand-off (milliseconds on a
  busy machine) costs more than such searches take (``bench/multi_index.py``, bench/RESULTS.md).
- **Fusion: the single index's.** Rows are numbered across the indexes (each index's rows after the previous
  one's), and each kind of search is merged by score: dense scores are inner products of unit vectors from one
  embedder (indexes with different embedders are refused), so the merged top ``k`` is exactly the top ``k`` of
  one index holding every passage; BM25 scores come from each index's own FTS5 statistics (document
  frequencies, lengths), as the shards of a search engine score by default, so they are close to but not
  exactly one index's. Hybrid search then fuses the merged dense and BM25 lists by RRF, as for one index.
  Rank fusion across indexes (each index's first hit alike) was not chosen: it would put the best passage of
  an index that barely matches on a par with the best of the index that holds the answer.
"""

from __future__ import annotations

import bisect
import concurrent.futures
import dataclasses
import functools
import heapq
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from ingest.core.errors import IndexMismatchError, InputError
from ingest.core.records import Document, Passage
from retrieval.store import SCHEMA_VERSION, IndexReader, Manifest, identity_diff
from retrieval.units import Unit

T = TypeVar("T")
SEP = ":"  # between an index's name and a passage or doc id
PARALLEL_ABOVE = 50_000  # passages in all past which the indexes are searched at once (bench/multi_index.py)
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


def qualify(name: str, local_id: str) -> str:
    """A passage or doc id made unique across indexes.

    >>> qualify("a", "p-12")
    'a:p-12'
    """
    return f"{name}{SEP}{local_id}"


def index_specs(specs: Sequence[str | os.PathLike[str]]) -> dict[str, Path]:
    """Index directories by name from ``NAME=DIR`` or ``DIR`` (named after its last component).

    >>> index_specs(["idx/2019", "recent=idx/2020"])
    {'2019': PosixPath('idx/2019'), 'recent': PosixPath('idx/2020')}

    :raises InputError: a name that is not letters, digits, ``_.-``, or a name given twice.
    """
    named: dict[str, Path] = {}
    for spec in specs:
        text = os.fspath(spec)
        name, sep, directory = text.partition("=")
        if not sep or Path(text).is_dir():
            name, directory = Path(text).resolve().name if text in (".", "..") else Path(text).name, text
        if not _NAME.fullmatch(name):
            raise InputError(f"index {text!r}: name {name!r} must be letters, digits, '_', '.' or '-' "
                             "(name it with NAME=DIR)")
        if name in named:
            raise InputError(f"index {text!r}: the name {name!r} is given twice (name them with NAME=DIR)")
        named[name] = Path(directory)
    return named


class MultiReader:
    """Named indexes read as one (see the module docstring).

    :param readers: open readers by name (at least one; their embedders must agree).
    :raises IndexMismatchError: an index built with a different embedder (or dimension) than the first; the
        message names it.
    """

    def __init__(self, readers: Mapping[str, IndexReader]) -> None:
        if not readers:
            raise InputError("no index to search")
        self.readers = dict(readers)
        self.names = list(self.readers)
        first_name, first = next(iter(self.readers.items()))
        for name, reader in self.readers.items():
            diff = identity_diff(first.manifest.embedder, reader.manifest.embedder)
            if diff or reader.manifest.dim != first.manifest.dim:
                raise IndexMismatchError(
                    f"index {name!r} ({reader.directory}) was built with a different embedder than {first_name!r} "
                    f"({'; '.join(diff) or 'dimension'}); search together only indexes built with one embedder")
        self.directory = first.directory  # the first index's (each one's is in ``directories``)
        self.directories = {name: r.directory for name, r in self.readers.items()}
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=len(self.readers),
                                                           thread_name_prefix="docqa-index")
        self._offsets = _offsets(len(r) for r in self.readers.values())
        self._unit_offsets = _offsets(r.unit_count for r in self.readers.values())
        self.manifest = self._manifest()

    @classmethod
    def open(cls, directories: Mapping[str, str | os.PathLike[str]]) -> MultiReader:
        """Open each named index directory (those opened are closed again if one fails)."""
        readers: dict[str, IndexReader] = {}
        try:
            for name, directory in directories.items():
                readers[name] = IndexReader(directory)
            return cls(readers)
        except BaseException:
            for reader in readers.values():
                reader.close()
            raise

    def _manifest(self) -> Manifest:
        """One manifest for the set: every document (doc ids qualified, ``"index"`` set), summed counts."""
        manifests = {name: r.manifest for name, r in self.readers.items()}
        first = next(iter(manifests.values()))
        sources = [{**s, "doc_id": qualify(name, str(s["doc_id"])), "index": name}
                   for name, m in manifests.items() for s in m.sources]
        counts: dict[str, int] = {}
        for m in manifests.values():
            for key, n in m.counts.items():
                counts[key] = counts.get(key, 0) + int(n)
        return Manifest(schema=SCHEMA_VERSION, build="+".join(m.build for m in manifests.values()),
                        created=max(m.created for m in manifests.values()), embedder=first.embedder,
                        splitter={name: m.splitter for name, m in manifests.items()}, dim=first.dim,
                        metric=first.metric, files={}, sources=sources, counts=counts,
                        dense={name: m.dense for name, m in manifests.items()})

    # -- ids and rows -----------------------------------------------------------------------------------------
    def _each(self, work: Mapping[str, Callable[[], T]]) -> dict[str, T]:
        """Run each index's ``work`` at once (one thread per index); results by name, in ``work``'s order."""
        if len(work) <= 1 or len(self) <= PARALLEL_ABOVE:
            return {name: run() for name, run in work.items()}
        futures = {name: self._pool.submit(run) for name, run in work.items()}
        return {name: future.result() for name, future in futures.items()}

    def _local(self, qualified: str) -> tuple[str, str] | None:
        """``(name, local id)`` of a qualified id (None: no index of that name)."""
        name, sep, local = qualified.partition(SEP)
        return (name, local) if sep and name in self.readers else None

    def _by_index(self, doc_ids: Sequence[str] | None) -> dict[str, list[str] | None]:
        """Each index's own doc ids among ``doc_ids`` (None: all of every index; indexes with none left out)."""
        if doc_ids is None:
            return dict.fromkeys(self.names)
        out: dict[str, list[str] | None] = {}
        for qualified in doc_ids:
            found = self._local(qualified)
            if found is not None:
                ids = out.setdefault(found[0], [])
                assert ids is not None
                ids.append(found[1])
        return out

    def _split_rows(self, rows: Sequence[int], offsets: Sequence[int]) -> dict[str, list[int]]:
        """Global rows as each index's own rows."""
        out: dict[str, list[int]] = {}
        for row in rows:
            i = bisect.bisect_right(offsets, row) - 1
            out.setdefault(self.names[i], []).append(row - offsets[i])
        return out

    def _by_rows(self, rows: Sequence[int], offsets: Sequence[int],
                 fetch: Callable[[str, list[int]], list[T]]) -> list[T]:
        """``fetch(name, its own rows)`` for each index's share of the global ``rows``, back in the order given."""
        found: dict[int, T] = {}
        for name, local in self._split_rows(rows, offsets).items():
            offset = offsets[self.names.index(name)]
            found.update((offset + row, item) for row, item in zip(local, fetch(name, local), strict=True))
        return [found[r] for r in rows if r in found]

    def _passage(self, name: str, p: Passage) -> Passage:
        return dataclasses.replace(p, id=qualify(name, p.id), doc_id=qualify(name, p.doc_id))

    def _merged(self, hits: dict[str, list[tuple[int, float]]], k: int,
                offsets: Sequence[int] | None = None) -> list[tuple[int, float]]:
        """Each index's hits (own rows) as global rows, best ``k`` by score (ties: lower row first)."""
        offsets = self._offsets if offsets is None else offsets
        everything = ((offsets[self.names.index(name)] + row, score) for name, found in hits.items()
                      for row, score in found)
        return heapq.nsmallest(k, everything, key=lambda hit: (-hit[1], hit[0]))

    # -- the Reader interface ---------------------------------------------------------------------------------
    def __len__(self) -> int:
        return self._offsets[-1]

    @property
    def has_units(self) -> bool:
        """Whether every index has unit and file vectors."""
        return all(r.has_units for r in self.readers.values())

    def check_embedder(self, identity: dict[str, Any]) -> None:
        """:meth:`IndexReader.check_embedder` for each index."""
        for reader in self.readers.values():
            reader.check_embedder(identity)

    def dense(self, query_vector: np.ndarray, k: int, *, rows: Sequence[int] | None = None) -> list[tuple[int, float]]:
        """The ``k`` nearest passages across the indexes (among global ``rows`` when given)."""
        if rows is None:
            hits = self._each({name: functools.partial(r.dense, query_vector, k) for name, r in self.readers.items()})
        else:
            hits = self._each({name: functools.partial(self.readers[name].dense, query_vector, k, rows=local)
                               for name, local in self._split_rows(rows, self._offsets).items()})
        return self._merged(hits, k)

    def bm25(self, query: str, k: int, *, doc_ids: Sequence[str] | None = None) -> list[tuple[int, float]]:
        """The best ``k`` passages by each index's BM25, merged by score (inside ``doc_ids`` when given)."""
        return self._merged(self._each({name: functools.partial(self.readers[name].bm25, query, k, doc_ids=ids)
                                        for name, ids in self._by_index(doc_ids).items()}), k)

    def bm25_scoped(self, query: str, k: int, *, doc_ids: Sequence[str] | None = None, kinds: Sequence[str] = (),
                    pages: tuple[int, int] | None = None) -> list[tuple[int, float]]:
        """:meth:`bm25` inside a scope."""
        return self._merged(self._each({name: functools.partial(self.readers[name].bm25_scoped, query, k,
                                                                doc_ids=ids, kinds=kinds, pages=pages)
                                        for name, ids in self._by_index(doc_ids).items()}), k)

    def scope_rows(self, *, doc_ids: Sequence[str] | None = None, kinds: Sequence[str] = (),
                   pages: tuple[int, int] | None = None) -> list[int]:
        """Global passage rows inside a scope, in order."""
        return [self._offsets[self.names.index(name)] + row for name, ids in self._by_index(doc_ids).items()
                for row in self.readers[name].scope_rows(doc_ids=ids, kinds=kinds, pages=pages)]

    def scope_has_rows(self, *, doc_ids: Sequence[str] | None = None, kinds: Sequence[str] = (),
                       pages: tuple[int, int] | None = None) -> bool:
        """Whether any passage of any index is inside the scope."""
        return any(self.readers[name].scope_has_rows(doc_ids=ids, kinds=kinds, pages=pages)
                   for name, ids in self._by_index(doc_ids).items())

    def passages(self, rows: Sequence[int]) -> list[Passage]:
        """Passages of global rows, in the order given (ids qualified)."""
        return self._by_rows(rows, self._offsets, lambda name, local: [
            self._passage(name, p) for p in self.readers[name].passages(local)])

    def document_passages(self, doc_id: str) -> list[Passage]:
        """Every passage of one (qualified) document, in document order."""
        found = self._local(doc_id)
        if found is None:
            return []
        name, local = found
        return [self._passage(name, p) for p in self.readers[name].document_passages(local)]

    def passage_by_id(self, passage_id: str) -> Passage | None:
        """The passage with this qualified id (None: no such passage, or an id without an index's name)."""
        found = self._local(passage_id)
        if found is None:
            return None
        p = self.readers[found[0]].passage_by_id(found[1])
        return self._passage(found[0], p) if p is not None else None

    def document_summaries(self) -> list[dict[str, Any]]:
        """Each index's documents without their text (doc ids qualified, ``index`` set)."""
        return [{**s, "doc_id": qualify(name, s["doc_id"]), "index": name}
                for name, r in self.readers.items() for s in r.document_summaries()]

    def all_passages(self) -> list[Passage]:
        """Every passage of every index (for tools and tests, not for serving)."""
        return [self._passage(name, p) for name, r in self.readers.items() for p in r.all_passages()]

    def documents(self) -> list[Document]:
        """Every document of every index, with its text (doc ids qualified)."""
        return [dataclasses.replace(d, doc_id=qualify(name, d.doc_id))
                for name, r in self.readers.items() for d in r.documents()]

    def unit_dense(self, query_vector: np.ndarray, k: int, *, level: str) -> list[tuple[int, float]]:
        """Global unit rows of kind ``level`` across the indexes, best first.

        :raises IndexMismatchError: an index without unit vectors (named).
        """
        hits = self._each({name: functools.partial(r.unit_dense, query_vector, k, level=level)
                           for name, r in self.readers.items()})
        return self._merged(hits, k, self._unit_offsets)

    def units(self, rows: Sequence[int]) -> list[Unit]:
        """Unit records of global unit rows, in the order given (doc ids qualified, members global rows)."""
        def own(name: str, local: list[int]) -> list[Unit]:
            offset = self._offsets[self.names.index(name)]
            return [dataclasses.replace(u, doc_id=qualify(name, u.doc_id), members=tuple(offset + m for m in u.members))
                    for u in self.readers[name].units(local)]

        return self._by_rows(rows, self._unit_offsets, own)

    def unit_passages(self, rows: Sequence[int]) -> list[Passage]:
        """Units of global unit rows as passages spanning them (ids qualified)."""
        return self._by_rows(rows, self._unit_offsets, lambda name, local: [
            self._passage(name, p) for p in self.readers[name].unit_passages(local)])

    def close(self) -> None:
        """Close every index."""
        self._pool.shutdown(wait=True)
        for reader in self.readers.values():
            reader.close()


def _offsets(sizes: Iterable[int]) -> list[int]:
    """Where each index's rows start in the global numbering, then the total.

    >>> _offsets([3, 0, 2])
    [0, 3, 3, 5]
    """
    out = [0]
    for n in sizes:
        out.append(out[-1] + n)
    return out


def open_reader(where: str | os.PathLike[str] | Sequence[str | os.PathLike[str]]
                | Mapping[str, str | os.PathLike[str]]) -> IndexReader | MultiReader:
    """One index directory, or several (``NAME=DIR`` or ``DIR`` each, or a mapping of names to directories)
    read as one; a list of one is that index alone.

    :raises InputError: a bad or repeated name. :raises IndexMissingError: a directory without an index (named).
    :raises IndexMismatchError: indexes built with different embedders (names the index).
    """
    if isinstance(where, str | os.PathLike):
        return IndexReader(where)
    if not isinstance(where, Mapping) and len(where) == 1 and (Path(where[0]).is_dir() or "=" not in str(where[0])):
        return IndexReader(where[0])  # one directory, whatever its name
    named = dict(where) if isinstance(where, Mapping) else index_specs(list(where))
    if len(named) == 1:
        return IndexReader(next(iter(named.values())))
    return MultiReader.open(named)
