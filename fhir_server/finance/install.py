"""Wiring the finance rules into the services."""

from __future__ import annotations

from fhir_server.finance.currency import ClinicCurrency
from fhir_server.services import Services


def install_finance(services: Services) -> None:
    """Refuse clinic expenses/incomes in a currency other than the clinic's (422)."""
    services.write_checks.append(ClinicCurrency(services.settings.clinic_currency))
