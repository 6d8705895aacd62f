"""The ad-hoc index cache key: stable, content-sensitive, and defined for any file name."""

from __future__ import annotations

import os
from pathlib import Path

from app.sdk import adhoc_index_key
from ingest.core.settings import Settings


def test_key_handles_names_that_are_not_utf8(tmp_path: Path) -> None:
    odd = Path(os.fsdecode(os.fsencode(str(tmp_path)) + b"/caf\xe9.txt"))
    odd.write_text("hello")
    plain = tmp_path / "cafe.txt"
    plain.write_text("hello")
    settings = Settings()
    key = adhoc_index_key([odd], settings)
    assert key == adhoc_index_key([odd], settings)
    assert key != adhoc_index_key([plain], settings)  # same bytes, other name: another index
    odd.write_text("changed")
    assert key != adhoc_index_key([odd], settings)


def test_key_follows_the_settings_that_shape_passages(tmp_path: Path) -> None:
    doc = tmp_path / "a.txt"
    doc.write_text("hello")
    base = Settings()
    key = adhoc_index_key([doc], base)
    assert key != adhoc_index_key([doc], base.replace(ingest={"pdf_extractor": "pypdf"}))
    assert key != adhoc_index_key([doc], base.replace(split={"headers": False}))
    assert key == adhoc_index_key([doc], base.replace(answer={"top_k": 9}))  # answer settings share the index
