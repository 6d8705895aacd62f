"""Amounts and their scales as documents and questions print them: the one grammar of numbers with units.

A table cell "$ (1,234)" (``ingest/tables.py`` finds it, ``ingest/table_rows.py`` reads it), a model's operand
"$6,489 million" (``generation/compute.py``), a table's or passage's "(In millions, except per share data)" and a
question's "in USD billions" (``generation/figures.py``) are all read with these pieces.

- :data:`DIGITS` a number as printed ("1,234.5", "0.5", ".5"); :data:`SCALES` the scale words and their factors.
- :func:`parse_amount` one amount with its sign, unit and scale (:class:`Amount`); :func:`cell_value` a table
  cell's value (a dash is no value).
- :data:`SCALE_NOTE` / :func:`stated_scale` the scale a text states for its amounts; :data:`SCALE_ASKED` the one a
  question asks for.

Neutral layer: imports nothing of ours outside ``ingest.core``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

#: A number as printed: thousands separated by commas or not, with or without decimals (a pattern, no groups).
DIGITS = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+"
#: Minus signs as printed (hyphen, minus, en dash).
MINUS = "-−–"
#: Dashes standing for no value in a table.
DASHES = "-—–−"

#: Small numbers spelled out, each at its value's index ("three": 3).
NUMBER_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
                "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty")
#: Scale words and their factors.
SCALES = {"thousand": Decimal(10) ** 3, "million": Decimal(10) ** 6, "billion": Decimal(10) ** 9,
          "trillion": Decimal(10) ** 12}
_SCALE_ALIASES = {"k": "thousand", "thousands": "thousand", "m": "million", "mm": "million", "mn": "million",
                  "millions": "million", "b": "billion", "bn": "billion", "billions": "billion",
                  "trillions": "trillion"}
_PLURAL_SCALES = r"(thousands|millions|billions)"
#: A text's statement of the scale of its amounts ("(In millions, except per share data)"); group 1 the word.
SCALE_NOTE = re.compile(rf"\bin\s+{_PLURAL_SCALES}\b", re.IGNORECASE)  # "(In\xa0millions)": any space
#: The scale a question asks its answer in ("Answer in USD billions"); group 1 the word.
SCALE_ASKED = re.compile(rf"\bin\s+(?:units of )?(?:USD |US\$ ?|\$ ?)?{_PLURAL_SCALES}\b", re.IGNORECASE)

_AMOUNT = re.compile(
    rf"^(?P<sign>[{MINUS}(]\s*)?(?P<cur>(?:US\$|\$|USD)\s*)?(?P<sign2>[{MINUS}]\s*)?(?P<num>{DIGITS})\s*\)?\s*"
    r"(?P<pct>%|percent\b|per cent\b)?\s*"
    r"(?:(?P<scale>thousands?|millions?|billions?|trillions?|mm|mn|bn|k|m|b)\b\.?)?\s*"
    r"(?:(?:USD|dollars?)\b)?\s*$", re.IGNORECASE)


def scale_name(word: str) -> str:
    """The scale a word names ("thousand", "million", "billion", "trillion"), "" for none.

    >>> scale_name("MM"), scale_name("Billions"), scale_name("")
    ('million', 'billion', '')
    """
    word = word.lower()
    return _SCALE_ALIASES.get(word, word)


def stated_scale(text: str) -> str:
    """The scale a text states for its amounts ("thousand", "million", "billion"), or "".

    >>> stated_scale("BALANCE SHEETS\\n(Dollars In Millions)"), stated_scale("2019 2018")
    ('million', '')
    >>> stated_scale("(In\\xa0millions) 2021 2020")  # a PDF's no-break space
    'million'
    """
    m = SCALE_NOTE.search(text)
    return scale_name(m.group(1)) if m else ""


@dataclass(frozen=True, slots=True)
class Amount:
    """A number as written: signed value, unit ("$", "%" or "") and scale word ("" when none)."""

    value: Decimal
    unit: str = ""
    scale: str = ""


def parse_amount(text: str) -> Amount | None:
    """The one amount ``text`` is, with its sign, unit and scale; None when it is not exactly one number.

    >>> parse_amount("$6,489 million")
    Amount(value=Decimal('6489'), unit='$', scale='million')
    >>> parse_amount("(1,234)"), parse_amount("12.5%").unit, parse_amount("6,489 and 7")
    (Amount(value=Decimal('-1234'), unit='', scale=''), '%', None)
    """
    m = _AMOUNT.match(text.strip())
    if not m:
        return None
    value = Decimal(m.group("num").replace(",", ""))
    if m.group("sign") or m.group("sign2"):
        value = -value
    unit = "%" if m.group("pct") else "$" if m.group("cur") else ""
    return Amount(value, unit, scale_name(m.group("scale") or ""))


def cell_value(text: str) -> tuple[Decimal | None, bool]:
    """A table cell's value (parentheses and a leading minus negative; a dash is None) and whether it is a
    percent.

    >>> cell_value("$ (1,234)"), cell_value("—"), cell_value("12.5 %")
    ((Decimal('-1234'), False), (None, False), (Decimal('12.5'), True))
    """
    digits = re.search(r"\d[\d,]*(?:\.\d+)?", text)
    if digits is None:
        return None, False
    value = Decimal(digits.group().replace(",", ""))
    if "(" in text or re.search(rf"[{MINUS}]\s?\$?\s?\d", text):
        value = -value
    return value, "%" in text
