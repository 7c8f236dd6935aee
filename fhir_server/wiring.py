"""The clinic's rules, attached to the generic core: profile policy, scheduling, documents, finance,
subscriptions.

Each concern installs its own write checks, transforms and repository hooks; this is the one
place that lists them.
"""

from __future__ import annotations

from fhir_server.auth.revocation_cache import RevocationCache
from fhir_server.auth.staff_sync import install_staff_sync
from fhir_server.conformance.validator import ProfileValidator
from fhir_server.conformance.write_policy import parse_required_profiles
from fhir_server.documents import install_documents
from fhir_server.finance.install import install_finance
from fhir_server.identifiers import install_unique_identifiers
from fhir_server.scheduling.install import install_scheduling
from fhir_server.services import Services
from fhir_server.subscriptions import install_subscriptions


def install_profile_policy(services: Services, validator: ProfileValidator) -> None:
    """The profiles the settings require of each type, which every write's validation
    (``ProfileValidator.validate_for_write``, the pipeline's validate step) then enforces."""
    validator.required_profiles = parse_required_profiles(services.settings.required_profiles)


def install_clinic_rules(
    services: Services, validator: ProfileValidator, revocations: RevocationCache | None = None
) -> None:
    """``revocations``: this process's snapshot of revoked access, refreshed at once when a staff
    record change ends someone's access (other processes see it within their check period)."""
    install_profile_policy(services, validator)
    install_unique_identifiers(services)
    install_scheduling(services)
    install_finance(services)
    install_documents(services)
    install_staff_sync(services, revocations)
    install_subscriptions(services)
