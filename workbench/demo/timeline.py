"""Months of the demo (2018-01 .. 2026-09) and the Spring Festival calendar."""

from __future__ import annotations

import datetime as dt

import numpy as np

from workbench.chinese_calendar import spring_festival

FIRST_MONTH = (2018, 1)
LAST_MONTH = (2026, 9)
PRICES_FROM = (2021, 1)



def month_list(first: tuple[int, int] = FIRST_MONTH, last: tuple[int, int] = LAST_MONTH) -> list[str]:
    """'YYYY-MM' labels from first to last inclusive."""
    out, (y, m) = [], first
    while (y, m) <= last:
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


MONTHS = month_list()


def month_start(label: str) -> dt.date:
    return dt.date(int(label[:4]), int(label[5:7]), 1)


def month_end(label: str) -> dt.date:
    y, m = int(label[:4]), int(label[5:7])
    nxt = dt.date(y + 1, 1, 1) if m == 12 else dt.date(y, m + 1, 1)
    return nxt - dt.timedelta(days=1)


def days_in_month(label: str) -> int:
    return month_end(label).day


def month_index(date: dt.date) -> int:
    """Months since 2018-01 (negative before)."""
    return (date.year - FIRST_MONTH[0]) * 12 + date.month - FIRST_MONTH[1]


def window_share(label: str, start_offset: int, end_offset: int) -> float:
    """Share of the month's days inside [CNY+start_offset, CNY+end_offset]."""
    start, end = month_start(label), month_end(label)
    days = 0
    for year in (start.year - 1, start.year, start.year + 1):
        cny = spring_festival(year)
        lo = max(start, cny + dt.timedelta(days=start_offset))
        hi = min(end, cny + dt.timedelta(days=end_offset))
        days += max(0, (hi - lo).days + 1)
    return days / days_in_month(label)


def festival_shutdown_share(label: str) -> float:
    """Share of the month in the Spring Festival shutdown (eve-7 .. 15th day)."""
    return window_share(label, -7, 14)


def festival_shopping_share(label: str) -> float:
    """Share of the month in the pre-festival shopping rush (3 weeks before)."""
    return window_share(label, -21, -1)


def spring_festival_month(year: int) -> str:
    """The month with the largest share of the shutdown."""
    cands = [f"{year}-01", f"{year}-02", f"{year}-03"]
    return max(cands, key=festival_shutdown_share)


def day_dates(label: str) -> np.ndarray:
    """All days of a month as datetime64[D]."""
    start = np.datetime64(label, "D")
    return start + np.arange(days_in_month(label))
