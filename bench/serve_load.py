"""Issue 15 benchmark: ``docqa serve`` under load, on loopback, bounded in requests and seconds.

  corpus  generated town-record documents (deterministic), indexed by ``docqa index`` with the packaged
          embedder (all-MiniLM-L6-v2, real) into at least ``--min-passages`` passages
  search  ``docqa serve`` (the CLI, a subprocess): POST /v1/search (hybrid, k=5) from 1, 8 and 32 concurrent
          clients; requests/s, p50/p99 latency, errors. Each query is embedded by the real embedder.
  ask     the same index behind ``app.server.create_app`` + ``serve`` in a subprocess whose LLM is scripted and
          slow (no model: it streams a fixed cited reply at a fixed pace), ``[serve] queue_size`` = ``--queue``;
          ``--ask-clients`` concurrent clients POST /v1/ask: every request must be answered (200) or refused
          (429 with Retry-After); none lost (a connection error or other status) or hung (over ``--timeout``);
          queue wait reported from the answers' ``queue_seconds``; one more client searches meanwhile (search is
          not queued).

The load generator (asyncio + httpx) shares the machine with the server: on 2 cores its own CPU use caps the
figures. Every phase stops at ``--requests`` requests or ``--seconds`` seconds, whichever comes first.

Usage: python bench/serve_load.py [--docs 220] [--requests 600] [--seconds 20] [--out bench/out/serve_load.json]
"""

# ruff: noqa: T201  (a benchmark prints its results)

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

PLACES = ["Vellmar", "Osterby", "Kittlund", "Brisk Harbour", "Marsh End", "Holmgate", "Ravensby", "Tollwick",
          "Ashford Quay", "Lindholm", "Saltmere", "Greywater"]
SUBJECTS = ["the harbour master", "the town council", "the ferry company", "the lighthouse keeper", "the rail board",
            "the fishermen's guild", "the school board", "the water works", "the customs office", "the market hall",
            "the parish clerk", "the lifeboat crew", "the tram company", "the shipyard", "the post office"]
VERBS = ["approved", "rejected", "postponed", "funded", "inspected", "repaired", "extended", "closed", "reopened",
         "surveyed", "rebuilt", "audited", "renamed", "dredged", "expanded"]
OBJECTS = ["the north pier", "the coal depot", "the signal tower", "the east breakwater", "the fish market",
           "the bridge over the mill stream", "the station platform", "the grain store", "the dry dock",
           "the town clock", "the sea wall", "the ropewalk", "the pumping station", "the customs shed",
           "the tram depot", "the old lighthouse", "the ferry slipway", "the harbour crane"]
REASONS = ["after a winter storm", "at the request of the merchants", "because of rising tides",
           "to ease congestion", "after a long debate", "for safety reasons", "when the budget allowed",
           "following a petition", "after an inspection found cracks", "to serve the new ferry route"]


def sentence(rng: random.Random, year: int) -> str:
    return (f"In {year} {rng.choice(SUBJECTS)} of {rng.choice(PLACES)} {rng.choice(VERBS)} {rng.choice(OBJECTS)} "
            f"{rng.choice(REASONS)}, at a cost of {rng.randint(2, 900) * 10} crowns.")


def write_corpus(directory: Path, docs: int, *, seed: int = 15) -> list[str]:
    """``docs`` text files of ~1,300 words; returns queries phrased from their sentences."""
    rng = random.Random(seed)
    directory.mkdir(parents=True, exist_ok=True)
    queries: list[str] = []
    for d in range(docs):
        paragraphs = []
        for p in range(20):
            year = 1850 + (d * 7 + p * 3) % 150
            paragraphs.append(" ".join(sentence(rng, year + i) for i in range(3)))
        (directory / f"records_{d:03d}.txt").write_text(f"Town records, volume {d + 1}\n\n" + "\n\n".join(paragraphs))
        if d % 2 == 0:
            queries.append(f"When did {rng.choice(SUBJECTS)} of {rng.choice(PLACES)} {rng.choice(VERBS)[:-1]} "
                           f"{rng.choice(OBJECTS)}?")
    return queries


def build(corpus: Path, index: Path) -> dict[str, Any]:
    t = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "app.cli", "index", str(corpus), "--index", str(index), "--json"],
                         cwd=ROOT, capture_output=True, text=True, check=True)
    info = json.loads(out.stdout)
    return {"seconds": round(time.perf_counter() - t, 1), "documents": info["counts"]["documents"],
            "passages": info["counts"]["passages"], "embedder": info["embedder"]["model"]}


# ---------------------------------------------------------------- the server processes ---------------------------
class PacedLLM:
    """A scripted LLM that streams one cited reply at a fixed pace (no model): the answer queue's mechanics only."""

    name = "paced-scripted"

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    @property
    def context_tokens(self) -> int:
        return 4096

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def complete(self, messages: Sequence[Any], *, max_tokens: int) -> Any:
        *_, final = self.stream(messages, max_tokens=max_tokens)
        return final

    def stream(self, messages: Sequence[Any], *, max_tokens: int) -> Iterator[Any]:
        from ingest.core.records import Completion

        reply = "The records say the council approved it after a long debate [1]."
        words = reply.split(" ")
        start = time.perf_counter()
        for i, word in enumerate(words):
            time.sleep(self.seconds / len(words))
            yield word + (" " if i < len(words) - 1 else "")
        yield Completion(text=reply, prompt_tokens=sum(self.count_tokens(m.content) for m in messages),
                         completion_tokens=len(words), seconds=time.perf_counter() - start, first_token_seconds=0.0)


