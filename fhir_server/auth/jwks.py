"""Remote JSON Web Key Sets (external issuers, backend clients' ``jwks_uri``), cached.

A set is fetched on first use and kept for ``max_age`` seconds. A token signed with a key id the
cached set lacks (the issuer rotated its keys) triggers one re-fetch, at most once per
``min_refetch_interval`` per URL, so forged key ids cannot make us hammer the issuer.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import httpx
from joserfc.errors import JoseError
from joserfc.jwk import Key, KeySet

logger = logging.getLogger(__name__)

MAX_JWKS_BYTES: Final = 256 * 1024


class KeyNotFound(Exception):
    """No usable key for this key id (after any allowed re-fetch)."""


@dataclass
class _Cached:
    keys: KeySet | None
    fetched_at: float


def select_key(keys: KeySet, kid: str | None, algorithm: str) -> Key | None:
    """The key named ``kid``; without a kid, the only key fit for ``algorithm``."""
    key_type = "EC" if algorithm.startswith("ES") else "RSA"
    candidates = [key for key in keys if key.key_type == key_type and key.get("use", "sig") == "sig"]
    if kid is not None:
        candidates = [key for key in candidates if key.kid == kid]
    return candidates[0] if len(candidates) == 1 or (kid is not None and candidates) else None


def import_jwks(data: Any) -> KeySet:
    """A key set from its JSON; raise ``ValueError`` for anything else (private keys are refused)."""
    if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
        raise ValueError("a JWKS is an object with a 'keys' list")
    for entry in data["keys"]:
        if not isinstance(entry, dict) or "d" in entry:
            raise ValueError("a JWKS must hold public keys only")
    try:
        return KeySet.import_key_set({"keys": data["keys"]})
    except (JoseError, KeyError, TypeError, ValueError) as error:
        raise ValueError(f"unreadable JWKS: {error}") from error


class RemoteKeySets:
    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        max_age: float = 3600.0,
        min_refetch_interval: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._http = http
        self._max_age = max_age
        self._min_refetch_interval = min_refetch_interval
        self._clock = clock
        self._cache: dict[str, _Cached] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def key_for(self, url: str, kid: str | None, algorithm: str) -> Key:
        async with self._locks.setdefault(url, asyncio.Lock()):
            cached = self._cache.get(url)
            now = self._clock()
            if cached is None or now - cached.fetched_at >= self._max_age:
                cached = await self._refresh(url)
            key = select_key(cached.keys, kid, algorithm) if cached.keys else None
            if key is None and now - cached.fetched_at >= self._min_refetch_interval:
                cached = await self._refresh(url)  # the issuer may have rotated its keys
                key = select_key(cached.keys, kid, algorithm) if cached.keys else None
        if key is None:
            raise KeyNotFound("no key with that key id")
        return key

    async def _refresh(self, url: str) -> _Cached:
        previous = self._cache.get(url)
        try:
            keys = await self._fetch(url)
        except (httpx.HTTPError, ValueError) as error:
            logger.warning("fetching a JWKS failed: %s", type(error).__name__)
            # Keep serving what we had; remember the attempt so failures are rate-limited too.
            return self._remember(url, previous.keys if previous else None)
        return self._remember(url, keys)

    def _remember(self, url: str, keys: KeySet | None) -> _Cached:
        cached = _Cached(keys=keys, fetched_at=self._clock())
        self._cache[url] = cached
        return cached

    async def _fetch(self, url: str) -> KeySet:
        response = await self._http.get(url, headers={"Accept": "application/json"})
        response.raise_for_status()
        if len(response.content) > MAX_JWKS_BYTES:
            raise ValueError("JWKS too large")
        return import_jwks(response.json())
