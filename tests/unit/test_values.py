"""service.core.values: dates, amounts, quantities and numbers as receipts really write them."""

from __future__ import annotations

import math
from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.core.values import (
    MAX_TEXT,
    infer_type,
    normalize_value,
    parse_amount,
    parse_date,
    parse_number,
    parse_quantity,
    type_from_label,
)

PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# ---------------------------------------------------------------------------------------------- dates


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-03-05", date(2024, 3, 5)),
        ("2024/3/5", date(2024, 3, 5)),
        ("2024.03.05", date(2024, 3, 5)),
        ("2024-03-05T10:00:00Z", date(2024, 3, 5)),
        ("05/03/2024", date(2024, 3, 5)),  # day-first
        ("5/3/2024", date(2024, 3, 5)),
        ("23/12/2025", date(2025, 12, 23)),
        ("23-12-25", date(2025, 12, 23)),
        ("15.03.24", date(2024, 3, 15)),
        ("15.03.2024", date(2024, 3, 15)),
        ("12/23/2025", date(2025, 12, 23)),  # month-first only because day-first is impossible
        ("12/13/2025", date(2025, 12, 13)),
        ("03/04/2025", date(2025, 4, 3)),  # ambiguous: day-first wins
        ("29/02/2024", date(2024, 2, 29)),  # leap year
        ("01/01/70", date(1970, 1, 1)),  # two-digit years: 19yy from 70
        ("01/01/69", date(2069, 1, 1)),  # ... and 20yy below 70
        ("5 Mar 2024", date(2024, 3, 5)),
        ("5-mar-2024", date(2024, 3, 5)),
        ("23-Dic-25", date(2025, 12, 23)),
        ("3 sept. 2024", date(2024, 9, 3)),
        ("3 ago 2024", date(2024, 8, 3)),
        ("3 Aug 2024", date(2024, 8, 3)),
        ("5 de marzo de 2024", date(2024, 3, 5)),
        ("5 de marzo del 2024", date(2024, 3, 5)),
        ("1 Diciembre 2025", date(2025, 12, 1)),
        ("1 diciémbre 2025", date(2025, 12, 1)),  # accents folded
        ("March 5, 2024", date(2024, 3, 5)),
        ("Mar 5th, 2024", date(2024, 3, 5)),
        ("Sept 3, 2024", date(2024, 9, 3)),
        ("fecha: 23/12/2025 10:31", date(2025, 12, 23)),
        ("  05/03/2024  ", date(2024, 3, 5)),
    ],
)
def test_parse_date_formats(text: str, expected: date) -> None:
    assert parse_date(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "31/02/2024",  # no 31 February
        "29/02/2023",  # not a leap year
        "31/04/2024",
        "04/31/2024",  # month-first fallback does not invent April 31 either
        "13/13/2024",
        "00/01/2024",
        "2024-13-01",
        "2024-02-30",
        "99/99/99",
        "5 Foo 2024",  # not a month name
        "20240305",  # no separators
        "12/2025",  # no day
        "05/03/20241",  # year runs into more digits
        "abc",
        "",
        "   ",
    ],
)
def test_parse_date_rejects_impossible_or_non_dates(text: str) -> None:
    assert parse_date(text) is None


def test_parse_date_ignores_overlong_text() -> None:
    assert parse_date("x" * MAX_TEXT + " 23/12/2025") is None


@pytest.mark.parametrize("value", [None, 20240305, 1.5, b"05/03/2024", ["05/03/2024"]])
def test_parsers_return_none_for_non_strings(value: object) -> None:
    for parser in (parse_date, parse_amount, parse_quantity, parse_number):
        assert parser(value) is None  # type: ignore[arg-type]


@PROPERTY
@given(st.dates(min_value=date(1970, 1, 1), max_value=date(2069, 12, 31)))
def test_dates_round_trip_through_common_layouts(day: date) -> None:
    layouts = [
        day.isoformat(),
        f"{day.day:02d}/{day.month:02d}/{day.year}",
        f"{day.day}-{day.month}-{day.year}",
        f"{day.day:02d}.{day.month:02d}.{day.year % 100:02d}",
        day.strftime("%d %b %Y"),
        day.strftime("%B %d, %Y"),
    ]
    for text in layouts:
        assert parse_date(text) == day, text


