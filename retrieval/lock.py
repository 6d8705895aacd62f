"""The index's writer lock: one process writes an index at a time.

The lock is an ``flock`` on ``.lock``, which the kernel releases when its holder dies, so a build killed with
SIGKILL never blocks the next one (the pid left in the file is only for the message). Processes forked while
the lock is held (the ingest worker) close their copy of it at once, so they cannot keep it after the writer
is gone.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from ingest.core.errors import IndexLockedError

LOCK = ".lock"

_HELD_LOCKS: set[int] = set()  # descriptors of writer locks this process holds


def _close_held_locks() -> None:
    """In a forked child: drop the parent's lock descriptors (an flock lives as long as any copy of it)."""
    for fd in list(_HELD_LOCKS):
        with contextlib.suppress(OSError):
            os.close(fd)
    _HELD_LOCKS.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_close_held_locks)


def _alive(pid: str) -> bool | None:
    """Whether process ``pid`` exists (None: unknown)."""
    if not pid.isdigit():
        return None
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, but not ours to signal
        return True
    return True


@contextlib.contextmanager
def writer_lock(directory: Path) -> Iterator[None]:
    """Hold the index's write lock; a second writer gets :class:`IndexLockedError` at once."""
    directory.mkdir(parents=True, exist_ok=True)
    fd = os.open(directory / LOCK, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as err:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            who = f"another docqa process (pid {holder})"
            if _alive(holder) is False:
                who = f"a process that inherited the lock of pid {holder} (which has exited)"
            raise IndexLockedError(f"{directory}: {who} is writing this index; wait for it to finish") from err
        _HELD_LOCKS.add(fd)
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        _HELD_LOCKS.discard(fd)
        os.close(fd)  # closing releases the flock
