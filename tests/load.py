"""CPU load for tests: busy processes that compete with the code under test for the cores.

:func:`cpu_burners` starts processes that spin on the CPU (at normal priority, like a compiler or a video
call beside a build), each bounded in time and ending on its own when the process that started it dies,
and stops them when the block ends. ``pytest --cpu-load N`` runs a whole session beside N of them
(``tests/conftest.py``); ``.ci/run`` does that for the fuzz, fault and resume suites.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterable, Iterator

# How long a test waits on another process, a server or a pause point before it calls it a hang. Generous on
# purpose: a test asserts what happened, never how fast; a busy machine may take minutes where an idle one
# takes a second.
HANG_GUARD = 300

# The burner: spin until the deadline, or until the parent is gone (then getppid() changes).
_BURN = """
import os, sys, time
deadline, parent = time.monotonic() + float(sys.argv[1]), int(sys.argv[2])
if len(sys.argv) > 3:
    os.sched_setaffinity(0, {int(c) for c in sys.argv[3].split(",")})
n = 0
while time.monotonic() < deadline and os.getppid() == parent:
    for _ in range(200_000):
        n += 1
"""


@contextlib.contextmanager
def cpu_burners(count: int, *, seconds: float = 1800, cpus: Iterable[int] | None = None) -> Iterator[list[int]]:
    """Run ``count`` CPU-spinning processes for the block (each for at most ``seconds``); yields their pids.

    :param cpus: pin the burners to these CPUs (default: wherever the scheduler puts them).
    """
    pin = [",".join(str(c) for c in sorted(cpus))] if cpus is not None else []
    procs = [subprocess.Popen([sys.executable, "-c", _BURN, str(seconds), str(os.getpid()), *pin],
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL) for _ in range(count)]
    try:
        yield [p.pid for p in procs]
    finally:
        for p in procs:
            p.kill()
        for p in procs:
            p.wait()
