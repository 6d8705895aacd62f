"""Hostile inputs for the ingest path, and the machinery to run them: the fuzz and fault suite.

- :mod:`tests.fuzz.pdfs`: PDFs, well formed (fpdf2), mutated, structurally broken, encrypted.
- :mod:`tests.fuzz.families`: one seeded generator per input family (``FAMILIES``).
- :mod:`tests.fuzz.harness`: writes cases to disk, runs them through :func:`ingest.read.read_paths` and
  classifies each file (indexed, skipped, clean error, crash, hang, memory) with its cost.
- :mod:`tests.fuzz.faults`: builds killed with SIGKILL at random points, concurrent writers, readers.

``tests/test_fuzz.py`` and ``tests/test_faults.py`` run a few hundred cases in CI;
``bench/fuzz_ingest.py`` runs the long mode (10,000+ cases) and writes the figures.
"""
