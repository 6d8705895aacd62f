"""Several indexes searched as one: at once (a thread per index, today's ``MultiReader``) against one after
another (the reader before that change), interleaved query by query on the same open indexes.

Builds ``--indexes`` generated indexes of ``--passages`` passages each (``tests/synthetic.py``: topic vectors,
Zipf-distributed words; written by the real ``IndexWriter``; exact dense index unless ``--approximate-above``
is lower), opens them once as a :class:`retrieval.multi.MultiReader`, and times each query's dense, BM25 and
hybrid search both ways in alternating order (which way goes first flips every query), checking that both ways
return the same hits. Prints one JSON object: per search kind and way, p50/p99 ms, and the per-query ratio
(parallel / sequential) median.

    python bench/multi_index.py --indexes 2 --passages 100000 --queries 200
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from scale import GivenVectors, percentiles  # noqa: E402

from ingest.core.settings import SearchSettings  # noqa: E402
from retrieval.dense import DenseConfig  # noqa: E402
from retrieval.multi import MultiReader  # noqa: E402
from retrieval.search import Searcher  # noqa: E402

T = TypeVar("T")


class SequentialReader(MultiReader):
    """The same indexes searched one after another (how ``MultiReader`` searched before it used threads)."""

    def _each(self, work: Mapping[str, Callable[[], T]]) -> dict[str, T]:
        return {name: run() for name, run in work.items()}


def _loadavg() -> float:
    return round(os.getloadavg()[0], 2)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--indexes", type=int, default=2)
    parser.add_argument("--passages", type=int, default=100_000, help="passages per index")
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--approximate-above", type=int, default=200_000)
    parser.add_argument("--parallel-above", type=int, default=None,
                        help="override retrieval.multi.PARALLEL_ABOVE (0: always at once)")
    parser.add_argument("--tmp", default=None, help="where to build the indexes (removed afterwards)")
    args = parser.parse_args()

    import retrieval.multi
    from tests.synthetic import passage_words, topic_vectors, write_generated

    if args.parallel_above is not None:
        retrieval.multi.PARALLEL_ABOVE = args.parallel_above

    work = Path(tempfile.mkdtemp(prefix="docqa-multi-", dir=args.tmp))
    try:
        result: dict[str, Any] = {"indexes": args.indexes, "passages_each": args.passages, "dim": args.dim,
                                  "parallel_above": retrieval.multi.PARALLEL_ABOVE,
                                  "cpus": os.cpu_count(), "load_before_build": _loadavg()}
        t = time.perf_counter()
        dirs = {}
        for i in range(args.indexes):
            dirs[f"i{i}"] = work / f"i{i}"
            write_generated(dirs[f"i{i}"], args.passages, args.dim, seed=i,
                            dense=DenseConfig(approximate_above=args.approximate_above))
        result["build_seconds"] = round(time.perf_counter() - t, 1)
        result["load_before_search"] = _loadavg()
        rng = np.random.default_rng(7)
        rows = rng.choice(args.passages, args.queries, replace=False)
        texts = list(dict.fromkeys(" ".join(passage_words(int(r))[:4]) for r in rows))
        vectors = topic_vectors(len(texts), args.dim, seed=99)
        embedder = GivenVectors(dict(zip(texts, vectors, strict=True)), args.dim)
        ways = {"parallel": MultiReader.open(dirs), "sequential": SequentialReader.open(dirs)}
        searchers = {w: Searcher(r, embedder, SearchSettings(mode="hybrid")) for w, r in ways.items()}
        kinds = {"dense": lambda s, q: s.dense(q, 10), "bm25": lambda s, q: s.bm25(q, 10),
                 "hybrid": lambda s, q: s.hybrid(q, 10)}
        times: dict[str, dict[str, list[float]]] = {k: {w: [] for w in ways} for k in kinds}
        ratios: dict[str, list[float]] = {k: [] for k in kinds}
        for n, text in enumerate(texts):
            order = list(ways) if n % 2 == 0 else list(reversed(ways))
            for kind, run in kinds.items():
                found = {}
                for way in order:
                    t = time.perf_counter()
                    hits = run(searchers[way], text)
                    times[kind][way].append(time.perf_counter() - t)
                    found[way] = [h.passage.id for h in hits]
                if found["parallel"] != found["sequential"]:
                    raise SystemExit(f"{kind}: the two ways disagree on {text!r}")
                ratios[kind].append(times[kind]["parallel"][-1] / times[kind]["sequential"][-1])
        result["load_after"] = _loadavg()
        result["queries"] = len(texts)
        result["search"] = {kind: {**{w: percentiles(times[kind][w]) for w in ways},
                                   "ratio_parallel_over_sequential_median": round(statistics.median(ratios[kind]), 3)}
                            for kind in kinds}
        for reader in ways.values():
            reader.close()
        print(json.dumps(result, indent=2))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
