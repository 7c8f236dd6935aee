"""Reading clinic expenses and incomes, and totalling them."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from fhir_server.errors import BadRequest
from fhir_server.finance.invoices import finance_entry
from fhir_server.finance.summary import Period, Totals, parse_period
from tests.finance.builders import expense, income


def test_an_expense_counts_with_its_category_month_and_gross_amount() -> None:
    entry = finance_entry(expense(19.99, date="2031-02-03T10:00:00+02:00", category="rent"))
    assert entry is not None
    assert (entry.kind, entry.group, entry.month, entry.amount) == (
        "expense",
        "rent",
        "2031-02",
        Decimal("19.99"),
    )


def test_an_income_counts_with_its_source_and_net_amount_when_no_gross() -> None:
    entry = finance_entry(income(5, date="2031-02-03", source="donation"))
    assert entry is not None
    assert (entry.kind, entry.group, entry.amount) == ("income", "donation", Decimal(5))


def test_gross_is_preferred_over_net() -> None:
    invoice = expense(110, date="2031-01-01")
    invoice["totalNet"] = {"value": 100, "currency": "USD"}
    entry = finance_entry(invoice)
    assert entry is not None and entry.amount == Decimal(110)


@pytest.mark.parametrize("status", ["draft", "cancelled", "entered-in-error"])
def test_uncounted_statuses(status: str) -> None:
    assert finance_entry(expense(1, date="2031-01-01", status=status)) is None


def test_patient_billing_invoices_do_not_count() -> None:
    invoice = expense(1, date="2031-01-01")
    invoice["type"] = {"text": "consultation"}
    assert finance_entry(invoice) is None


def test_an_invoice_without_category_is_unspecified() -> None:
    invoice = expense(1, date="2031-01-01")
    invoice["extension"] = []
    entry = finance_entry(invoice)
    assert entry is not None and entry.group == "unspecified"


def test_totals_are_exact_and_grouped() -> None:
    totals = Totals(currency="USD", period=Period(date(2031, 1, 1), date(2031, 2, 28)))
    for invoice in (
        income(0.1, date="2031-01-05"),
        income(0.2, date="2031-01-06", source="donation"),
        expense(0.3, date="2031-02-01", category="rent"),
        expense(99, date="2031-02-01", category="rent", currency="EUR"),
    ):
        entry = finance_entry(invoice)
        assert entry is not None
        totals.add(entry)
    assert totals.by_kind["income"] == Decimal("0.3")
    assert totals.by_kind["income"] - totals.by_kind["expense"] == Decimal(0)
    assert totals.by_group[("income", "lab")] == Decimal("0.1")
    assert totals.other_currency == 1


@pytest.mark.parametrize(
    ("start", "end"),
    [(None, "2031-01-01"), ("2031-01-01", None), ("2031-13-01", "2031-12-31"), ("2031-1-1", "2031-02-01"),
     ("2031-02-01", "2031-01-31"), ("1990-01-01", "2031-01-01"), ("2031-01-01T00:00:00Z", "2031-02-01")],
)  # fmt: skip
def test_bad_periods(start: str | None, end: str | None) -> None:
    with pytest.raises(BadRequest):
        parse_period(start, end)


def test_months_of_a_period() -> None:
    assert parse_period("2030-11-15", "2031-02-01").months() == ["2030-11", "2030-12", "2031-01", "2031-02"]
