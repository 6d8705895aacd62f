"""Fuzz suite (CI size): a few hundred seeded hostile inputs through the real ingest path.

Every family of :mod:`tests.fuzz.families` is generated at a small scale, written into one folder per
case and read as one directory walk with the worker and its bounds. No file may crash the reader,
hang or blow up memory; each ends indexed or skipped for a reason its family allows. Files that were
skipped are then named alone, where they must give a one-line error naming the file. Duplicates and
odd file names are indexed, searched and cited end to end, and through the ``docqa`` command line.
The long mode (10,000+ cases, full size) is ``bench/fuzz_ingest.py``.
"""

from __future__ import annotations

import collections
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import pytest

from app.cli import main
from ingest.core.registry import EMBEDDERS
from ingest.core.settings import IngestSettings, SearchSettings
from ingest.loaders import load_paths, source_name, source_path
from retrieval.search import Searcher
from retrieval.store import IndexReader
from tests.fakes import FakeEmbedder, registered
from tests.fuzz.families import FAMILIES, generate
from tests.fuzz.faults import fake_build
from tests.fuzz.harness import (
    TokenizerCounter,
    make_splitter,
    restore_permissions,
    run_batch,
    single_file_outcome,
    write_case,
)

CASES_PER_FAMILY = 20
FEWER = {"huge-lines": 2, "office": 6, "office-damaged": 12, "office-locked": 8}  # huge lines: a second each
SCALE = 0.1
SETTINGS = IngestSettings(timeout_seconds=30, memory_mb=1024)


@pytest.fixture(scope="module")
def splitter():  # noqa: ANN201
    """docqa's splitter around the packaged embedder's real tokenizer (no model weights loaded)."""
    return make_splitter(TokenizerCounter())


@pytest.fixture
def batch_root(tmp_path: Path):  # noqa: ANN201
    root = tmp_path / "batch"
    yield root
    if root.exists():
        restore_permissions(root)


def test_no_family_crashes_hangs_or_blows_up_memory(splitter, batch_root: Path, capsys):
    start = time.perf_counter()
    cases = [generate(family, seed, SCALE) for family in FAMILIES
             for seed in range(FEWER.get(family, CASES_PER_FAMILY))]
    results, _ = run_batch(cases, batch_root, splitter, SETTINGS)
    counts = collections.Counter((r.case.family, r.outcome) for r in results)
    with capsys.disabled():  # the CI log shows what the run covered
        print(  # noqa: T201
            f"\nfuzz: {len(cases)} cases, {len(results)} files in {time.perf_counter() - start:.1f} s: "
            + ", ".join(f"{f}/{o}={n}" for (f, o), n in sorted(counts.items())))
    problems = [f"{r.case.family}/{r.case.variant} {r.source}: {p}" for r in results for p in r.problems]
    assert not problems, "\n".join(problems[:20])
    assert len(cases) >= 250 and {r.case.family for r in results} == set(FAMILIES)

    # every file a walk skipped is, named alone, a clean one-line error (or, for a link, read through it)
    skipped = [r for r in results if r.outcome == "skipped" and not r.entry.fifo][:60]
    for r in skipped:
        outcome, detail = single_file_outcome(os.fsdecode(source_path(r.source)), splitter, SETTINGS)
        assert outcome in ("clean-error", "indexed"), (r.case.family, r.source, detail)
        if r.entry.link is None:
            assert outcome == "clean-error", (r.case.family, r.source)


def test_a_named_pipe_named_alone_is_refused_without_blocking(tmp_path: Path, splitter):
    os.mkfifo(tmp_path / "pipe.txt")
    outcome, message = single_file_outcome(tmp_path / "pipe.txt", splitter, SETTINGS)
    assert (outcome, message) == ("clean-error", f"{tmp_path / 'pipe.txt'}: a named pipe, not a file to read")


def _cases(family: str, seeds: range) -> list:
    return [generate(family, seed, SCALE) for seed in seeds]


def test_duplicates_and_odd_names_are_indexed_searched_and_cited_by_their_own_path(tmp_path: Path):
    corpus = tmp_path / "corpus"
    cases = _cases("duplicates", range(6)) + _cases("odd-names", range(10))
    folders = []
    for i, case in enumerate(cases):
        folders.append(corpus / f"{i:02d}")
        write_case(case, folders[-1])
    report = fake_build(corpus, tmp_path / "idx")
    assert report.skipped == ()
    reader = IndexReader(tmp_path / "idx")
    searcher = Searcher(reader, FakeEmbedder(), SearchSettings())
    docs = reader.documents()
    assert len({d.doc_id for d in docs}) == len(docs)  # equal bytes, distinct documents
    for case, folder in zip(cases, folders, strict=True):
        for entry in case.entries:
            source = source_name(os.fsdecode(os.fsencode(folder) + b"/" + entry.path))
            hits = searcher.search(entry.query, 50, mode="bm25")
            cited = {h.passage.source for h in hits}
            assert source in cited, (case.family, source, cited)
            hit = next(h for h in hits if h.passage.source == source)
            hit.passage.label.encode("utf-8")  # printable: no lone surrogates
            assert "\n" not in hit.passage.label
            path = source_path(source)  # the cited file, found again from its source
            assert path.read_bytes() == entry.data or entry.link is not None, source
    reader.close()


