"""What an export holds is what the token may read; only its owner sees its status and files."""

from __future__ import annotations

from tests.bulk.conftest import Loaded
from tests.bulk.helpers import download, exported, ids, kick_off, search_ids, wait_manifest
from tests.security.tokens import base_claims, bearer, sign_claims


async def test_scopes_narrow_a_system_export(loaded: Loaded) -> None:
    http = loaded.http
    narrow = loaded.token("system/Patient.rs system/Observation.rs?category=laboratory")
    manifest, _ = await wait_manifest(http, await kick_off(http, "/$export", narrow), narrow)
    by_type = await exported(http, manifest, narrow)
    assert set(by_type) == {"Patient", "Observation"}
    everything = loaded.token()
    assert ids(by_type["Observation"]) == await search_ids(
        http, "/Observation", everything, [("category", "laboratory")]
    )
    assert ids(by_type["Patient"]) == await search_ids(http, "/Patient", everything)


async def test_a_patient_token_exports_its_own_compartment_only(loaded: Loaded) -> None:
    http = loaded.http
    mine = loaded.patients[0]
    token = loaded.token("patient/*.rs", patient=mine)
    everything = loaded.token()
    for path in ("/$export", "/Patient/$export"):
        manifest, _ = await wait_manifest(http, await kick_off(http, path, token), token)
        by_type = await exported(http, manifest, token)
        assert ids(by_type["Patient"]) == {mine}
        for resource_type in ("Observation", "Encounter", "Claim"):
            own = await search_ids(http, f"/Patient/{mine}/{resource_type}", everything)
            assert ids(by_type[resource_type]) == own, (path, resource_type)
        assert "Practitioner" not in by_type  # not in the patient's compartment


async def test_a_type_the_token_may_not_read_is_refused_or_left_out(loaded: Loaded) -> None:
    http = loaded.http
    token = loaded.token("system/Patient.rs")
    answer = await http.get(
        "/$export", params={"_type": "Patient,Condition"}, headers={**token, "Prefer": "respond-async"}
    )
    assert answer.status_code == 403 and answer.json()["issue"][0]["expression"] == ["_type"]
    lenient = {**token, "Prefer": "respond-async; handling=lenient"}
    answer = await http.get("/$export", params={"_type": "Patient,Condition"}, headers=lenient)
    assert answer.status_code == 202
    manifest, _ = await wait_manifest(http, answer.headers["Content-Location"], token)
    assert [output["type"] for output in manifest["output"]] == ["Patient"]
    outcomes = await download(http, manifest["error"][0]["url"], token)
    assert "Condition" in outcomes[0]["issue"][0]["diagnostics"]
    nothing = loaded.token("system/Patient.c")
    refused = await http.get("/$export", headers={**nothing, "Prefer": "respond-async"})
    assert refused.status_code == 403


async def test_only_the_exports_owner_may_poll_download_or_delete_it(loaded: Loaded) -> None:
    http, token = loaded.http, loaded.token()
    status = await kick_off(http, "/$export", token, params={"_type": "Patient"})
    manifest, _ = await wait_manifest(http, status, token)
    file_url = manifest["output"][0]["url"]

    claims = base_claims(loaded.app, "system/*.rs")
    claims.update(sub="another-client", client_id="another-client")
    stranger = bearer(sign_claims(loaded.app, claims))
    other_patient = loaded.token("patient/*.rs", patient=loaded.patients[1])
    for intruder in (stranger, other_patient):
        assert (await http.get(status, headers=intruder)).status_code == 404
        assert (await http.get(file_url, headers=intruder)).status_code == 404
        assert (await http.delete(status, headers=intruder)).status_code == 404
    assert (await http.get(status)).status_code == 401
    assert (await http.get(file_url)).status_code == 401
    assert (await http.get(file_url.replace(".ndjson", "x.ndjson"), headers=token)).status_code == 404
    assert (await http.get(status.replace(status[-32:], "0" * 32), headers=token)).status_code == 404
    assert (await http.get(status + "-not-an-id", headers=token)).status_code == 404

    # A new token of the same client (tokens expire long before big exports do) still may.
    again = loaded.token()
    assert (await http.get(status, headers=again)).status_code == 200
    assert len(await download(http, file_url, again)) == len(loaded.patients)
    assert (await http.delete(status, headers=again)).status_code == 202
