"""X-Request-ID: a sane incoming id is kept and echoed, anything else is replaced."""

from __future__ import annotations

import re

import pytest
from fastapi import Request
from fastapi.responses import JSONResponse, PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from fhir_server.observability import install_observability
from fhir_server.observability.request_id import MAX_REQUEST_ID_LENGTH, accept_request_id

from .helpers import build_demo_app, client_for, demo_settings

GENERATED = re.compile(r"[0-9a-f]{32}")


async def test_a_request_without_an_id_gets_a_generated_one() -> None:
    async with client_for(build_demo_app()) as client:
        first = await client.get("/fhir/Patient/1")
        second = await client.get("/fhir/Patient/1")
    assert GENERATED.fullmatch(first.headers["x-request-id"])
    assert first.headers["x-request-id"] != second.headers["x-request-id"]
    # Routes see the same id (for RequestContext and OperationOutcome diagnostics).
    assert first.json()["request_id"] == first.headers["x-request-id"]


@pytest.mark.parametrize(
    "incoming",
    [
        "3f2b8c1e-9a7d-4c1b-8e2f-0a1b2c3d4e5f",
        "01HZX3K9Q8W7E6R5T4Y3U2I1O0",
        "1-67891233-abcdef012345678912345678",
        "req:42.a_b",
    ],
)
async def test_a_well_formed_incoming_id_is_kept_and_echoed(incoming: str) -> None:
    async with client_for(build_demo_app()) as client:
        response = await client.get("/fhir/Patient/1", headers={"X-Request-ID": incoming})
    assert response.headers["x-request-id"] == incoming
    assert response.json()["request_id"] == incoming


@pytest.mark.parametrize(
    "incoming",
    [
        "a" * (MAX_REQUEST_ID_LENGTH + 1),
        "id with spaces",
        '"},{"level":"ERROR"',
        "<script>alert(1)</script>",
        "-leading-dash",
        "",
    ],
)
async def test_a_malformed_incoming_id_is_replaced(incoming: str) -> None:
    async with client_for(build_demo_app()) as client:
        response = await client.get("/fhir/Patient/1", headers={"X-Request-ID": incoming})
    assert response.headers["x-request-id"] != incoming
    assert GENERATED.fullmatch(response.headers["x-request-id"])


async def test_error_answers_carry_the_request_id_too() -> None:
    async with client_for(build_demo_app()) as client:
        missing = await client.get("/nowhere", headers={"X-Request-ID": "trace-404"})
    assert missing.status_code == 404
    assert missing.headers["x-request-id"] == "trace-404"


async def test_an_unhandled_error_is_answered_by_the_apps_handler_with_the_request_id() -> None:
    app = build_demo_app()
    calls: list[str] = []

    async def operation_outcome(request: Request, exc: Exception) -> JSONResponse:
        calls.append(type(exc).__name__)
        return JSONResponse(
            {"resourceType": "OperationOutcome", "id": request.state.request_id}, status_code=500
        )

    app.add_exception_handler(Exception, operation_outcome)
    async with client_for(app, raise_app_exceptions=False) as client:
        response = await client.get("/fhir/Patient/1/$explode", headers={"X-Request-ID": "trace-500"})
    assert response.status_code == 500
    assert response.headers["x-request-id"] == "trace-500"
    assert response.json() == {"resourceType": "OperationOutcome", "id": "trace-500"}
    assert calls == ["RuntimeError"]  # the handler runs once (it may log; no duplicate lines)


async def test_an_unhandled_error_without_a_handler_gets_a_plain_500_with_the_request_id() -> None:
    async with client_for(build_demo_app()) as client:
        with pytest.raises(RuntimeError):  # still raised: servers and error tracking see it
            await client.get("/fhir/Patient/1/$explode")
    async with client_for(build_demo_app(), raise_app_exceptions=False) as client:
        response = await client.get("/fhir/Patient/1/$explode", headers={"X-Request-ID": "trace-plain"})
    assert (response.status_code, response.text) == (500, "Internal Server Error")
    assert response.headers["x-request-id"] == "trace-plain"


def test_accept_request_id_keeps_the_longest_allowed_id() -> None:
    longest = "b" * MAX_REQUEST_ID_LENGTH
    assert accept_request_id(longest) == longest
    assert accept_request_id(None) != accept_request_id(None)


async def test_answers_of_middleware_added_later_still_pass_through_observability() -> None:
    app = build_demo_app()  # install_observability already ran

    class RejectEverything:
        def __init__(self, app: ASGIApp) -> None:
            self.app = app

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            await PlainTextResponse("no token", status_code=401)(scope, receive, send)

    app.add_middleware(RejectEverything)
    async with client_for(app) as client:
        response = await client.get("/fhir/Patient/1", headers={"X-Request-ID": "trace-401"})
    assert response.status_code == 401
    assert response.headers["x-request-id"] == "trace-401"
    labels = {"route": "unmatched", "interaction": "none", "resource_type": "none", "status_class": "4xx"}
    assert app.state.metrics.registry.get_sample_value("fhir_http_requests_total", labels) == 1


async def test_observability_cannot_be_installed_on_a_serving_app() -> None:
    app = build_demo_app()
    async with client_for(app) as client:
        await client.get("/healthz")
    with pytest.raises(RuntimeError, match="before the app serves"):
        install_observability(app, demo_settings())
