"""``fhir-server dev-token``: a signed access token for exactly the scopes asked, for development.

It is signed with the server's key (``settings.auth_signing_key`` or the generated one under the data
directory), so a server on the same configuration accepts it. It never widens: the token carries the
requested scopes verbatim, wildcards (``*``) are refused unless explicitly allowed, and ``patient/``
scopes need ``--patient``.
"""

from __future__ import annotations

import re
from typing import Final

from fhir_server.auth.keys import load_server_key
from fhir_server.auth.scopes import SERVER_SCOPES, ScopeContext, ScopeSyntaxError, parse_scopes, split_scope
from fhir_server.auth.tokens import TokenSubject, issue_access_token
from fhir_server.auth.urls import AuthUrls
from fhir_server.settings import Settings

DEV_CLIENT_ID: Final = "dev-token"
_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
_REFERENCE = re.compile(r"^[A-Z][A-Za-z]+/[A-Za-z0-9\-.]{1,64}$")


class DevTokenError(ValueError):
    """The request for a dev token is refused (message safe to print)."""


def check_dev_token_request(
    *, scope: str, patient: str | None, fhir_user: str | None, allow_wildcard: bool
) -> list[str]:
    """The scopes to put in the token, exactly as asked; raise ``DevTokenError`` otherwise."""
    scopes = split_scope(scope)
    if not scopes:
        raise DevTokenError("give at least one scope, e.g. --scope 'user/Patient.rs'")
    try:
        parsed = parse_scopes(scopes)
    except ScopeSyntaxError as error:
        raise DevTokenError(str(error)) from error
    launch = parsed.launch - SERVER_SCOPES
    if launch:
        raise DevTokenError(f"not data scopes (an access token has no use for them): {sorted(launch)}")
    wildcards = [item.text for item in parsed.clinical if item.wildcard]
    if wildcards and not allow_wildcard:
        raise DevTokenError(f"wildcard scopes need --allow-wildcard: {wildcards}")
    patient_scoped = any(item.context is ScopeContext.PATIENT for item in parsed.clinical)
    if patient_scoped and patient is None:
        raise DevTokenError("patient/ scopes need --patient <id>")
    if patient is not None and not patient_scoped:
        raise DevTokenError("--patient only makes sense with patient/ scopes")
    if patient is not None and not _ID.match(patient):
        raise DevTokenError("--patient takes a Patient id like 123 (not a reference)")
    if fhir_user is not None and not _REFERENCE.match(fhir_user):
        raise DevTokenError("--fhir-user takes a reference like Practitioner/123")
    return scopes


def make_dev_token(
    *,
    settings: Settings,
    scope: str,
    patient: str | None = None,
    fhir_user: str | None = None,
    allow_wildcard: bool = False,
    lifetime: int | None = None,
    subject: str = DEV_CLIENT_ID,
) -> str:
    """A signed access token accepted by a server with the same ``settings``."""
    scopes = check_dev_token_request(
        scope=scope, patient=patient, fhir_user=fhir_user, allow_wildcard=allow_wildcard
    )
    who = TokenSubject(
        subject=subject, client_id=DEV_CLIENT_ID, scopes=tuple(scopes), patient=patient, fhir_user=fhir_user
    )
    issued = issue_access_token(
        key=load_server_key(settings),
        urls=AuthUrls.from_settings(settings),
        who=who,
        lifetime=lifetime or settings.access_token_lifetime,
    )
    return issued.token


def first_token_hint(settings: Settings) -> str:
    """How to get a first token, for the quick start and the ``serve`` banner."""
    base = settings.base_url.rstrip("/")
    if not settings.auth_enabled:
        return f"Authorization is disabled (FHIR_AUTH_ENABLED=false): call {base} without a token."
    return (
        "Get a first access token:\n"
        "  fhir-server dev-token --scope 'user/Patient.rs user/Observation.rs'\n"
        f'  curl -H "Authorization: Bearer $TOKEN" {base}/Patient\n'
        "Create a clinic user (password from $FHIR_NEW_USER_PASSWORD, else a prompt):\n"
        "  fhir-server users create --username alice --role doctor --fhir-user Practitioner/1\n"
        "Register a SMART app:\n"
        "  fhir-server clients create --kind public --name 'My app' \\\n"
        "    --redirect-uri http://localhost:9000/cb \\\n"
        "    --scope 'openid fhirUser launch/patient offline_access patient/*.rs'\n"
        f"Discovery: {base}/.well-known/smart-configuration"
    )
