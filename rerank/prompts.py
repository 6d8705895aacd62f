"""Prompt builders for the LLM rerankers: pure functions, no model needed.

The listwise prompt is RankGPT's, as fullrank and rank_llm (``rank_gpt_template.yaml``) word it
(``docs/METHODS.md``, "LLM reranking"): a system line, then one user message with a prefix, the
passages as ``[i] text`` lines, and a suffix that asks for ``[] > []`` output. The single-pass
(logits) reranker sends the *same* messages and reads the first identifier after an assistant
prefix ``[``. Bracketed numbers in the query and the passages are defanged to ``(n)``, so no text
can pose as an identifier.
"""

from __future__ import annotations

from collections.abc import Sequence

from ingest.core.records import Message
from ingest.core.text import defang

LISTWISE_SYSTEM = ("You are RankLLM, an intelligent assistant that can rank passages based on their relevancy to "
                   "the query.")
POINTWISE_SYSTEM = "You are a search quality rater. You judge whether a passage answers a search query."
#: what the single-pass reranker writes for the model before reading the next token
ASSISTANT_PREFIX = "["


def truncate_words(text: str, words: int) -> str:
    """The first ``words`` whitespace-separated words of ``text``, single-spaced.

    >>> truncate_words("a  b\\nc d", 3)
    'a b c'
    """
    return " ".join(text.split()[:words])


def ranking_example(n: int) -> str:
    """The full ``[1] > [2] > ...`` ranking of ``n`` items: the longest well-formed answer (its length in tokens
    is the generation budget, as in fullrank).

    >>> ranking_example(3)
    '[1] > [2] > [3]'
    """
    return " > ".join(f"[{i}]" for i in range(1, n + 1))


def listwise_messages(query: str, passages: Sequence[str], *, words: int) -> list[Message]:
    """The RANK_GPT prompt over ``passages`` (identifiers ``[1]..[N]``), each cut to ``words`` words.

    >>> m = listwise_messages("what is [2]?", ["alpha [1] beta", "gamma"], words=2)
    >>> [x.role for x in m]
    ['system', 'user']
    >>> print(m[1].content)  # doctest: +NORMALIZE_WHITESPACE
    I will provide you with 2 passages, each indicated by a numerical identifier []. Rank the passages based on
    their relevance to the search query: what is (2)?.
    [1] alpha (1)
    [2] gamma
    Search Query: what is (2)?.
    Rank the 2 passages above based on their relevance to the search query. All the passages should be included
    and listed using identifiers, in descending order of relevance. The output format should be [] > [],
    e.g., [2] > [1], Only respond with the ranking results, do not say any word or explain.
    """
    n = len(passages)
    q = defang(query.strip())
    body = "".join(f"[{i}] {truncate_words(defang(text), words)}\n" for i, text in enumerate(passages, 1))
    prefix = (f"I will provide you with {n} passages, each indicated by a numerical identifier []. "
              f"Rank the passages based on their relevance to the search query: {q}.\n")
    suffix = (f"Search Query: {q}.\nRank the {n} passages above based on their relevance to the search query. "
              "All the passages should be included and listed using identifiers, in descending order of relevance. "
              "The output format should be [] > [], e.g., [2] > [1], Only respond with the ranking results, "
              "do not say any word or explain.")
    return [Message("system", LISTWISE_SYSTEM), Message("user", prefix + body + suffix)]


def pointwise_messages(query: str, passage: str, *, words: int) -> list[Message]:
    """A yes/no relevance question about one passage; the query comes first so calls share a prompt prefix.

    >>> m = pointwise_messages("capital of France?", "Paris is the capital [1].", words=50)
    >>> print(m[1].content)
    Search query: capital of France?
    Passage: Paris is the capital (1).
    Does the passage answer the search query? Answer Yes or No.
    """
    return [Message("system", POINTWISE_SYSTEM),
            Message("user", f"Search query: {query.strip()}\nPassage: {truncate_words(defang(passage), words)}\n"
                            "Does the passage answer the search query? Answer Yes or No.")]


def identifier_continuations(n: int) -> list[str]:
    """What the model may write after ``[`` to name each of ``n`` passages, for scoring by log-probability.

    An identifier that is a prefix of another (``1`` of ``10``..``19``) keeps its closing ``]`` so that
    P("1") does not absorb P("10"), ..., P("19"); the others stop at their last digit.

    >>> identifier_continuations(3)
    ['1', '2', '3']
    >>> identifier_continuations(12)[:3], identifier_continuations(12)[-3:]
    (['1]', '2', '3'], ['10', '11', '12'])
    """
    return [f"{i}]" if i * 10 <= n else str(i) for i in range(1, n + 1)]  # i is a prefix of 10i..10i+9
