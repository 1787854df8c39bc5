"""Nanonets scores onto one 0-1 scale (`score_to_confidence`), for the full models and the lean view."""

from __future__ import annotations

from decimal import Decimal


def score_to_confidence(raw: object) -> float | None:
    """A Nanonets score on our 0-1 scale, or None when it says nothing.

    - `0 < s <= 1` is already a 0-1 score; `1 < s <= 100` is a percentage (`99.99` → 0.9999). A score of
      exactly 1 reads as 1.0 (the 0-1 scale), not 1 %: scores are judged one by one, not per table.
    - `0` is Nanonets' "not scored" (tables and their cells in live data), not "certainly wrong": None, so
      a `min_confidence` rule does not fail it as if it were zero.
    - Negative, above 100, NaN, infinite, booleans and text that is not a number are absurd: None, and
      the document is kept (a bad score must not fail a whole document).
    """
    if type(raw) is float:
        number = raw
    elif type(raw) is int or isinstance(raw, str):  # `type`: a bool is an int too, and says nothing
        try:
            number = float(raw)
        except (ValueError, OverflowError):
            return None
    else:
        return None
    if 0.0 < number <= 1.0:  # the common case first: this runs for every box and cell
        return number
    if 1.0 < number <= 100.0:
        # Decimal shifts the point exactly: 99.99 becomes 0.9999, not 0.9998999999999999.
        return float(Decimal(repr(number)).scaleb(-2))
    return None  # 0, negative, above 100, NaN, infinite