def serve_ask_child(index: str, queue: int, seconds: float) -> None:
    """The ask server: the real app and runner, with the paced scripted LLM (run in a subprocess)."""
    from app.sdk import Index
    from app.server import create_app, serve
    from ingest.core.settings import Settings

    settings = Settings().replace(serve={"queue_size": queue})
    opened = Index.open(index, settings=settings, embed_from_index=True, llm=PacedLLM(seconds))
    app = create_app(opened, opened.settings, api_key="")
    serve(app, host="127.0.0.1", port=0, on_listening=lambda url: print(f"serving at {url}", flush=True))


class Server:
    """A server subprocess: started, its URL read from its first line of output, stopped with SIGINT."""

    def __init__(self, argv: list[str], *, threads: int | None = None) -> None:
        env = dict(os.environ)
        if threads:  # torch/OpenMP threads per forward pass (default: one per core)
            env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
        self.proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, text=True, env=env)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if "http://" not in line:
            self.stop()
            raise RuntimeError(f"server did not start: {line!r}")
        self.url = line[line.index("http://"):].split()[0]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# ---------------------------------------------------------------- load ---------------------------------------------
def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def ms(value: float | None) -> float | None:
    return None if value is None else round(value * 1000, 1)


async def search_load(url: str, queries: list[str], clients: int, requests: int, seconds: float,
                      timeout: float) -> dict[str, Any]:
    import httpx

    latencies: list[float] = []
    statuses: dict[str, int] = {}
    sent = 0
    deadline = time.perf_counter() + seconds

    async def client(http: httpx.AsyncClient, n: int) -> None:
        nonlocal sent
        rng = random.Random(n)
        while sent < requests and time.perf_counter() < deadline:
            sent += 1
            t = time.perf_counter()
            try:
                r = await http.post("/v1/search", json={"query": rng.choice(queries), "k": 5})
                key = str(r.status_code)
                if r.status_code == 200 and not r.json()["hits"]:
                    key = "200-empty"
            except httpx.HTTPError as err:
                key = type(err).__name__
            latencies.append(time.perf_counter() - t)
            statuses[key] = statuses.get(key, 0) + 1

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=timeout, limits=limits) as http:
        for q in queries[:4]:  # warm up: connections, the embedder's first batches
            await http.post("/v1/search", json={"query": q, "k": 5})
        t = time.perf_counter()
        await asyncio.gather(*(client(http, n) for n in range(clients)))
        wall = time.perf_counter() - t
    errors = sum(v for k, v in statuses.items() if k != "200")
    return {"clients": clients, "requests": len(latencies), "seconds": round(wall, 2),
            "requests_per_s": round(len(latencies) / wall, 1), "p50_ms": ms(percentile(latencies, 50)),
            "p99_ms": ms(percentile(latencies, 99)), "errors": errors, "statuses": statuses}


async def ask_load(url: str, questions: list[str], clients: int, requests: int, seconds: float,
                   timeout: float) -> dict[str, Any]:
    import httpx

    answered: list[float] = []
    waits: list[float] = []
    refused: list[int] = []  # Retry-After of each 429
    other: dict[str, int] = {}
    hung = 0
    sent = 0
    search_latencies: list[float] = []
    deadline = time.perf_counter() + seconds
    done = asyncio.Event()

    async def client(http: httpx.AsyncClient, n: int) -> None:
        nonlocal sent, hung
        rng = random.Random(100 + n)
        while sent < requests and time.perf_counter() < deadline:
            sent += 1
            t = time.perf_counter()
            try:
                r = await http.post("/v1/ask", json={"question": rng.choice(questions)})
            except httpx.TimeoutException:
                hung += 1
                continue
            except httpx.HTTPError as err:
                other[type(err).__name__] = other.get(type(err).__name__, 0) + 1
                continue
            if r.status_code == 200:
                answered.append(time.perf_counter() - t)
                waits.append(r.json()["queue_seconds"])
            elif r.status_code == 429:
                retry = int(r.headers.get("retry-after", "-1"))
                refused.append(retry)
                await asyncio.sleep(min(max(retry, 0), 1.0) * rng.uniform(0.5, 1.0))  # honour it, capped, jittered
            else:
                other[str(r.status_code)] = other.get(str(r.status_code), 0) + 1

    async def searcher(http: httpx.AsyncClient) -> None:
        rng = random.Random(7)
        while not done.is_set():
            t = time.perf_counter()
            r = await http.post("/v1/search", json={"query": rng.choice(questions), "k": 5})
            if r.status_code == 200:
                search_latencies.append(time.perf_counter() - t)
            await asyncio.sleep(0.05)

    limits = httpx.Limits(max_connections=clients + 2)
    async with httpx.AsyncClient(base_url=url, timeout=timeout, limits=limits) as http:
        background = asyncio.create_task(searcher(http))
        t = time.perf_counter()
        await asyncio.gather(*(client(http, n) for n in range(clients)))
        wall = time.perf_counter() - t
        done.set()
        await background
        health = (await http.get("/health")).json()
    return {"clients": clients, "requests": sent, "seconds": round(wall, 2), "answered": len(answered),
            "refused_429": len(refused), "retry_after_s": sorted(set(refused)), "hung": hung, "other": other,
            "answer_p50_ms": ms(percentile(answered, 50)), "answer_p99_ms": ms(percentile(answered, 99)),
            "queue_wait_p50_s": percentile(waits, 50), "queue_wait_max_s": max(waits) if waits else None,
            "search_meanwhile_p50_ms": ms(percentile(search_latencies, 50)),
            "search_meanwhile_n": len(search_latencies), "queue_after": health["queue"]}


