"""Exact amounts: JSON numbers (doubles once stored) read back as the decimals that were sent."""

from __future__ import annotations

from decimal import Decimal

import orjson
import pytest

from fhir_server.errors import Unprocessable
from fhir_server.finance.money import exact_amount, json_number, money


def test_stored_doubles_read_back_as_the_sent_decimals() -> None:
    sent = orjson.loads(b"[0.1, 0.2, 100, 19.99, 1234567.89]")
    amounts = [exact_amount(value, where="x") for value in sent]
    assert amounts == [Decimal("0.1"), Decimal("0.2"), Decimal(100), Decimal("19.99"), Decimal("1234567.89")]
    assert amounts[0] + amounts[1] == Decimal("0.3")
    assert sent[0] + sent[1] != 0.3  # what float arithmetic would have reported


@pytest.mark.parametrize("value", [True, None, "abc", [1], float("nan"), float("inf")])
def test_non_numbers_are_refused(value: object) -> None:
    with pytest.raises(Unprocessable):
        exact_amount(value, where="Invoice.totalGross.value")


@pytest.mark.parametrize(
    ("amount", "text"),
    [
        (Decimal("0.3"), b"0.3"),
        (Decimal("100"), b"100"),
        (Decimal("100.50"), b"100.50"),
        (Decimal("-12.75"), b"-12.75"),
        (Decimal("12345678901234567.89"), b"12345678901234567.89"),
    ],
)
def test_json_numbers_print_the_exact_decimal(amount: Decimal, text: bytes) -> None:
    assert orjson.dumps(json_number(amount)) == text


def test_money_carries_the_currency() -> None:
    assert orjson.dumps(money(Decimal("0.30"), "EUR")) == b'{"value":0.30,"currency":"EUR"}'
