"""The clinic's money: an expense is a clinic-invoice-expense, another income a
clinic-invoice-income. The amount is the Invoice's ``totalGross``; amounts are ``Decimal`` with at
least cents (``Decimal("0.1")`` is kept as ``0.10``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from mappers import terms
from mappers.common import (
    EXPENSE,
    INCOME,
    PATIENT,
    JsonDict,
    Key,
    MappingError,
    Record,
    Text,
    as_list,
    code_in,
    coding,
    compact,
    elements,
    identifier,
    new_resource,
    note,
    optional_reference,
    optional_referenced_key,
    own_key,
    read_note,
    record_id,
    required_code,
    single,
    string,
    text_of,
)
from mappers.values import Amount, date_text, money, read_date, read_money

ExpenseCategory = Literal[
    "rent", "salaries", "supplies", "equipment", "utilities", "maintenance", "insurance", "taxes",
    "marketing", "other",
]  # fmt: skip
ExpenseReason = Literal[
    "routine", "purchase", "replacement", "repair", "regulatory", "emergency", "expansion", "training",
    "other",
]  # fmt: skip
IncomeSource = Literal["lab", "donation", "service", "other"]
InvoiceStatus = Literal["draft", "issued", "balanced", "cancelled", "entered-in-error"]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$")]


class Expense(Record):
    """Money the clinic spent: ``category``, why (``reason_code`` and/or ``reason`` in words),
    ``amount`` in ``currency`` on ``date``, paid to ``vendor``."""

    key: Key
    category: ExpenseCategory
    amount: Amount
    currency: Currency
    date: dt.date
    reason: Text | None = None
    reason_code: ExpenseReason | None = None
    vendor: Text | None = None
    status: InvoiceStatus = "balanced"
    note: Text | None = None

    @model_validator(mode="after")
    def _has_reason(self) -> Expense:
        if self.reason is None and self.reason_code is None:
            raise ValueError("an expense needs a reason, a reason_code, or both")
        return self


class OtherIncome(Record):
    """Money the clinic received besides patient billing: from ``source`` (lab, donation, service,
    other), paid by ``payer``, possibly about ``patient`` (MRN)."""

    key: Key
    source: IncomeSource
    amount: Amount
    currency: Currency
    date: dt.date
    payer: Text | None = None
    patient: Key | None = None
    status: InvoiceStatus = "balanced"
    note: Text | None = None


def _coding_extension(url: str, system: str, code: str) -> JsonDict:
    return {"url": url, "valueCoding": coding(system, code)}


def _kind(code: str) -> JsonDict:
    return {"coding": [coding(terms.CS_INVOICE_KIND, code)]}


def expense_to_fhir(expense: Expense) -> JsonDict:
    """The clinic-invoice-expense (the vendor is the issuer, by name)."""
    reason = compact(
        {
            "coding": [coding(terms.CS_EXPENSE_REASON, expense.reason_code)] if expense.reason_code else None,
            "text": expense.reason,
        }
    )
    return new_resource(
        "Invoice",
        record_id(EXPENSE, expense.key),
        terms.PROFILE_EXPENSE,
        extension=[
            _coding_extension(terms.EXT_EXPENSE_CATEGORY, terms.CS_EXPENSE_CATEGORY, expense.category),
            {"url": terms.EXT_EXPENSE_REASON, "valueCodeableConcept": reason},
        ],
        identifier=[identifier(EXPENSE, expense.key)],
        status=expense.status,
        type=_kind("expense"),
        date=date_text(expense.date),
        issuer={"display": expense.vendor} if expense.vendor else None,
        totalGross=money(expense.amount, expense.currency),
        note=note(expense.note),
    )


def income_to_fhir(income: OtherIncome) -> JsonDict:
    """The clinic-invoice-income (the payer is the recipient, by name)."""
    return new_resource(
        "Invoice",
        record_id(INCOME, income.key),
        terms.PROFILE_INCOME,
        extension=[_coding_extension(terms.EXT_INCOME_SOURCE, terms.CS_INCOME_SOURCE, income.source)],
        identifier=[identifier(INCOME, income.key)],
        status=income.status,
        type=_kind("income"),
        subject=optional_reference(PATIENT, income.patient),
        recipient={"display": income.payer} if income.payer else None,
        date=date_text(income.date),
        totalGross=money(income.amount, income.currency),
        note=note(income.note),
    )


def to_fhir(record: Expense | OtherIncome) -> JsonDict:
    """The Invoice of an expense or another income."""
    return expense_to_fhir(record) if isinstance(record, Expense) else income_to_fhir(record)


def _extension(invoice: JsonDict, url: str) -> dict[str, Any]:
    for extension in elements(invoice, "extension"):
        if isinstance(extension, dict) and extension.get("url") == url:
            return extension
    raise MappingError(f"Invoice has no extension {url}")


def _display(value: Any) -> str | None:
    return string(value, "display") if isinstance(value, dict) else None


def _amount_fields(invoice: JsonDict) -> dict[str, Any]:
    amount, currency = read_money(invoice.get("totalGross"), "Invoice.totalGross")
    return {"amount": amount, "currency": currency, "date": read_date(invoice.get("date"), "Invoice.date")}


def invoice_kind(invoice: JsonDict) -> str:
    """``expense`` or ``income``: the clinic-invoice-kind coding of ``Invoice.type``."""
    return required_code(invoice.get("type"), terms.CS_INVOICE_KIND, "Invoice.type")


def expense_from_fhir(resources: JsonDict | Sequence[JsonDict]) -> Expense:
    """The Expense of a clinic-invoice-expense."""
    invoice = single(as_list(resources), "Invoice")
    reason = _extension(invoice, terms.EXT_EXPENSE_REASON).get("valueCodeableConcept")
    return Expense.model_validate(
        {
            "key": own_key(invoice, EXPENSE),
            "category": required_code(
                _extension(invoice, terms.EXT_EXPENSE_CATEGORY).get("valueCoding"),
                terms.CS_EXPENSE_CATEGORY,
                "Invoice.extension (expense-category)",
            ),
            **_amount_fields(invoice),
            "reason": text_of(reason),
            "reason_code": code_in(reason, terms.CS_EXPENSE_REASON),
            "vendor": _display(invoice.get("issuer")),
            "status": string(invoice, "status"),
            "note": read_note(invoice),
        }
    )


def income_from_fhir(resources: JsonDict | Sequence[JsonDict]) -> OtherIncome:
    """The OtherIncome of a clinic-invoice-income."""
    invoice = single(as_list(resources), "Invoice")
    return OtherIncome.model_validate(
        {
            "key": own_key(invoice, INCOME),
            "source": required_code(
                _extension(invoice, terms.EXT_INCOME_SOURCE).get("valueCoding"),
                terms.CS_INCOME_SOURCE,
                "Invoice.extension (income-source)",
            ),
            **_amount_fields(invoice),
            "payer": _display(invoice.get("recipient")),
            "patient": optional_referenced_key(invoice.get("subject"), PATIENT, "Invoice.subject"),
            "status": string(invoice, "status"),
            "note": read_note(invoice),
        }
    )


def from_fhir(resources: JsonDict | Sequence[JsonDict]) -> Expense | OtherIncome:
    """The Expense or OtherIncome of a clinic Invoice, told apart by its kind."""
    invoice = single(as_list(resources), "Invoice")
    kind = invoice_kind(invoice)
    reader = _READERS.get(kind)
    if reader is None:
        raise MappingError(f"Invoice kind {kind!r} is neither expense nor income")
    return reader(invoice)


_READERS: dict[str, Callable[[JsonDict], Expense | OtherIncome]] = {
    "expense": expense_from_fhir,
    "income": income_from_fhir,
}
