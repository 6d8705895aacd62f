"""The import contracts in pyproject.toml stay complete as modules are added (``lint-imports`` checks them)."""

from __future__ import annotations

import pkgutil
import tomllib
from pathlib import Path

import ingest

ROOT = Path(__file__).resolve().parents[1]


def _contract(name: str) -> dict:
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    return next(c for c in contracts if c["name"] == name)


def test_answering_stages_are_kept_from_every_ingest_module_outside_the_neutral_core():
    modules = {f"ingest.{m.name}" for m in pkgutil.iter_modules(ingest.__path__)} - {"ingest.core"}
    forbidden = set(_contract("generation and rerank use only ingest.core of ingest")["forbidden_modules"])
    assert forbidden == modules, f"add to the contract: {sorted(modules - forbidden)}; " \
                                 f"no longer exist: {sorted(forbidden - modules)}"


def test_retrieval_contract_names_only_modules_that_exist():
    modules = {f"ingest.{m.name}" for m in pkgutil.iter_modules(ingest.__path__)}
    forbidden = set(_contract("retrieval reaches ingest only through its entry points")["forbidden_modules"])
    assert forbidden <= modules, sorted(forbidden - modules)