# ---------------------------------------------------------------- main ---------------------------------------------
def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--docs", type=int, default=220, help="generated documents (about 10 passages each)")
    p.add_argument("--min-passages", type=int, default=2000)
    p.add_argument("--concurrency", default="1,8,32", help="search clients per phase")
    p.add_argument("--requests", type=int, default=600, help="most search requests per phase")
    p.add_argument("--seconds", type=float, default=20, help="most seconds per search phase")
    p.add_argument("--ask-clients", type=int, default=8)
    p.add_argument("--ask-requests", type=int, default=80, help="most ask requests")
    p.add_argument("--ask-seconds", type=float, default=45, help="most seconds of the ask phase")
    p.add_argument("--answer-seconds", type=float, default=0.5, help="how long the scripted LLM takes per answer")
    p.add_argument("--queue", type=int, default=4, help="[serve] queue_size of the ask server")
    p.add_argument("--timeout", type=float, default=60, help="a request without a response by then is 'hung'")
    p.add_argument("--server-threads", type=int, help="OMP_NUM_THREADS of the server processes (default: unset, "
                                                      "torch uses one thread per core for each query)")
    p.add_argument("--work", help="directory for the corpus and index (default: a temporary one)")
    p.add_argument("--out", default=str(ROOT / "bench" / "out" / "serve_load.json"))
    p.add_argument("--serve-ask-child", nargs=3, metavar=("INDEX", "QUEUE", "SECONDS"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.serve_ask_child:
        index, queue, seconds = args.serve_ask_child
        serve_ask_child(index, int(queue), float(seconds))
        return 0

    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="serve_load_"))
    queries = write_corpus(work / "corpus", args.docs)
    index = work / "idx"
    report: dict[str, Any] = {"corpus": build(work / "corpus", index)}
    print(f"index: {report['corpus']}", flush=True)
    if report["corpus"]["passages"] < args.min_passages:
        raise SystemExit(f"only {report['corpus']['passages']} passages; raise --docs")

    report["server_threads"] = args.server_threads
    server = Server([sys.executable, "-m", "app.cli", "serve", "--index", str(index), "--port", "0"],
                    threads=args.server_threads)
    try:
        report["search"] = []
        for clients in (int(c) for c in args.concurrency.split(",")):
            row = asyncio.run(search_load(server.url, queries, clients, args.requests, args.seconds, args.timeout))
            report["search"].append(row)
            print(f"search: {row}", flush=True)
    finally:
        server.stop()

    server = Server([sys.executable, str(Path(__file__).resolve()), "--serve-ask-child", str(index), str(args.queue),
                     str(args.answer_seconds)], threads=args.server_threads)
    try:
        report["ask"] = asyncio.run(ask_load(server.url, queries, args.ask_clients, args.ask_requests,
                                             args.ask_seconds, args.timeout))
        report["ask"].update(queue_size=args.queue, answer_seconds=args.answer_seconds)
        print(f"ask: {report['ask']}", flush=True)
    finally:
        server.stop()

    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2))
    print("\n| clients | requests | req/s | p50 ms | p99 ms | errors |\n|---|---|---|---|---|---|")
    for r in report["search"]:
        print(f"| {r['clients']} | {r['requests']} | {r['requests_per_s']} | {r['p50_ms']} | {r['p99_ms']} | "
              f"{r['errors']} |")
    a = report["ask"]
    print(f"\nask: {a['requests']} requests from {a['clients']} clients in {a['seconds']} s: {a['answered']} "
          f"answered, {a['refused_429']} refused (429, Retry-After {a['retry_after_s']}), {a['hung']} hung, "
          f"other (errors, no response) {a['other']}; queue wait p50 {a['queue_wait_p50_s']} s, "
          f"max {a['queue_wait_max_s']} s; search meanwhile p50 {a['search_meanwhile_p50_ms']} ms; "
          f"queue after {a['queue_after']}")
    print(f"report: {args.out}")
    return 0 if all(r["errors"] == 0 for r in report["search"]) and not (a["hung"] or a["other"]) else 1


if __name__ == "__main__":
    sys.exit(main())
