"""The neutral layer: records, errors, protocols, settings schema, registry and text helpers shared by every stage.

Nothing here imports a stage package (``app``, ``generation``, ``rerank``, ``retrieval``, or the rest of
``ingest``); an import-linter contract (``pyproject.toml``) keeps it that way.
"""
