"""The FinanceBench benchmark's scoring and plumbing (bench/fb_scoring.py, bench/financebench.py): pure parts only,
on small fixtures (no models, no shared data)."""

from __future__ import annotations

import doctest
import json
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"
sys.path.insert(0, str(BENCH))

import fb_scoring as fs  # noqa: E402
import financebench as fb  # noqa: E402

from ingest.core.settings import Settings  # noqa: E402


@pytest.mark.parametrize("module", [fs, fb])
def test_doctests(module):
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0


@pytest.mark.parametrize(("prediction", "gold", "expected"), [
    ("The fixed asset turnover ratio is 24.26 [1].", "24.26", True),
    ("The ratio is 24.0.", "24.26", False),  # 1.1% off
    ("Capex was $5,409 million in FY2019 [2].", "$5409.00", True),
    ("Capex was $5.409 billion.", "$5409.00", True),
    ("Capex was $5,409,000,000.", "$5409.00", True),
    ("Capex was $540.9 million.", "$5409.00", False),
    ("The margin was 1.9%.", "1.9%", True),
    ("The margin was 0.019.", "1.9%", True),
    ("The margin was 19%.", "1.9%", False),
    ("The quick ratio is 66%.", "0.66", True),
    ("The quick ratio is 0.66 [1].", "0.66", True),
    ("Net revenue was -$473 million.", "-$473 million", True),
    ("A loss of $(473) million.", "-473", True),
    ("In FY2019 and Q2 nothing else.", "2019", False),  # FY2019 is a label, not a number
    ("They could receive $400 million more.", "$400,000,000 increase.", True),
])
def test_numeric_match(prediction, gold, expected):
    number = fs.gold_number(gold)
    assert number is not None
    assert fs.numeric_match(prediction, number) is expected


def test_gold_number_only_for_number_answers():
    assert fs.gold_number("Yes, there was a decline of ~42% between FY2023 and Q2 of FY 2024.") is None
    assert fs.gold_number("Corporate. Its net revenue was -$473 million.") is None
    assert fs.gold_number("36%. The answer here assumes FY2023 refers to ...") == fs.Number(36.0, percent=True)


def test_citation_markers_ignored_as_numbers():
    assert fs.numbers_in("It was 5 [1], [2-3].") == [fs.Number(5.0)]


def test_retrieval_rank_needs_gold_filing_and_page():
    ranked = [("OTHER_10K", 69), ("ACME_10K", 70), ("ACME_10K", 69)]
    assert fs.first_hit(ranked, "ACME_10K", [68]) == 3  # 1-based page 69 is page0 68
    assert fs.first_hit(ranked, "ACME_10K", [68], top=2) is None
    assert fs.first_hit([("ACME_10K", None)], "ACME_10K", [0]) is None


def test_load_questions_bad_line_names_file_and_line(tmp_path):
    good = {"id": "q1", "doc": "A", "pdf": "pdfs/A.pdf", "question": "?", "answer": "1", "evidence": [{"page0": 3}]}
    path = tmp_path / "questions.jsonl"
    path.write_text(json.dumps(good) + "\n" + json.dumps({"id": "q2"}) + "\n")
    with pytest.raises(SystemExit, match=r"questions.jsonl:2: bad question"):
        fb.load_questions(path)
    path.write_text(json.dumps(good) + "\n")
    (q,) = fb.load_questions(path)
    assert q.pages0 == (3,) and q.pdf == tmp_path / "pdfs" / "A.pdf"


def test_variants_differ_only_in_their_change():
    base = Settings()
    default = fb.variant_settings("default", base)
    assert (default.ingest.pdf_extractor, default.split.headers, default.split.tables, default.search.route,
            default.answer.compute) == ("pypdf", False, False, False, False)
    for name, changes in fb.CHANGES.items():
        s = fb.variant_settings(name, base)
        for section, values in changes.items():
            for key, value in values.items():
                assert getattr(getattr(s, section), key) == value
        if name != "all":
            assert sum(getattr(getattr(s, sec), key) != getattr(getattr(default, sec), key)
                       for sec, values in fb.DEFAULT.items() for key in values) == len(
                [1 for values in changes.values() for _ in values])


def test_index_key_follows_index_shaping_settings_only():
    base = Settings()
    key = fb.index_key("corpus", fb.variant_settings("default", base), {"v": 1})
    assert key == fb.index_key("corpus", fb.variant_settings("compute", base), {"v": 1})
    assert key != fb.index_key("corpus2", fb.variant_settings("default", base), {"v": 1})
    assert key != fb.index_key("corpus", fb.variant_settings("pdfium", base), {"v": 1})
    assert key != fb.index_key("corpus", fb.variant_settings("tables", base), {"v": 1})
    assert key != fb.index_key("corpus", fb.variant_settings("default", base), {"v": 2})
    onnx = base.replace(embed={"backend": "onnx"})
    assert key != fb.index_key("corpus", fb.variant_settings("default", onnx), {"v": 1})


def test_answer_row_scores_citations(tmp_path):
    q = fb.Question("q", "ACME_10K", tmp_path / "a.pdf", "What was capex?", "$5409.00", (50,), "metrics-generated")
    row = fb.answer_row(q, "Capex was $5,409 million [1][2].", [("ACME_10K", 51), ("ACME_10K", 9)], 1.5)
    assert row["numeric"] is True and (row["cited_evidence"], row["citations"], row["cited_some_evidence"]) == (
        1, 2, True)
    summary = fb.answer_summary([row])
    assert summary["citation_precision"] == 0.5 and summary["citation_recall"] == 1.0
