"""The clinic's rules, attached to the generic core: profile policy, scheduling, documents, finance.

Each concern installs its own write checks, transforms and repository hooks; this is the one
place that lists them.
"""

from __future__ import annotations

from typing import Any

from fhir_server.conformance.validator import ProfileValidator
from fhir_server.conformance.write_policy import parse_required_profiles
from fhir_server.context import RequestContext
from fhir_server.documents import install_documents
from fhir_server.finance.install import install_finance
from fhir_server.scheduling.install import install_scheduling
from fhir_server.services import Services


def install_profile_policy(services: Services, validator: ProfileValidator) -> None:
    """Writes must meet the profiles they claim, the clinic profile their content makes them and
    the ones the settings require (422); the clinic profile is recorded in ``meta.profile``.

    The JSON and base rules (400) run before, in ``resources.validate_structure``. Together these
    are :meth:`ProfileValidator.validate_for_write`, which a write pipeline can call instead.
    """
    validator.required_profiles = parse_required_profiles(services.settings.required_profiles)

    async def profile_check(ctx: RequestContext, resource: dict[str, Any]) -> None:
        validator.check_profiles(resource)

    async def record_clinic_profile(ctx: RequestContext, resource: dict[str, Any]) -> dict[str, Any]:
        return validator.with_clinic_profile(resource)

    services.write_checks.append(profile_check)
    services.write_transforms.insert(0, record_clinic_profile)


def install_clinic_rules(services: Services, validator: ProfileValidator) -> None:
    install_profile_policy(services, validator)
    install_scheduling(services)
    install_finance(services)
    install_documents(services)
