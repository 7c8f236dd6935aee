"""The two questions the README promises one request each for, and retention.

* Who read Patient X this month: ``GET AuditEvent?patient=Patient/X&date=ge<month>&_sort=-date``
* Who changed Condition Y: ``GET Provenance?target=Condition/Y``
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.audit.conftest import Audited, agent

NURSE = "Practitioner/nurse-q"


async def test_who_read_patient_x_this_month(audited: Audited) -> None:
    created = await audited.http.post(
        "/Patient", json={"resourceType": "Patient", "name": [{"family": "Asked"}]}, headers=audited.doctor()
    )
    pid = created.json()["id"]
    nurse = audited.token("user/*.rs", fhir_user=NURSE)
    await audited.http.get(f"/Patient/{pid}", headers=nurse)
    await audited.http.get("/Observation", params={"subject": f"Patient/{pid}"}, headers=nurse)
    await audited.settle()

    month = datetime.now(UTC).strftime("%Y-%m")
    answer = await audited.http.get(
        "/AuditEvent",
        params={"patient": f"Patient/{pid}", "date": f"ge{month}-01", "_sort": "-date"},
        headers=audited.token("user/AuditEvent.rs"),
    )
    assert answer.status_code == 200
    events = [entry["resource"] for entry in answer.json()["entry"]]
    who = [(agent(e, "IRCP")["who"].get("reference"), e["subtype"][0]["code"], e["recorded"]) for e in events]
    assert who[0][:2] == (NURSE, "search-type")  # newest first: the search came last
    assert (NURSE, "read") in [(w, s) for w, s, _ in who]
    assert ("Practitioner/dr-audit", "create") in [(w, s) for w, s, _ in who]
    # Nothing from before this month.
    assert all(e["recorded"] >= f"{month}-01" for e in events)
    next_month = (datetime.now(UTC).replace(day=1) + timedelta(days=32)).strftime("%Y-%m")
    later = await audited.http.get(
        "/AuditEvent",
        params={"patient": f"Patient/{pid}", "date": f"ge{next_month}-01"},
        headers=audited.token("user/AuditEvent.rs"),
    )
    assert "entry" not in later.json()


async def test_who_did_what_to_an_entity(audited: Audited) -> None:
    created = await audited.http.post(
        "/Patient", json={"resourceType": "Patient", "name": [{"family": "Entity"}]}, headers=audited.doctor()
    )
    pid = created.json()["id"]
    nurse = audited.token("user/*.rs", fhir_user=NURSE)
    await audited.http.get(f"/Patient/{pid}", headers=nurse)
    await audited.settle()
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    answer = await audited.http.get(
        "/AuditEvent",
        params={"entity": f"Patient/{pid}", "agent": NURSE, "date": f"ge{today}"},
        headers=audited.token("user/AuditEvent.rs"),
    )
    events = [entry["resource"] for entry in answer.json()["entry"]]
    assert [e["subtype"][0]["code"] for e in events] == ["read"]


async def test_the_questions_are_served_by_indexes(audited: Audited) -> None:
    names = {index["name"] async for index in await audited.trail.log.events.list_indexes()}
    assert {"patient_date", "entity_date", "agent_date", "date_lo", "seq"} <= names


async def test_retention_never_removes_an_event_younger_than_it(audited: Audited) -> None:
    await audited.http.get("/Patient/retained", headers=audited.doctor())
    await audited.settle()
    log = audited.trail.log
    everything = await log.events.count_documents({})
    newest = await log.events.find_one({}, sort=[("lu", -1)])
    # Make the oldest half old: as if recorded three years ago (the newest stays as it is).
    old = [doc["_id"] async for doc in log.events.find({}, {"_id": 1}).sort("aseq", 1).limit(everything // 2)]
    three_years_ago = datetime.now(UTC) - timedelta(days=3 * 365)
    await log.events.update_many({"_id": {"$in": old}}, {"$set": {"lu": three_years_ago}})

    removed = await log.expire(before=datetime.now(UTC) - timedelta(days=2 * 365))
    assert removed == len(old)
    assert await log.events.count_documents({"_id": {"$in": old}}) == 0
    assert await log.events.find_one({"_id": newest["_id"]}) is not None
    assert await log.events.count_documents({"lu": {"$lt": three_years_ago + timedelta(days=1)}}) == 0
    report = await log.verify()
    assert report.intact, report.problems  # the chain still holds from its new oldest event
    assert report.first == len(old) + 1

    nothing: Any = await log.expire(before=datetime.now(UTC) - timedelta(days=2 * 365))
    assert nothing == 0
