"""Answer latency: the ``openai`` backend against llama-cpp-python's server vs the in-process llama.cpp backend.

Same GGUF (the default packaged Qwen2.5-Coder-1.5B Q4_K_M), same index (the bundled sample report), same
questions, same pipeline settings, same run. Each question is asked through both paths, alternating which
goes first, after one untimed warm-up question per path (model load, the server's ``/models`` check and
log-probability probe). The server gets the in-process backend's context, batch and thread counts, and
``repeat_penalty`` 1.0 per request (its default is 1.1), so both paths decode the same greedy answer;
whether they did is reported per question.

Two configurations (``--configs``):

- ``default``: the default pipeline, answer check included. The answer check needs log-probabilities, so
  the server runs with ``logits_all`` on (its default): llama.cpp then computes and copies the logits of
  every prompt position, which the in-process backend never does.
- ``generation``: no answer check (``unsupported = "flag"``) and the server with ``--logits_all false``:
  what the HTTP path itself costs.

Run from the repository root (prints Markdown; ``--out`` writes the JSON):
    python bench/openai_latency.py --questions 5 --out /tmp/openai_latency.json
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.sdk import Index  # noqa: E402
from generation.llama_server import llama_server as serve_llama  # noqa: E402
from generation.llamacpp import LlamaCppLLM, resolve_gguf  # noqa: E402
from generation.openai_llm import OpenAILLM  # noqa: E402
from ingest.core.settings import Settings  # noqa: E402

SAMPLE = ROOT / "app" / "samples" / "harbor-light-report.pdf"
QUESTIONS = ("Who leads the restoration team?", "How much did the glazing project cost?",
             "How far is the light visible?", "What will the museum show?", "How many members joined in 2025?")
ALIAS = "docqa-bench"
CONFIGS = {"default": ({}, "true"), "generation": ({"unsupported": "flag"}, "false")}  # answer settings, logits_all


@contextmanager
def llama_server(model: Path, settings: Settings, *, logits_all: str, log_path: Path) -> Iterator[str]:
    """llama-cpp-python's server on loopback with the in-process backend's parameters; yields its base URL."""
    threads = settings.llm.threads or os.cpu_count() or 2
    args = ("--n_ctx", str(settings.llm.context_tokens), "--n_batch", "512", "--n_threads", str(threads),
            "--n_threads_batch", str(threads), "--n_gpu_layers", str(settings.llm.gpu_layers),
            "--logits_all", logits_all, "--verbose", "false")
    with serve_llama(model, ALIAS, log_path=log_path, args=args) as (url, _):
        yield url


def timed_ask(index: Index, question: str) -> dict[str, Any]:
    start = time.perf_counter()
    answer = index.ask(question)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "generate_s": answer.timings.get("generate"),
            "answer_check_s": answer.timings.get("answer_check"), "first_token_s": answer.timings.get("first_token"),
            "prompt_tokens": answer.tokens.get("prompt"), "completion_tokens": answer.tokens.get("completion"),
            "draft": answer.draft, "text": answer.text}


def summary(rows: list[dict[str, Any]], key: str) -> dict[str, float]:
    local = [r["in-process"][key] for r in rows if r["in-process"][key] is not None]
    remote = [r["openai"][key] for r in rows if r["openai"][key] is not None]
    if not local or not remote:
        return {}
    out = {"in-process_mean": statistics.mean(local), "in-process_median": statistics.median(local),
           "openai_mean": statistics.mean(remote), "openai_median": statistics.median(remote)}
    out["ratio_mean"] = out["openai_mean"] / out["in-process_mean"]
    out["ratio_median"] = out["openai_median"] / out["in-process_median"]
    return out


def run_config(name: str, index_dir: Path, settings: Settings, local_llm: LlamaCppLLM, questions: tuple[str, ...],
               log_dir: Path) -> dict[str, Any]:
    answer_changes, logits_all = CONFIGS[name]
    s = settings.replace(answer=answer_changes) if answer_changes else settings
    model = resolve_gguf(s.llm.model, model_dir=s.cache.model_dir)
    with llama_server(model, s, logits_all=logits_all, log_path=log_dir / f"server-{name}.log") as url:
        remote_llm = OpenAILLM(replace(s.llm, backend="openai", base_url=url, model=ALIAS),
                               extra_body={"repeat_penalty": 1.0})
        paths = {"in-process": Index.open(index_dir, settings=s, llm=local_llm),
                 "openai": Index.open(index_dir, settings=s, llm=remote_llm)}
        for index in paths.values():  # untimed: model load, /models check, logprob probe, prompt caches
            index.ask(questions[0])
        rows = []
        for i, question in enumerate(questions):
            order = ["in-process", "openai"] if i % 2 == 0 else ["openai", "in-process"]
            row: dict[str, Any] = {"question": question, "first": order[0]}
            for path in order:
                row[path] = timed_ask(paths[path], question)
            row["same_draft"] = row["in-process"]["draft"] == row["openai"]["draft"]
            rows.append(row)
            sys.stderr.write(f"[{name}] {question}: in-process {row['in-process']['seconds']:.1f} s, "
                             f"openai {row['openai']['seconds']:.1f} s, same draft: {row['same_draft']}\n")
        for index in paths.values():
            index.close()
        remote_llm.close()
    return {"config": name, "logits_all": logits_all, "answer": answer_changes, "rows": rows,
            "total": summary(rows, "seconds"), "generate": summary(rows, "generate_s"),
            "answer_check": summary(rows, "answer_check_s")}


def markdown(results: list[dict[str, Any]]) -> str:
    lines = ["| config | server logits_all | n | in-process mean / median s | openai mean / median s | "
             "ratio mean / median | generate ratio (mean) | same drafts |", "|---|---|---|---|---|---|---|---|"]
    for r in results:
        t, g = r["total"], r["generate"]
        same = sum(row["same_draft"] for row in r["rows"])
        lines.append(f"| {r['config']} | {r['logits_all']} | {len(r['rows'])} | "
                     f"{t['in-process_mean']:.2f} / {t['in-process_median']:.2f} | "
                     f"{t['openai_mean']:.2f} / {t['openai_median']:.2f} | "
                     f"{t['ratio_mean']:.3f} / {t['ratio_median']:.3f} | "
                     f"{g.get('ratio_mean', float('nan')):.3f} | {same}/{len(r['rows'])} |")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--questions", type=int, default=5, help=f"how many of the {len(QUESTIONS)} questions")
    p.add_argument("--configs", default="default,generation", help=f"comma-separated: {', '.join(CONFIGS)}")
    p.add_argument("--model", help="packaged model name or .gguf path (default: the default packaged model)")
    p.add_argument("--out", help="write the JSON results here")
    args = p.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the cleanups (servers, temp files) on kill
    configs = [c for c in args.configs.split(",") if c]
    unknown = set(configs) - set(CONFIGS)
    if unknown:
        p.error(f"unknown config(s) {sorted(unknown)}; known: {sorted(CONFIGS)}")
    settings = Settings().replace(llm={"model": args.model}) if args.model else Settings()
    questions = QUESTIONS[: args.questions]
    load_before = os.getloadavg()
    started = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    with tempfile.TemporaryDirectory() as tmp:
        index_dir = Path(tmp) / "idx"
        Index.build([SAMPLE], index_dir, settings=settings).close()
        local_llm = LlamaCppLLM(settings.llm, settings.cache)
        try:
            results = [run_config(name, index_dir, settings, local_llm, questions, Path(tmp)) for name in configs]
        finally:
            local_llm.close()
    report = {"started": started, "load_before": load_before, "load_after": os.getloadavg(),
              "cpus": os.cpu_count(), "model": settings.llm.model, "questions": list(questions), "results": results}
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=2))
    sys.stdout.write(markdown(results) + "\n")
    sys.stdout.write(f"\nload average before {load_before}, after {report['load_after']}\n")


if __name__ == "__main__":
    main()
