"""The CLI exits non-zero with a one-line reason on bad input, and works on good input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.cli import main
from tests.conftest import write_pdf


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _one_line_error(err: str, *needles: str) -> None:
    lines = [line for line in err.strip().splitlines() if line.startswith("docqa: error:")]
    assert len(lines) == 1, err
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.fixture
def bad_inputs(tmp_path: Path) -> dict[str, Path]:
    (tmp_path / "empty.txt").write_text("")
    (tmp_path / "corrupt.pdf").write_bytes(b"%PDF-1.4\nthis is not really a pdf\n")
    (tmp_path / "data.bin").write_bytes(bytes(range(256)) * 4)
    write_pdf(tmp_path / "locked.pdf", ["Top secret text."], password="1234")
    return {name: tmp_path / name for name in ("empty.txt", "corrupt.pdf", "data.bin", "locked.pdf")}


@pytest.mark.parametrize("case, needle", [
    ("missing", "no such file"),
    ("empty.txt", "empty file"),
    ("corrupt.pdf", "corrupt.pdf: "),
    ("data.bin", "binary file"),
    ("locked.pdf", "password-protected"),
])
def test_index_bad_input(capsys, tmp_path: Path, bad_inputs, case: str, needle: str):
    path = bad_inputs.get(case, tmp_path / "missing.txt")
    code, _, err = _run(capsys, "index", str(path), "--index", str(tmp_path / "idx"), "--quiet")
    assert code == 1
    _one_line_error(err, path.name, needle)
    assert not (tmp_path / "idx" / "manifest.json").exists()


def test_wrong_password(capsys, tmp_path: Path, bad_inputs):
    code, _, err = _run(capsys, "index", str(bad_inputs["locked.pdf"]), "--index", str(tmp_path / "i"),
                        "--password", "9999", "--quiet")
    assert code == 1
    _one_line_error(err, "locked.pdf", "wrong password")


def test_missing_index_empty_question_and_usage(capsys, tmp_path: Path):
    code, _, err = _run(capsys, "ask", "--index", str(tmp_path / "nowhere"), "What?")
    assert code == 1
    _one_line_error(err, "nowhere", "no docqa index")
    (tmp_path / "a.txt").write_text("hello")
    code, _, err = _run(capsys, "ask", str(tmp_path / "a.txt"), "  ")
    assert code == 1
    _one_line_error(err, "empty question")
    code, _, err = _run(capsys, "search", "--index", str(tmp_path / "nowhere"))
    assert code == 1
    _one_line_error(err, "missing question")
    with pytest.raises(SystemExit) as exc:
        main(["index"])
    assert exc.value.code == 2


@pytest.mark.slow
def test_index_then_search_json_and_existing_index_survives_bad_build(capsys, tmp_path: Path, bad_inputs):
    doc = tmp_path / "notes.txt"
    doc.write_text("Shopping list.\n\nThe spare key is hidden under the blue flowerpot.\n\nCall the plumber.\n")
    idx = tmp_path / "idx"
    code, out, err = _run(capsys, "index", str(doc), "--index", str(idx), "--json")
    assert code == 0, err
    info = json.loads(out)
    assert info["counts"]["documents"] == 1 and info["embedder"]["model"].endswith("all-MiniLM-L6-v2")
    manifest = (idx / "manifest.json").read_text()
    code, _, err = _run(capsys, "index", str(bad_inputs["corrupt.pdf"]), "--index", str(idx), "--quiet")
    assert code == 1 and (idx / "manifest.json").read_text() == manifest
    code, out, _ = _run(capsys, "search", "--index", str(idx), "where is the key hidden", "-k", "1", "--json")
    assert code == 0
    hit = json.loads(out)[0]
    assert "blue flowerpot" in hit["text"] and hit["label"].startswith(str(doc))
    other = tmp_path / "garden.txt"
    other.write_text("Tomatoes need full sun.\n\nWater the beans every morning.\n")
    assert _run(capsys, "index", str(other), "--index", str(idx), "--add", "--quiet")[0] == 0
    code, out, _ = _run(capsys, "search", "--index", str(idx), "where is the key hidden", "-k", "5", "--coarse", "1",
                        "--json")
    assert code == 0 and {h["label"].split(":")[0] for h in json.loads(out)} == {str(doc)}  # one document searched
    code, _, err = _run(capsys, "search", "--index", str(idx), "--coarse", "-1", "key")
    assert code == 1 and "coarse_docs must be >= 0" in err
    code, _, err = _run(capsys, "search", "--index", str(idx), "--embedder", str(tmp_path), "key")
    assert code == 1
    _one_line_error(err)


def test_search_json_is_the_same_from_the_cli_the_http_api_and_mcp(capsys, tmp_path: Path):
    """One serialisation (ingest.core.serialize): the hits the CLI prints are the API's and MCP's, field for field."""
    import httpx

    from app.mcp_server import search_result
    from app.sdk import Index
    from ingest.core.settings import Settings
    from tests.test_server import running

    doc = tmp_path / "notes.txt"
    doc.write_text("Shopping list.\n\nThe spare key is hidden under the blue flowerpot.\n\nCall the plumber.\n")
    idx = tmp_path / "idx"
    assert _run(capsys, "index", str(doc), "--index", str(idx), "--quiet")[0] == 0
    code, out, err = _run(capsys, "search", "--index", str(idx), "where is the key hidden", "-k", "2", "--json")
    assert code == 0, err
    cli = json.loads(out)
    index = Index.open(idx)
    try:
        with running(index, Settings(), api_key="") as base:
            api = httpx.post(f"{base}/v1/search", json={"query": "where is the key hidden", "k": 2},
                             timeout=30).json()["hits"]
        mcp = search_result("where is the key hidden", index.search("where is the key hidden", 2))
    finally:
        index.close()
    assert cli == api == mcp.structured_content["hits"]
    assert {"rank", "score", "id", "doc_id", "source", "label", "text", "chars", "page", "lines", "kind", "symbol",
            "splitter", "header", "table", "place", "ocr"} == set(cli[0])
