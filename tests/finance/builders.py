"""Clinic expense and income Invoices as the clinic profiles describe them."""

from __future__ import annotations

from typing import Any

from fhir_server.finance.invoices import CATEGORY_EXTENSION, KIND_SYSTEM, SOURCE_EXTENSION

CLINIC = "http://clinic.example.org/fhir"
EXPENSE_PROFILE = f"{CLINIC}/StructureDefinition/clinic-invoice-expense"
INCOME_PROFILE = f"{CLINIC}/StructureDefinition/clinic-invoice-income"
REASON_EXTENSION = f"{CLINIC}/StructureDefinition/expense-reason"


def expense(
    amount: Any, *, date: str, category: str = "supplies", status: str = "issued", currency: str = "USD"
) -> dict[str, Any]:
    return {
        "resourceType": "Invoice",
        "meta": {"profile": [EXPENSE_PROFILE]},
        "extension": [
            {
                "url": CATEGORY_EXTENSION,
                "valueCoding": {"system": f"{CLINIC}/CodeSystem/clinic-expense-category", "code": category},
            },
            {
                "url": REASON_EXTENSION,
                "valueCodeableConcept": {
                    "coding": [{"system": f"{CLINIC}/CodeSystem/clinic-expense-reason", "code": "routine"}]
                },
            },
        ],
        "status": status,
        "type": {"coding": [{"system": KIND_SYSTEM, "code": "expense"}]},
        "date": date,
        "totalGross": {"value": amount, "currency": currency},
    }


def income(
    amount: Any, *, date: str, source: str = "lab", status: str = "balanced", currency: str = "USD"
) -> dict[str, Any]:
    return {
        "resourceType": "Invoice",
        "meta": {"profile": [INCOME_PROFILE]},
        "extension": [
            {
                "url": SOURCE_EXTENSION,
                "valueCoding": {"system": f"{CLINIC}/CodeSystem/clinic-income-source", "code": source},
            }
        ],
        "status": status,
        "type": {"coding": [{"system": KIND_SYSTEM, "code": "income"}]},
        "date": date,
        "totalNet": {"value": amount, "currency": currency},
    }
