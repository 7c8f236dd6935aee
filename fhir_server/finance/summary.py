"""The finance summary: totals of counted clinic expenses and incomes over a period of days.

Bounded scan: Invoices are found by an ordinary search on ``date`` (index-served), widened by 14
hours on each side so that every zone's local day is covered, restricted to counted statuses, at
most ``SCAN_LIMIT`` of them (more is a 400 asking for a shorter period). The exact day test is
then made on the date as written. Amounts are summed as ``Decimal`` in Python rather than by a MongoDB
``$sum``, which would add doubles. Each invoice counts in the calendar day its ``date`` names as
written (the clinic's local day: no time-zone shift); a date of month precision counts on the
month's first day, one of year precision is not counted.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, Final

from fhir_server.errors import BadRequest, TooCostly
from fhir_server.finance.invoices import COUNTED_STATUSES, EXPENSE, INCOME, FinanceEntry, finance_entry
from fhir_server.finance.money import money
from fhir_server.services import Searcher
from fhir_server.store.repository import instant

SCAN_LIMIT: Final = 100_000
MAX_MONTHS: Final = 240  # twenty years: a longer report is not a summary any more
ZERO: Final = Decimal(0)
ZONE_SLACK: Final = timedelta(hours=14)  # the widest UTC offset: a local day lies within this of UTC


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # inclusive

    def months(self) -> list[str]:
        found, year, month = [], self.start.year, self.start.month
        while (year, month) <= (self.end.year, self.end.month):
            found.append(f"{year:04d}-{month:02d}")
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        return found


def parse_period(start: Any, end: Any) -> Period:
    """Both bounds as YYYY-MM-DD, start not after end, at most MAX_MONTHS months; else 400."""
    bounds = []
    for name, value in (("start", start), ("end", end)):
        if not isinstance(value, str):
            raise BadRequest(f"the '{name}' parameter (a date, YYYY-MM-DD) is required", (name,))
        try:
            if len(value) != 10:
                raise ValueError(value)
            bounds.append(date.fromisoformat(value))
        except ValueError:
            raise BadRequest(f"'{name}' must be a date written YYYY-MM-DD, got '{value}'", (name,)) from None
    period = Period(bounds[0], bounds[1])
    if period.start > period.end:
        raise BadRequest("'start' must not be after 'end'", ("start",))
    if len(period.months()) > MAX_MONTHS:
        raise BadRequest(f"the period spans more than {MAX_MONTHS} months; ask for a shorter one", ("end",))
    return period


def _day_of(invoice_date: str) -> str:
    """The YYYY-MM-DD an Invoice.date counts on (month precision: the first of the month)."""
    return invoice_date[:10] if len(invoice_date) >= 10 else f"{invoice_date[:7]}-01"


@dataclass
class Totals:
    currency: str
    period: Period
    by_kind: dict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    count_by_kind: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    by_group: dict[tuple[str, str], Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    count_by_group: dict[tuple[str, str], int] = field(default_factory=lambda: defaultdict(int))
    by_month: dict[tuple[str, str], Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    other_currency: int = 0

    def add(self, entry: FinanceEntry) -> None:
        if entry.currency not in (None, self.currency):
            self.other_currency += 1  # stored before the currency check, or the setting changed
            return
        self.by_kind[entry.kind] += entry.amount
        self.count_by_kind[entry.kind] += 1
        self.by_group[(entry.kind, entry.group)] += entry.amount
        self.count_by_group[(entry.kind, entry.group)] += 1
        self.by_month[(entry.month, entry.kind)] += entry.amount

    def to_parameters(self) -> dict[str, Any]:
        income, expense = self.by_kind[INCOME], self.by_kind[EXPENSE]
        parameters: list[dict[str, Any]] = [
            {"name": "start", "valueDate": self.period.start.isoformat()},
            {"name": "end", "valueDate": self.period.end.isoformat()},
            {"name": "currency", "valueCode": self.currency},
            {"name": "income", "valueMoney": money(income, self.currency)},
            {"name": "expense", "valueMoney": money(expense, self.currency)},
            {"name": "net", "valueMoney": money(income - expense, self.currency)},
            {"name": "incomeCount", "valueInteger": self.count_by_kind[INCOME]},
            {"name": "expenseCount", "valueInteger": self.count_by_kind[EXPENSE]},
        ]
        parameters += self._groups(EXPENSE, "category") + self._groups(INCOME, "source")
        parameters += [self._month(month) for month in self.period.months()]
        if self.other_currency:
            parameters.append({"name": "excludedOtherCurrency", "valueInteger": self.other_currency})
        return {"resourceType": "Parameters", "parameter": parameters}

    def _groups(self, kind: str, name: str) -> list[dict[str, Any]]:
        groups = sorted(group for (k, group) in self.by_group if k == kind)
        return [
            {
                "name": name,
                "part": [
                    {"name": "code", "valueCode": group},
                    {"name": "total", "valueMoney": money(self.by_group[(kind, group)], self.currency)},
                    {"name": "count", "valueInteger": self.count_by_group[(kind, group)]},
                ],
            }
            for group in groups
        ]

    def _month(self, month: str) -> dict[str, Any]:
        income, expense = self.by_month.get((month, INCOME), ZERO), self.by_month.get((month, EXPENSE), ZERO)
        return {
            "name": "month",
            "part": [
                {"name": "month", "valueString": month},
                {"name": "income", "valueMoney": money(income, self.currency)},
                {"name": "expense", "valueMoney": money(expense, self.currency)},
                {"name": "net", "valueMoney": money(income - expense, self.currency)},
            ],
        }


def _criteria(period: Period) -> list[tuple[str, str]]:
    first = datetime.combine(period.start, time(), UTC) - ZONE_SLACK
    after_last = datetime.combine(period.end + timedelta(days=1), time(), UTC) + ZONE_SLACK
    return [
        ("date", f"ge{instant(first)}"),
        ("date", f"lt{instant(after_last)}"),
        ("status", ",".join(sorted(COUNTED_STATUSES))),
    ]


async def _invoices(search: Searcher, period: Period) -> AsyncIterable[dict[str, Any]]:
    seen = 0
    async for invoice in search.matching(
        resource_type="Invoice", params=_criteria(period), limit=SCAN_LIMIT + 1
    ):
        seen += 1
        if seen > SCAN_LIMIT:
            raise TooCostly(f"more than {SCAN_LIMIT} invoices in the period; ask for a shorter one")
        yield invoice


async def summarize(
    *,
    search: Searcher,
    period: Period,
    currency: str,
    may_see: Callable[[dict[str, Any]], bool],
) -> dict[str, Any]:
    """The summary as a Parameters resource; invoices the caller may not see are left out."""
    totals = Totals(currency=currency, period=period)
    first, last = period.start.isoformat(), period.end.isoformat()
    async for invoice in _invoices(search, period):
        entry = finance_entry(invoice)
        if entry is None or not first <= _day_of(invoice["date"]) <= last or not may_see(invoice):
            continue
        totals.add(entry)
    return totals.to_parameters()
