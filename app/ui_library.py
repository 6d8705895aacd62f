"""The document library behind the web UI: collections, uploads, and adding, removing and rebuilding files
through :meth:`app.sdk.Index.build_with_report` (the function ``docqa index`` uses). No Streamlit here.

Layout under the cache root (``Settings().cache.root``):

- ``collections/<name>/``: the index directories of collections created in the UI;
- ``uploads/<key>/``: the files uploaded into one index (``key``: a hash of the index directory), kept under
  their own (sanitised) names so citations name them and PDF pages can be rendered later, and
  ``uploads/<key>.status.json``: the files the last builds could not index, and why.

Uploaded names are reduced to safe path components inside the upload folder: ``../../evil.txt`` is saved
as ``evil.txt`` in it, never outside.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import time
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from app.conversations import index_key
from app.sdk import Index
from ingest.core.errors import EmptyDocumentError, InputError
from ingest.core.settings import EmbedSettings, Settings, SplitSettings
from retrieval.build import Progress
from retrieval.store import Manifest

MAX_NAME = 120  # characters kept of one path component
_UNSAFE = re.compile(r"[^\w .,()+@=-]", re.UNICODE)


def safe_name(name: str) -> str:
    """One file or folder name that is safe to create: no path separators, control characters or markup,
    no leading dots or dashes, at most :data:`MAX_NAME` characters (the extension kept).

    >>> safe_name("../../evil.txt"), safe_name("<script>x</script>.md"), safe_name(".env"), safe_name("..")
    ('evil.txt', 'script_.md', 'env', 'upload')
    """
    name = unicodedata.normalize("NFC", name.replace("\\", "/").rsplit("/", 1)[-1])
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = _UNSAFE.sub("_", name).strip().lstrip(".-").strip()
    if len(name) > MAX_NAME:
        stem, dot, ext = name.rpartition(".")
        ext = ext[:16] if dot else ""
        name = (stem if dot else name)[:MAX_NAME - len(ext) - 1].rstrip() + (f".{ext}" if ext else "")
    return name or "upload"


def safe_relative_path(name: str) -> PurePosixPath:
    """A relative path made of :func:`safe_name` components (folder uploads keep their folders); ``.`` and
    ``..`` components are dropped, so the path cannot leave the folder it is joined to.

    >>> str(safe_relative_path("src/../../pkg/./mod.py")), str(safe_relative_path("/etc/passwd"))
    ('src/pkg/mod.py', 'etc/passwd')
    """
    parts = [p for p in name.replace("\\", "/").split("/") if p.strip() not in ("", ".", "..")]
    return PurePosixPath(*[safe_name(p) for p in parts]) if parts else PurePosixPath("upload")


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def upload_folder(index_dir: str | os.PathLike[str], cache_root: Path) -> Path:
    """Where files uploaded into the index at ``index_dir`` are kept."""
    return cache_root / "uploads" / _digest(index_key(index_dir))


def collection_dir(cache_root: Path, name: str) -> Path:
    """The index directory of the collection called ``name``."""
    return cache_root / "collections" / safe_name(name)


def collections(cache_root: Path) -> list[Path]:
    """Index directories of the collections created in the UI, by name."""
    root = cache_root / "collections"
    return sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []


def index_ready(directory: str | os.PathLike[str]) -> bool:
    """Whether ``directory`` holds a built index."""
    return (Path(directory) / "manifest.json").is_file()


def save_upload(folder: Path, name: str, data: bytes) -> Path:
    """Write an uploaded file under ``folder`` with its sanitised name (an existing file of that name is
    replaced: uploading a new version updates the document).

    :raises InputError: the name cannot be made safe (never expected: names are reduced, not rejected).
    """
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / safe_relative_path(name)
    root = folder.resolve()
    if not target.resolve().is_relative_to(root) or target.resolve() == root:
        raise InputError(f"{name!r}: not a usable file name")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.part")
    partial.write_bytes(data)
    os.replace(partial, target)
    return target


def settings_for(settings: Settings, manifest: Manifest | None) -> Settings:
    """``settings`` with the embedder and splitter an existing index was built with, so adding files reuses
    its vectors and keeps its documents (a different embedder or splitter would rebuild it from the new
    files alone)."""
    if manifest is None:
        return settings
    embed_fields = {f.name for f in dataclasses.fields(EmbedSettings)}
    split_fields = {f.name for f in dataclasses.fields(SplitSettings)}
    return settings.replace(embed={k: v for k, v in manifest.embedder.items() if k in embed_fields},
                            split={k: v for k, v in manifest.splitter.items() if k in split_fields})


@dataclass
class BuildOutcome:
    """What adding, removing or rebuilding did.

    :param failed: ``(path, reason)`` of each file that could not be indexed (the others were).
    :param error: why nothing was built ("" when the index was written).
    """

    documents: int = 0
    passages: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    empty_pages: dict[str, tuple[int, ...]] = field(default_factory=dict)
    kept_missing: list[str] = field(default_factory=list)
    error: str = ""


def _culprit(message: str, paths: Sequence[str]) -> str | None:
    """The path an error message is about (messages start with the file's name).

    >>> _culprit("/u/b.pdf: cannot read PDF (PdfReadError: EOF)", ["/u/a.pdf", "/u/b.pdf"])
    '/u/b.pdf'
    """
    for path in sorted(paths, key=len, reverse=True):
        if message.startswith(f"{path}: "):
            return path
    return None


def build_files(paths: Sequence[str], index_dir: str | os.PathLike[str], settings: Settings, *, add: bool,
                progress: Progress | None = None, **parts: Any) -> BuildOutcome:
    """Index ``paths`` into ``index_dir`` with :meth:`Index.build_with_report`, leaving out each file that
    cannot be read and naming it (one bad file does not stop the others).

    :param add: keep the documents already indexed that are not among ``paths``.
    :param parts: ``embedder`` to use instead of the settings' one (tests).
    """
    outcome = BuildOutcome()
    remaining = list(dict.fromkeys(paths))
    while remaining:
        try:
            index, report = Index.build_with_report(remaining, index_dir, settings=settings, add=add,
                                                    progress=progress, **parts)
        except InputError as err:
            bad = _culprit(str(err), remaining)
            if bad is not None:  # a file that fails alone (or a loader that stops at the first bad file)
                outcome.failed.append((bad, str(err)[len(bad) + 2:]))
                remaining.remove(bad)
                continue
            if add and len(remaining) > 1 and isinstance(err, EmptyDocumentError):
                # nothing in the batch could be read: the message names a few; ask each file for its reason
                for path in remaining:
                    outcome.failed += build_files([path], index_dir, settings, add=True, progress=progress,
                                                  **parts).failed
                if len(outcome.failed) < len(paths):  # never expected: a file read alone after all
                    return _counted(outcome, index_dir)
                outcome.error = "none of the files could be indexed"
                return outcome
            outcome.error = str(err)
            return outcome
        index.close()
        outcome.documents, outcome.passages = report.documents, report.passages
        outcome.failed += [(p, why) for p, why in report.skipped]
        outcome.empty_pages = dict(report.empty_pages)
        return outcome
    outcome.error = "none of the files could be indexed"
    return outcome


def _counted(outcome: BuildOutcome, index_dir: str | os.PathLike[str]) -> BuildOutcome:
    manifest = Manifest.read(Path(index_dir))
    outcome.documents, outcome.passages = manifest.counts["documents"], manifest.counts["passages"]
    return outcome


def source_path(source: str) -> Path:
    """The file a document's source names (relative sources: from the working directory)."""
    return Path(source).expanduser()


def remove_file(index_dir: str | os.PathLike[str], source: str, settings: Settings, manifest: Manifest, *,
                progress: Progress | None = None, **parts: Any) -> BuildOutcome:
    """Rebuild the index without ``source`` (the other files are read again; their vectors are reused).

    Refused, naming them, when some other indexed files are no longer on disk: the rebuild would lose them.
    """
    others = [s["source"] for s in manifest.sources if s["source"] != source]
    missing = [s for s in others if not source_path(s).is_file()]
    if missing:
        return BuildOutcome(error=f"cannot remove {source}: the index is rebuilt from the other files, and "
                                  f"{len(missing)} of them are no longer on disk ({', '.join(missing[:3])})")
    if not others:
        return BuildOutcome(error=f"{source} is the only file of this index; add another before removing it")
    return build_files(others, index_dir, settings, add=False, progress=progress, **parts)


def rebuild(index_dir: str | os.PathLike[str], settings: Settings, manifest: Manifest, *,
            progress: Progress | None = None, **parts: Any) -> BuildOutcome:
    """Read every indexed file again; documents whose files are gone stay as they were indexed."""
    sources = [s["source"] for s in manifest.sources]
    present = [s for s in sources if source_path(s).is_file()]
    if not present:
        return BuildOutcome(error="none of the indexed files are on disk any more; nothing to rebuild from")
    outcome = build_files(present, index_dir, settings, add=True, progress=progress, **parts)
    outcome.kept_missing = [s for s in sources if s not in present]
    return outcome


# -- what the library shows ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class FileRow:
    """One file of the library."""

    source: str
    kind: str
    pages: int
    passages: int
    empty_pages: tuple[int, ...]
    on_disk: bool
    ocr_pages: tuple[int, ...] = ()

    @property
    def status(self) -> str:
        """"indexed", with pages read by OCR, pages without text or a missing file noted.

        >>> FileRow("scan.pdf", "pdf", 3, 4, (), True, ocr_pages=(2, 3)).status
        'indexed (pages 2, 3 read by OCR)'
        >>> FileRow("scan.pdf", "pdf", 3, 4, (1,), True, ocr_pages=(2,)).status
        'indexed (page 2 read by OCR; page 1 without text)'
        """
        def pages(numbers: tuple[int, ...]) -> str:
            return ("page " if len(numbers) == 1 else "pages ") + ", ".join(str(n) for n in numbers)

        notes = []
        if self.ocr_pages:
            notes.append(f"{pages(self.ocr_pages)} read by OCR")
        if self.empty_pages:
            notes.append(f"{pages(self.empty_pages)} without text")
        if not self.on_disk:
            notes.append("file no longer on disk")
        return "indexed" + (f" ({'; '.join(notes)})" if notes else "")


def file_rows(manifest: Manifest) -> list[FileRow]:
    """The indexed files, by name."""
    return sorted((FileRow(source=s["source"], kind=s["kind"], pages=int(s.get("pages") or 0),
                           passages=int(s.get("passages") or 0), empty_pages=tuple(s.get("empty_pages") or ()),
                           on_disk=source_path(s["source"]).is_file(), ocr_pages=tuple(s.get("ocr_pages") or ()))
                   for s in manifest.sources),
                  key=lambda r: r.source)


def status_file(upload_dir: Path) -> Path:
    """Where the failures of an index's builds are recorded."""
    return upload_dir.with_name(upload_dir.name + ".status.json")


def read_failures(upload_dir: Path) -> dict[str, dict[str, Any]]:
    """``{path: {"reason": ..., "at": time}}`` of files that could not be indexed (and were not since)."""
    try:
        return json.loads(status_file(upload_dir).read_text())
    except (OSError, ValueError):
        return {}


def record_outcome(upload_dir: Path, tried: Sequence[str], outcome: BuildOutcome) -> None:
    """Remember which of ``tried`` failed and forget earlier failures of those that are indexed now."""
    failures = read_failures(upload_dir)
    for path in tried:
        failures.pop(path, None)
    for path, reason in outcome.failed:
        failures[path] = {"reason": reason, "at": time.time()}
    target = status_file(upload_dir)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    partial.write_text(json.dumps(failures, indent=1))
    os.replace(partial, target)
