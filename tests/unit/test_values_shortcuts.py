"""service.core.values reads the common shapes (`01/11/2026`, `40,00 €`) without its general searches:
the shortcut must read every text exactly as the general reading does."""

from __future__ import annotations

import re

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from service.core import values

NEVER = re.compile(r"(?!)")
# Digits (ASCII, fullwidth, Arabic-Indic), separators, spaces (also no-break), currency, signs, letters.
TEXT = st.text(alphabet="0123456789\uff11\u0663./,-  \u00a0€$%()eurEUR'abc", max_size=14)


def _general(parse: object, text: str, monkeypatch: pytest.MonkeyPatch) -> object:
    with monkeypatch.context() as patched:
        patched.setattr(values, "_NUMERIC_ONLY", NEVER)
        patched.setattr(values, "_PLAIN_AMOUNT", NEVER)
        return parse(text)  # type: ignore[operator]


@settings(max_examples=500, deadline=None)
@given(TEXT)
@example("01/11/2026")
@example(" 1/2/26 ")
@example("31/02/2026")
@example("12/23/2025")
@example("40,00 €")
@example("1.234,56")
@example("1,234")
@example("\uff10\uff11/\uff11\uff11/\uff12\uff10\uff12\uff16")  # fullwidth digits
def test_shortcuts_read_every_text_as_the_general_reading_does(text: str) -> None:
    with pytest.MonkeyPatch.context() as monkeypatch:
        for parse in (values.parse_date, values.parse_amount, values.parse_quantity):
            assert repr(parse(text)) == repr(_general(parse, text, monkeypatch))
        for field_type in ("date", "amount", "quantity", "number", "text"):
            read = values.normalize_value(field_type, text)  # type: ignore[arg-type]
            general = _general(lambda t, f=field_type: values.normalize_value(f, t), text, monkeypatch)
            assert repr(read) == repr(general)
        assert values.infer_type("x", text) == _general(
            lambda t: values.infer_type("x", t), text, monkeypatch
        )
