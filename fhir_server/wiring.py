"""The clinic's rules, attached to the generic core: profile policy, scheduling, documents, finance,
subscriptions.

Each concern installs its own write checks, transforms and repository hooks; this is the one
place that lists them.
"""

from __future__ import annotations

from typing import Any

from fhir_server.conformance.validator import ProfileValidator
from fhir_server.conformance.write_policy import check_write, parse_required_profiles
from fhir_server.context import RequestContext
from fhir_server.documents import install_documents
from fhir_server.finance.install import install_finance
from fhir_server.identifiers import install_unique_identifiers
from fhir_server.scheduling.install import install_scheduling
from fhir_server.services import Services
from fhir_server.subscriptions import install_subscriptions


def install_profile_policy(services: Services, validator: ProfileValidator) -> None:
    """Writes claiming a known profile must conform; some types must claim one (settings)."""
    required = parse_required_profiles(services.settings.required_profiles)

    async def profile_check(ctx: RequestContext, resource: dict[str, Any]) -> None:
        check_write(resource, validator=validator, required_profiles=required)

    services.write_checks.append(profile_check)


def install_clinic_rules(services: Services, validator: ProfileValidator) -> None:
    install_profile_policy(services, validator)
    install_unique_identifiers(services)
    install_scheduling(services)
    install_finance(services)
    install_documents(services)
    install_subscriptions(services)
