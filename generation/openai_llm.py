"""OpenAI-compatible backend (``[llm] backend = "openai"``): the model runs behind a server (llama.cpp's
server, vLLM, Ollama, LM Studio, a hosted API) that speaks the OpenAI chat-completions API.

What it relies on, and what it detects instead of assuming:

- **Chat completions**, greedy (``temperature=0``), streamed or not, through the official ``openai`` client
  with the settings' ``timeout_seconds`` and ``max_retries`` (the client retries connection errors, 408,
  409, 429 and 5xx with backoff). Every failure becomes a one-line :class:`GenerationError` naming the
  base URL; the API key is read from the environment variable ``api_key_env`` names at each request and
  is never stored in settings, logged, or put in a message.
- **The model**: on first use ``GET /models`` must list ``settings.model`` (servers that serve whatever
  they have under any name, like llama-cpp-python's, would otherwise answer with another model). A server
  without ``/models`` is taken at its word.
- **Token counts** need no tokenizer: :func:`estimate_tokens` errs high; ``context_tokens`` comes from the
  settings. A completion's counts are the server's ``usage`` when it reports one (it is asked to, also
  when streaming), else estimates; which one is recorded with the completion.
- **Log-probabilities** (:class:`~ingest.core.protocols.LogitsLLM`): :meth:`OpenAILLM.supports` asks the
  server once for ``top_logprobs``; only then do the logit features (``full-logits`` and ``pointwise``
  reranking, the yes/no judge and answer check) use this backend. See
  :meth:`OpenAILLM.continuation_logprobs` for what one position's top list can and cannot score.
- **Scoring given text** (:class:`~ingest.core.protocols.ScoringLLM`, LLM segment scoring) is not offered:
  the chat API cannot teacher-force text, and llama-cpp-python's ``/v1/completions`` with ``echo`` and
  ``logprobs`` puts each prompt token's log-probability one position off for GGUFs without a BOS token
  (the packaged SmolLM2 and Qwen2.5) and sorts the whole vocabulary in Python per token. Segment scoring
  falls back to embeddings and says so in the answer's notes.
"""

from __future__ import annotations

import logging
import math
import os
import re
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, cast
from urllib.parse import urlsplit, urlunsplit

from ingest.core.errors import GenerationError, ModelError
from ingest.core.records import Completion, ContinuationScores, Message
from ingest.core.settings import CacheSettings, LLMSettings
from ingest.core.text import one_line

if TYPE_CHECKING:
    import openai
    from openai.types.chat import ChatCompletionMessageParam


def _wire(messages: Sequence[Message]) -> list[ChatCompletionMessageParam]:
    """``messages`` as the chat-completions API takes them."""
    return [cast("ChatCompletionMessageParam", {"role": m.role, "content": m.content}) for m in messages]

log = logging.getLogger(__name__)

BYTES_PER_TOKEN = 3  # BPE vocabularies average ~4 bytes of English per token; 3 errs high
MESSAGE_TOKENS = 8  # role markers and separators a chat template adds per message (estimate)
TOP_LOGPROBS = 20  # the most the OpenAI API returns per position (also vLLM's default cap)
PROBE = (Message("user", "Is the sky blue? Answer Yes or No."),)  # asks for top_logprobs once
UsageSource = Literal["reported", "estimated"]
_NEAR_DIGIT = re.compile(r"[^0-9](?=[0-9])|(?<=[0-9])[^0-9]")  # a character next to a digit


def estimate_tokens(text: str) -> int:
    """A token count that errs high on natural text, without the model's tokenizer.

    Each ASCII digit counts one (tokenizers split numbers into digits or short groups), and so does a
    character next to a digit (separators in dates, decimals and tables are tokens of their own); a
    non-ASCII character counts two (a vocabulary trained mostly on English spends a token per byte or
    two on accents and CJK); the rest, one per :data:`BYTES_PER_TOKEN` characters, rounded up. Against the
    SmolLM2 and Qwen2.5 tokenizers: 1.2-1.5x the real count on English and code, 1.1-2.9x on German and
    Japanese, 1.0x on numeric tables; random strings (base64, hashes) need up to 1.4x the estimate, and a
    prompt that then overflows the server's context is refused with a one-line error.

    >>> estimate_tokens(""), estimate_tokens("hello world"), estimate_tokens("in 2024."), estimate_tokens("é")
    (0, 4, 7, 2)
    """
    ascii_chars = len(text.encode("ascii", "ignore"))
    digits = sum(map(text.count, "0123456789"))
    near_digit = len(_NEAR_DIGIT.findall(text))
    rest = max(0, ascii_chars - digits - near_digit)
    return digits + near_digit + 2 * (len(text) - ascii_chars) + math.ceil(rest / BYTES_PER_TOKEN)