# -------------------------------------------------------------------------------------------- amounts


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1.234,56", 1234.56),  # EU
        ("1,234.56", 1234.56),  # US
        ("1.234.567,89", 1234567.89),
        ("1,234,567.89", 1234567.89),
        ("1 234,56", 1234.56),  # space groups thousands
        ("1\u00a0234,56", 1234.56),  # no-break space
        ("1'234.56", 1234.56),  # Swiss
        ("45,99", 45.99),
        ("45.99", 45.99),
        ("0,99", 0.99),
        ("1,5", 1.5),
        ("12.345,6", 12345.6),
        ("1,4590", 1.459),  # four decimals: a decimal separator
        ("0.12345", 0.12345),
        ("1.234", 1234.0),  # one separator followed by exactly three digits: thousands
        ("1,234", 1234.0),
        ("1.000.000", 1000000.0),
        ("45,99 €", 45.99),
        ("€45.99", 45.99),
        ("$1,234.56", 1234.56),
        ("£3.50", 3.5),
        ("12,5 $", 12.5),
        ("USD 1,234.56", 1234.56),
        ("1.234,56 EUR", 1234.56),
        ("EUR 12", 12.0),
        ("12 euros", 12.0),
        ("10 usd", 10.0),
        ("$ 0.00", 0.0),
        ("-12.50", -12.5),  # leading minus
        ("12.50-", -12.5),  # trailing minus
        ("12.50 €-", -12.5),
        ("- 12,50 €", -12.5),
        ("€ -12,50", -12.5),
        ("(12.50)", -12.5),  # accounting parentheses
        ("(€12.50)", -12.5),
        ("(1.234,56 €)", -1234.56),
    ],
)
def test_parse_amount_formats(text: str, expected: float) -> None:
    assert parse_amount(text) == pytest.approx(expected)


@pytest.mark.parametrize(
    "text",
    [
        "IVA 21%",  # a rate is not an amount
        "21%",
        "45,99 litros",  # a quantity is not an amount
        "Total: 45,99",  # words around the number
        "12.50 CR",
        "JPY 100",  # unknown currency code is a word
        "abc",
        "€",
        "",
        "   ",
        "9" * (MAX_TEXT + 1),
    ],
)
def test_parse_amount_rejects_non_amounts(text: str) -> None:
    assert parse_amount(text) is None


@pytest.mark.parametrize(("text", "expected"), [(".99", 0.99), (",99", 0.99), ("$.50", 0.5), ("€ ,75", 0.75)])
def test_parse_amount_leading_decimal_separator(text: str, expected: float) -> None:
    assert parse_amount(text) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("parser", "text", "expected"),
    [
        (parse_amount, "0,035", 0.035),  # a per-litre discount on a fuel receipt
        (parse_amount, "-0,035 €", -0.035),
        (parse_number, "0.459", 0.459),
        (parse_quantity, "0,500 kg", 0.5),  # a scale ticket
    ],
)
def test_zero_point_three_decimals_is_a_fraction(parser: object, text: str, expected: float) -> None:
    assert parser(text) == pytest.approx(expected)  # type: ignore[operator]


_CURRENCY_AROUND = [("", ""), ("€", ""), ("", " €"), ("$", ""), ("USD ", ""), ("", " EUR")]


def _group(integer: int, separator: str) -> str:
    return f"{integer:,}".replace(",", separator)


@PROPERTY
@given(
    value=st.floats(min_value=-1e9, max_value=1e9, allow_nan=False, allow_infinity=False),
    style=st.sampled_from(["us", "eu", "plain", "space", "plain_comma"]),
    currency=st.sampled_from(_CURRENCY_AROUND),
    negative_style=st.sampled_from(["leading", "trailing", "parentheses"]),
)
def test_parse_amount_round_trips_formatted_floats(
    value: float, style: str, currency: tuple[str, str], negative_style: str
) -> None:
    cents = round(abs(value) * 100)
    integer, fraction = divmod(cents, 100)
    if style == "us":
        digits = f"{_group(integer, ',')}.{fraction:02d}"
    elif style == "eu":
        digits = f"{_group(integer, '.')},{fraction:02d}"
    elif style == "space":
        digits = f"{_group(integer, ' ')},{fraction:02d}"
    elif style == "plain_comma":
        digits = f"{integer},{fraction:02d}"
    else:
        digits = f"{integer}.{fraction:02d}"
    body = f"{currency[0]}{digits}{currency[1]}"
    negative = value < 0 and cents > 0
    if negative:
        body = {"leading": f"-{body}", "trailing": f"{body}-", "parentheses": f"({body})"}[negative_style]
    parsed = parse_amount(body)
    assert parsed is not None, body
    assert abs(parsed - value) <= 0.005 + 1e-6, body


# -------------------------------------------------------------------------------- quantities, numbers


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("50L", 50.0),
        ("50 L", 50.0),
        ("50 L.", 50.0),
        ("50,5 l", 50.5),
        ("50 litros", 50.0),
        ("1.234,5 kg", 1234.5),
        ("1 234 l", 1234.0),
        ("0,5 kg.", 0.5),
        ("3 uds", 3.0),
        ("3 ud.", 3.0),
        ("100 ml", 100.0),
        ("-2 uds", -2.0),
        ("12", 12.0),  # a bare number is a quantity too
        ("12,5", 12.5),
    ],
)
def test_parse_quantity(text: str, expected: float) -> None:
    assert parse_quantity(text) == pytest.approx(expected)


