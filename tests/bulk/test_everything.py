"""``$everything``: the union of the compartment's searches plus what they reference, paged, gated."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from tests.bulk.conftest import Loaded

Key = tuple[str, str]


async def _pages(
    loaded: Loaded, url: str, headers: dict[str, str], params: Any = None
) -> list[dict[str, Any]]:
    """Every entry of every page, following next links (which must stay on $everything)."""
    entries: list[dict[str, Any]] = []
    pages = 0
    next_url: str | None = url
    while next_url is not None:
        answer = await loaded.http.get(next_url, params=params if pages == 0 else None, headers=headers)
        assert answer.status_code == 200, answer.text
        bundle = answer.json()
        assert bundle["type"] == "searchset"
        for link in bundle["link"]:
            assert "/$everything" in link["url"]
        entries += bundle.get("entry", [])
        next_url = next((link["url"] for link in bundle["link"] if link["relation"] == "next"), None)
        pages += 1
    return entries


def _keys(entries: list[dict[str, Any]]) -> set[Key]:
    return {
        (e["resource"]["resourceType"], e["resource"]["id"])
        for e in entries
        if e["resource"]["resourceType"] != "OperationOutcome"
    }


def _references(value: Any) -> set[Key]:
    found: set[Key] = set()
    if isinstance(value, dict):
        reference = value.get("reference")
        if isinstance(reference, str) and reference.count("/") == 1 and "://" not in reference:
            resource_type, resource_id = reference.split("/")
            found.add((resource_type, resource_id))
        for child in value.values():
            found |= _references(child)
    elif isinstance(value, list):
        for item in value:
            found |= _references(item)
    return found


async def _compartment(loaded: Loaded, compartment: str, headers: dict[str, str]) -> list[dict[str, Any]]:
    """Every resource of every compartment search ``{compartment}/{Type}``."""
    ctype = compartment.split("/")[0]
    registry = loaded.app.state.services.registry
    resources: list[dict[str, Any]] = []
    for resource_type in registry.compartment_member_types(ctype):
        url: str | None = f"/{compartment}/{resource_type}"
        params: dict[str, str] | None = {"_count": "500"}
        while url is not None:
            bundle = (await loaded.http.get(url, params=params, headers=headers)).json()
            resources += [e["resource"] for e in bundle.get("entry", []) if e["search"]["mode"] == "match"]
            url = next((link["url"] for link in bundle["link"] if link["relation"] == "next"), None)
            params = None
    return resources


async def _expected(loaded: Loaded, compartment: str, headers: dict[str, str]) -> set[Key]:
    members = await _compartment(loaded, compartment, headers)
    keys = {(r["resourceType"], r["id"]) for r in members}
    referenced: set[Key] = set()
    for resource in members:
        referenced |= _references(resource)
    for resource_type, resource_id in referenced - keys:
        if (await loaded.http.get(f"/{resource_type}/{resource_id}", headers=headers)).status_code == 200:
            keys.add((resource_type, resource_id))
    return keys


async def test_everything_is_the_compartment_plus_what_it_references(loaded: Loaded) -> None:
    token = loaded.token()
    patient = loaded.patients[0]
    entries = await _pages(loaded, f"/Patient/{patient}/$everything", token, {"_count": "15"})
    got = _keys(entries)
    assert ("Patient", patient) in got
    assert {"Practitioner", "Organization"} <= {t for t, _ in got}  # referenced, not in the compartment
    assert got == await _expected(loaded, f"Patient/{patient}", token)
    matches = [e for e in entries if e["search"]["mode"] == "match"]
    assert len(matches) == len({(e["resource"]["resourceType"], e["resource"]["id"]) for e in matches})


async def test_everything_by_type_and_since(loaded: Loaded) -> None:
    token = loaded.token()
    patient = loaded.patients[0]
    entries = await _pages(
        loaded, f"/Patient/{patient}/$everything", token, {"_type": "Observation,Encounter"}
    )
    got = _keys(entries)
    assert {t for t, _ in got} == {"Observation", "Encounter"}
    expected = await _expected(loaded, f"Patient/{patient}", token)
    assert got == {(t, i) for t, i in expected if t in ("Observation", "Encounter")}

    since = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    await asyncio.sleep(0.01)
    writer = {**loaded.token("system/*.cruds"), "Content-Type": "application/fhir+json"}
    observation = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"text": "pulse"},
        "subject": {"reference": f"Patient/{patient}"},
    }
    created = (await loaded.http.post("/Observation", json=observation, headers=writer)).json()
    recent = await _pages(loaded, f"/Patient/{patient}/$everything", token, {"_since": since})
    assert _keys(recent) == {("Observation", created["id"])}


async def test_everything_answers_each_caller_what_it_may_see(loaded: Loaded) -> None:
    first, second = loaded.patients[0], loaded.patients[1]
    other = loaded.token("patient/*.rs", patient=second)
    refused = await loaded.http.get(f"/Patient/{first}/$everything", headers=other)
    assert refused.status_code == 404
    own = loaded.token("patient/*.rs", patient=first)
    got = _keys(await _pages(loaded, f"/Patient/{first}/$everything", own))
    everything = await _expected(loaded, f"Patient/{first}", loaded.token())
    assert got == {(t, i) for t, i in everything if t not in ("Practitioner", "Organization", "Location")}
    unknown = await loaded.http.get("/Patient/nobody/$everything", headers=loaded.token())
    assert unknown.status_code == 404
    bad = await loaded.http.get(f"/Patient/{first}/$everything", params={"start": "2020"}, headers=own)
    assert bad.status_code == 400 and bad.json()["issue"][0]["expression"] == ["start"]


async def test_encounter_everything(loaded: Loaded) -> None:
    token = loaded.token()
    bundle = (
        await loaded.http.get(
            "/Encounter", params={"subject": f"Patient/{loaded.patients[0]}"}, headers=token
        )
    ).json()
    encounter = bundle["entry"][0]["resource"]["id"]
    got = _keys(await _pages(loaded, f"/Encounter/{encounter}/$everything", token))
    assert ("Encounter", encounter) in got and ("Patient", loaded.patients[0]) in got
    assert got == await _expected(loaded, f"Encounter/{encounter}", token)


async def test_revinclude_and_include_wildcards_work(loaded: Loaded) -> None:
    token = loaded.token()
    patient = loaded.patients[0]
    answer = await loaded.http.get("/Patient", params={"_id": patient, "_revinclude": "*"}, headers=token)
    included = {
        (e["resource"]["resourceType"], e["resource"]["id"])
        for e in answer.json()["entry"]
        if e["search"]["mode"] == "include"
    }
    observations = await loaded.http.get(
        "/Observation", params={"subject": f"Patient/{patient}", "_count": "500"}, headers=token
    )
    subject_of = {("Observation", e["resource"]["id"]) for e in observations.json()["entry"]}
    assert subject_of and subject_of <= included
    assert {"Encounter", "Condition", "Claim"} <= {t for t, _ in included}

    typed = await loaded.http.get(
        "/Patient", params={"_id": patient, "_revinclude": "Observation:*"}, headers=token
    )
    typed_included = {
        (e["resource"]["resourceType"], e["resource"]["id"])
        for e in typed.json()["entry"]
        if e["search"]["mode"] == "include"
    }
    assert typed_included == {key for key in included if key[0] == "Observation"}

    one = next(iter(subject_of))[1]
    forward = await loaded.http.get("/Observation", params={"_id": one, "_include": "*"}, headers=token)
    resource = next(e["resource"] for e in forward.json()["entry"] if e["search"]["mode"] == "match")
    included_forward = {
        (e["resource"]["resourceType"], e["resource"]["id"])
        for e in forward.json()["entry"]
        if e["search"]["mode"] == "include"
    }
    assert included_forward == _references(resource)
