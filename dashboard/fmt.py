"""How numbers look on screen: money as money, tokens in K/M. Display only; data stays exact."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pandas as pd


def money(value: Any, places: int = 2) -> str:
    """$1,234.57 (half-up, like an invoice); an em dash for a missing value."""
    if value is None or (isinstance(value, float) and value != value):
        return "—"
    amount = Decimal(str(value)).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    sign = "-" if amount < 0 else ""
    return f"{sign}${abs(amount):,.{places}f}"


def tokens(value: Any) -> str:
    """1.23B / 45.6M / 7.8K / 999."""
    if value is None:
        return "—"
    n = float(value)
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(n) >= limit:
            return f"{n / limit:,.{2 if abs(n) < 10 * limit else 1}f}{suffix}"
    return f"{int(n):,}"


def compact(value: Any, digits: int = 3) -> str:
    """A rate in K/M/B with ``digits`` significant digits: 1.99M, 2.0M, 150K, 74."""
    if value is None:
        return "—"
    n = float(value)
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(n) >= limit:
            scaled = n / limit
            text = f"{scaled:.{digits}g}"
            if "e" in text:  # 1000K and up: the next unit already took it; keep it plain
                text = f"{scaled:.0f}"
            if "." not in text and abs(scaled) < 10:
                text += ".0"
            return text + suffix
    return f"{int(round(n)):,}"


def peak_of_limit(peak: Any, limit: Any, unit: str) -> str:
    """ "1.99M of 2.0M TPM": enough digits that a peak just under its limit does not read as
    equal to it."""
    for digits in range(3, 8):
        shown, of = compact(peak, digits), compact(limit, digits)
        if shown != of or float(peak) == float(limit):
            break
    return f"{shown} of {of} {unit}"


def count(value: Any) -> str:
    return "—" if value is None else f"{int(value):,}"


def percent(value: Any, places: int = 1) -> str:
    return "—" if value is None else f"{float(value) * 100:.{places}f}%"


def money_float(frame: pd.DataFrame, columns: list[str] | None = None) -> pd.DataFrame:
    """A copy with DECIMAL money columns as floats, for charts (which cannot plot Decimal)."""
    out = frame.copy()
    for column in columns or [c for c in out.columns if c.endswith("_usd")]:
        if column in out:
            out[column] = out[column].astype("float64")
    return out
