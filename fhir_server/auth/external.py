"""Trusted external token issuers (``settings.external_issuers``)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter


class ExternalIssuer(BaseModel):
    """One issuer whose access tokens we accept, verified against its JWKS."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    issuer: str = Field(description="Exact `iss` of its tokens.")
    jwks_uri: str = Field(description="Where its signing keys are published.")
    audience: str = Field(description="The `aud` its tokens must carry for this server.")
    scope_claim: str = Field(default="scope", description="Claim holding the SMART scopes (string or list).")
    patient_claim: str = Field(default="patient", description="Claim holding the patient id, if any.")
    fhir_user_claim: str = Field(default="fhirUser", description="Claim holding the user's FHIR reference.")
    client_id_claim: str = Field(default="client_id", description="Claim naming the client.")


_ISSUERS = TypeAdapter(list[ExternalIssuer])


def parse_external_issuers(text: str) -> dict[str, ExternalIssuer]:
    """Issuers by ``iss``; raise ``ValueError`` on a malformed setting (a startup error)."""
    issuers = _ISSUERS.validate_json(text or "[]")
    return {issuer.issuer: issuer for issuer in issuers}


def scopes_from_claim(value: Any) -> list[str]:
    """A scope claim as a list: space-separated string (RFC 8693/9068) or JSON list (``scp``)."""
    if isinstance(value, str):
        return value.split()
    if isinstance(value, list):
        return [item for item in value if isinstance(item, str)]
    return []
