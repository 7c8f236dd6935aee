"""The authorization endpoint: validating a request (PKCE S256 required) and keeping it pending.

A valid request is stored in ``auth_codes`` as a *pending request* for 10 minutes and the login page
is shown; ``consent.py`` carries it through login and consent to an authorization code. Errors about
the client or its redirect URI are shown as a page (never redirected to an unverified URI); later
errors are redirected to the app with ``error`` and ``state``.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from authlib.oauth2.rfc6749.errors import (
    InvalidRequestError,
    InvalidScopeError,
    UnsupportedResponseTypeError,
)
from authlib.oauth2.rfc7636.challenge import CODE_CHALLENGE_PATTERN

from fhir_server.auth import store
from fhir_server.auth.clients import GRANT_AUTHORIZATION_CODE, GRANTS_BY_KIND, client_kind, get_client
from fhir_server.auth.launch import find_launch
from fhir_server.auth.scopes import SERVER_SCOPES, ScopeSyntaxError, narrow_scopes, parse_scopes, split_scope
from fhir_server.auth.urls import AuthUrls

PKCE_METHOD: Final = "S256"
PENDING_LIFETIME: Final = 600
REQUEST_PREFIX: Final = f"{store.KIND_REQUEST}:"


class PageError(Exception):
    """An authorization error shown to the user as a page (no trustworthy redirect URI)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass(frozen=True)
class StartedAuthorization:
    request_id: str
    client_name: str


def pending_id(request_id: str) -> str:
    return REQUEST_PREFIX + store.secret_hash(request_id)


async def start_authorization(
    *, db: store.Database, urls: AuthUrls, params: Mapping[str, str], browser: str
) -> StartedAuthorization:
    """Validate an authorization request and store it pending, bound to ``browser`` (a hash of the
    browser cookie: only that browser may carry it on); raise ``PageError`` or a redirecting authlib
    ``OAuth2Error``."""
    client_id = params.get("client_id", "")
    client = await get_client(db=db, client_id=client_id) if client_id else None
    if client is None or GRANT_AUTHORIZATION_CODE not in GRANTS_BY_KIND[client_kind(client)]:
        raise PageError("Unknown client, or a client that cannot use this sign-in.")
    redirect_uri = _redirect_uri(client, params.get("redirect_uri"))
    state = params.get("state")
    fail: dict[str, Any] = {"state": state, "redirect_uri": redirect_uri}
    if params.get("response_type") != "code":
        raise UnsupportedResponseTypeError(description="response_type must be code", **fail)
    if not state:
        raise InvalidRequestError(description="state is required", **fail)
    challenge = params.get("code_challenge", "")
    if params.get("code_challenge_method") != PKCE_METHOD or not CODE_CHALLENGE_PATTERN.match(challenge):
        raise InvalidRequestError(description="PKCE with code_challenge_method=S256 is required", **fail)
    if not urls.names_us(params.get("aud", "").rstrip("/")):
        raise InvalidRequestError(description="aud must be this FHIR server's base URL", **fail)
    try:
        requested = parse_scopes(split_scope(params.get("scope")))
        client_limit = parse_scopes(client.get("scopes", [])).clinical
    except ScopeSyntaxError as error:
        raise InvalidScopeError(description="malformed scope", **fail) from error
    clinical = narrow_scopes(requested.clinical, client_limit)
    # This server's own scopes (admin) only for clients registered with them.
    launch_scopes = {
        scope for scope in requested.launch if scope not in SERVER_SCOPES or scope in client.get("scopes", [])
    }
    if not clinical:
        raise InvalidScopeError(description="none of the requested data scopes is allowed", **fail)
    launch_doc = await _launch_context(db, client["_id"], params, requested.launch, fail)
    request_id = secrets.token_urlsafe(24)
    document: dict[str, Any] = {
        "_id": pending_id(request_id),
        "kind": store.KIND_REQUEST,
        "client_id": client["_id"],
        "client_name": client.get("name") or client["_id"],
        "redirect_uri": redirect_uri,
        "state": state,
        "code_challenge": challenge,
        "nonce": params.get("nonce"),
        "launch_scopes": sorted(launch_scopes),
        "clinical_scopes": clinical,
        "launch": launch_doc["_id"] if launch_doc else None,
        "launch_patient": launch_doc.get("patient") if launch_doc else None,
        "launch_encounter": launch_doc.get("encounter") if launch_doc else None,
        "launch_username": launch_doc.get("username") if launch_doc else None,
        "completed": False,
        "browser": browser,
        store.EXPIRES_AT: store.expires_in(PENDING_LIFETIME),
    }
    await db[store.CODES].insert_one(document)
    return StartedAuthorization(request_id=request_id, client_name=str(document["client_name"]))


def _redirect_uri(client: store.ClientDoc, given: str | None) -> str:
    registered = client.get("redirect_uris", [])
    if given is None and len(registered) == 1:
        return registered[0]
    if given is None or given not in registered:
        raise PageError("The redirect_uri is not registered for this client.")
    return given


async def _launch_context(
    db: store.Database,
    client_id: str,
    params: Mapping[str, str],
    launch_scopes: frozenset[str],
    fail: dict[str, Any],
) -> dict[str, Any] | None:
    launch = params.get("launch")
    if "launch" not in launch_scopes:
        if launch:
            raise InvalidRequestError(description="a launch parameter needs the launch scope", **fail)
        return None
    document = await find_launch(db=db, launch=launch or "", client_id=client_id)
    if document is None:
        raise InvalidRequestError(description="unknown, expired or used launch", **fail)
    return document
