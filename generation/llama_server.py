"""llama-cpp-python's OpenAI-compatible server (``python -m llama_cpp.server``) as a child process.

docqa's ``openai`` backend answers with whatever server a user already runs; this starts the one that
ships with llama-cpp-python, on loopback, for the tests and the latency benchmark that compare the
backend against the in-process model on the same GGUF.
"""

from __future__ import annotations

import ctypes
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from ingest.core.errors import ModelError


def free_port() -> int:
    """A loopback port nothing listens on (just released by the OS)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# resolved here, not in the forked child (no dynamic loading between fork and exec)
_PRCTL = ctypes.CDLL(None).prctl if sys.platform.startswith("linux") else None


def die_with_parent() -> None:
    """In the child: stop when the parent dies, even killed (Linux; elsewhere the context's cleanup only)."""
    if _PRCTL is not None:
        _PRCTL(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def responds(url: str) -> bool:
    """Whether an HTTP server answers at ``url`` (any status, e.g. 401 when it wants a key)."""
    try:
        urllib.request.urlopen(url, timeout=2).close()  # noqa: S310 - loopback URL we built
    except urllib.error.HTTPError:
        return True
    except (urllib.error.URLError, OSError):
        return False
    return True


@contextmanager
def llama_server(model: Path, alias: str, *, log_path: Path, args: Sequence[str] = (),
                 ready_seconds: float = 300.0) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Serve ``model`` as ``alias`` on a free loopback port; yields the base URL (``.../v1``) and the process.

    The server is stopped on exit (terminate, then kill), and dies with this process.

    :raises ModelError: it exited or did not answer within ``ready_seconds`` (the log's tail is in the message).
    """
    port = free_port()
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--model_alias", alias,
           "--host", "127.0.0.1", "--port", str(port), *args]
    with open(log_path, "wb") as log_file:
        proc = subprocess.Popen(cmd, stdout=log_file, stderr=subprocess.STDOUT, preexec_fn=die_with_parent)  # noqa: S603
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + ready_seconds
        while not responds(f"{base_url}/models"):
            if proc.poll() is not None or time.monotonic() > deadline:
                tail = log_path.read_text(errors="replace")[-2000:]
                raise ModelError(f"llama_cpp.server did not start (exit {proc.poll()}): {tail}")
            time.sleep(0.2)
        yield base_url, proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