def display_url(url: str) -> str:
    """``url`` fit for messages and logs: no user, password, query or fragment.

    >>> display_url("http://user:secret@127.0.0.1:8080/v1/?key=abc")
    'http://127.0.0.1:8080/v1'
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    if parts.port is not None:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))


def prefix_position(tokens: Sequence[str], prefix: str) -> int | None:
    """How many of the generated ``tokens`` spell ``prefix`` exactly (None if they do not).

    >>> prefix_position(["[", "2", "]"], "["), prefix_position(["Yes"], ""), prefix_position(["[2", "]"], "[")
    (1, 0, None)
    """
    text = ""
    for i, token in enumerate(tokens):
        if text == prefix:
            return i
        text += token
        if not prefix.startswith(text):
            return None
    return len(tokens) if text == prefix else None


def first_token_scores(top: Mapping[str, float], continuations: Sequence[str]) -> tuple[float, ...]:
    """Log-probability of each continuation, read from the top list of one position (token text -> logprob).

    A continuation's first token is taken to be the longest listed token it starts with. A continuation
    that is that token gets its log-prob; a longer one gets its first token's log-prob (an upper bound of
    its own), which ranks the candidates correctly only when no other candidate starts with the same
    token, so a shared first token is an error. A continuation with no listed first token gets the
    lowest listed log-prob, the most it can have (the floor).

    >>> first_token_scores({"No": -0.4, "Yes": -1.2, "I": -3.0}, ["Yes", "No", "Maybe"])
    (-1.2, -0.4, -3.0)
    >>> first_token_scores({"1": -0.5, "2": -1.5}, ["1]", "2", "10"])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: continuations '1]' and '10' begin with the same token '1'; one position of log-probabilities ...

    :raises ValueError: two continuations share a first token and one of them is longer than it.
    """
    listed = {t: lp for t, lp in top.items() if t}
    if not listed:
        raise ValueError("the server listed no tokens")
    floor = min(listed.values())
    firsts = [max((t for t in listed if c.startswith(t)), key=len, default=None) for c in continuations]
    for c, first in zip(continuations, firsts, strict=True):
        if first is None or first == c:
            continue
        other = next((o for o in continuations if o != c and o.startswith(first)), None)
        if other is not None:
            raise ValueError(f"continuations {c!r} and {other!r} begin with the same token {first!r}; one position "
                             "of log-probabilities cannot tell them apart")
    return tuple(listed[first] if first is not None else floor for first in firsts)


def model_listed(model: str, served: Sequence[str]) -> bool:
    """Whether a server's ``/models`` list offers ``model`` (Ollama's ``:latest`` tag may be left out; a
    server that lists file paths may be named by the file's name).

    >>> model_listed("llama3", ["llama3:latest"]), model_listed("m.gguf", ["/models/m.gguf"]), model_listed("x", ["y"])
    (True, True, False)
    """
    return any(s == model or s == f"{model}:latest" or s.endswith(f"/{model}") for s in served)


def _completion(usage: UsageSource, **values: Any) -> Completion:
    """A :class:`Completion` saying where its token counts come from (the answer's notes show it)."""
    return Completion(usage=usage, **values)


class OpenAILLM:
    """Chat completion through an OpenAI-compatible server (greedy decoding); see the module docstring.

    >>> # llm = OpenAILLM(LLMSettings(backend="openai", base_url="http://127.0.0.1:8080/v1", model="qwen"))
    >>> # llm.complete([Message("user", "Hi")], max_tokens=16).text

    Construction is cheap and makes no request; the server is first asked on first use.

    :param settings: ``base_url``, ``model``, ``api_key_env``, ``timeout_seconds``, ``max_retries``,
        ``context_tokens``.
    :param cache: unused (nothing is downloaded); taken for the registry's factory signature.
    :param extra_body: server-specific fields sent with every chat request, e.g. ``{"repeat_penalty": 1.0}``
        for llama-cpp-python's server (whose default is 1.1, where docqa's in-process backend uses 1.0).
    :raises ModelError: no ``base_url``.
    """

    def __init__(self, settings: LLMSettings, cache: CacheSettings | None = None, *,
                 extra_body: Mapping[str, object] | None = None) -> None:
        if not settings.base_url:
            raise ModelError("the openai backend needs the server's URL: set [llm] base_url or DOCQA_LLM_BASE_URL "
                             "(e.g. http://127.0.0.1:8080/v1)")
        self.settings = settings
        self.base_url = settings.base_url.rstrip("/")
        self.url = display_url(self.base_url)
        self.name = f"openai:{settings.model}"
        self.extra_body = dict(extra_body or {})
        self._client: openai.OpenAI | None = None
        self._model_checked = False
        self._supports: dict[str, bool] = {}
        self._lock = threading.Lock()

    # -- connection -------------------------------------------------------------------------------------
    def _api_key(self) -> str:
        return os.environ.get(self.settings.api_key_env, "")

    def _scrub(self, text: str) -> str:
        key = self._api_key()
        return text.replace(key, "***") if len(key) >= 4 else text

    @property
    def client(self) -> openai.OpenAI:
        """The ``openai`` client, built on first use (requests pass :meth:`_auth`).

        :raises ModelError: the ``openai`` package is missing.
        """
        with self._lock:
            if self._client is None:
                try:
                    import openai
                except ImportError as err:
                    raise ModelError("the openai backend needs the openai package; run `pip install openai`") from err
                # every request sets its own Authorization header (:meth:`_auth`), so the client holds no key;
                # the placeholder only satisfies its constructor and is never sent
                self._client = openai.OpenAI(base_url=self.base_url, api_key="unused",
                                             timeout=self.settings.timeout_seconds,
                                             max_retries=self.settings.max_retries)
            return self._client

    def _auth(self) -> dict[str, Any]:
        """The Authorization header of one request: the key as the environment holds it now, or none at all
        (a local server without auth needs none; an explicit omission keeps the client from asking for one)."""
        import openai

        key = self._api_key()
        return {"Authorization": f"Bearer {key}" if key else openai.Omit()}

    def close(self) -> None:
        """Close the HTTP connections (a later call opens new ones)."""
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    def served_models(self) -> list[str] | None:
        """The model ids the server's ``GET /models`` lists (None when it has no such endpoint).

        :raises GenerationError: the server cannot be reached or fails.
        """
        import openai

        try:
            return [m.id for m in self.client.models.list(extra_headers=self._auth())]
        except (openai.NotFoundError, openai.BadRequestError, openai.UnprocessableEntityError) as err:
            log.debug("%s has no usable /models (%s); the model name is not checked", self.url, err.status_code)
            return None
        except openai.OpenAIError as err:
            raise self._error(err, "listing models") from err

    def warm_up(self) -> None:
        """Check once that the server serves ``settings.model`` (idempotent once it passed).

        :raises GenerationError: the server is down, fails, or does not list the model.
        """
        if self._model_checked:
            return
        served = self.served_models()
        if served is not None and not model_listed(self.settings.model, served):
            raise GenerationError(self._unknown_model(served))
        self._model_checked = True

    def _unknown_model(self, served: Sequence[str]) -> str:
        names = ", ".join(served[:10]) + (f" (+{len(served) - 10} more)" if len(served) > 10 else "")
        return self._scrub(f"{self.name}: model {self.settings.model!r} is not served at {self.url} "
                           f"(served: {names or 'none'}); set [llm] model or --model")

    def _error(self, err: Exception, doing: str, *, midway: bool = False) -> GenerationError:
        """One line saying what failed where, for any error of the ``openai`` client (the key never in it).

        :param midway: the request had begun answering (a broken stream is not retried).
        """
        import openai

        n = 0 if midway else self.settings.max_retries
        retried = f" after {n} {'retry' if n == 1 else 'retries'}" if n else ""
        if isinstance(err, openai.APITimeoutError):
            text = (f"{self.name}: no response from {self.url} within {self.settings.timeout_seconds:g} s "
                    f"while {doing}{retried}")
        elif isinstance(err, openai.APIConnectionError):
            cause = err.__cause__ or err.__context__
            why = f" ({one_line(str(cause), 80)})" if cause and str(cause) else ""
            text = (f"{self.name}: lost the connection to {self.url} while {doing}{why}; is the server still running?"
                    if midway else
                    f"{self.name}: cannot reach {self.url} while {doing}{retried}{why}; is the server running?")
        elif isinstance(err, openai.APIStatusError):
            status = err.status_code
            detail = one_line(_server_message(err), 200)
            if status in (400, 404, 422) and "model" in detail.lower():
                try:
                    served = self.served_models()
                except GenerationError:
                    served = None
                if served is not None and not model_listed(self.settings.model, served):
                    return GenerationError(self._unknown_model(served))
            hint = {401: f"; check the API key in ${self.settings.api_key_env}",
                    403: f"; check the API key in ${self.settings.api_key_env}",
                    404: "; check base_url (OpenAI-compatible servers usually serve under /v1)",
                    429: f"; rate limited{retried}"}.get(status, f"{retried}" if status >= 500 else "")
            text = f"{self.name}: {self.url} answered {status} while {doing}: {detail}{hint}"
        else:
            text = f"{self.name}: {doing} at {self.url} failed: {one_line(str(err), 200)}"
        return GenerationError(self._scrub(text))

    def _chat(self, messages: Sequence[Message], *, max_tokens: int, doing: str, **options: Any) -> Any:
        """One chat-completions request (the stream object when ``stream=True``)."""
        import openai

        self.warm_up()
        try:
            return self.client.chat.completions.create(
                model=self.settings.model, messages=_wire(messages),
                max_tokens=max_tokens, temperature=0.0, extra_body=self.extra_body or None,
                extra_headers=self._auth(), **options)
        except openai.OpenAIError as err:
            raise self._error(err, doing) from err

    # -- the LLM protocol -------------------------------------------------------------------------------
    @property
    def context_tokens(self) -> int:
        """Tokens the server's model holds, prompt plus answer, as the settings say (it is not asked)."""
        return self.settings.context_tokens

    def count_tokens(self, text: str) -> int:
        """An estimate that errs high (:func:`estimate_tokens`): the server's tokenizer is not at hand."""
        return estimate_tokens(text)

    def prompt_estimate(self, messages: Sequence[Message]) -> int:
        """Estimated prompt tokens of a chat, template included."""
        return sum(estimate_tokens(m.content) + MESSAGE_TOKENS for m in messages)

    def complete(self, messages: Sequence[Message], *, max_tokens: int) -> Completion:
        """Greedy completion (one request; token counts from the server's usage when it reports them).

        :raises GenerationError: the server is down, fails, or rejects the request.
        """
        start = time.perf_counter()
        response = self._chat(messages, max_tokens=max_tokens, doing="answering")
        if not response.choices:
            raise GenerationError(f"{self.name}: {self.url} returned no choices")
        choice = response.choices[0]
        text = choice.message.content or ""
        usage = response.usage
        seconds = time.perf_counter() - start
        if usage is not None:
            return _completion("reported", text=text, prompt_tokens=usage.prompt_tokens,
                               completion_tokens=usage.completion_tokens, seconds=seconds,
                               finish_reason=choice.finish_reason or "stop")
        return _completion("estimated", text=text, prompt_tokens=self.prompt_estimate(messages),
                           completion_tokens=estimate_tokens(text), seconds=seconds,
                           finish_reason=choice.finish_reason or "stop")

    def stream(self, messages: Sequence[Message], *, max_tokens: int) -> Iterator[str | Completion]:
        """Yield text pieces as the server sends them, then the :class:`Completion`.

        Token counts are the server's ``usage`` when it sends one (``stream_options.include_usage``), else
        estimates that err high (the larger of the pieces received and :func:`estimate_tokens`).

        :raises GenerationError: the server is down, fails, or the connection breaks mid-answer.
        """
        import openai

        start = time.perf_counter()
        first: float | None = None
        parts: list[str] = []
        finish = "stop"
        usage = None
        chunks = self._chat(messages, max_tokens=max_tokens, doing="answering", stream=True,
                            stream_options={"include_usage": True})
        try:
            with chunks:
                for chunk in chunks:
                    usage = chunk.usage or usage
                    if not chunk.choices:
                        continue
                    choice = chunk.choices[0]
                    piece = choice.delta.content if choice.delta is not None else None
                    if piece:
                        if first is None:
                            first = time.perf_counter() - start
                        parts.append(piece)
                        yield piece
                    finish = choice.finish_reason or finish
        except openai.OpenAIError as err:
            raise self._error(err, f"streaming an answer ({len(parts)} pieces received)", midway=True) from err
        text = "".join(parts)
        seconds = time.perf_counter() - start
        if usage is not None:
            yield _completion("reported", text=text, prompt_tokens=usage.prompt_tokens,
                              completion_tokens=usage.completion_tokens, seconds=seconds, first_token_seconds=first,
                              finish_reason=finish)
        else:
            yield _completion("estimated", text=text, prompt_tokens=self.prompt_estimate(messages),
                              completion_tokens=max(len(parts), estimate_tokens(text)), seconds=seconds,
                              first_token_seconds=first, finish_reason=finish)

    # -- capabilities -----------------------------------------------------------------------------------
    def supports(self, protocol: str) -> bool:
        """Whether this server can serve ``protocol`` now ("LLM", "LogitsLLM"; never "ScoringLLM").

        "LogitsLLM" is asked of the server once (a one-token reply with ``top_logprobs``) and remembered;
        a server that rejects the request (400, 422, 5xx) or returns no log-probabilities does not support it.

        :raises GenerationError: the server cannot be reached, refuses the key, or is rate limiting (nothing
            else could be answered either).
        """
        if protocol == "LLM":
            return True
        if protocol != "LogitsLLM":
            return False
        if protocol not in self._supports:
            self._supports[protocol] = self._probe_logprobs()
        return self._supports[protocol]

    def _probe_logprobs(self) -> bool:
        import openai

        self.warm_up()
        try:
            response = self.client.chat.completions.create(
                model=self.settings.model, messages=_wire(PROBE),
                max_tokens=1, temperature=0.0, logprobs=True, top_logprobs=TOP_LOGPROBS,
                extra_body=self.extra_body or None, extra_headers=self._auth())
        except openai.APIStatusError as err:
            if err.status_code in (401, 403, 404, 408, 409, 429):  # about the key, the URL or the load, not logprobs
                raise self._error(err, "asking for log-probabilities") from err
            log.info("%s: %s rejects log-probability requests (%s); logit features are skipped", self.name,
                     self.url, err.status_code)
            return False
        except openai.OpenAIError as err:
            raise self._error(err, "asking for log-probabilities") from err
        content = _logprob_tokens(response)
        found = bool(content and content[0].top_logprobs)
        log.info("%s: %s %s top_logprobs", self.name, self.url, "returns" if found else "does not return")
        return found

    def continuation_logprobs(self, messages: Sequence[Message], continuations: Sequence[str], *,
                              assistant_prefix: str = "") -> ContinuationScores:
        """log P(continuation | chat + ``assistant_prefix``) for each continuation, from the server's
        ``top_logprobs`` (at most :data:`TOP_LOGPROBS` tokens at one position), with the caveats of
        :func:`first_token_scores`: a continuation absent from the list gets the floor log-prob, and one
        longer than a token is scored by its first token, and only when no other continuation shares it.

        The chat API cannot put words in the model's mouth, so ``assistant_prefix`` works only when the
        model's greedy reply begins with exactly those tokens: the request generates them and reads the
        position after them (the same log-probabilities as scoring after a forced prefix).

        :raises GenerationError: the server fails or returns no log-probabilities (also when
            :meth:`supports` found so before), the reply does not begin with ``assistant_prefix``, or two
            continuations share a first token.
        """
        if self._supports.get("LogitsLLM") is False:
            raise GenerationError(f"{self.name}: {self.url} does not return log-probabilities (top_logprobs)")
        start = time.perf_counter()
        steps = len(assistant_prefix.encode("utf-8")) + 1  # a token holds at least one byte
        response = self._chat(messages, max_tokens=steps, doing="scoring continuations", logprobs=True,
                              top_logprobs=TOP_LOGPROBS)
        content = _logprob_tokens(response)
        if not content:
            self._supports["LogitsLLM"] = False
            raise GenerationError(f"{self.name}: {self.url} returned no log-probabilities")
        tokens = [t.token for t in content]
        position = prefix_position(tokens, assistant_prefix)
        if position is None or position >= len(content):
            began = "".join(tokens)
            raise GenerationError(f"{self.name}: the model's reply began {began!r}, not {assistant_prefix!r} and a "
                                  "token after it; the chat API cannot score after a prefix the model does not write")
        chosen = content[position]
        top = {t.token: t.logprob for t in reversed(chosen.top_logprobs or [])}  # the likelier wins a duplicate
        top.setdefault(chosen.token, chosen.logprob)
        try:
            scores = first_token_scores(top, continuations)
        except ValueError as err:
            raise GenerationError(f"{self.name}: {err}") from err
        usage = response.usage
        prompt_tokens = usage.prompt_tokens if usage is not None else self.prompt_estimate(messages)
        return ContinuationScores(logprobs=scores, prompt_tokens=prompt_tokens + position, extra_tokens=0,
                                  seconds=time.perf_counter() - start)


def _logprob_tokens(response: Any) -> list[Any]:
    """The per-token log-probability entries of a chat response's first choice (empty when absent)."""
    if not response.choices:
        return []
    logprobs = response.choices[0].logprobs
    return list(logprobs.content or []) if logprobs is not None else []


def _server_message(err: openai.APIStatusError) -> str:
    """The server's own words from an error response (OpenAI's ``error.message``, FastAPI's ``detail``)."""
    body = err.body
    if isinstance(body, Mapping):
        body = body.get("error", body)
    if isinstance(body, Mapping):
        body = body.get("message") or body.get("detail") or body
    text = body if isinstance(body, str) else str(body) if body else err.message
    return re.sub(r"^Error code: \d+ - ", "", text)
