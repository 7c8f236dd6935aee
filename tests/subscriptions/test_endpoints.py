"""The endpoint allow-list and the address checks made before every delivery."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest

from fhir_server.subscriptions.endpoints import (
    Endpoint,
    EndpointPolicy,
    EndpointRefused,
    parse_allowed_origins,
)

POLICY = EndpointPolicy.from_setting(
    '["https://lab.example.org", "https://*.ehr.example", "https://pacs.example.org:8443", "http://127.0.0.1:*"]'
)


@pytest.mark.parametrize(
    "url",
    [
        "https://lab.example.org/fhir/hook",
        "https://lab.example.org:443/hook?x=1",
        "https://a.ehr.example/hook",
        "https://deep.a.ehr.example/hook",
        "https://pacs.example.org:8443/notify",
        "http://127.0.0.1:8099/hook",
    ],
)
def test_allowed(url: str) -> None:
    assert POLICY.check(url).url == url


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://lab.example.org/hook", "https"),
        ("https://lab.example.org:8443/hook", "allow-list"),  # another port than the origin's
        ("https://ehr.example/hook", "allow-list"),  # the wildcard means subdomains only
        ("https://evil-lab.example.org/hook", "allow-list"),
        ("https://pacs.example.org/notify", "allow-list"),
        ("https://user:pw@lab.example.org/hook", "credentials"),
        ("https://lab.example.org/hook#part", "fragment"),
        ("file:///etc/passwd", "http(s)"),
        ("http://localhost:8099/hook", "allow-list"),  # only 127.0.0.1 was listed
        ("https://lab.example.org:99999/hook", "valid URL"),
    ],
)
def test_refused(url: str, why: str) -> None:
    with pytest.raises(EndpointRefused) as refused:
        POLICY.check(url)
    assert why in str(refused.value)


@pytest.mark.parametrize(
    "setting",
    ['["http://lab.example.org"]', '["https://lab.example.org/path"]', '"https://x"', "[1]", "not json"],
)
def test_malformed_settings_are_rejected_at_start(setting: str) -> None:
    with pytest.raises(ValueError):
        parse_allowed_origins(setting)


@pytest.mark.parametrize(
    ("host", "refused"),
    [
        ("169.254.169.254", True),  # cloud metadata: link-local
        ("0.0.0.0", True),
        ("224.0.0.1", True),
        ("[fe80::1]", True),
        ("127.0.0.1", False),  # a loopback endpoint may reach loopback
        ("10.1.2.3", False),  # an allow-listed clinic host on the private network
    ],
)
async def test_addresses_never_called(host: str, refused: bool) -> None:
    policy = EndpointPolicy(())
    endpoint = Endpoint(url=f"https://{host}/hook", scheme="https", host=host, port=443)
    if refused:
        with pytest.raises(EndpointRefused):
            await policy.check_addresses(endpoint)
    else:
        await policy.check_addresses(endpoint)


@pytest.mark.parametrize(
    ("address", "refused"), [("127.0.0.1", True), ("169.254.169.254", True), ("93.184.215.14", False)]
)
async def test_what_an_allowed_name_resolves_to_is_checked(
    monkeypatch: pytest.MonkeyPatch, address: str, refused: bool
) -> None:
    """DNS is outside the project: the resolver answers what a hostile or careless zone would."""

    async def resolve(host: str, port: int, **kwargs: Any) -> list[tuple[Any, ...]]:
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", resolve)
    endpoint = POLICY.check("https://lab.example.org/hook")
    if refused:
        with pytest.raises(EndpointRefused):
            await POLICY.check_addresses(endpoint)
    else:
        await POLICY.check_addresses(endpoint)
