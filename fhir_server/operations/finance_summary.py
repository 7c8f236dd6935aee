"""``Invoice/$finance-summary``: the clinic's expenses, other incomes and net over a period."""

from __future__ import annotations

from typing import Any

from fhir_server.context import Interaction
from fhir_server.finance.summary import parse_period, summarize
from fhir_server.interactions.operation import Level, OperationCall, OperationSpec
from fhir_server.parameters import first_value

DEFINITION: dict[str, Any] = {
    "resourceType": "OperationDefinition",
    "id": "finance-summary",
    "url": "http://clinic.example.org/fhir/OperationDefinition/finance-summary",
    "name": "FinanceSummary",
    "title": "Clinic finance summary",
    "status": "active",
    "kind": "operation",
    "code": "finance-summary",
    "description": (
        "Totals of the clinic's expenses and other incomes (Invoices on the clinic expense and income "
        "profiles with status issued or balanced) whose date falls between start and end inclusive: "
        "per kind, per expense category, per income source, per month, and the net (income - expense), "
        "in the clinic's currency, computed exactly."
    ),
    "affectsState": False,
    "resource": ["Invoice"],
    "system": False,
    "type": True,
    "instance": False,
    "parameter": [
        {"name": "start", "use": "in", "min": 1, "max": "1", "type": "date",
         "documentation": "First day counted (YYYY-MM-DD)."},
        {"name": "end", "use": "in", "min": 1, "max": "1", "type": "date",
         "documentation": "Last day counted (YYYY-MM-DD)."},
        {"name": "currency", "use": "out", "min": 1, "max": "1", "type": "code"},
        {"name": "income", "use": "out", "min": 1, "max": "1", "type": "Money"},
        {"name": "expense", "use": "out", "min": 1, "max": "1", "type": "Money"},
        {"name": "net", "use": "out", "min": 1, "max": "1", "type": "Money"},
        {"name": "category", "use": "out", "min": 0, "max": "*",
         "documentation": "Per expense category: code, total, count."},
        {"name": "source", "use": "out", "min": 0, "max": "*",
         "documentation": "Per income source: code, total, count."},
        {"name": "month", "use": "out", "min": 0, "max": "*",
         "documentation": "Per calendar month of the period: month (YYYY-MM), income, expense, net."},
    ],
}  # fmt: skip


async def finance_summary(call: OperationCall) -> dict[str, Any]:
    services = call.services
    period = parse_period(first_value(call.parameters, "start"), first_value(call.parameters, "end"))
    return await summarize(
        search=services.search,
        period=period,
        currency=services.settings.clinic_currency,
        may_see=lambda invoice: services.guard.can_see(call.ctx, invoice),
    )


OPERATIONS = [
    OperationSpec(
        name="finance-summary",
        definition=DEFINITION,
        levels=frozenset({Level.TYPE}),
        handler=finance_summary,
        resource_types=("Invoice",),
        interaction=Interaction.SEARCH_TYPE,
    )
]
