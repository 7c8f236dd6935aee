"""Clinic finances: expenses and other incomes (Invoices on the clinic profiles) and their summary."""

from fhir_server.finance.install import install_finance

__all__ = ["install_finance"]
