"""Shared fixtures: documents written by the tests, fake and real models."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--cpu-load", type=int, default=0, metavar="N",
                     help="run the session beside N CPU-burning processes (a busy machine; see tests/load.py)")


def pytest_report_header(config: pytest.Config) -> str | None:
    load = config.getoption("--cpu-load")
    return f"cpu load: {load} busy processes beside the tests" if load else None


@pytest.fixture(scope="session", autouse=True)
def _cpu_load(request: pytest.FixtureRequest):  # noqa: ANN202
    """``--cpu-load N``: N busy processes compete for the cores for the whole session."""
    load = request.config.getoption("--cpu-load")
    if not load:
        yield
        return
    from tests.load import cpu_burners

    with cpu_burners(load, seconds=3600):
        yield


def write_pdf(path: Path, pages: Sequence[str], *, password: str | None = None) -> Path:
    """A PDF with one page per string (an empty string gives a page with no text)."""
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    if password is not None:
        from fpdf.enums import EncryptionMethod

        pdf.set_encryption(owner_password="owner-" + password, user_password=password,
                           encryption_method=EncryptionMethod.AES_128)
    pdf.set_font("Helvetica", size=11)
    for text in pages:
        pdf.add_page()
        if text:
            pdf.multi_cell(0, 6, text)
    pdf.output(str(path))
    return path


@pytest.fixture
def make_pdf(tmp_path: Path) -> Callable[..., Path]:
    """``make_pdf(name, pages, password=None)`` writes a PDF under tmp_path."""

    def make(name: str, pages: Sequence[str], *, password: str | None = None) -> Path:
        return write_pdf(tmp_path / name, pages, password=password)

    return make


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ad-hoc indexes go to a per-test cache; assembled models stay in the shared one (they are big)."""
    monkeypatch.setenv("DOCQA_INDEX_CACHE", str(tmp_path_factory.mktemp("cache")))


@pytest.fixture(scope="session", autouse=True)
def _close_models():  # noqa: ANN202
    """Free the runtime's models when the session ends (and llama.cpp models tests built themselves)."""
    yield
    from app.runtime import default_runtime

    default_runtime().close()
    import gc

    for obj in gc.get_objects():
        if type(obj).__name__ == "LlamaCppLLM":
            obj.close()


@pytest.fixture(scope="session")
def minilm():  # noqa: ANN201
    """The real packaged all-MiniLM-L6-v2 embedder, loaded once."""
    from ingest.core.settings import EmbedSettings
    from ingest.embed import SentenceTransformerEmbedder

    embedder = SentenceTransformerEmbedder(EmbedSettings())
    embedder.warm_up()
    return embedder
