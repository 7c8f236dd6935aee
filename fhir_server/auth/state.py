"""``AuthState``: what the authorization server keeps for the app's lifetime (``app.state.auth``)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from fhir_server.auth import store
from fhir_server.auth.external import parse_external_issuers
from fhir_server.auth.facts import IndexerFacts
from fhir_server.auth.gate import ScopeGate
from fhir_server.auth.jwks import RemoteKeySets
from fhir_server.auth.keys import ServerKey, ephemeral_server_key, load_server_key
from fhir_server.auth.revocation_cache import RevocationCache
from fhir_server.auth.urls import AuthUrls
from fhir_server.auth.verifier import TokenVerifier
from fhir_server.conformance.registry import ConformanceRegistry
from fhir_server.settings import Settings
from fhir_server.tls import tls_context

JWKS_FETCH_TIMEOUT_SECONDS = 5.0


@dataclass
class AuthState:
    settings: Settings
    urls: AuthUrls
    server_key: ServerKey
    remote_keys: RemoteKeySets
    verifier: TokenVerifier
    gate: ScopeGate
    http: httpx.AsyncClient

    @property
    def cache(self) -> RevocationCache | None:
        """This process's revocation snapshot (None without a database)."""
        return self.verifier.revocations

    async def aclose(self) -> None:
        await self.http.aclose()


async def build_auth_state(
    settings: Settings,
    db: store.Database | None = None,
    registry: ConformanceRegistry | None = None,
    *,
    clock: Callable[[], float] = time.monotonic,
) -> AuthState:
    """Load (or generate) the signing key, parse the external issuers, build the gate (on the
    search indexer of ``registry``, else one loaded on first use) and ensure indexes if ``db``.

    With authorization disabled no key is written to disk: an in-memory key serves the endpoints.
    ``clock`` paces JWKS caching and the revocation snapshot (tests pass their own). Raises
    ``ValueError`` for a malformed ``external_issuers`` setting. Close with ``aclose()``.
    """
    external = parse_external_issuers(settings.external_issuers)
    if settings.auth_enabled or settings.auth_signing_key:
        server_key = await asyncio.to_thread(load_server_key, settings)
    else:
        server_key = ephemeral_server_key()
    http = httpx.AsyncClient(timeout=JWKS_FETCH_TIMEOUT_SECONDS, follow_redirects=False, verify=tls_context())
    remote = RemoteKeySets(http, clock=clock)
    urls = AuthUrls.from_settings(settings)
    verifier = TokenVerifier(urls=urls, server_key=server_key, external=external, remote_keys=remote)
    gate = ScopeGate(
        IndexerFacts.from_registry(registry, settings.base_url) if registry is not None else None
    )
    if db is not None:
        await store.ensure_auth_indexes(db)
        verifier.revocations = RevocationCache(db, max_age=settings.revocation_check_seconds, clock=clock)
    return AuthState(
        settings=settings,
        urls=urls,
        server_key=server_key,
        remote_keys=remote,
        verifier=verifier,
        gate=gate,
        http=http,
    )
