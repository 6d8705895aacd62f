"""Office files and CSVs: Word (``docx_reader``), PowerPoint (``pptx_reader``), Excel and CSV (``sheets``), read
with python-docx, python-pptx, openpyxl and the csv module into a :class:`~ingest.core.records.Document` whose
``blocks`` say where each slide, paragraph and row sits; ``package`` opens the zip (decrypting a protected file,
refusing a zip bomb), ``layout`` builds the text and its blocks, ``passages`` cuts the blocks into passages.
"""

OFFICE_SUFFIXES = frozenset({".docx", ".pptx", ".xlsx", ".xlsm", ".csv", ".tsv"})
OFFICE_SCHEME = 1  # in an Office file's read key (retrieval/plan.py): bump when its text, blocks or passages change
