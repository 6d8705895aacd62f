"""The filings vocabulary is written once: years, months, dates and periods in ``ingest/core/periods.py``,
amounts and scales in ``ingest/core/amounts.py``; no other module spells a grammar of its own."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("app", "ingest", "retrieval", "rerank", "generation")
HOMES = {"ingest/core/periods.py", "ingest/core/amounts.py"}
# what a grammar of its own looks like, as written in a regex literal
SPELLINGS = {
    "a year pattern": re.compile(r"\(\?:19\|20\)|19\[89\]"),
    "month names": re.compile(r"Jan\(\?:uary\)|January\|February"),
    "scale words": re.compile(r"\(thousands\|millions"),
    "scale factors": re.compile(r"\"thousand\": Decimal"),
}


def sources() -> list[Path]:
    return sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py"))


@pytest.mark.parametrize("what", sorted(SPELLINGS))
def test_only_the_shared_vocabulary_spells_it(what: str):
    found = [str(p.relative_to(ROOT)) for p in sources()
             if SPELLINGS[what].search(p.read_text(encoding="utf-8")) and str(p.relative_to(ROOT)) not in HOMES]
    assert not found, f"{what} spelled outside {sorted(HOMES)}: {found}"


def test_each_spelling_is_found_in_its_home():
    """The guard can fail: each spelling it looks for is in the shared modules."""
    text = "".join((ROOT / home).read_text(encoding="utf-8") for home in HOMES)
    assert all(pattern.search(text) for pattern in SPELLINGS.values())
