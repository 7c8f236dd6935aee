"""What the server tells clients about its authorization: SMART configuration, OpenID configuration,
and the CapabilityStatement's ``rest.security``."""

from __future__ import annotations

from typing import Any, Final

from fhir_server.auth.client_auth import ASSERTION_ALGORITHMS, AUTH_METHODS_SUPPORTED
from fhir_server.auth.clients import GRANT_AUTHORIZATION_CODE, GRANT_CLIENT_CREDENTIALS, GRANT_REFRESH_TOKEN
from fhir_server.auth.scopes import LAUNCH_SCOPES
from fhir_server.auth.urls import AuthUrls
from fhir_server.settings import Settings

SMART_CAPABILITIES: Final = (
    "launch-standalone",
    "launch-ehr",
    "client-public",
    "client-confidential-symmetric",
    "client-confidential-asymmetric",
    "context-standalone-patient",
    "context-ehr-patient",
    "context-ehr-encounter",
    "permission-patient",
    "permission-user",
    "permission-offline",
    "permission-online",
    "permission-v1",
    "permission-v2",
    "sso-openid-connect",
    "authorize-post",
)
SCOPES_SUPPORTED: Final = (
    *sorted(LAUNCH_SCOPES - {"profile"}),
    "patient/*.rs",
    "patient/*.cruds",
    "user/*.rs",
    "user/*.cruds",
    "system/*.rs",
    "system/*.cruds",
    "patient/*.read",
    "user/*.read",
    "system/*.read",
)
GRANT_TYPES: Final = (GRANT_AUTHORIZATION_CODE, GRANT_REFRESH_TOKEN, GRANT_CLIENT_CREDENTIALS)
SECURITY_SERVICE_SYSTEM: Final = "http://terminology.hl7.org/CodeSystem/restful-security-service"
OAUTH_URIS_EXTENSION: Final = "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris"
SIGNING_ALGORITHMS: Final = ("RS384", "ES384", *sorted(ASSERTION_ALGORITHMS - {"RS384", "ES384"}))


def smart_configuration(urls: AuthUrls, id_token_algorithm: str) -> dict[str, Any]:
    """``/.well-known/smart-configuration`` (SMART App Launch 2.x)."""
    return {
        "issuer": urls.issuer,
        "jwks_uri": urls.jwks,
        "authorization_endpoint": urls.authorize,
        "token_endpoint": urls.token,
        "introspection_endpoint": urls.introspect,
        "revocation_endpoint": urls.revoke,
        "grant_types_supported": list(GRANT_TYPES),
        "token_endpoint_auth_methods_supported": list(AUTH_METHODS_SUPPORTED),
        "token_endpoint_auth_signing_alg_values_supported": list(SIGNING_ALGORITHMS),
        "scopes_supported": list(SCOPES_SUPPORTED),
        "response_types_supported": ["code"],
        "code_challenge_methods_supported": ["S256"],
        "id_token_signing_alg_values_supported": [id_token_algorithm],
        "capabilities": list(SMART_CAPABILITIES),
    }


def openid_configuration(urls: AuthUrls, id_token_algorithm: str) -> dict[str, Any]:
    """``/.well-known/openid-configuration`` for ``sso-openid-connect`` (issuer = FHIR base)."""
    return {
        "issuer": urls.issuer,
        "jwks_uri": urls.jwks,
        "authorization_endpoint": urls.authorize,
        "token_endpoint": urls.token,
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": [id_token_algorithm],
        "scopes_supported": ["openid", "fhirUser"],
        "claims_supported": ["iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "fhirUser"],
        "token_endpoint_auth_methods_supported": list(AUTH_METHODS_SUPPORTED),
        "code_challenge_methods_supported": ["S256"],
    }


def smart_security_component(settings: Settings) -> dict[str, Any]:
    """``CapabilityStatement.rest[0].security``."""
    if not settings.auth_enabled:
        return {"cors": True, "description": "Authorization is disabled on this server."}
    urls = AuthUrls.from_settings(settings)
    uris = {
        "authorize": urls.authorize,
        "token": urls.token,
        "introspect": urls.introspect,
        "revoke": urls.revoke,
    }
    return {
        "cors": True,
        "service": [
            {
                "coding": [
                    {"system": SECURITY_SERVICE_SYSTEM, "code": "SMART-on-FHIR", "display": "SMART-on-FHIR"}
                ],
                "text": "OAuth2 using SMART-on-FHIR profile (see http://docs.smarthealthit.org)",
            }
        ],
        "extension": [
            {
                "url": OAUTH_URIS_EXTENSION,
                "extension": [{"url": name, "valueUri": uri} for name, uri in uris.items()],
            }
        ],
        "description": "SMART App Launch 2.x and SMART Backend Services; discovery at "
        f"{urls.fhir_base}/.well-known/smart-configuration",
    }
