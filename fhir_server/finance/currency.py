"""Write check: a clinic expense or income is in the clinic's currency (``settings.clinic_currency``).

Refusing at write time keeps every stored amount summable; an amount with no currency is taken to
be in the clinic's currency. Patient-billing Invoices (no clinic kind) are not constrained.
"""

from __future__ import annotations

from typing import Any

from fhir_server.context import RequestContext
from fhir_server.errors import Unprocessable
from fhir_server.finance.invoices import AMOUNT_FIELDS, invoice_kind


class ClinicCurrency:
    def __init__(self, currency: str) -> None:
        self.currency = currency

    async def __call__(self, ctx: RequestContext, resource: dict[str, Any]) -> None:
        if resource.get("resourceType") != "Invoice" or invoice_kind(resource) is None:
            return
        for name in AMOUNT_FIELDS:
            money = resource.get(name)
            currency = money.get("currency") if isinstance(money, dict) else None
            if currency is not None and currency != self.currency:
                raise Unprocessable(
                    f"Invoice.{name} is in {currency}; the clinic keeps its accounts in {self.currency}",
                    (f"Invoice.{name}.currency",),
                )
