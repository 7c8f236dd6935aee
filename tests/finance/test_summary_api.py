"""Invoice/$finance-summary through the app: exact totals per kind, category, source and month."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import httpx

from tests.finance.builders import expense, income
from tests.support import client_for

SUMMARY = "/Invoice/$finance-summary"


async def _store(client: httpx.AsyncClient, *invoices: dict[str, Any]) -> None:
    for invoice in invoices:
        response = await client.post("/Invoice", json=invoice)
        assert response.status_code == 201, response.text


def _exact(response: httpx.Response) -> dict[str, Any]:
    """The Parameters with numbers read as Decimal (as they were written, no float rounding)."""
    assert response.status_code == 200, response.text
    body: dict[str, Any] = json.loads(response.text, parse_float=Decimal)
    assert body["resourceType"] == "Parameters"
    return body


def _value(body: dict[str, Any], name: str) -> Any:
    (entry,) = [p for p in body["parameter"] if p["name"] == name]
    return next(v for k, v in entry.items() if k.startswith("value"))


def _parts(body: dict[str, Any], name: str) -> dict[str, dict[str, Any]]:
    """Repeated parameters with parts, keyed by their first part's value."""
    found = {}
    for entry in (p for p in body["parameter"] if p["name"] == name):
        parts = {
            part["name"]: next(v for k, v in part.items() if k.startswith("value")) for part in entry["part"]
        }
        found[str(next(iter(parts.values())))] = parts
    return found


def _money(value: Decimal | int | str) -> dict[str, Any]:
    return {"value": Decimal(value) if isinstance(value, str) else value, "currency": "USD"}


async def test_totals_are_exact_per_kind_category_source_and_month(client: httpx.AsyncClient) -> None:
    await _store(
        client,
        income(0.1, date="2031-01-05", source="lab"),
        income(0.2, date="2031-01-20T18:30:00+01:00", source="lab"),
        income(1000, date="2031-03-31", source="donation"),
        expense(0.7, date="2031-01-31", category="supplies"),
        expense(250.35, date="2031-03-01", category="rent"),
        expense(49.65, date="2031-03-15", category="rent"),
    )
    body = _exact(await client.get(SUMMARY, params={"start": "2031-01-01", "end": "2031-03-31"}))
    assert _value(body, "currency") == "USD"
    assert _value(body, "income") == _money("1000.3")
    assert _value(body, "expense") == _money("300.7")
    assert _value(body, "net") == _money("699.6")
    assert (_value(body, "incomeCount"), _value(body, "expenseCount")) == (3, 3)
    categories = _parts(body, "category")
    assert categories["rent"] == {"code": "rent", "total": _money(300), "count": 2}
    assert categories["supplies"]["total"] == _money("0.7")
    sources = _parts(body, "source")
    assert sources["lab"]["total"] == _money("0.3") and sources["lab"]["count"] == 2
    assert sources["donation"]["total"] == _money(1000)
    months = _parts(body, "month")
    assert list(months) == ["2031-01", "2031-02", "2031-03"]
    assert months["2031-01"]["income"] == _money("0.3")
    assert months["2031-01"]["net"] == _money("-0.4")
    assert months["2031-02"] == {
        "month": "2031-02",
        "income": _money(0),
        "expense": _money(0),
        "net": _money(0),
    }
    assert months["2031-03"]["net"] == _money(700)


async def test_only_issued_and_balanced_invoices_in_the_period_count(client: httpx.AsyncClient) -> None:
    await _store(
        client,
        expense(1, date="2031-02-01", status="issued"),
        expense(2, date="2031-02-01", status="balanced"),
        expense(4, date="2031-02-01", status="draft"),
        expense(8, date="2031-02-01", status="cancelled"),
        expense(16, date="2031-01-31T23:59:00Z"),
        expense(32, date="2031-03-01"),
        expense(64, date="2031-02-28T23:59:59+05:00"),
    )
    patient_bill = {"resourceType": "Invoice", "status": "issued", "date": "2031-02-10",
                    "totalGross": {"value": 128, "currency": "USD"}}  # fmt: skip
    await _store(client, patient_bill)
    body = _exact(await client.post(SUMMARY, json=_params(start="2031-02-01", end="2031-02-28")))
    assert _value(body, "expense") == _money(67)


async def test_deleted_invoices_do_not_count(client: httpx.AsyncClient) -> None:
    response = await client.post("/Invoice", json=income(5, date="2031-02-02"))
    await client.delete(f"/Invoice/{response.json()['id']}")
    body = _exact(await client.get(SUMMARY, params={"start": "2031-02-01", "end": "2031-02-28"}))
    assert _value(body, "income") == _money(0)


async def test_an_empty_period_has_zero_totals_and_every_month(client: httpx.AsyncClient) -> None:
    body = _exact(await client.get(SUMMARY, params={"start": "2030-11-15", "end": "2031-01-02"}))
    assert _value(body, "net") == _money(0)
    assert _parts(body, "category") == {} and _parts(body, "source") == {}
    assert list(_parts(body, "month")) == ["2030-11", "2030-12", "2031-01"]


async def test_bad_periods_are_400(client: httpx.AsyncClient) -> None:
    for params in (
        {},
        {"start": "2031-01-01"},
        {"start": "2031-02-30", "end": "2031-03-01"},
        {"start": "01/02/2031", "end": "2031-03-01"},
        {"start": "2031-03-01", "end": "2031-02-01"},
    ):
        response = await client.get(SUMMARY, params=params)
        assert response.status_code == 400, (params, response.text)
        assert response.json()["resourceType"] == "OperationOutcome"


async def test_other_currencies_are_refused_at_write_time(client: httpx.AsyncClient) -> None:
    refused = await client.post("/Invoice", json=expense(10, date="2031-02-01", currency="EUR"))
    assert refused.status_code == 422
    assert "EUR" in refused.json()["issue"][0]["diagnostics"]
    unstated = income(10, date="2031-02-01")
    del unstated["totalNet"]["currency"]
    await _store(client, unstated)
    body = _exact(await client.get(SUMMARY, params={"start": "2031-02-01", "end": "2031-02-01"}))
    assert _value(body, "income") == _money(10)


async def test_the_clinic_currency_comes_from_the_settings(app_factory: Any) -> None:
    app = await app_factory(clinic_currency="EUR")
    async with client_for(app) as client:
        await _store(client, expense(3.3, date="2031-02-01", currency="EUR"))
        assert (await client.post("/Invoice", json=expense(1, date="2031-02-01"))).status_code == 422
        body = _exact(await client.get(SUMMARY, params={"start": "2031-02-01", "end": "2031-02-01"}))
    assert _value(body, "expense") == {"value": Decimal("3.3"), "currency": "EUR"}


def _params(**values: str) -> dict[str, Any]:
    return {
        "resourceType": "Parameters",
        "parameter": [{"name": k, "valueDate": v} for k, v in values.items()],
    }
