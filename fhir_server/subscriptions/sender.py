"""The outbound HTTP request of one notification: allowed endpoints only, no redirects, bounded time.

Channel headers usually carry credentials (``Authorization: Bearer ...``): they go on the request
and nowhere else. What a failure records (status, logs) is the status code or the kind of error,
never a header, a body or the endpoint's query string.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Final

import httpx

from fhir_server import __version__
from fhir_server.jsonio import dump_json
from fhir_server.subscriptions.endpoints import EndpointPolicy, EndpointRefused
from fhir_server.subscriptions.model import FHIR_JSON, SubscriptionSpec
from fhir_server.tls import tls_context

logger = logging.getLogger(__name__)

USER_AGENT: Final = f"fhir-server/{__version__} (subscriptions)"
MAX_ANSWER_BYTES: Final = 64 * 1024


@dataclass(frozen=True)
class Outbound:
    method: str  # POST or PUT
    url: str
    body: dict[str, object] | None  # JSON, or None for an empty notification


@dataclass(frozen=True)
class SendResult:
    ok: bool
    reason: str | None = None  # safe to store and log: "endpoint answered 503", "timeout" ...
    permanent: bool = False  # the endpoint is not allowed: retrying soon will not help


class Sender:
    def __init__(self, *, policy: EndpointPolicy, default_timeout: float, max_timeout: float) -> None:
        self.policy = policy
        self.default_timeout = default_timeout
        self.max_timeout = max_timeout
        # trust_env=False: no proxy or netrc from the environment reroutes (or decorates) a notification.
        self._http = httpx.AsyncClient(
            follow_redirects=False, trust_env=False, headers={"User-Agent": USER_AGENT}, verify=tls_context()
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def send(self, spec: SubscriptionSpec, outbound: Outbound) -> SendResult:
        try:
            endpoint = self.policy.check(outbound.url)
            await self.policy.check_addresses(endpoint)
        except EndpointRefused as refused:
            return SendResult(False, str(refused), permanent=True)
        headers = dict(spec.headers)
        content: bytes | None = None
        if outbound.body is not None:
            content = dump_json(outbound.body)
            headers["Content-Type"] = spec.mime_type or FHIR_JSON
        timeout = min(spec.timeout_seconds or self.default_timeout, self.max_timeout)
        try:
            # The answer's body is of no use: read a little (so the connection can be reused), never much.
            async with self._http.stream(
                outbound.method, outbound.url, content=content, headers=headers, timeout=timeout
            ) as response:
                status = response.status_code
                read = 0
                async for chunk in response.aiter_raw():
                    read += len(chunk)
                    if read > MAX_ANSWER_BYTES:
                        break
        except httpx.TimeoutException:
            return SendResult(False, "the endpoint did not answer in time")
        except httpx.HTTPError as error:
            return SendResult(False, f"the endpoint could not be reached ({type(error).__name__})")
        if 200 <= status < 300:
            return SendResult(True)
        return SendResult(False, f"the endpoint answered {status}")
