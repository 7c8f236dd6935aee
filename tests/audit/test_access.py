"""Who may read the audit log: administrators and privacy officers; a patient, only the access log
of their own record (who, when, what), without queries, addresses or other patients."""

from __future__ import annotations

from typing import Any

from tests.audit.conftest import Audited, entity_references, patient_references

NURSE = "user/*.rs"
PRIVACY_OFFICER = "user/AuditEvent.rs user/Provenance.rs"
PATIENT_APP = "patient/*.rs"


async def _two_patients_read_by_a_doctor(audited: Audited) -> tuple[str, str]:
    ids = []
    for family in ("Own", "Other"):
        created = await audited.http.post(
            "/Patient",
            json={"resourceType": "Patient", "name": [{"family": family}]},
            headers=audited.doctor(),
        )
        ids.append(created.json()["id"])
    # One search returning both: recorded as one event per patient.
    found = await audited.http.get("/Patient", params={"_id": ",".join(ids)}, headers=audited.doctor())
    assert found.json()["total"] == 2
    await audited.settle()
    return ids[0], ids[1]


async def test_staff_with_wildcard_scopes_cannot_read_the_log(audited: Audited) -> None:
    own, _ = await _two_patients_read_by_a_doctor(audited)
    nurse = audited.token(NURSE, fhir_user="Practitioner/nurse-1")
    assert (await audited.http.get("/AuditEvent", headers=nurse)).status_code == 403
    assert (await audited.http.get(f"/AuditEvent?patient=Patient/{own}", headers=nurse)).status_code == 403
    # ... nor reach it sideways: compartment search, _revinclude, system search
    compartment = await audited.http.get(f"/Patient/{own}/*", headers=nurse)
    assert compartment.status_code == 200
    assert "AuditEvent" not in _types(compartment.json())
    revinclude = await audited.http.get(
        "/Patient", params={"_id": own, "_revinclude": "AuditEvent:patient"}, headers=nurse
    )
    assert _types(revinclude.json()) == {"Patient"}
    system = await audited.http.get("/", params={"_type": "AuditEvent"}, headers=nurse)
    assert "AuditEvent" not in _types(system.json())


async def test_privacy_officer_and_administrator_read_it(audited: Audited) -> None:
    own, _ = await _two_patients_read_by_a_doctor(audited)
    for headers in (audited.token(PRIVACY_OFFICER, fhir_user="Practitioner/po-1"), audited.doctor()):
        answer = await audited.http.get(f"/AuditEvent?patient=Patient/{own}&_sort=-date", headers=headers)
        assert answer.status_code == 200
        events = [entry["resource"] for entry in answer.json()["entry"]]
        assert {e["subtype"][0]["code"] for e in events} >= {"create", "search-type"}
        dates = [e["recorded"] for e in events]
        assert dates == sorted(dates, reverse=True)


async def test_a_patient_reads_the_access_log_of_their_own_record_only(audited: Audited) -> None:
    own, other = await _two_patients_read_by_a_doctor(audited)
    patient = audited.token(PATIENT_APP, patient=own)
    answer = await audited.http.get("/AuditEvent", params={"patient": f"Patient/{own}"}, headers=patient)
    assert answer.status_code == 200, answer.text
    events = [entry["resource"] for entry in answer.json()["entry"]]
    kinds = {e["subtype"][0]["code"] for e in events}
    assert {"create", "search-type"} <= kinds
    for event in events:
        assert f"Patient/{own}" in patient_references(event)
        assert not any(ref.startswith(f"Patient/{other}") for ref in entity_references(event))
        assert all("query" not in entity for entity in event.get("entity", []))  # the search named both
        assert all("network" not in agent for agent in event["agent"])
    search = next(e for e in events if e["subtype"][0]["code"] == "search-type")
    assert any(a.get("who", {}).get("reference") == "Practitioner/dr-audit" for a in search["agent"])  # who

    refused = await audited.http.get("/AuditEvent", params={"patient": f"Patient/{other}"}, headers=patient)
    assert refused.status_code == 403
    sideways = await audited.http.get("/AuditEvent", params={"entity": f"Patient/{other}"}, headers=patient)
    assert sideways.status_code == 400
    including = await audited.http.get(
        "/AuditEvent", params={"patient": own, "_include": "AuditEvent:entity"}, headers=patient
    )
    assert including.status_code == 400

    # One event by id: own yes (reduced), the other patient's no (as if it did not exist).
    read = await audited.http.get(f"/AuditEvent/{search['id']}", headers=patient)
    assert read.status_code == 200 and all("query" not in e for e in read.json().get("entity", []))
    officer = audited.token(PRIVACY_OFFICER)
    others = await audited.http.get("/AuditEvent", params={"patient": f"Patient/{other}"}, headers=officer)
    other_event = others.json()["entry"][0]["resource"]["id"]
    assert (await audited.http.get(f"/AuditEvent/{other_event}", headers=patient)).status_code == 404


async def test_a_patient_app_without_audit_scope_is_refused(audited: Audited) -> None:
    own, _ = await _two_patients_read_by_a_doctor(audited)
    patient = audited.token("patient/Observation.rs", patient=own)
    answer = await audited.http.get("/AuditEvent", params={"patient": f"Patient/{own}"}, headers=patient)
    assert answer.status_code == 403


def _types(bundle: dict[str, Any]) -> set[str]:
    return {entry["resource"]["resourceType"] for entry in bundle.get("entry", [])}
