"""Reading a clinic expense or income Invoice: its kind, category or source, amount, date, currency.

See profiles/StructureDefinition-clinic-invoice-{expense,income}.json: the kind is a coding of
``Invoice.type`` in the clinic-invoice-kind code system, the category (expenses) and the source
(incomes) are Coding extensions, the amount is ``totalGross`` (what was paid) or, when absent,
``totalNet``, and ``Invoice.date`` is when it happened.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

from fhir_server.finance.money import exact_amount

CLINIC: Final = "http://clinic.example.org/fhir"
KIND_SYSTEM: Final = f"{CLINIC}/CodeSystem/clinic-invoice-kind"
CATEGORY_EXTENSION: Final = f"{CLINIC}/StructureDefinition/expense-category"
SOURCE_EXTENSION: Final = f"{CLINIC}/StructureDefinition/income-source"
EXPENSE: Final = "expense"
INCOME: Final = "income"
# Only money that really moved counts: an issued (sent/received) or balanced (paid) invoice.
# draft, cancelled and entered-in-error ones do not.
COUNTED_STATUSES: Final = ("balanced", "issued")
UNSPECIFIED: Final = "unspecified"  # the category/source of an invoice that names none

# The extension whose coding groups each kind in the summary.
GROUPING_EXTENSION: Final = {EXPENSE: CATEGORY_EXTENSION, INCOME: SOURCE_EXTENSION}
AMOUNT_FIELDS: Final = ("totalGross", "totalNet")


@dataclass(frozen=True)
class FinanceEntry:
    kind: str  # expense | income
    group: str  # expense category or income source code
    month: str  # YYYY-MM, the calendar month Invoice.date names (as written, no zone shift)
    amount: Decimal
    currency: str | None


def invoice_kind(invoice: dict[str, Any]) -> str | None:
    """``expense`` or ``income`` for a clinic invoice, None for any other Invoice (patient billing)."""
    for coding in (invoice.get("type") or {}).get("coding") or []:
        if coding.get("system") == KIND_SYSTEM and coding.get("code") in GROUPING_EXTENSION:
            code: str = coding["code"]
            return code
    return None


def invoice_amount(invoice: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """(field name, Money) of the amount that counts: totalGross, else totalNet."""
    for name in AMOUNT_FIELDS:
        value = invoice.get(name)
        if isinstance(value, dict) and "value" in value:
            return name, value
    return None


def _group(invoice: dict[str, Any], kind: str) -> str:
    url = GROUPING_EXTENSION[kind]
    for extension in invoice.get("extension") or []:
        if extension.get("url") == url:
            code = (extension.get("valueCoding") or {}).get("code")
            if isinstance(code, str):
                return code
    return UNSPECIFIED


def finance_entry(invoice: dict[str, Any]) -> FinanceEntry | None:
    """What one stored invoice adds to the summary, or None when it does not count."""
    kind = invoice_kind(invoice)
    found = invoice_amount(invoice)
    date = invoice.get("date")
    if kind is None or found is None or not isinstance(date, str) or len(date) < 7:
        return None
    if invoice.get("status") not in COUNTED_STATUSES:
        return None
    name, value = found
    currency = value.get("currency")
    return FinanceEntry(
        kind=kind,
        group=_group(invoice, kind),
        month=date[:7],
        amount=exact_amount(value.get("value"), where=f"Invoice.{name}.value"),
        currency=currency if isinstance(currency, str) else None,
    )
