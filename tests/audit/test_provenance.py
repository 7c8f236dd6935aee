"""Provenance for every write, committed with it, joinable to ``_history`` by version; a client's own
Provenance (``X-Provenance``) on a write or a transaction, checked and stored with every target."""

from __future__ import annotations

import json
from typing import Any

from tests.audit.conftest import DOCTOR_USER, Audited

CONDITION: dict[str, Any] = {
    "resourceType": "Condition",
    "code": {"text": "asthma"},
    "clinicalStatus": {
        "coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}]
    },
}


async def _patient(audited: Audited) -> str:
    created = await audited.http.post(
        "/Patient", json={"resourceType": "Patient", "name": [{"family": "Prov"}]}, headers=audited.doctor()
    )
    return str(created.json()["id"])


def _agent_codes(provenance: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {agent["type"]["coding"][0]["code"]: agent["who"] for agent in provenance["agent"]}


async def test_every_write_has_its_provenance_joined_to_history_by_version(audited: Audited) -> None:
    pid = await _patient(audited)
    condition = {**CONDITION, "subject": {"reference": f"Patient/{pid}"}}
    created = await audited.http.post("/Condition", json=condition, headers=audited.doctor())
    cid = created.json()["id"]
    nurse = audited.token("user/*.crus", fhir_user="Practitioner/nurse-7")
    await audited.http.put(
        f"/Condition/{cid}", json={**condition, "id": cid, "code": {"text": "severe asthma"}}, headers=nurse
    )
    await audited.settle()

    # "Who changed Condition Y": one request.
    answer = await audited.http.get(
        "/Provenance", params={"target": f"Condition/{cid}"}, headers=audited.doctor()
    )
    provenances = {
        p["target"][0]["reference"]: p for p in (entry["resource"] for entry in answer.json()["entry"])
    }
    assert set(provenances) == {f"Condition/{cid}/_history/1", f"Condition/{cid}/_history/2"}
    first, second = provenances[f"Condition/{cid}/_history/1"], provenances[f"Condition/{cid}/_history/2"]
    assert first["activity"]["coding"][0]["code"] == "CREATE"
    assert second["activity"]["coding"][0]["code"] == "UPDATE"
    assert _agent_codes(first)["author"]["reference"] == DOCTOR_USER
    assert _agent_codes(second)["author"]["reference"] == "Practitioner/nurse-7"
    assert _agent_codes(second)["performer"]["identifier"]["value"]  # the client app

    history = await audited.http.get(f"/Condition/{cid}/_history", headers=audited.doctor())
    for entry in history.json()["entry"]:
        resource = entry["resource"]
        version = f"Condition/{cid}/_history/{resource['meta']['versionId']}"
        assert provenances[version]["recorded"] == resource["meta"]["lastUpdated"]


async def test_the_provenance_of_a_deletion_names_the_deleted_version(audited: Audited) -> None:
    pid = await _patient(audited)
    await audited.http.delete(f"/Patient/{pid}", headers=audited.doctor())
    (provenance,) = await audited.provenance_of(f"Patient/{pid}/_history/2")
    assert provenance["activity"]["coding"][0]["code"] == "DELETE"


async def test_x_provenance_on_a_transaction_is_checked_and_stored_with_every_target(
    audited: Audited,
) -> None:
    pid = await _patient(audited)
    entry = {
        "request": {"method": "POST", "url": "Condition"},
        "resource": {**CONDITION, "subject": {"reference": f"Patient/{pid}"}},
    }
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [entry, entry]}
    client_provenance = {
        "resourceType": "Provenance",
        "agent": [{"who": {"reference": "Practitioner/referring-1"}}],
        "reason": [{"text": "referral letter import"}],
        "recorded": "2000-01-01T00:00:00Z",  # the server records when it stored it
    }
    response = await audited.http.post(
        "", json=bundle, headers={**audited.doctor(), "X-Provenance": json.dumps(client_provenance)}
    )
    assert response.status_code == 200, response.text
    written = [entry["response"]["location"].split("/_history/")[0] for entry in response.json()["entry"]]
    await audited.settle()
    answer = await audited.http.get(
        "/Provenance", params={"agent": "Practitioner/referring-1"}, headers=audited.doctor()
    )
    (stored,) = [entry["resource"] for entry in answer.json()["entry"]]
    assert stored["reason"] == client_provenance["reason"]
    assert stored["recorded"] != client_provenance["recorded"]
    assert sorted(t["reference"] for t in stored["target"]) == sorted(f"{w}/_history/1" for w in written)


async def test_bad_x_provenance_is_refused_and_nothing_is_written(audited: Audited) -> None:
    pid = await _patient(audited)
    condition = {**CONDITION, "subject": {"reference": f"Patient/{pid}"}}
    not_json = await audited.http.post(
        "/Condition", json=condition, headers={**audited.doctor(), "X-Provenance": "{not json"}
    )
    assert not_json.status_code == 400
    assert not_json.json()["issue"][0]["expression"] == ["X-Provenance"]
    invalid = {"resourceType": "Provenance", "agent": [{"who": {"reference": 7}}]}
    refused = await audited.http.post(
        "/Condition", json=condition, headers={**audited.doctor(), "X-Provenance": json.dumps(invalid)}
    )
    assert refused.status_code in (400, 422), refused.text
    found = await audited.http.get(
        "/Condition", params={"subject": f"Patient/{pid}"}, headers=audited.doctor()
    )
    assert found.json()["total"] == 0
    batch = {"resourceType": "Bundle", "type": "batch", "entry": []}
    on_batch = await audited.http.post(
        "",
        json=batch,
        headers={**audited.doctor(), "X-Provenance": json.dumps({"resourceType": "Provenance"})},
    )
    assert on_batch.status_code == 400


async def test_consequences_name_the_caller_and_the_server(audited: Audited) -> None:
    """A write the server's rules make for the caller (a Slot booked by an Appointment) is recorded
    as the server acting for the caller."""
    from fhir_server.context import Principal, RequestContext
    from fhir_server.services import Services
    from fhir_server.store.repository import WriteContext

    services: Services = audited.app.state.services
    caller = RequestContext(
        principal=Principal(
            subject="u1", client_id="app-1", fhir_user="Practitioner/booker", scopes=frozenset()
        ),
        base_url="http://testserver/fhir",
        request_id="consequence-1",
    )

    async def write(session: Any) -> None:
        wctx = WriteContext(ctx=caller, session=session).consequence()
        await services.repository.create(
            resource_type="Basic", resource={"resourceType": "Basic", "code": {"text": "x"}}, wctx=wctx
        )

    await services.repository.transaction(write)
    (event,) = await audited.events_of_request("consequence-1")
    assert [s["code"] for s in event["subtype"]] == ["create", "consequence"]
    assert any(a["who"].get("reference") == "Practitioner/booker" for a in event["agent"])
    basic = next(r for r in event["entity"] if r.get("what", {}).get("reference", "").startswith("Basic/"))
    (provenance,) = await audited.provenance_of(basic["what"]["reference"])
    codes = _agent_codes(provenance)
    assert codes["author"]["reference"] == "Practitioner/booker"
    assert codes["performer"]["display"] == "FHIR server"
