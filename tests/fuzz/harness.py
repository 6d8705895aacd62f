"""Run fuzz cases through the real ingest path and classify what happened to every file.

Cases are written into one folder each under a batch directory, and the batch is read with
:func:`ingest.read.read_paths` (a directory walk, the worker with its bounds, the loaders and the real
splitters). Each file ends as "indexed", "skipped" (with a reason), "timeout" (hang), "memory" or
"crash"; a file named alone that cannot be read must end as "clean-error" (an :class:`InputError`
with a one-line message that names it). :func:`check` compares outcomes with what the entry allows.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ingest.core.errors import InputError
from ingest.core.settings import IngestSettings
from ingest.loaders import source_name
from ingest.read import FileOutcome, read_paths
from tests.fuzz.families import Case, Entry

BAD = ("timeout", "memory", "crash")


class TokenizerCounter:
    """The packaged embedder's tokenizer alone (what the splitters count with), without loading the model."""

    def __init__(self) -> None:
        from transformers import AutoTokenizer

        from ingest.core.settings import EmbedSettings
        from ingest.embed import resolve_model_path

        self.tokenizer = AutoTokenizer.from_pretrained(resolve_model_path(EmbedSettings().model))

    def count_tokens(self, text: str) -> int:
        """Tokens in ``text``, as :meth:`SentenceTransformerEmbedder.count_tokens` counts them."""
        return len(self.tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"])


def make_splitter(counter: Any, chunk_tokens: int = 200) -> Any:
    """The splitter docqa builds (prose by tokens, code by syntax) around a token counter."""
    from app.factory import make_splitter as factory
    from ingest.core.settings import SplitSettings

    return factory(SplitSettings(chunk_tokens=chunk_tokens, overlap_tokens=min(32, chunk_tokens // 4)), counter)


@dataclass
class Result:
    """What happened to one entry of one case."""

    case: Case
    entry: Entry
    source: str
    outcome: str  # indexed, skipped, clean-error, timeout, memory, crash, missing
    reason: str = ""
    seconds: float = 0.0
    size: int = 0
    problems: list[str] = field(default_factory=list)


def entry_path(folder: Path, entry: Entry) -> bytes:
    """The entry's path on disk, as bytes."""
    return os.fsencode(folder) + b"/" + entry.path


def write_case(case: Case, folder: Path) -> None:
    """Create the case's entries under ``folder`` (permissions last, deepest first)."""
    os.makedirs(folder, exist_ok=True)
    for entry in case.entries:
        path = entry_path(folder, entry)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if entry.link is not None:
            os.symlink(entry.link, path)
        elif entry.fifo:
            os.mkfifo(path)
        elif entry.data is not None:
            with open(path, "wb") as f:
                f.write(entry.data)
    for entry in sorted(case.entries, key=lambda e: -e.path.count(b"/")):
        if entry.mode is not None:
            os.chmod(entry_path(folder, entry), entry.mode)


def restore_permissions(root: Path) -> None:
    """Make everything under ``root`` removable again."""
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            if not os.path.islink(path):
                os.chmod(path, stat.S_IRWXU)
    os.chmod(root, stat.S_IRWXU)


def _is_file_entry(entry: Entry) -> bool:
    return entry.data is not None or entry.link is not None or entry.fifo


def run_batch(cases: Sequence[Case], root: Path, splitter: Any, settings: IngestSettings) -> tuple[list[Result], Any]:
    """Write ``cases`` under ``root``, read the whole folder once, and classify every entry.

    :returns: the results and the :class:`ingest.read.ReadReport`.
    """
    folders = [root / f"{i:05d}-{case.family}" for i, case in enumerate(cases)]
    for case, folder in zip(cases, folders, strict=True):
        write_case(case, folder)
    report = read_paths([root], splitter=splitter, settings=settings)
    by_source: dict[str, FileOutcome] = {f.source: f for f in report.files}
    results = []
    for case, folder in zip(cases, folders, strict=True):
        for entry in case.entries:
            if not _is_file_entry(entry):
                continue
            source = source_name(os.fsdecode(entry_path(folder, entry)))
            found = by_source.get(source)
            if found is None:
                parent = next((s for s, f in by_source.items() if source.startswith(s + "/")
                               and "cannot list" in f.reason), None)
                outcome, reason = ("skipped", by_source[parent].reason) if parent else ("missing", "")
                results.append(Result(case, entry, source, outcome, reason))
            else:
                results.append(Result(case, entry, source, found.outcome, found.reason, found.seconds, found.size))
    for r in results:
        r.problems = check(r)
    return results, report


def check(r: Result) -> list[str]:
    """What is wrong with a result, given what its entry allows (empty: nothing)."""
    problems = []
    if r.outcome in BAD:
        problems.append(f"{r.outcome}: {r.reason}")
    elif r.outcome == "missing":
        problems.append("not reported at all (neither indexed nor skipped)")
    elif r.outcome not in r.entry.expect:
        problems.append(f"{r.outcome} ({r.reason}), expected {'/'.join(sorted(r.entry.expect))}")
    elif r.outcome == "skipped" and r.entry.reason and r.entry.reason not in r.reason:
        problems.append(f"skipped for {r.reason!r}, expected a reason with {r.entry.reason!r}")
    return problems


def single_file_outcome(path: str | os.PathLike[str], splitter: Any, settings: IngestSettings) -> tuple[str, str]:
    """Read one file named alone: ("indexed", ""), ("clean-error", message) or ("crash", what was raised).

    A clean error is an :class:`InputError` whose message is one line starting with the file's name.
    """
    source = source_name(path)
    try:
        report = read_paths([path], splitter=splitter, settings=settings)
    except InputError as err:
        message = str(err)
        if "\n" in message or not message.startswith(source + ": "):
            return "crash", f"malformed message: {message!r}"
        return "clean-error", message
    except Exception as err:  # noqa: BLE001 - anything else is what the fuzz suite looks for
        return "crash", f"{type(err).__name__}: {err}"
    if len(report.documents) != 1:
        return "crash", f"named file neither read nor refused: {report.files}"
    return "indexed", ""


def fit_baseline(results: Iterable[Result]) -> dict[str, tuple[float, float]]:
    """Per baseline kind, ``(a, b)`` with seconds ~ a + b * bytes, fitted on the indexed normal files."""
    points: dict[str, list[tuple[int, float]]] = {}
    for r in results:
        if r.case.family == "normal" and r.outcome == "indexed":
            points.setdefault(r.case.baseline, []).append((r.size, r.seconds))
    fits = {}
    for kind, xy in points.items():
        n = len(xy)
        mx = sum(x for x, _ in xy) / n
        my = sum(y for _, y in xy) / n
        var = sum((x - mx) ** 2 for x, _ in xy)
        b = sum((x - mx) * (y - my) for x, y in xy) / var if var else 0.0
        a = max(my - b * mx, min(y for _, y in xy))
        fits[kind] = (a, max(b, 0.0))
    return fits


def cost_ratio(r: Result, fits: dict[str, tuple[float, float]]) -> float | None:
    """Seconds of this input over the fitted seconds of a normal file of its kind and size."""
    fit = fits.get(r.case.baseline) or fits.get("text")
    if fit is None:
        return None
    a, b = fit
    expected = a + b * r.size
    return r.seconds / expected if expected > 0 else None