@pytest.mark.parametrize("text", ["abc", "L50", "50L gasoil", "45,99 €", "", "   "])
def test_parse_quantity_rejects(text: str) -> None:
    assert parse_quantity(text) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("12", 12.0),
        ("  7  ", 7.0),
        ("12,5", 12.5),
        ("1.234,56", 1234.56),
        ("1 234", 1234.0),
        ("+5", 5.0),
        ("-12", -12.0),
        ("12-", -12.0),
        ("(12)", -12.0),
        ("- 3", -3.0),
    ],
)
def test_parse_number(text: str, expected: float) -> None:
    assert parse_number(text) == pytest.approx(expected)


@pytest.mark.parametrize("text", ["abc", "12 kg", "12%", "1e5", "€12", "", "12 34 x"])
def test_parse_number_rejects(text: str) -> None:
    assert parse_number(text) is None


# ------------------------------------------------------------------------------------ never raises


@PROPERTY
@given(st.text())
def test_parsers_never_raise_and_return_their_types(text: str) -> None:
    parsed_date = parse_date(text)
    assert parsed_date is None or isinstance(parsed_date, date)
    for parser in (parse_amount, parse_quantity, parse_number):
        parsed = parser(text)
        assert parsed is None or (isinstance(parsed, float) and math.isfinite(parsed))


@PROPERTY
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=40), st.text())
def test_typing_never_raises(label: str, text: str) -> None:
    field_type = infer_type(label, text)
    assert field_type in ("date", "amount", "quantity", "number", "text")
    assert type_from_label(label) in (None, "date", "amount", "quantity", "number", "text")
    for kind in ("date", "amount", "quantity", "number", "text"):
        normalized = normalize_value(kind, text)  # type: ignore[arg-type]
        assert normalized is None or isinstance(normalized, str | float)


@PROPERTY
@given(st.text(alphabet="0123456789.,'- ()€$\u00a0Ll", max_size=60))
def test_number_shaped_text_never_raises(text: str) -> None:
    for parser in (parse_date, parse_amount, parse_quantity, parse_number):
        parser(text)


# ---------------------------------------------------------------------------------- type inference


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("fecha", "date"),
        ("Fecha_Emision", "date"),
        ("invoice_date", "date"),
        ("due_date", "date"),
        ("vencimiento", "date"),
        ("total", "amount"),
        ("Importe Total", "amount"),
        ("IVA", "amount"),
        ("base_imponible", "amount"),
        ("Subtotal", "amount"),
        ("descuento", "amount"),
        ("Precio/L", "amount"),
        ("cantidad", "quantity"),
        ("litros", "quantity"),
        ("qty", "quantity"),
        ("total_litros", "quantity"),  # quantity hints win over amount hints
        ("fecha_pago", "date"),  # date hints win over amount hints
        ("matricula", None),
        ("vendor", None),
        ("notes", None),
    ],
)
def test_type_from_label(label: str, expected: str | None) -> None:
    assert type_from_label(label) == expected


@pytest.mark.parametrize(
    ("label", "text"),
    [
        ("tax_id", "B12345678"),
        ("vat_number", "ESB12345678"),
        ("forma_pago", "VISA"),
        ("payment_method", "Cash"),
    ],
)
def test_identifier_labels_are_not_amounts(label: str, text: str) -> None:
    assert infer_type(label, text) == "text"


def test_tax_id_keeps_its_digits() -> None:
    assert normalize_value(infer_type("tax_id", "01234567"), "01234567") == "01234567"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("23/12/2025", "date"),
        ("5 Mar 2024", "date"),
        ("A 23/12/2025", "date"),
        ("45,99 €", "amount"),
        ("12 EUR", "amount"),
        ("50L", "quantity"),
        ("3 uds", "quantity"),
        ("12,5", "number"),
        ("1.234,56", "number"),
        ("12", "text"),  # digits alone are ids
        ("00123", "text"),
        ("2024", "text"),
        ("1234-ABC", "text"),  # a plate, not 1234 of "ABC"
        ("1234 ABC", "text"),
        ("B12345678", "text"),
        ("Gasoil", "text"),
        ("12/2025", "text"),
        ("Repsol Estacion de servicio Calle Mayor 1 28001 Madrid 23/12/2025 gracias por su visita", "text"),
    ],
)
def test_infer_type_from_shape(text: str, expected: str) -> None:
    assert infer_type("campo", text) == expected


def test_label_hint_holds_when_the_text_does_not_parse() -> None:
    assert infer_type("fecha", "no legible") == "date"
    assert normalize_value("date", "no legible") is None
    assert infer_type("total", "ilegible") == "amount"


@pytest.mark.parametrize(
    ("field_type", "text", "expected"),
    [
        ("date", "23/12/2025", "2025-12-23"),
        ("date", "31/02/2024", None),
        ("amount", "1.234,56 €", 1234.56),
        ("amount", "IVA 21%", None),
        ("quantity", "50L", 50.0),
        ("number", "12,5", 12.5),
        ("number", "doce", None),
        ("text", "  Gasoil  ", "Gasoil"),
        ("text", "   ", None),
    ],
)
def test_normalize_value(field_type: str, text: str, expected: object) -> None:
    assert normalize_value(field_type, text) == expected  # type: ignore[arg-type]
