"""Plan a build: what each file named needs (add, update, delete, skip, keep) and where its passages come from.

Each file named is compared with the index's per-file ledger (:mod:`retrieval.ledger`). A file whose size and
mtime are unchanged is taken as unchanged without reading it; otherwise the sha256 of its bytes decides. An
unchanged file read with the same read key (splitter, describer, and for a PDF the extractor and password)
keeps its passages, and its vectors too when the embedder is the same; a changed or new file is read (or taken
from the staging store, when an interrupted build read it); an indexed file no longer named is removed (kept
with ``add``). A file that failed before is not tried again until its bytes or the read bounds change.
:func:`plan_build` shows a plan without building (``docqa index --plan``); :mod:`retrieval.build` carries it out.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from ingest.core.errors import IndexMismatchError, IndexMissingError
from ingest.core.settings import IngestSettings, OcrMode
from ingest.loaders import expand_paths, source_path, strict_single
from ingest.office import OFFICE_SCHEME, OFFICE_SUFFIXES
from ingest.read import named_files
from retrieval.ledger import FileEntry, ledger
from retrieval.staging import Staging, key_of
from retrieval.store import IndexReader, identity_diff

Action = Literal["add", "update", "delete", "skip", "keep"]
Work = Literal["read", "staged", "live", "none"]


@dataclass(frozen=True, slots=True)
class FilePlan:
    """What a build does with one file, and why.

    ``action``: "add" (new), "update" (read again, or re-embedded), "delete" (indexed, no longer named),
    "skip" (unchanged, or not readable), "keep" (indexed, not named, kept by ``add``). ``work``: where its
    passages come from: "read" (parse and split now), "staged" (read by an interrupted build), "live"
    (the current index), "none" (not indexed).
    """

    source: str
    action: Action
    reason: str
    work: Work
    path: Path | None = None
    size: int = 0
    mtime_ns: int = 0
    sha256: str = ""
    read_key: str = ""
    bounds_key: str = ""
    extractor: str = ""
    live: FileEntry | None = None
    embed: bool = False  # its passages come from the index but need new vectors (another embedder)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: source, action, reason, work."""
        return {"source": self.source, "action": self.action, "reason": self.reason, "work": self.work}


@dataclass(frozen=True)
class BuildPlan:
    """What a build of some paths into an index would do."""

    files: tuple[FilePlan, ...]
    embedder_changed: tuple[str, ...] = ()  # ``key: old -> new`` lines when the embedder differs
    splitter_changed: tuple[str, ...] = ()
    fresh: bool = True  # no usable index yet
    strict: bool = False  # one file named alone: its failure is an error

    @property
    def up_to_date(self) -> bool:
        """Whether the index already holds exactly this: nothing to read, embed or remove."""
        return not self.fresh and all(f.action in ("skip", "keep") and not f.embed for f in self.files)

    def counts(self) -> dict[str, int]:
        """Files per action."""
        out = dict.fromkeys(("add", "update", "delete", "skip", "keep"), 0)
        for f in self.files:
            out[f.action] += 1
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready plan."""
        return {"up_to_date": self.up_to_date, "counts": self.counts(), "embedder_changed": list(self.embedder_changed),
                "splitter_changed": list(self.splitter_changed), "files": [f.to_dict() for f in self.files]}



def file_sha256(path: Path) -> str:
    """The sha256 of a file's bytes ("" when it cannot be read: reading it will say why)."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            while block := f.read(1 << 20):
                digest.update(block)
    except OSError:
        return ""
    return digest.hexdigest()


def looks_pdf(path: Path) -> bool:
    """Whether the loader will read ``path`` as a PDF (by its suffix or its first bytes)."""
    if path.suffix.lower() == ".pdf":
        return True
    try:
        with open(path, "rb") as f:
            return f.read(5) == b"%PDF-"
    except OSError:
        return False


