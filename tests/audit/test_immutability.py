"""Nobody changes the trail through the API: AuditEvent writes answer 405 (or 403 to a caller not
even allowed to ask), on every path; a recorded Provenance cannot be changed or deleted."""

from __future__ import annotations

from typing import Any

import pytest

from fhir_server.context import Principal, RequestContext
from fhir_server.errors import Forbidden, MethodNotAllowed
from fhir_server.services import Services
from fhir_server.store.repository import WriteContext
from tests.audit.conftest import Audited

EVENT: dict[str, Any] = {
    "resourceType": "AuditEvent",
    "type": {"system": "http://terminology.hl7.org/CodeSystem/audit-event-type", "code": "rest"},
    "recorded": "2026-01-01T00:00:00Z",
    "agent": [{"who": {"display": "forger"}, "requestor": True}],
    "source": {"observer": {"display": "forger"}},
}


async def _an_event_id(audited: Audited) -> str:
    await audited.http.get("/Patient/someone", headers=audited.doctor())
    events = await audited.events()
    return str(events[-1]["id"])


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/AuditEvent", EVENT),
        ("PUT", "/AuditEvent/{id}", {**EVENT, "id": "{id}"}),
        ("PATCH", "/AuditEvent/{id}", [{"op": "replace", "path": "/action", "value": "R"}]),
        ("DELETE", "/AuditEvent/{id}", None),
        ("DELETE", "/AuditEvent?action=R", None),
        ("PUT", "/AuditEvent?action=R", EVENT),
    ],
)
async def test_administrators_cannot_write_audit_events(
    audited: Audited, method: str, path: str, body: Any
) -> None:
    event_id = await _an_event_id(audited)
    before = await audited.trail.log.verify()
    url = path.replace("{id}", event_id)
    content_type = "application/json-patch+json" if method == "PATCH" else "application/fhir+json"
    response = await audited.http.request(
        method,
        url,
        json=_fill(body, event_id),
        headers={**audited.doctor(), "Content-Type": content_type},
    )
    assert response.status_code == 405, response.text
    assert response.json()["issue"][0]["code"] == "not-supported"
    stored = await audited.events({"_id": event_id})
    assert stored and stored[0]["action"] == "R"  # unchanged
    assert (await audited.trail.log.verify()).checked > before.checked  # and the refusal is logged


async def test_a_caller_without_audit_access_is_refused_before_that(audited: Audited) -> None:
    response = await audited.http.post("/AuditEvent", json=EVENT, headers=audited.token("user/*.crus"))
    assert response.status_code == 403


async def test_bundle_entries_cannot_write_audit_events(audited: Audited) -> None:
    event_id = await _an_event_id(audited)
    bundle = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [
            {"request": {"method": "POST", "url": "AuditEvent"}, "resource": EVENT},
            {"request": {"method": "DELETE", "url": f"AuditEvent/{event_id}"}},
        ],
    }
    response = await audited.http.post("", json=bundle, headers=audited.doctor())
    assert response.status_code == 200
    statuses = [entry["response"]["status"] for entry in response.json()["entry"]]
    assert statuses == ["405 Method Not Allowed", "405 Method Not Allowed"]
    transaction = {**bundle, "type": "transaction", "entry": bundle["entry"][:1]}
    response = await audited.http.post("", json=transaction, headers=audited.doctor())
    assert response.status_code == 405


async def test_no_path_below_the_api_writes_one_either(audited: Audited) -> None:
    services: Services = audited.app.state.services
    ctx = RequestContext(principal=Principal.system(), base_url="http://testserver/fhir")

    async def forge(session: Any) -> None:
        await services.repository.create(
            resource_type="AuditEvent", resource=dict(EVENT), wctx=WriteContext(ctx=ctx, session=session)
        )

    with pytest.raises((Forbidden, MethodNotAllowed)):  # the write door, else the audit hook
        await services.repository.transaction(forge)
    audited.app.state.services.repository.guard = _allow_everything  # past the door: the hook
    try:
        with pytest.raises(MethodNotAllowed):
            await services.repository.transaction(forge)
    finally:
        audited.app.state.services.repository.guard = services.guard.check_write


async def test_a_provenance_once_recorded_cannot_change(audited: Audited) -> None:
    created = await audited.http.post(
        "/Patient", json={"resourceType": "Patient", "name": [{"family": "Prov"}]}, headers=audited.doctor()
    )
    pid = created.json()["id"]
    (provenance,) = await audited.provenance_of(f"Patient/{pid}/_history/1")
    url = f"/Provenance/{provenance['id']}"
    changed = {**provenance, "agent": [{"who": {"display": "someone else"}}]}
    assert (await audited.http.put(url, json=changed, headers=audited.doctor())).status_code == 405
    assert (await audited.http.delete(url, headers=audited.doctor())).status_code == 405
    read = await audited.http.get(url, headers=audited.doctor())
    assert read.json()["agent"] == provenance["agent"]


def _fill(body: Any, event_id: str) -> Any:
    if isinstance(body, dict):
        return {key: event_id if value == "{id}" else value for key, value in body.items()}
    return body


async def _allow_everything(*args: Any, **kwargs: Any) -> None:
    return None
