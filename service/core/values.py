"""Typed values as receipts and invoices really write them (Spanish and English). Pure, never raises.

Decisions, so the behaviour is predictable:
- Dates are day-first (`03/04/2025` is 3 April). Month-first is accepted only when day-first is impossible
  (`12/23/2025`). Two-digit years are 20yy below 70 and 19yy from 70.
- Amounts: with both `.` and `,` the last one is the decimal separator. With one kind only, it is a thousands
  separator when it repeats or when exactly three digits follow it (`1.234` and `1,234` are 1234; amounts
  have two decimals), else the decimal separator (`45,99`, `1,5`). Nothing or a lone 0 before it makes it
  decimal whatever follows (`,99`, `0,035`). Spaces, no-break spaces and `'` group
  thousands. A leading or trailing `-`, or parentheses, make it negative.
- Quantities are a number followed by a unit (`50L`, `50,5 l`, `3 uds`); the number follows the amount rule.
- A type comes from the rules file, else from the label (`fecha` → date, `total` → amount, `cantidad` →
  quantity: a word of the label starts with the hint, so `fechafactura` is a date and `holiday` is not; a
  label naming an identifier, such as `tax_id`, `vat_number` or `forma_pago`, is text), else from the
  text's shape. A label hint holds even when the text does not parse: then
  `normalized` is None and validation can say `bad_format`.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from typing import Literal

FieldType = Literal["date", "amount", "quantity", "number", "text"]
MAX_TEXT = 256  # longer strings are not dates or amounts; don't spend regex time on them

MONTHS: dict[str, int] = {}
for _number, _names in enumerate(
    [
        ("ene", "enero", "jan", "january"),
        ("feb", "febrero", "february"),
        ("mar", "marzo", "march"),
        ("abr", "abril", "apr", "april"),
        ("may", "mayo"),
        ("jun", "junio", "june"),
        ("jul", "julio", "july"),
        ("ago", "agosto", "aug", "august"),
        ("sep", "sept", "septiembre", "setiembre", "september"),
        ("oct", "octubre", "october"),
        ("nov", "noviembre", "november"),
        ("dic", "diciembre", "dec", "december"),
    ],
    start=1,
):
    for _name in _names:
        MONTHS[_name] = _number

_ISO = re.compile(r"(?<!\d)(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?!\d)")
_NUMERIC = re.compile(r"(?<!\d)(\d{1,2})[-/.](\d{1,2})[-/.](\d{4}|\d{2})(?!\d)")
_DAY_MONTH_NAME = re.compile(
    r"(?<!\d)(\d{1,2})(?:\s+de(?=\s))?[\s./-]*([a-z]{3,10})\.?(?:\s+de[l]?(?=\s))?[\s.,/-]*(\d{4}|\d{2})(?!\d)"
)
_MONTH_NAME_DAY = re.compile(r"\b([a-z]{3,10})\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})(?!\d)")

_CURRENCY = re.compile(r"€|\$|£|\b(?:eur|euros?|usd|gbp)\b", re.IGNORECASE)
_NUMBER = re.compile(r"(?:(?<!\d)[.,](?=\d))?\d(?:[\d.,'\u00a0 ]*\d)?")
_QUANTITY = re.compile(r"^\s*[-+]?\s*(\d(?:[\d.,'\u00a0 ]*\d)?)\s*([a-zA-Z\u00c0-\u017f.]{1,12})\s*$")
_PLAIN_NUMBER = re.compile(r"^\s*[-+(]?\s*[.,]?\d(?:[\d.,'\u00a0 ]*\d)?\s*\)?\s*-?\s*$")
# The common shapes, read without the general searches: `01/11/2026` (surrounding spaces allowed), and
# `40,00 €` / `1.234,56` (digits and separators starting and ending with a digit, an optional trailing €).
_NUMERIC_ONLY = re.compile(r"\s*(\d{1,2})[-/.](\d{1,2})[-/.](\d{4}|\d{2})\s*")
_PLAIN_AMOUNT = re.compile(r"\s*(\d(?:[\d.,]*\d)?)\s*(?:€\s*)?")
_LETTERS = re.compile(r"[a-z]")
_GROUPING = re.compile(r"[\s'\u00a0]")
_WORDS = re.compile(r"[a-z]+")
_DECIMAL_MARK = re.compile(r"[.,]")

_LABEL_HINTS: tuple[tuple[FieldType, tuple[str, ...]], ...] = (
    ("date", ("fecha", "date", "dia", "day", "vencimiento", "due")),
    (
        "quantity",
        (
            "cantidad",
            "litros",
            "litres",
            "liters",
            "quantity",
            "qty",
            "volumen",
            "volume",
            "peso",
            "weight",
            "unidades",
            "units",
        ),
    ),
    (
        "amount",
        (
            "total",
            "importe",
            "amount",
            "precio",
            "price",
            "iva",
            "vat",
            "tax",
            "base",
            "subtotal",
            "impuesto",
            "descuento",
            "discount",
            "pago",
            "payment",
            "coste",
            "cost",
        ),
    ),
)


def _fold(text: str) -> str:
    """Lowercase without accents: `Diciembre` and `diciémbre` are the same month."""
    if text.isascii():
        return text.lower()  # nothing to decompose: the common case, at C speed
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _make_date(year: int, month: int, day: int) -> date | None:
    if year < 100:
        year += 2000 if year < 70 else 1900
    try:
        return date(year, month, day)
    except ValueError:
        return None


def parse_date(text: str) -> date | None:
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_TEXT:
        return None
    if match := _NUMERIC_ONLY.fullmatch(text):
        return _numeric_date(match)  # what the searches below find in such a text, at half the cost
    folded = _fold(text)
    if match := _ISO.search(folded):
        return _make_date(int(match[1]), int(match[2]), int(match[3]))
    if match := _NUMERIC.search(folded):
        return _numeric_date(match)
    if (match := _DAY_MONTH_NAME.search(folded)) and match[2] in MONTHS:
        return _make_date(int(match[3]), MONTHS[match[2]], int(match[1]))
    if (match := _MONTH_NAME_DAY.search(folded)) and match[1] in MONTHS:
        return _make_date(int(match[3]), MONTHS[match[1]], int(match[2]))
    return None


def _numeric_date(match: re.Match[str]) -> date | None:
    """A day-first numeric date (`_NUMERIC`), month-first only where day-first is impossible."""
    first, second, year = int(match[1]), int(match[2]), int(match[3])
    return _make_date(year, second, first) or (
        _make_date(year, first, second) if first <= 12 < second else None
    )


def _number_from_digits(digits: str) -> float | None:
    """`1.234,56` → 1234.56 by the separator rule of the module docstring."""
    return _number_from_compact(_GROUPING.sub("", digits))


def _number_from_compact(compact: str) -> float | None:
    """`_number_from_digits` of digits that hold no grouping space or `'`."""
    if not compact:
        return None
    has_dot, has_comma = "." in compact, "," in compact
    if has_dot and has_comma:
        decimal = "," if compact.rfind(",") > compact.rfind(".") else "."
        thousands = "." if decimal == "," else ","
        compact = compact.replace(thousands, "").replace(decimal, ".")
    elif has_dot or has_comma:
        separator = "." if has_dot else ","
        head, _, tail = compact.rpartition(separator)
        if compact.count(separator) > 1 or (len(tail) == 3 and head not in ("", "0")):
            compact = compact.replace(separator, "")
        else:
            compact = head.replace(separator, "") + "." + tail
    try:
        return float(compact)
    except ValueError:
        return None


def _is_negative(text: str, match: re.Match[str]) -> bool:
    before, after = text[: match.start()].strip(), text[match.end() :].strip()
    return before.endswith("-") or after.startswith("-") or (before.endswith("(") and after.startswith(")"))


def parse_amount(text: str) -> float | None:
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_TEXT:
        return None
    if match := _PLAIN_AMOUNT.fullmatch(text):
        # What the general reading below makes of such a text (no letter, sign or %; the number is the
        # whole match of _NUMBER, with no grouping space), without its four regexes.
        return _number_from_compact(match[1])
    without_currency = _CURRENCY.sub(" ", text)
    if _LETTERS.search(_fold(without_currency)):
        return None  # "45,99 litros" or "IVA 21%" is not an amount
    match = _NUMBER.search(without_currency)
    if match is None or "%" in without_currency:
        return None
    value = _number_from_digits(match.group())
    if value is None:
        return None
    return -value if _is_negative(without_currency, match) else value


def parse_quantity(text: str) -> float | None:
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_TEXT:
        return None
    match = _QUANTITY.match(text)
    if match is not None:
        value = _number_from_digits(match[1])
        return -value if value is not None and text.strip().startswith("-") else value
    return parse_number(text)


def parse_number(text: str) -> float | None:
    if not isinstance(text, str) or len(text) > MAX_TEXT or not _PLAIN_NUMBER.match(text):
        return None
    match = _NUMBER.search(text)
    if match is None:
        return None
    value = _number_from_digits(match.group())
    if value is None:
        return None
    return -value if _is_negative(text, match) else value


_IDENTIFIER_WORDS = frozenset(
    {"id", "nif", "cif", "number", "numero", "num", "no", "code", "codigo", "ref", "referencia"}
    | {"method", "metodo", "forma", "medio", "tipo", "type", "name", "nombre"}
)


def type_from_label(label: str) -> FieldType | None:
    words = _WORDS.findall(_fold(label))
    if any(word in _IDENTIFIER_WORDS for word in words):
        return None  # `tax_id`, `vat_number`, `forma_pago`: the hint word is not what the field holds
    for field_type, starts_a_hint in _HINT_STARTS:
        if any(starts_a_hint(word) for word in words):
            return field_type
    return None


# A word "starts with a hint" of a type: one precompiled alternation per type, not a loop over hints.
_HINT_STARTS = tuple(
    (field_type, re.compile("|".join(map(re.escape, hints))).match) for field_type, hints in _LABEL_HINTS
)


def infer_type(label: str, text: str) -> FieldType:
    hinted = type_from_label(label)
    if hinted is not None:
        return hinted
    if not isinstance(text, str) or len(text) > MAX_TEXT:
        return "text"
    if parse_date(text) is not None and _looks_like_date(text):
        return "date"
    if _CURRENCY.search(text) and parse_amount(text) is not None:
        return "amount"
    if _QUANTITY.match(text) and not _ID_LIKE.match(text):
        return "quantity"
    if _PLAIN_NUMBER.match(text) and _DECIMAL_MARK.search(text):
        return "number"  # digits alone are ids (invoice numbers keep their leading zeros as text)
    return "text"


_ID_LIKE = re.compile(r"^\s*\d{3,}\s*-?\s*[A-Z]{2,4}\s*$")  # 1234-ABC is a plate, not 1234 of "ABC"


def _looks_like_date(text: str) -> bool:
    """A date found inside a long free text does not make the field a date."""
    stripped = text.strip()
    return len(stripped) <= 40 and sum(c.isalpha() for c in stripped) <= 20


def normalize_value(field_type: FieldType, text: str) -> str | float | None:
    if field_type == "date":
        parsed = parse_date(text)
        return parsed.isoformat() if parsed else None
    if field_type == "amount":
        return parse_amount(text)
    if field_type == "quantity":
        return parse_quantity(text)
    if field_type == "number":
        return parse_number(text)
    stripped = text.strip() if isinstance(text, str) else ""
    return stripped or None