@dataclass(frozen=True)
class Keys:
    """What decides whether a file's stored passages, vectors and failures still hold."""

    splitter_id: dict[str, Any]
    embedder_id: dict[str, Any]
    ingest: IngestSettings
    password: str | None
    describer: str = "general"  # the profile's describer: its facts go into meta and headers

    def read_key(self, pdf: bool, *, office: bool = False) -> str:
        """The key of what shapes a file's passages: the splitter, the describer, for a PDF its extractor,
        password and OCR mode, and for an Office file or CSV its password and the Office reader's scheme."""
        key: dict[str, Any] = {"splitter": self.splitter_id, "extractor": self.ingest.pdf_extractor if pdf else "",
                               "password": (pdf or office) and self.password is not None, "describer": self.describer}
        if office:  # only then: other files keep the keys they had before the Office reader
            key["office"] = OFFICE_SCHEME
        if pdf and self.ingest.ocr != "off":  # "off" reads as before OCR: such a file keeps its key
            key["ocr"] = self.ingest.ocr
            if self.ingest.ocr_languages != "eng":  # only then: English keeps the keys it had
                key["ocr_languages"] = self.ingest.ocr_languages
        return key_of(key)

    @property
    def bounds_key(self) -> str:
        """The key of the bounds a file is read under (a file that failed is tried again when they change)."""
        s = self.ingest
        return key_of({"isolate": s.isolate, "timeout": s.timeout_seconds, "memory": s.memory_mb,
                       "max_file_mb": s.max_file_mb})

    @property
    def space(self) -> str:
        """The key of the embedder (vectors of one space are interchangeable)."""
        return key_of(self.embedder_id)


def open_live(directory: Path) -> IndexReader | None:
    """The current build, if there is one this docqa reads (an older schema is rebuilt from scratch)."""
    try:
        return IndexReader(directory)
    except (IndexMissingError, IndexMismatchError):
        return None


def _stat(path: Path) -> tuple[int, int]:
    try:
        st = path.stat()
    except OSError:
        return 0, 0
    return st.st_size, st.st_mtime_ns


def plan_files(paths: Sequence[str | os.PathLike[str]], keys: Keys, live: IndexReader | None, staging: Staging, *,
          add: bool) -> BuildPlan:
    """The plan for ``paths`` against the current build ``live`` and what ``staging`` holds."""
    walk_skips: list[tuple[str, str]] = []
    files = expand_paths(paths, skipped=walk_skips)
    entries = {e.source: e for e in ledger(live)} if live is not None else {}
    indexed = {s["source"]: s for s in live.manifest.sources} if live is not None else {}
    same_embedder = live is not None and live.manifest.embedder == keys.embedder_id
    embedder_diff = tuple(identity_diff(live.manifest.embedder, keys.embedder_id)) if live is not None else ()
    splitter_diff = tuple(identity_diff(live.manifest.splitter, keys.splitter_id)) if live is not None else ()
    strict = strict_single(list(paths), files)
    plans = [FilePlan(source, "skip", reason, "none") for source, reason in walk_skips]
    for path, source, dup in named_files(files):
        if dup:
            plans.append(FilePlan(source, "skip", dup, "none", path))
            continue
        entry = entries.get(source)
        if strict and entry is not None and entry.outcome != "indexed":
            entry = None  # one file named alone that failed before: read it again, its error is the answer
        plans.append(_plan_file(path, source, keys, entry, source in indexed, same_embedder, embedder_diff,
                                splitter_diff, staging))
    named = {p.source for p in plans}
    for source, entry in {**{s: None for s in indexed}, **entries}.items():
        if source in named:
            continue
        in_index = source in indexed
        if add:
            plans.append(FilePlan(source, "keep", "indexed, not named (kept: --add)" if in_index else
                                  "not named (kept: --add)", "live" if in_index else "none", live=entry,
                                  embed=in_index and not same_embedder))
        else:
            gone = not source_path(source).exists()
            plans.append(FilePlan(source, "delete", "file no longer exists" if gone else "not among the paths named",
                                  "none", live=entry))
    return BuildPlan(tuple(plans), embedder_diff if not same_embedder else (), splitter_diff, fresh=live is None,
                     strict=strict)


def _other_password(keys: Keys) -> Keys:
    """``keys`` with a password given where none was, and none where one was (which read key a password makes)."""
    return replace(keys, password=None if keys.password is not None else "")


def _other_ocr(keys: Keys, mode: OcrMode, languages: str | None = None) -> Keys:
    """``keys`` with OCR mode ``mode`` and ``languages`` (which read key another OCR setting makes)."""
    return replace(keys, ingest=replace(keys.ingest, ocr=mode, ocr_languages=languages or keys.ingest.ocr_languages))


