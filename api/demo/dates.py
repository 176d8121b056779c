"""The demo's calendar: the business dates it speaks of, the periods reports cover, and when
evidence goes in and is reviewed. Nothing is dated after DATA_UNTIL: a report due later goes in
on that day, and a review due later has not happened yet (the evidence waits in the queue).
"""

from __future__ import annotations

from datetime import date, timedelta
from random import Random

DATA_UNTIL = date(2025, 12, 31)  # the last business date the demo speaks of
REVIEW_BACKLOG_FROM = date(2025, 10, 1)  # the dinas falls behind: reviews take weeks to months
FILING_DAYS = (2, 10)  # a period's evidence goes in this many days after the period ends
AGREEMENT_DAYS = (0, 5)  # a perjanjian goes in this many days after it is signed
REVIEW_DAYS = (3, 30)  # the dinas reviews evidence this many days after it went in...
BACKLOG_REVIEW_DAYS = (20, 100)  # ... or this many, for evidence in from REVIEW_BACKLOG_FROM
# The chains send consignment recaps to the ledger from 2024 (when the dinas began its monthly
# evaluation): 2023 retail partnerships stop at "documented" in the funnel.
RETAIL_REPORTING_FROM = date(2024, 1, 1)

Period = tuple[date, date]


def periods(start: date, until: date, months: int) -> list[Period]:
    """Calendar months (1), quarters (3) or semesters (6) overlapping [start, until], clipped."""
    out = []
    first = date(start.year, (start.month - 1) // months * months + 1, 1)
    while first <= until:
        nxt = month_start(first.year, first.month + months)
        out.append((max(first, start), min(nxt - timedelta(days=1), until)))
        first = nxt
    return out


def month_start(year: int, month: int) -> date:
    return date(year + (month - 1) // 12, (month - 1) % 12 + 1, 1)


def filed(rng: Random, after: date, days: tuple[int, int] = FILING_DAYS) -> date:
    """A few days after `after` (the end of the period a report covers), at most DATA_UNTIL."""
    return min(after + timedelta(days=rng.randint(*days)), DATA_UNTIL)


def reviewed(rng: Random, submitted: date) -> date | None:
    """Some days to weeks after submission; None if that is after DATA_UNTIL (still waiting)."""
    days = BACKLOG_REVIEW_DAYS if submitted >= REVIEW_BACKLOG_FROM else REVIEW_DAYS
    on = submitted + timedelta(days=rng.randint(*days))
    return on if on <= DATA_UNTIL else None
