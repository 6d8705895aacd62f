"""The neutral helpers every stage shares: citation markers, defanging, sentence spans, yes/no scoring, mean vectors."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import numpy as np
import pytest

from ingest.core.records import ContinuationScores, Message
from ingest.core.text import (
    CITATION_MARKER,
    SPACED_CITATION_MARKER,
    STOPWORDS,
    defang,
    sentence_spans,
    strip_markers,
)
from ingest.core.vectors import mean_unit_vectors
from ingest.core.yesno import YES_NO, YesNo, ask_yes_no


@pytest.mark.parametrize("marker", ["[3]", "[1, 2]", "[1,2]", "[1; 3]", "[2-4]", "[2–4]", "[ 7 ]"])
def test_citation_marker_reads_numbers_lists_and_ranges(marker: str) -> None:
    m = CITATION_MARKER.fullmatch(marker)
    assert m is not None and m.group(1) == marker[1:-1]


@pytest.mark.parametrize("text", ["[a]", "[12a]", "[]", "[1,]", "[1 2]", "(3)"])
def test_citation_marker_rejects_other_brackets(text: str) -> None:
    assert CITATION_MARKER.search(text) is None


def test_spaced_marker_takes_the_space_before_it() -> None:
    assert SPACED_CITATION_MARKER.sub("", "It opened in 1932 [1]. Red [2-3].") == "It opened in 1932. Red."
    assert strip_markers("  Yes [1][2]  ") == "Yes"


def test_brackets_in_code_are_not_markers_anywhere_an_answer_is_read() -> None:
    from generation.citations import parse_citations
    from generation.verify import verify_citations
    from ingest.core.records import Passage

    code = "def first(args):\n    return args[1]\n"
    passages = [Passage(id="c", doc_id="d", source="cli.py", text=code, chars=(0, len(code)), lines=(1, 2))]
    answer = "`first` returns `args[1]` [1].\n```python\nargs[0] + args[2-4]\n```"
    text, cites, dropped = parse_citations(answer, passages)
    assert text == answer and [c.number for c in cites] == [1] and dropped == []
    assert strip_markers(answer) == answer.replace(" [1]", "")
    v = verify_citations("It returns `args[1]` [1].", passages)
    assert "`args[1]`" in v.text and [c.number for c in v.citations] == [1]


def test_defang_rewrites_single_bracketed_numbers() -> None:
    assert defang("Quoted: [1] and [4][5]; [x] stays.") == "Quoted: (1) and (4)(5); [x] stays."
    assert defang("[2, 3] and [2-4]") == "[2, 3] and [2-4]"  # lists and ranges are not rewritten


def test_sentence_spans_strip_whitespace_and_split_at_blank_lines() -> None:
    text = "  One.  Two?\t\n\nThree without stop  \n \n  Four!\"  "
    assert [text[a:b] for a, b in sentence_spans(text)] == ["One.", "Two?", "Three without stop", 'Four!"']
    assert sentence_spans("") == [] and sentence_spans(" \n\n ") == []


def test_sentence_spans_take_another_end_pattern() -> None:
    ends = re.compile(r"[.!?](?:\s*\[\d+\])*(?=\s|$)|\n\s*\n")
    text = "It opened.[1] [2] It is red. [3]"
    assert [text[a:b] for a, b in sentence_spans(text, ends=ends)] == ["It opened.[1] [2]", "It is red. [3]"]


def test_stopwords_are_lower_case_function_words() -> None:
    assert {"the", "of", "which", "she"} <= STOPWORDS
    assert all(w == w.lower() and w.isalpha() for w in STOPWORDS)
    assert not {"bridge", "1932", "can", "about"} & STOPWORDS  # each user adds its own extras


class _YesNoLLM:
    name = "yes-no"

    def __init__(self, yes: float, no: float) -> None:
        self.logprobs = (yes, no)
        self.asked: list[tuple[list[Message], list[str]]] = []

    def continuation_logprobs(self, messages: Sequence[Message], continuations: Sequence[str], *,
                              assistant_prefix: str = "") -> ContinuationScores:
        self.asked.append((list(messages), list(continuations)))
        return ContinuationScores(logprobs=self.logprobs, prompt_tokens=7, extra_tokens=2, seconds=0.0)


def test_ask_yes_no_scores_both_replies_once() -> None:
    llm = _YesNoLLM(math.log(0.6), math.log(0.2))
    scored = ask_yes_no(llm, [Message("user", "Is it? Answer Yes or No.")])
    assert llm.asked == [([Message("user", "Is it? Answer Yes or No.")], list(YES_NO))]
    assert scored.tokens == 9
    assert scored.margin == pytest.approx(math.log(3))
    assert scored.probability == pytest.approx(0.75)


def test_yes_probability_is_the_logistic_of_the_margin() -> None:
    for yes, no in [(-0.1, -3.0), (-3.0, -0.1), (-700.0, -1.0), (-2.0, -2.0)]:
        s = YesNo(yes, no, 0)
        assert s.probability == pytest.approx(1 / (1 + math.exp(-s.margin)))


def test_mean_unit_vectors_of_groups() -> None:
    v = np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 0.0], [-1.0, 0.0]], dtype=np.float32)
    out = mean_unit_vectors(v, [[0, 1], [2, 3], [], [1, 1, 2]])
    assert out.dtype == np.float32 and out.shape == (4, 2)
    np.testing.assert_allclose(out[0], [1 / math.sqrt(5), 2 / math.sqrt(5)], rtol=1e-6)
    assert not out[1].any() and not out[2].any()  # a zero mean and an empty group stay zero
    np.testing.assert_allclose(np.linalg.norm(out[3]), 1.0, rtol=1e-6)
    assert mean_unit_vectors(v, []).shape == (0, 2)
