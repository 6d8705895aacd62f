"""``docqa eval``: metrics, the dataset format, scripted end-to-end runs and the command."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from app import metrics
from app.evaluate import evaluate, load_dataset
from app.metrics import Evidence
from ingest.core.errors import InputError
from ingest.core.records import Passage
from ingest.core.registry import EMBEDDERS, LLMS
from tests.fakes import FakeEmbedder, ScriptedLLM, registered


# -- metrics -----------------------------------------------------------------------------------------------
def test_squad_normalisation_and_scores():
    assert metrics.normalize_answer("  An Apple, the PIE!  ") == "apple pie"
    assert metrics.exact_match("the Denver Broncos [1].", ["Denver Broncos"]) == 1.0
    assert metrics.exact_match("Broncos", ["Denver Broncos"]) == 0.0
    assert metrics.token_f1("Broncos", ["Denver Broncos"]) == pytest.approx(2 / 3)
    assert metrics.token_f1("Carolina Panthers", ["Denver Broncos", "Panthers"]) == pytest.approx(2 / 3)
    assert metrics.contains_gold("It was Denver Broncos [2] in 2016.", ["denver broncos"]) == 1.0
    assert metrics.contains_gold("The document does not say.", ["say"]) == 1.0  # word match, not meaning
    assert metrics.abstained("The document does not say.") and not metrics.abstained("Denver [1].")


def test_evidence_holding_rules():
    p = Passage(id="x", doc_id="d", source="/data/a.txt", text="t" * 50, chars=(100, 150), lines=(3, 5), page=2)
    assert metrics.holds(p, Evidence(chars=(120, 130)))
    assert not metrics.holds(p, Evidence(chars=(140, 170)))  # only half of a 30-char span... 10 of 30
    assert metrics.holds(p, Evidence(chars=(140, 155)))  # 10 of 15
    assert metrics.holds(p, Evidence(page=2)) and not metrics.holds(p, Evidence(page=3))
    assert metrics.holds(p, Evidence(lines=(5, 6))) and not metrics.holds(p, Evidence(lines=(5, 8)))
    assert not metrics.holds(p, Evidence(chars=(120, 130), source="/data/b.txt"))
    assert metrics.holds(p, Evidence(chars=(120, 130), source="/data/../data/a.txt"))
    with pytest.raises(ValueError, match="exactly one"):
        Evidence(page=1, chars=(0, 1))


# -- dataset format ------------------------------------------------------------------------------------------
def _write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


def test_load_dataset_resolves_paths_and_reads_evidence(tmp_path: Path):
    ds = _write_jsonl(tmp_path / "q.jsonl", [
        {"question": "Who?", "answers": ["Ann"], "doc": "docs/a.txt", "evidence": [{"chars": [3, 9]}], "id": "q1"},
        {"question": "Other?", "answers": [], "doc": ["a.pdf", "/abs/b.pdf"],
         "evidence": [{"page": 2, "doc": "a.pdf"}, {"lines": [4, 6]}]},
    ])
    first, second = load_dataset(ds)
    assert first.docs == (str(tmp_path / "docs" / "a.txt"),) and first.evidence == (Evidence(chars=(3, 9)),)
    assert first.id == "q1" and first.answerable
    assert second.docs == (str(tmp_path / "a.pdf"), "/abs/b.pdf") and not second.answerable and second.id == "2"
    assert second.evidence == (Evidence(page=2, source=str(tmp_path / "a.pdf")), Evidence(lines=(4, 6)))


@pytest.mark.parametrize(("line", "message"), [
    ("not json", "q.jsonl:2: not JSON"),
    ('{"answers": ["x"]}', 'needs a non-empty "question"'),
    ('{"question": "q", "answers": "x"}', '"answers" is a list of strings'),
    ('{"question": "q", "evidence": [{"para": 3}]}', "unknown evidence keys ['para']"),
    ('{"question": "q", "evidence": [{"chars": [9, 3]}]}', "bad evidence"),
    ('{"question": "q", "evidence": [{"page": 1, "lines": [1, 2]}]}', "exactly one of page, chars, lines"),
])
def test_load_dataset_names_the_bad_line(tmp_path: Path, line: str, message: str):
    ds = tmp_path / "q.jsonl"
    ds.write_text('{"question": "fine"}\n' + line + "\n")
    with pytest.raises(InputError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_dataset(ds)
    with pytest.raises(InputError, match="dataset not found"):
        load_dataset(tmp_path / "missing.jsonl")


# -- scripted runs ---------------------------------------------------------------------------------------------
DOC = ("Vellmar harbour report.\n\n"
       "The harbour of Vellmar was dredged in 1921, so that ships of deeper draught could dock.\n\n"
       "The lighthouse keeper, Ida Marsh, kept a log of every arrival for forty years.\n\n"
       "In 1958 a storm destroyed the old pier; a concrete pier replaced it two years later.\n")


@pytest.fixture
def dataset(tmp_path: Path) -> Iterator[Path]:
    """The question set; documents are embedded by the fake embedder, registered as the plugin "fake"."""
    (tmp_path / "harbour.txt").write_text(DOC)
    keeper = DOC.index("Ida Marsh")
    storm = DOC.index("In 1958")
    embedder = FakeEmbedder()
    with registered(EMBEDDERS, "fake", lambda settings, cache: embedder):
        yield _write_jsonl(tmp_path / "q.jsonl", [
            {"id": "keeper", "question": "Who was the lighthouse keeper?", "answers": ["Ida Marsh"],
             "doc": "harbour.txt", "evidence": [{"chars": [keeper, keeper + 9]}]},
            {"id": "storm", "question": "What destroyed the old pier in 1958?", "answers": ["a storm"],
             "doc": "harbour.txt", "evidence": [{"chars": [storm, storm + 30]}]},
            {"id": "mayor", "question": "Who is the mayor of Vellmar?", "answers": [], "doc": "harbour.txt"},
        ])


def test_evaluate_scores_answers_citations_and_abstention(dataset: Path, tmp_path: Path):
    from ingest.core.settings import Settings

    llm = ScriptedLLM("The keeper was Ida Marsh [1].", "The old pier was destroyed by the harbour dredging [1].",
                      "The document does not say.")
    settings = Settings().replace(split={"chunk_tokens": 24, "overlap_tokens": 4}, answer={"verify": "none"},
                                embed={"backend": "fake"})
    out = tmp_path / "report.json"
    seen: list[int] = []
    report = evaluate(None, dataset, settings=settings, llm=llm, out=out, progress=lambda d, t, r: seen.append(d))
    assert seen == [1, 2, 3] and json.loads(out.read_text())["summary"] == report["summary"]
    records = {r["id"]: r for r in report["records"]}
    keeper, storm, mayor = records["keeper"], records["storm"], records["mayor"]
    assert keeper["em"] == 0.0 and keeper["contains"] == 1.0 and keeper["f1"] > 0.5
    assert storm["contains"] == 0.0 and not mayor["answerable"] and mayor["abstained"]
    s = report["summary"]
    assert s["questions"] == 3 and s["answerable"] == 2 and s["abstention"] == 1.0 and s["false_abstention"] == 0.0
    assert s["contains"] == 0.5
    # the scripted answers cite [1]; whether that holds the evidence depends on what was numbered first
    for r in (keeper, storm):
        assert r["citations"] == 1 and r["citation_recall"] in (0.0, 1.0)
        assert r["cited_with_evidence"] == int(r["citation_recall"])
        assert r["retrieval_rank"] is None or 1 <= r["retrieval_rank"] <= 10
    assert s["citation_precision"] == (keeper["cited_with_evidence"] + storm["cited_with_evidence"]) / 2
    assert s["seconds_per_question"] > 0 and s["tokens_per_question"] > 0
    assert report["settings"]["answer"]["verify"] == "none"
    limited = evaluate(None, dataset, settings=settings, llm=ScriptedLLM("Ida Marsh [1]."), limit=1)
    assert limited["summary"]["questions"] == 1


def test_citation_metrics_follow_the_cited_passage(dataset: Path):
    """The verified answer cites the passage holding the evidence: precision and recall 1."""
    from ingest.core.settings import Settings

    settings = Settings().replace(split={"chunk_tokens": 24, "overlap_tokens": 4}, answer={"verify": "lexical"},
                                embed={"backend": "fake"})
    llm = ScriptedLLM("The lighthouse keeper was Ida Marsh [3].")
    report = evaluate(None, dataset, settings=settings, llm=llm, limit=1)
    rec = report["records"][0]
    assert rec["cited_with_evidence"] == rec["citations"] == 1 and rec["citation_recall"] == 1.0


def test_eval_command_prints_summary_and_writes_report(dataset: Path, tmp_path: Path, capsys):
    """The command line picks the fake embedder and a scripted model as plugins, by name, from the config."""
    from app.cli import main

    llm = ScriptedLLM("Ida Marsh [1].", "A storm [1].", "The document does not say.")
    cfg = tmp_path / "docqa.toml"
    cfg.write_text('[split]\nchunk_tokens = 24\noverlap_tokens = 4\n[embed]\nbackend = "fake"\n'
                   '[llm]\nbackend = "scripted"\n')
    out = tmp_path / "r.json"
    with registered(LLMS, "scripted", lambda settings, cache: llm):
        assert main(["--config", str(cfg), "eval", str(dataset), "--out", str(out), "--verify", "lexical",
                     "--answer-mode", "retrieve"]) == 0
    printed = capsys.readouterr().out
    assert "abstention: 1.000" in printed and f"report written to {out}" in printed
    report = json.loads(out.read_text())
    assert report["summary"]["contains"] == 1.0 and report["settings"]["answer"]["verify"] == "lexical"
    assert main(["eval", str(tmp_path / "nope.jsonl")]) == 1
    assert "dataset not found" in capsys.readouterr().err
