"""Public URLs of the authorization server, derived from ``settings.base_url``.

The OAuth endpoints live beside the FHIR base: ``https://host/fhir`` -> ``https://host/oauth/...``.
The issuer of our tokens and the audience they are for are both the FHIR base URL.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from fhir_server.settings import Settings

OAUTH_PREFIX: Final = "/oauth"
AUTHORIZE_PATH: Final = f"{OAUTH_PREFIX}/authorize"
TOKEN_PATH: Final = f"{OAUTH_PREFIX}/token"
INTROSPECT_PATH: Final = f"{OAUTH_PREFIX}/introspect"
REVOKE_PATH: Final = f"{OAUTH_PREFIX}/revoke"
JWKS_PATH: Final = f"{OAUTH_PREFIX}/jwks"
LOGIN_PATH: Final = f"{OAUTH_PREFIX}/login"
CONSENT_PATH: Final = f"{OAUTH_PREFIX}/consent"
LAUNCH_PATH: Final = f"{OAUTH_PREFIX}/launch"
LOGOUT_PATH: Final = f"{OAUTH_PREFIX}/logout"
TOTP_PATH: Final = f"{OAUTH_PREFIX}/code"
PASSWORD_CHANGE_PATH: Final = f"{OAUTH_PREFIX}/password-change"
PASSWORD_RESET_PATH: Final = f"{OAUTH_PREFIX}/password-reset"
LOGO_PATH: Final = f"{OAUTH_PREFIX}/logo"
ADMIN_PREFIX: Final = "/admin"
SMART_CONFIGURATION_PATH: Final = "/fhir/.well-known/smart-configuration"
OPENID_CONFIGURATION_PATH: Final = "/fhir/.well-known/openid-configuration"

# Paths under /fhir that need no token (the lead's dependency skips them).
PUBLIC_FHIR_PATHS: Final = frozenset({"/fhir/metadata", SMART_CONFIGURATION_PATH, OPENID_CONFIGURATION_PATH})


@dataclass(frozen=True)
class AuthUrls:
    fhir_base: str  # also the issuer and the audience of our tokens
    root: str  # scheme://host[/prefix] the /oauth paths hang from
    aliases: tuple[str, ...] = ()  # other spellings of fhir_base (loopback only: Settings.base_url_aliases)

    @classmethod
    def from_settings(cls, settings: Settings) -> AuthUrls:
        base = settings.base_url.rstrip("/")
        return cls(fhir_base=base, root=base.removesuffix("/fhir"), aliases=settings.base_url_aliases)

    def names_us(self, url: object) -> bool:
        """Whether ``url`` is our FHIR base (as a token's issuer or audience, or an ``aud`` parameter)."""
        return isinstance(url, str) and url in (self.fhir_base, *self.aliases)

    @property
    def issuer(self) -> str:
        return self.fhir_base

    def endpoint(self, path: str) -> str:
        return f"{self.root}{path}"

    @property
    def authorize(self) -> str:
        return self.endpoint(AUTHORIZE_PATH)

    @property
    def token(self) -> str:
        return self.endpoint(TOKEN_PATH)

    @property
    def introspect(self) -> str:
        return self.endpoint(INTROSPECT_PATH)

    @property
    def revoke(self) -> str:
        return self.endpoint(REVOKE_PATH)

    @property
    def jwks(self) -> str:
        return self.endpoint(JWKS_PATH)

    @property
    def launch(self) -> str:
        return self.endpoint(LAUNCH_PATH)

    @property
    def password_reset(self) -> str:
        return self.endpoint(PASSWORD_RESET_PATH)