def _plan_file(path: Path, source: str, keys: Keys, entry: FileEntry | None, in_index: bool, same_embedder: bool,
               embedder_diff: tuple[str, ...], splitter_diff: tuple[str, ...], staging: Staging) -> FilePlan:
    """The plan for one file named."""
    size, mtime = _stat(path)
    pdf = looks_pdf(path)
    office = not pdf and path.suffix.lower() in OFFICE_SUFFIXES
    read_key, bounds_key = keys.read_key(pdf, office=office), keys.bounds_key
    extractor = keys.ingest.pdf_extractor if pdf else ""
    if entry is not None and entry.sha256 and (entry.size, entry.mtime_ns) == (size, mtime) and mtime:
        sha = entry.sha256  # size and mtime unchanged: the bytes are taken as unchanged, unread
    else:
        sha = file_sha256(path)
    if (entry is not None and pdf and sha == entry.sha256 and keys.ingest.ocr == "auto" and not entry.empty_pages
            and entry.read_key == _other_ocr(keys, "off").read_key(True)):
        read_key = entry.read_key  # read without OCR and no page lacked text: "auto" would read it the same
    base = FilePlan(source, "add", "new file", "read", path, size, mtime, sha, read_key, bounds_key, extractor, entry)
    if entry is not None and sha and sha == entry.sha256:
        if entry.outcome == "indexed" and entry.read_key == read_key and in_index:
            if same_embedder:
                return replace(base, action="skip", reason="unchanged", work="live")
            return replace(base, action="update", reason=f"embedder changed ({'; '.join(embedder_diff[:3])}): "
                                                         "re-embed only", work="live", embed=True)
        if entry.outcome != "indexed" and entry.read_key == read_key and entry.bounds_key == bounds_key:
            return replace(base, action="skip", reason=f"unchanged; {entry.status} before: {entry.reason}",
                           work="none")
        if entry.read_key != read_key and splitter_diff:
            why = f"splitter settings changed ({'; '.join(splitter_diff[:3])})"
        elif entry.read_key != read_key and entry.extractor != extractor:
            why = f"PDF extractor changed ({entry.extractor or '-'} -> {extractor or '-'})"
        elif entry.read_key != read_key and entry.read_key == _other_password(keys).read_key(pdf, office=office):
            why = "read settings changed (password)"
        elif pdf and entry.read_key != read_key and entry.read_key in (
                _other_ocr(keys, mode, languages).read_key(True) for mode in ("auto", "off", "force")
                for languages in ("eng", keys.ingest.ocr_languages)):
            why = f"OCR setting changed (now {keys.ingest.ocr}, {keys.ingest.ocr_languages})"
        elif office and entry.read_key in (keys.read_key(False), _other_password(keys).read_key(False)):
            why = "read by a docqa without this Office reader"
        elif entry.read_key != read_key:
            why = f"read settings changed (the profile's describer, now {keys.describer})"
        else:
            why = f"{entry.status} before ({entry.reason}); the read bounds changed"
        base = replace(base, action="update", reason=why)
    elif entry is not None or in_index:
        base = replace(base, action="update", reason="content changed" if entry is not None else
                       "indexed by an older docqa (no ledger)")
    staged = staging.file(source, sha)
    if staged is not None and staged.read_key == read_key and (staged.outcome == "indexed"
                                                               or staged.bounds_key == bounds_key):
        return replace(base, reason=base.reason + "; already read by an interrupted build", work="staged")
    return base


def plan_build(paths: Iterable[str | os.PathLike[str]], directory: str | os.PathLike[str], *,
               embedder_id: dict[str, Any], splitter_id: dict[str, Any], ingest: IngestSettings | None = None,
               password: str | None = None, add: bool = False, describer: str = "general") -> BuildPlan:
    """What :func:`build_index` would do with these paths and parts, without doing it (nothing is written).

    :param embedder_id: ``embedder.identity()``; :param splitter_id: ``splitter.identity()``.
    :param describer: the describer's name (see :func:`build_index`).
    :raises InputError: a named path is missing.
    """
    directory = Path(directory)
    live = open_live(directory)
    staging = Staging(directory, create=False)
    try:
        return plan_files(list(paths), Keys(splitter_id, embedder_id, ingest or IngestSettings(), password, describer),
                     live, staging, add=add)
    finally:
        staging.close()
        if live is not None:
            live.close()
