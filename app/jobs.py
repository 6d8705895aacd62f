"""One answering job at a time per model, with a bounded line of waiting jobs.

A model (llama.cpp, one GPU, or a rate-limited server) answers one question at a time; more
questions wait in line, and when the line is full the next one is refused at once (the HTTP server
answers 429 with ``Retry-After``) instead of hanging. The HTTP server, the MCP server and the
Streamlit UI share this class. It is thread-based: callers wait in their own threads.

>>> queue = AnswerQueue(capacity=1)
>>> with queue.job() as ticket:
...     queue.position(ticket)
0
"""

from __future__ import annotations

import itertools
import math
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from ingest.core.errors import QAError


class QueueFull(QAError):
    """The model is busy and the line of waiting questions is full; ``retry_after`` estimates when to retry."""

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(eq=False)
class Ticket:
    """A place in line: taken by :meth:`AnswerQueue.enter`, given back by :meth:`AnswerQueue.release`."""

    number: int
    entered: float = field(default_factory=time.monotonic)
    started: float | None = None  # when its turn came (monotonic)
    cancelled: bool = False  # set by :meth:`AnswerQueue.cancel`: the job should stop (or never start)

    @property
    def waited(self) -> float:
        """Seconds spent waiting for the turn (so far, if it has not come yet)."""
        return (self.started if self.started is not None else time.monotonic()) - self.entered


class AnswerQueue:
    """One job runs; at most ``capacity`` more wait, first come first served; the next is refused.

    :param capacity: jobs that may wait while one runs (0: refuse whenever one runs).
    :param default_seconds: the job duration assumed for ``Retry-After`` until jobs have been timed.
    """

    def __init__(self, capacity: int, *, default_seconds: float = 5.0) -> None:
        if capacity < 0:
            raise ValueError(f"capacity must be >= 0, got {capacity}")
        self.capacity = capacity
        self._default_seconds = default_seconds
        self._cond = threading.Condition()
        self._line: deque[Ticket] = deque()  # the head runs (or is about to); the rest wait in order
        self._numbers = itertools.count(1)
        self._durations: deque[float] = deque(maxlen=16)

    def enter(self) -> Ticket:
        """Take a place in line without waiting.

        :raises QueueFull: one job runs and ``capacity`` wait already.
        """
        with self._cond:
            if len(self._line) > self.capacity:
                retry = self._retry_after()
                raise QueueFull(f"the model is busy: 1 question is being answered and {len(self._line) - 1} "
                                f"wait (the limit is {self.capacity}); retry in about {retry} s", retry_after=retry)
            ticket = Ticket(next(self._numbers))
            self._line.append(ticket)
            return ticket

    def wait(self, ticket: Ticket, timeout: float | None = None) -> bool:
        """Block until ``ticket``'s turn: True then (``ticket.started`` is set); False on timeout or when the
        ticket was cancelled or released first. Call :meth:`release` afterwards in either case."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while True:
                if ticket.cancelled or ticket not in self._line:
                    return False
                if self._line[0] is ticket:
                    ticket.started = time.monotonic()
                    return True
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._cond.wait(left)

    def cancel(self, ticket: Ticket) -> None:
        """Ask the job to stop: a waiting job will not start; a running one sees ``ticket.cancelled``.
        Its owner still calls :meth:`release`."""
        with self._cond:
            ticket.cancelled = True
            self._cond.notify_all()

    def release(self, ticket: Ticket) -> None:
        """Leave the line (after the job, or instead of it); the next ticket's turn comes. Idempotent."""
        with self._cond:
            if ticket in self._line:
                self._line.remove(ticket)
                if ticket.started is not None:
                    self._durations.append(time.monotonic() - ticket.started)
                self._cond.notify_all()

    def position(self, ticket: Ticket) -> int:
        """0: running (or its turn has come); n: n jobs ahead of it; -1: not in line."""
        with self._cond:
            return self._line.index(ticket) if ticket in self._line else -1

    @contextmanager
    def job(self, timeout: float | None = None) -> Iterator[Ticket]:
        """``with queue.job():`` run one job in turn (enter, wait, release).

        :raises QueueFull: the line is full.
        :raises TimeoutError: the turn did not come within ``timeout`` seconds.
        """
        ticket = self.enter()
        try:
            if not self.wait(ticket, timeout):
                raise TimeoutError(f"the model stayed busy for {timeout} s")
            yield ticket
        finally:
            self.release(ticket)

    def snapshot(self) -> dict[str, int]:
        """``running`` (0 or 1), ``waiting`` and ``capacity``, for health reports."""
        with self._cond:
            return {"running": min(1, len(self._line)), "waiting": max(0, len(self._line) - 1),
                    "capacity": self.capacity}

    def _retry_after(self) -> int:
        """Whole seconds until the running job should be done (at least 1); called holding the lock."""
        mean = sum(self._durations) / len(self._durations) if self._durations else self._default_seconds
        head = self._line[0] if self._line else None
        elapsed = time.monotonic() - head.started if head is not None and head.started is not None else 0.0
        return max(1, math.ceil(mean - elapsed))
