"""Domain profiles (app/profiles.py): a profile registered through the registry describes documents at ingest,
routes questions and answers some directly, without any change to the pipeline; ``auto`` picks a profile by
the documents; the filings profile is one unit that ``general`` switches off."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from app.parts import Direct
from app.profiles import Profile, describer_for, get_profile, has_reports, profile_for, profile_names
from app.sdk import Index
from ingest.core.errors import InputError, UnknownBackendError
from ingest.core.records import Answer, Document, RouteDecision, StageTrace
from ingest.core.registry import PROFILES
from ingest.core.settings import Settings
from tests.fakes import FakeEmbedder, ScriptedLLM, registered

LEDGER = "Harbour ledger"


class LedgerDescriber:
    """Recognises harbour ledgers (a document that logs ship arrivals) and names them."""

    name = "ledger"

    def describe(self, doc: Document) -> Mapping[str, str] | None:
        return {"title": LEDGER, "port": "Vellmar"} if "arrived" in doc.text else None


class LedgerRouter:
    """Questions about arrivals go to the ledgers."""

    name = "ledger"

    def route(self, question: str, documents: Sequence[Mapping[str, object]]) -> RouteDecision:
        ledgers = tuple(str(d["doc_id"]) for d in documents if (d.get("meta") or {}).get("title") == LEDGER)
        if "arriv" in question.lower() and ledgers:
            return RouteDecision(ledgers, "an arrivals question: the harbour ledgers", True)
        return RouteDecision((), "not about arrivals", False)


class CountingShortcut:
    """Answers "How many ships ..." by counting the arrivals in the passages a search of its own finds."""

    name = "ledger-count"

    def answer(self, question, *, search, retrieval, scope, candidates, corpus):  # noqa: ANN001, ANN201
        if not question.startswith("How many ships"):
            return None
        found = search("ship arrived", 10, scope)
        ships = sorted({h.passage.text for h in found.hits if "arrived" in h.passage.text})
        trace = StageTrace("shortcut", self.name, details=(f"{len(ships)} arrival passage(s)",))
        text = f"{sum(p.count('arrived') for p in ships)} ships arrived [1]."
        return Direct(trace, Answer(question=question, text=text, citations=(), passages=(found.hits[0].passage,),
                                    model="ledger count (no model call)"))


def ledger_profile() -> Profile:
    return Profile("ledger", describer=LedgerDescriber(), router=LedgerRouter(), shortcut=CountingShortcut(),
                   recognises=lambda docs: any((d.get("meta") or {}).get("port") for d in docs))


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    root = tmp_path / "docs"
    root.mkdir()
    (root / "ledger.txt").write_text("The Kestrel arrived at dawn.\n\nThe Osprey arrived at noon; the Tern arrived "
                                     "late.")
    (root / "novel.txt").write_text("Chapter one. The old keeper watched the sea and counted nothing at all.")
    return root


def _index(corpus: Path, tmp_path: Path, profile: str, llm: ScriptedLLM) -> Index:
    settings = Settings().replace(profile={"name": profile}, split={"chunk_tokens": 16, "overlap_tokens": 0})
    return Index.build([corpus], tmp_path / f"idx-{profile}", settings=settings, embedder=FakeEmbedder(), llm=llm)


def test_a_registered_profile_describes_routes_and_answers_without_touching_the_pipeline(corpus: Path,
                                                                                         tmp_path: Path):
    with registered(PROFILES, "ledger", ledger_profile):
        llm = ScriptedLLM()  # no replies: any model call fails the test
        index = _index(corpus, tmp_path, "ledger", llm)
        meta = {Path(d.source).name: d.meta for d in index.documents()}
        assert meta["ledger.txt"]["title"] == LEDGER and meta["ledger.txt"]["port"] == "Vellmar"
        assert "port" not in meta["novel.txt"]  # not a ledger: the general description
        found = index.retrieve("Which ships arrived?", 5)
        assert "routed to 1 document(s): an arrivals question: the harbour ledgers" in found.details
        ledger = next(d.doc_id for d in index.documents() if d.source.endswith("ledger.txt"))
        assert found.route is not None and found.route.doc_ids == (ledger,)
        assert Path(found.hits[0].passage.source).name == "ledger.txt"
        answer = index.ask("How many ships arrived?")
        assert answer.text == "3 ships arrived [1]." and not llm.calls
        assert answer.model == "ledger count (no model call)"
        assert [s.name for s in answer.trace] == ["retrieve", "shortcut"]


def test_auto_picks_the_profile_that_recognises_the_documents(corpus: Path, tmp_path: Path):
    with registered(PROFILES, "ledger", ledger_profile):
        assert describer_for("auto").name == "auto:filings+ledger"  # every profile's describer, tried in turn
        index = _index(corpus, tmp_path, "auto", ScriptedLLM())
        assert index.profile.name == "ledger"
        assert profile_for("auto", [{"doc_id": "a", "meta": {"title": "Moby-Dick"}}]).name == "general"
        assert profile_for("auto", [{"doc_id": "a", "meta": {"form": "10-K", "issuer": "ACME"}}]).name == "filings"


def test_the_general_profile_switches_the_domain_parts_off(corpus: Path, tmp_path: Path):
    with registered(PROFILES, "ledger", ledger_profile):
        llm = ScriptedLLM("The ledger lists the Kestrel, the Osprey and the Tern [1].")
        index = _index(corpus, tmp_path, "general", llm)
        assert "port" not in {k for d in index.documents() for k in d.meta}
        assert not any("routed" in d for d in index.retrieve("Which ships arrived?", 5).details)
        answer = index.ask("How many ships arrived?")
        assert llm.calls and answer.stage("shortcut") is None


def test_the_filings_profile_is_one_unit():
    filings = get_profile("filings")
    assert (filings.describer.name, filings.router.name, filings.shortcut.name) == ("filings", "filings", "figures")
    assert filings.recognises is has_reports
    general = get_profile("general")
    assert (general.describer, general.router, general.shortcut, general.calculator) == (None, None, None, None)
    assert profile_names() == ["filings", "general"]


def test_an_unknown_profile_is_a_clear_error(tmp_path: Path):
    with pytest.raises(UnknownBackendError, match="unknown profile 'contracts'; known: filings, general"):
        get_profile("contracts")
    with pytest.raises(InputError, match=r"\[profile\] name must name a profile"):
        Settings().replace(profile={"name": " "})
