"""Instants in UTC, from what the lake stores and from what people type.

Two kinds of time without a zone reach the workbench and they mean different things:

* a timestamp the lake stored (Delta keeps instants in UTC; some readers hand them back
  without the zone): :func:`stored_instant` reads it as UTC;
* a wall time a person gave (an embargo "9:00 on 1 January"): :func:`city_instant`
  reads it in the bureau's zone, ``[lake].local_timezone``, since that is the clock the
  person read. A wall time the zone's clock skips or shows twice (a daylight-saving
  change) names no single instant and is refused.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import overload
from zoneinfo import ZoneInfo


@overload
def stored_instant(value: datetime) -> datetime: ...
@overload
def stored_instant(value: None) -> None: ...
def stored_instant(value: datetime | None) -> datetime | None:
    """A timestamp read from the lake as an aware UTC instant; without a zone it is UTC."""
    if value is None:
        return None
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


@overload
def city_instant(value: datetime, zone: str) -> datetime: ...
@overload
def city_instant(value: None, zone: str) -> None: ...
def city_instant(value: datetime | None, zone: str) -> datetime | None:
    """A time a person gave, as an aware UTC instant: a wall time without a zone is *zone*'s.

    ValueError when *zone*'s clock skips that wall time or shows it twice.
    """
    if value is None:
        return None
    if value.tzinfo is not None:
        return value.astimezone(timezone.utc)
    tz = ZoneInfo(zone)
    earlier, later = value.replace(tzinfo=tz, fold=0), value.replace(tzinfo=tz, fold=1)
    if earlier.utcoffset() != later.utcoffset():
        # fold=0 and fold=1 differ only where the clock jumps: a gap if the round trip moves the time
        skipped = earlier.astimezone(timezone.utc).astimezone(tz).replace(tzinfo=None) != value
        raise ValueError(f"{value:%Y-%m-%d %H:%M} in {zone} "
                         + ("does not exist (the clock skips it)" if skipped else
                            "happens twice (the clock goes back); give the time with its UTC offset"))
    return earlier.astimezone(timezone.utc)


def city_time(instant: datetime, zone: str) -> str:
    """An instant as the city's clock reads it, with the zone named: ``2030-01-02 07:00 (Asia/Shanghai)``."""
    return f"{instant.astimezone(ZoneInfo(zone)):%Y-%m-%d %H:%M} ({zone})"
