"""Assertions that nothing about patient B reaches a caller confined to patient A."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

import httpx

from tests.security.world import World


def assert_no_b(response: httpx.Response, world: World) -> None:
    """No B name, identifier or resource id in the body, except what the caller itself sent
    (a self link or a "not known" message may echo the request)."""
    request = response.request
    try:
        body = request.content.decode(errors="replace")
    except httpx.RequestNotRead:  # a streamed (multipart) upload: nothing of B is in a file we made
        body = ""
    sent = unquote(str(request.url)) + body
    for secret in world.b_secrets():
        if secret not in sent:
            assert secret not in response.text, f"{request.method} {request.url} leaks {secret!r}"


def entry_resources(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    """The resources of a Bundle's entries (an OperationOutcome entry left out)."""
    return [
        entry["resource"]
        for entry in bundle.get("entry", [])
        if "resource" in entry and entry["resource"].get("resourceType") != "OperationOutcome"
    ]


def keys(bundle: dict[str, Any]) -> set[str]:
    return {f"{resource['resourceType']}/{resource['id']}" for resource in entry_resources(bundle)}


def b_keys(world: World) -> set[str]:
    """``Type/id`` of every resource of B (the Patient included)."""
    labelled = {f"{label.split('-')[0]}/{resource_id}" for label, resource_id in world.b.ids.items()}
    return {*labelled, world.b.ref()}


def a_keys(world: World) -> set[str]:
    labelled = {f"{label.split('-')[0]}/{resource_id}" for label, resource_id in world.a.ids.items()}
    return {*labelled, world.a.ref(), f"Observation/{world.cross_observation}"}