def test_cli_lists_skips_with_exit_0_and_a_single_bad_file_is_a_one_line_error(tmp_path: Path, capsys,
                                                                              monkeypatch):
    corpus = tmp_path / "corpus"
    for i, family in enumerate(["empty", "pdf-encrypted", "binary-as-text", "symlink-loops", "odd-names",
                                "duplicates", "nul-bytes"]):
        write_case(generate(family, 3, SCALE), corpus / f"{i}-{family}")
    (corpus / "good.txt").write_text("The lighthouse keeper was Ida Marsh.\n")
    embedder = FakeEmbedder()
    monkeypatch.setenv("DOCQA_EMBED_BACKEND", "fake")
    with registered(EMBEDDERS, "fake", lambda settings, *rest: embedder):
        code = main(["index", str(corpus), "--index", str(tmp_path / "idx"), "--quiet"])
        out, err = capsys.readouterr()
        assert code == 0, err
        assert "indexed" in out and "  skipped " in out
        assert all(line.startswith(("indexed ", "  skipped ", "  ")) for line in out.splitlines())
        out.encode("utf-8")
        code = main(["search", "--index", str(tmp_path / "idx"), "lighthouse keeper", "--json"])
        out, _ = capsys.readouterr()
        assert code == 0 and json.loads(out)[0]["label"].startswith(str(corpus / "good.txt"))
        empty = corpus / "single-empty.txt"
        empty.write_text("")
        code = main(["index", str(empty), "--index", str(tmp_path / "idx2"), "--quiet"])
        _, err = capsys.readouterr()
        assert code == 1
        assert err.strip() == f"docqa: error: {empty}: empty file (no text to index)"
        odd = os.fsdecode(os.fsencode(corpus) + b"/caf\xe9\nname.txt")
        Path(odd).write_text("")
        code = main(["index", odd, "--index", str(tmp_path / "idx3"), "--quiet"])
        _, err = capsys.readouterr()
        assert code == 1 and err.strip() == f"docqa: error: {corpus}/caf\\xe9\\x0aname.txt: empty file (no text to " \
                                           "index)"


def test_unreadable_file_is_skipped_for_an_ordinary_user():
    """Permissions do not stop root, so the check runs as an unprivileged user (nobody) where it can."""
    root = Path(tempfile.mkdtemp(prefix="docqa-perm-"))
    try:
        os.chmod(root, 0o755)
        (root / "fine.txt").write_text("Readable text.\n")
        (root / "secret.txt").write_text("Top secret.\n")
        os.chmod(root / "secret.txt", 0o000)
        (root / "locked").mkdir()
        (root / "locked" / "inside.txt").write_text("Hidden.\n")
        os.chmod(root / "locked", 0o000)
        report = load_paths([root]) if os.geteuid() != 0 else _as_nobody(lambda: load_paths([root]))
        assert [Path(d.source).name for d in report.documents] == ["fine.txt"]
        assert sorted((Path(p).name, why) for p, why in report.skipped) == [
            ("locked", "cannot list directory (Permission denied)"), ("secret.txt", "cannot read (Permission denied)")]
    finally:
        os.chmod(root / "locked", 0o755)
        shutil.rmtree(root)


def _as_nobody(fn):  # noqa: ANN001, ANN202
    """``fn()`` in a forked child running as the unprivileged user 65534; its result comes back pickled."""
    import pickle

    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.close(read)
        try:
            fn()  # as root first, so every module it needs is imported (nobody cannot read /root/.pyenv)
            os.setgid(65534)
            os.setuid(65534)
            payload = pickle.dumps(("ok", fn()))
        except BaseException as err:  # noqa: BLE001 - sent back and raised in the parent
            payload = pickle.dumps(("error", repr(err)))
        os.write(write, payload)
        os._exit(0)
    os.close(write)
    chunks = []
    while chunk := os.read(read, 65536):
        chunks.append(chunk)
    os.close(read)
    os.waitpid(pid, 0)
    status, value = pickle.loads(b"".join(chunks))
    if status != "ok":
        pytest.skip(f"cannot run as an unprivileged user here: {value}")
    return value
