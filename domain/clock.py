"""Time: instants are stored in UTC; business dates are Jakarta calendar dates.

Asia/Jakarta (WIB) has been UTC+7 without daylight saving since 1964, so a fixed offset is exact
for every date this ledger records and needs no tz database in the domain.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

WIB = timezone(timedelta(hours=7), "WIB")


def jakarta_date(instant: datetime) -> date:
    return instant.astimezone(WIB).date()


def utc(instant: datetime) -> datetime:
    if instant.tzinfo is None:
        raise ValueError("instants must carry a UTC offset")
    return instant.astimezone(timezone.utc)
