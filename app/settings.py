"""Loading settings: a TOML file, then environment variables, both read through the one schema.

The schema (types, defaults, valid values, help) is :mod:`ingest.core.settings`; this module only
reads the outside world into it. Unknown sections or keys and bad values are one-line errors.

- TOML (``--config FILE`` or ``$DOCQA_CONFIG``): one table per section, ``[answer] top_k = 8``.
- Environment: ``DOCQA_<SECTION>_<KEY>`` for every setting (``DOCQA_ANSWER_TOP_K=8``), plus the short
  names a field declares (``DOCQA_LLM_CONTEXT``, ``DOCQA_CACHE``, ...). An empty value means "unset".
- CLI flags are generated from the same schema by ``app/cli.py``.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
import typing
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from ingest.core.errors import InputError
from ingest.core.settings import SECTIONS, Settings, field_types, from_mapping

__all__ = ["Settings", "env_names", "load_settings", "parse_value"]


def env_names(section: str, key: str, meta: Mapping[str, Any]) -> list[str]:
    """Environment variables that set ``section.key``: the generic name first, then the field's short one.

    >>> env_names("llm", "context_tokens", {"env": "DOCQA_LLM_CONTEXT"})
    ['DOCQA_LLM_CONTEXT_TOKENS', 'DOCQA_LLM_CONTEXT']
    """
    names = [f"DOCQA_{section.upper()}_{key.upper()}"]
    if meta.get("env") and meta["env"] not in names:
        names.append(meta["env"])
    return names


def schema_fields() -> Iterator[tuple[str, dataclasses.Field[Any], Any]]:
    """Every ``(section, field, type)`` of the schema."""
    for section, cls in SECTIONS.items():
        hints = field_types(cls)
        for f in dataclasses.fields(cls):
            yield section, f, hints[f.name]


def parse_value(text: str, kind: Any) -> Any:
    """A setting's value from text (environment, CLI), by its schema type; validation happens later.

    >>> parse_value("8", int), parse_value("yes", bool), parse_value("none", int | None), parse_value("0.5", float)
    (8, True, None, 0.5)
    >>> parse_value("x", int), parse_value("a.pdf, b/*.md", tuple[str, ...])
    ('x', ('a.pdf', 'b/*.md'))
    """
    if typing.get_origin(kind) is tuple:
        return tuple(part.strip() for part in text.split(",") if part.strip())
    options = typing.get_args(kind) if typing.get_origin(kind) in (typing.Union, __import__("types").UnionType) else (
        kind,)
    if type(None) in options and text.strip().lower() in ("none", "null"):
        return None
    for option in options:
        if option is bool:
            if text.lower() in ("1", "true", "yes", "on"):
                return True
            if text.lower() in ("0", "false", "no", "off"):
                return False
        elif option in (int, float):
            try:
                return option(text)
            except ValueError:
                continue
    return text  # strings and Literals as they are; a bad number is reported by the schema check


def env_overrides(env: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    """``{"section": {"key": value}}`` from the environment variables the schema knows."""
    out: dict[str, dict[str, Any]] = {}
    for section, f, kind in schema_fields():
        for name in env_names(section, f.name, f.metadata):
            if env.get(name):
                out.setdefault(section, {})[f.name] = parse_value(env[name], kind)
                break
    return out


def load_settings(config: str | os.PathLike[str] | None = None, *, env: Mapping[str, str] | None = None) -> Settings:
    """Settings from a TOML file (``config`` or ``$DOCQA_CONFIG``), then ``DOCQA_*`` environment variables.

    :raises InputError: a missing or invalid file, an unknown key, or a bad value.
    """
    env = os.environ if env is None else env
    settings = Settings()
    path = config or env.get("DOCQA_CONFIG")
    if path:
        try:
            data = tomllib.loads(Path(path).read_text())
        except FileNotFoundError as err:
            raise InputError(f"{path}: config file not found") from err
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
            raise InputError(f"{path}: invalid TOML ({err})") from err
        settings = from_mapping(data, base=settings, origin=str(path))
    overrides = env_overrides(env)
    return from_mapping(overrides, base=settings, origin="environment") if overrides else settings
