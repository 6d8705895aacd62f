"""Evidence-dense context: the prompt holds only the sentences that bear on the question (and their neighbours),
every [n] still resolves to its passage, and every quote still maps to exact characters of the source."""

from __future__ import annotations

from generation.answer import Generator
from generation.evidence import Excerpt, lexical_scores, select_evidence, units
from generation.prompt import build_messages
from generation.verify import verify_citations
from ingest.core.records import Completion, Passage


def words(text: str) -> int:
    return len(text.split())


LONG = ("The harbour was dredged in 1911. Fishing boats moored along the north quay. "
        "Ann Lee keeps the lighthouse on the point. She lights the lamp at dusk. "
        "The ferry to the island runs twice a day. Tickets are sold at the pier.")
OTHER = "Gulls nest on the rocks below the cliff. The bell rings at noon."


def passage(pid: str, text: str, start: int = 0, **kw) -> Passage:
    return Passage(id=pid, doc_id="d", source="harbour.txt", text=text, chars=(start, start + len(text)), **kw)


class RecordingLLM:
    """Answers with a fixed text and records the prompts it was given (a fake for mechanics only)."""

    name = "recording"
    context_tokens = 4096

    def __init__(self, reply: str) -> None:
        self.reply, self.calls = reply, []

    def count_tokens(self, text: str) -> int:
        return words(text)

    def stream(self, messages, *, max_tokens):
        self.calls.append(messages)
        yield self.reply
        yield Completion(text=self.reply, prompt_tokens=100, completion_tokens=5, seconds=0.0)


def test_the_kept_sentences_are_the_relevant_ones_and_their_neighbours():
    a, b = passage("a", LONG), passage("b", OTHER, 500)
    ev = select_evidence("Who keeps the lighthouse?", [a, b], 20, words)
    assert [e.passage.id for e in ev.excerpts] == ["a"]  # nothing of b bears on the question
    text = ev.excerpts[0].text()
    assert "Ann Lee keeps the lighthouse on the point." in text
    assert "She lights the lamp at dusk." in text  # the neighbour that reads on from it
    assert "Tickets are sold" not in text and "dredged" not in text
    assert ev.tokens <= 20 < ev.source_tokens
    for start, end in ev.excerpts[0].spans:  # exact spans of the passage text
        assert LONG[start:end] in text


def test_the_best_unit_is_kept_even_over_the_budget_and_nothing_scoring_is_never_empty():
    a = passage("a", LONG)
    assert select_evidence("Who keeps the lighthouse?", [a], 1, words).kept_units == 1
    assert select_evidence("What is the capital of Peru?", [a], 50, words).excerpts  # never nothing


def test_a_table_is_cut_into_rows_and_code_is_kept_whole():
    table = passage("t", "Balance sheet\nCash 5 4\nTotal current liabilities 2,915 2,642", kind="table")
    ev = select_evidence("What are the total current liabilities?", [table], 6, words)
    assert ev.excerpts[0].text().endswith("Total current liabilities 2,915 2,642")
    code = passage("c", "def f():\n    return 1\n", kind="code", lines=(1, 2))
    assert units(code) == [(0, len(code.text))]


def test_citations_resolve_to_the_passages_shown_and_quotes_to_exact_source_characters():
    a, b = passage("a", OTHER, 500), passage("b", LONG, 1000)
    llm = RecordingLLM("Ann Lee keeps the lighthouse [1].")
    gen = Generator(llm, max_answer_tokens=50, offer_not_found=False, evidence_tokens=20)
    draft = list(gen.stream("Who keeps the lighthouse?", [a, b]))[-1]
    prompt = llm.calls[0][1].content
    assert "[1] harbour.txt" in prompt and "[2]" not in prompt  # b is renumbered [1]; a is left out
    assert "Tickets are sold" not in prompt and "Ann Lee keeps the lighthouse on the point." in prompt
    assert [p.id for p in draft.context] == ["b"]
    checked = verify_citations(draft.text, list(draft.context))
    assert checked.citations and checked.citations[0].passage.id == "b"
    quote = checked.citations[0]
    start, end = quote.quote_chars
    assert b.text[start:end] == quote.quote and "Ann Lee keeps the lighthouse" in quote.quote
    assert any("evidence:" in d for s in draft.trace for d in s.details)


def test_whole_passages_when_the_budget_is_zero():
    a = passage("a", LONG)
    llm = RecordingLLM("Ann Lee [1].")
    list(Generator(llm, max_answer_tokens=50, offer_not_found=False).stream("Who keeps the lighthouse?", [a]))
    assert llm.calls[0] == build_messages("Who keeps the lighthouse?", [a], offer_not_found=False)
    assert build_messages("Q?", [Excerpt.whole(a)]) == build_messages("Q?", [a])


def test_rarer_question_words_weigh_more():
    scores = lexical_scores("When did the ferry to the island start?", [
        "The island has a ferry.", "The ferry started in 1921 to the island.", "Boats moored."])
    assert scores[1] > scores[0] > scores[2]


def test_a_count_in_other_words_is_kept_for_a_how_many_question():
    """"How many people worked there?" shares no word with "We had 37,000 employees", which still states it."""
    text = ("The company makes soups and sauces. Its people worked on new recipes in 2019. "
            "We had approximately 37,000 employees at year end. The plants are in ten countries.")
    chosen = select_evidence("How many people worked at the company in 2019?", [passage("e", text)], 12, words)
    kept = " ".join(chosen.excerpts[0].passage.text[a:b] for a, b in chosen.excerpts[0].spans)
    assert "37,000 employees" in kept
