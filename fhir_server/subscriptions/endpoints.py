"""Where notifications may go: an allow-list of origins, https outside loopback, no SSRF.

The allow-list (``FHIR_SUBSCRIPTION_ALLOWED_ENDPOINTS``) names origins: ``https://lab.example.org``,
``https://*.ehr.example`` (any subdomain), ``https://lab.example.org:8443``, ``http://127.0.0.1:*``
(any port). An origin without a port allows only its scheme's default port. Plain ``http`` is
accepted only for loopback hosts (a receiver on the same machine).

An endpoint is checked when a Subscription is written (422 when not allowed) and again before every
delivery, when its host is also resolved: an address that is link-local (cloud metadata services
live there), multicast, unspecified or reserved is never called, and a loopback address only for an
endpoint whose host is itself loopback, so an allowed name cannot be pointed at the server's own
machine. Redirects are never followed.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import socket
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

_DEFAULT_PORTS: Final = {"http": 80, "https": 443}
_LOOPBACK_NAMES: Final = frozenset({"localhost", "localhost.localdomain"})
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class EndpointRefused(ValueError):
    """The endpoint may not be called; the message is safe to show and to log (no secrets)."""


def is_loopback_host(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class AllowedOrigin:
    scheme: str
    host: str  # lower case; "*.example.org" allows every subdomain of example.org
    port: int | None  # None: any port

    @classmethod
    def parse(cls, text: str) -> AllowedOrigin:
        parts = urlsplit(text.strip())
        if parts.scheme not in _DEFAULT_PORTS or not parts.netloc:
            raise ValueError(f"allowed endpoint {text!r}: give an origin like https://lab.example.org")
        if parts.path not in ("", "/") or parts.query or parts.fragment or "@" in parts.netloc:
            raise ValueError(f"allowed endpoint {text!r}: only scheme, host and port")
        host, _, port_text = (
            parts.netloc.rpartition(":") if _has_port(parts.netloc) else (parts.netloc, "", "")
        )
        host = host.lower()
        if parts.scheme == "http" and not is_loopback_host(host):
            raise ValueError(f"allowed endpoint {text!r}: plain http only for loopback hosts (use https)")
        if port_text == "*":
            port = None
        elif port_text:
            port = int(port_text)
        else:
            port = _DEFAULT_PORTS[parts.scheme]
        return cls(parts.scheme, host, port)

    def allows(self, scheme: str, host: str, port: int) -> bool:
        if scheme != self.scheme or (self.port is not None and port != self.port):
            return False
        if self.host.startswith("*."):
            return host.endswith(self.host[1:]) and len(host) > len(self.host) - 1
        return host == self.host


def _has_port(netloc: str) -> bool:
    tail = netloc.rsplit("]", 1)[-1]  # an IPv6 literal has colons of its own
    return ":" in tail


def parse_allowed_origins(setting: str) -> tuple[AllowedOrigin, ...]:
    """The allow-list setting (a JSON list of origins); ``ValueError`` when malformed."""
    try:
        values = json.loads(setting or "[]")
    except json.JSONDecodeError as error:
        raise ValueError(f"FHIR_SUBSCRIPTION_ALLOWED_ENDPOINTS is not JSON: {error.msg}") from None
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise ValueError("FHIR_SUBSCRIPTION_ALLOWED_ENDPOINTS must be a JSON list of origins")
    return tuple(AllowedOrigin.parse(value) for value in values)


@dataclass(frozen=True)
class Endpoint:
    url: str
    scheme: str
    host: str
    port: int


class EndpointPolicy:
    def __init__(self, allowed: tuple[AllowedOrigin, ...]) -> None:
        self.allowed = allowed

    @classmethod
    def from_setting(cls, setting: str) -> EndpointPolicy:
        return cls(parse_allowed_origins(setting))

    def check(self, url: str) -> Endpoint:
        """The endpoint if the allow-list admits it; ``EndpointRefused`` otherwise."""
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            raise EndpointRefused("the endpoint is not a valid URL") from None
        scheme = parts.scheme.lower()
        host = (parts.hostname or "").lower()
        if scheme not in _DEFAULT_PORTS or not host:
            raise EndpointRefused("the endpoint must be an http(s) URL")
        if parts.username is not None or parts.password is not None:
            raise EndpointRefused("the endpoint may not carry credentials (use channel.header)")
        if parts.fragment:
            raise EndpointRefused("the endpoint may not have a fragment")
        if scheme == "http" and not is_loopback_host(host):
            raise EndpointRefused("the endpoint must use https (plain http only on loopback)")
        port = port or _DEFAULT_PORTS[scheme]
        if not any(origin.allows(scheme, host, port) for origin in self.allowed):
            raise EndpointRefused(
                "the endpoint's origin is not in the server's allow-list "
                "(FHIR_SUBSCRIPTION_ALLOWED_ENDPOINTS)"
            )
        return Endpoint(url=url, scheme=scheme, host=host, port=port)

    async def check_addresses(self, endpoint: Endpoint) -> None:
        """Resolve the host and refuse addresses no notification may reach (see the module doc)."""
        literal = _literal(endpoint.host)
        if literal is not None:
            addresses = [literal]
        else:
            try:
                infos = await asyncio.get_running_loop().getaddrinfo(
                    endpoint.host, endpoint.port, type=socket.SOCK_STREAM
                )
            except OSError:
                raise EndpointRefused("the endpoint's host does not resolve") from None
            addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
        loopback_host = is_loopback_host(endpoint.host)
        for address in addresses:
            if address.is_link_local or address.is_multicast or address.is_unspecified or address.is_reserved:
                raise EndpointRefused("the endpoint resolves to an address notifications may not reach")
            if address.is_loopback and not loopback_host:
                raise EndpointRefused("the endpoint's host resolves to a loopback address")


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None
