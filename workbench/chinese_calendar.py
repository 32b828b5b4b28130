"""The Chinese calendar dates the statistics depend on (Spring Festival)."""

from __future__ import annotations

from datetime import date


def spring_festival(year: int) -> date:
    """Chinese New Year's day (正月初一) of *year*, from the Chinese calendar (``lunardate``,
    1900-2099). Tests check it against the Hong Kong Observatory's conversion tables."""
    from lunardate import LunarDate

    try:
        return LunarDate(year, 1, 1).to_solar_date()
    except ValueError as exc:
        raise ValueError(f"no Spring Festival date for {year}: the Chinese calendar table covers 1900-2099") \
            from exc
