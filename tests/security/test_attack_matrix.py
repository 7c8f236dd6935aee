"""The attack matrix: every interaction, in every form, by every kind of confined caller, against a
resource it may not see and against an id that does not exist.

Callers: a patient-context token of patient A, each clinic role, and a write-only granular scope.
Forms: plain REST, conditional REST (the condition matches nothing the caller can see, the body
names the target's id), and batch/transaction entries. Two things must hold for each cell:

* nothing of the target changes (its version and content are compared before and after), and
* the answer is indistinguishable from the answer for an id that does not exist: same status,
  same OperationOutcome shape (the id itself aside).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from fhir_server.auth.roles import ROLES
from fhir_server.auth.scopes import parse_scopes_leniently
from tests.security.tokens import bearer, mint
from tests.security.world import World
from tests.support import client_for

JSON_PATCH = "application/json-patch+json"

Shape = tuple[Any, ...]
Attempt = Callable[[httpx.AsyncClient, str, str, dict[str, Any]], Awaitable[Shape]]


def _outcome_shape(body: Any, target_id: str) -> tuple[Any, ...]:
    """An OperationOutcome as (severity, code, diagnostics) with the target's id blanked out."""
    if not isinstance(body, dict) or body.get("resourceType") != "OperationOutcome":
        return ("not-an-outcome",)
    return tuple(
        (
            issue.get("severity"),
            issue.get("code"),
            str(issue.get("diagnostics", "")).replace(target_id, "<id>"),
        )
        for issue in body.get("issue", [])
    )


def _shape(response: httpx.Response, target_id: str) -> Shape:
    """What a caller can tell from an answer: its status and, for errors, the outcome's shape."""
    if response.status_code < 400:
        if response.headers.get("content-type", "").startswith("application/fhir+json") and response.content:
            body = response.json()
            if body.get("resourceType") == "Bundle":
                return (response.status_code, _bundle_shape(body, target_id))
        return (response.status_code,)
    return (response.status_code, _outcome_shape(response.json(), target_id))


def _bundle_shape(bundle: dict[str, Any], target_id: str) -> tuple[Any, ...]:
    shapes = []
    for entry in bundle.get("entry", []):
        response = entry.get("response", {})
        status = str(response.get("status", ""))
        outcome = _outcome_shape(response["outcome"], target_id) if "outcome" in response else ()
        shapes.append((status.split(" ", 1)[0], outcome, "resource" in entry))
    return tuple(shapes)


def _moved(value: Any, retarget: dict[str, str]) -> Any:
    if isinstance(value, dict):
        return {key: _moved(child, retarget) for key, child in value.items()}
    if isinstance(value, list):
        return [_moved(child, retarget) for child in value]
    return retarget.get(value, value) if isinstance(value, str) else value


def _body(resource: dict[str, Any], target_id: str, retarget: dict[str, str]) -> dict[str, Any]:
    """The resource as a caller would write it to ``target_id`` (its references moved to the
    caller's own patient where the caller is one, so the content itself would be allowed)."""
    body: dict[str, Any] = _moved({k: v for k, v in resource.items() if k != "meta"}, retarget)
    body["id"] = target_id
    return body


# ----- the forms ----------------------------------------------------------------------------------


async def read(http: httpx.AsyncClient, rtype: str, rid: str, body: dict[str, Any]) -> Shape:
    return _shape(await http.get(f"/{rtype}/{rid}"), rid)


async def vread(http: httpx.AsyncClient, rtype: str, rid: str, body: dict[str, Any]) -> Shape:
    return _shape(await http.get(f"/{rtype}/{rid}/_history/1"), rid)


async def history(http: httpx.AsyncClient, rtype: str, rid: str, body: dict[str, Any]) -> Shape:
    return _shape(await http.get(f"/{rtype}/{rid}/_history"), rid)


async def update(http: httpx.AsyncClient, rtype: str, rid: str, body: dict[str, Any]) -> Shape:
    return _shape(await http.put(f"/{rtype}/{rid}", json=body), rid)


async def patch(http: httpx.AsyncClient, rtype: str, rid: str, body: dict[str, Any]) -> Shape:
    operations = [{"op": "add", "path": "/language", "value": "fr"}]
    return _shape(
        await http.patch(f"/{rtype}/{rid}", json=operations, headers={"Content-Type": JSON_PATCH}), rid
    )


async def delete(http: httpx.AsyncClient, rtype: str, rid: str, body: dict[str, Any]) -> Shape:
    return _shape(await http.delete(f"/{rtype}/{rid}"), rid)


async def conditional_update(http: httpx.AsyncClient, rtype: str, rid: str, body: dict[str, Any]) -> Shape:
    return _shape(await http.put(f"/{rtype}", params={"_id": rid}, json=body), rid)


async def conditional_patch(http: httpx.AsyncClient, rtype: str, rid: str, body: dict[str, Any]) -> Shape:
    operations = [{"op": "add", "path": "/language", "value": "fr"}]
    answer = await http.patch(
        f"/{rtype}", params={"_id": rid}, json=operations, headers={"Content-Type": JSON_PATCH}
    )
    return _shape(answer, rid)


async def conditional_delete(http: httpx.AsyncClient, rtype: str, rid: str, body: dict[str, Any]) -> Shape:
    return _shape(await http.delete(f"/{rtype}", params={"_id": rid}), rid)


async def validate(http: httpx.AsyncClient, rtype: str, rid: str, body: dict[str, Any]) -> Shape:
    return _shape(await http.post(f"/{rtype}/{rid}/$validate"), rid)


def _entry(method: str, url: str, resource: dict[str, Any] | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {"request": {"method": method, "url": url}}
    if resource is not None:
        entry["resource"] = resource
    return entry


async def batch(http: httpx.AsyncClient, rtype: str, rid: str, body: dict[str, Any]) -> Shape:
    entries = [
        _entry("GET", f"{rtype}/{rid}"),
        _entry("GET", f"{rtype}/{rid}/_history"),
        _entry("PUT", f"{rtype}/{rid}", body),
        _entry("PUT", f"{rtype}?_id={rid}", body),
        _entry("DELETE", f"{rtype}/{rid}"),
        _entry("POST", f"{rtype}/{rid}/$validate"),
    ]
    return _shape(
        await http.post("/", json={"resourceType": "Bundle", "type": "batch", "entry": entries}), rid
    )


async def transaction_update(http: httpx.AsyncClient, rtype: str, rid: str, body: dict[str, Any]) -> Shape:
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [_entry("PUT", f"{rtype}/{rid}", body)],
    }
    return _shape(await http.post("/", json=bundle), rid)


async def transaction_conditional(
    http: httpx.AsyncClient, rtype: str, rid: str, body: dict[str, Any]
) -> Shape:
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [_entry("PUT", f"{rtype}?_id={rid}", body)],
    }
    return _shape(await http.post("/", json=bundle), rid)


FORMS: dict[str, Attempt] = {
    "read": read,
    "vread": vread,
    "history": history,
    "update": update,
    "patch": patch,
    "delete": delete,
    "conditional-update": conditional_update,
    "conditional-patch": conditional_patch,
    "conditional-delete": conditional_delete,
    "$validate": validate,
    "batch": batch,
    "transaction-update": transaction_update,
    "transaction-conditional-update": transaction_conditional,
}


# ----- the callers --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Caller:
    name: str
    scope: str
    patient_a: bool = False  # a patient-context token of patient A
    foreign: tuple[str, ...] = ()  # labels of World resources the caller may not see ("b:Condition")


SEEDED = (
    "b:Condition",
    "b:Observation-lab",
    "b:Encounter",
    "b:DocumentReference",
    "b:Appointment",
    "b:Patient",
)


def _role_foreign(role: str) -> tuple[str, ...]:
    """Seeded resources of types the role may not read at all."""
    scopes = parse_scopes_leniently(ROLES[role].scopes)

    def readable(label: str) -> bool:
        resource_type = label.split(":")[1].split("-")[0]
        return any("r" in scope.permissions and scope.applies_to(resource_type) for scope in scopes)

    return tuple(label for label in SEEDED if not readable(label))


CALLERS = [
    Caller(
        "patient-A",
        "patient/*.cruds",
        patient_a=True,
        foreign=("b:Observation-lab", "b:Condition", "b:Appointment", "b:DocumentReference", "b:Patient"),
    ),
    Caller("vital-signs-writer", "user/Observation.cu?category=vital-signs", foreign=("a:Observation-lab",)),
    Caller(
        "vital-signs-reader-writer",
        "user/Observation.rs?category=vital-signs user/Observation.cu?category=vital-signs",
        foreign=("a:Observation-lab", "b:Observation-lab"),
    ),
    *(
        Caller(f"role-{name}", " ".join(role.scopes), foreign=_role_foreign(name))
        for name, role in ROLES.items()
    ),
]
CELLS = [
    pytest.param(caller, label, form, id=f"{caller.name}-{label}-{form}")
    for caller in CALLERS
    for label in caller.foreign
    for form in FORMS
]


def _target(world: World, label: str) -> tuple[str, str]:
    owner, name = label.split(":")
    patient = world.a if owner == "a" else world.b
    if name == "Patient":
        return "Patient", patient.id
    return name.split("-")[0], patient.ids[name]


async def _snapshot(system_http: httpx.AsyncClient, rtype: str, rid: str) -> dict[str, Any]:
    answer = await system_http.get(f"/{rtype}/{rid}")
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


@pytest.mark.parametrize(("caller", "label", "form"), CELLS)
async def test_foreign_is_unchanged_and_indistinguishable_from_nonexistent(
    secured_app: FastAPI,
    system_http: httpx.AsyncClient,
    world: World,
    caller: Caller,
    label: str,
    form: str,
) -> None:
    rtype, rid = _target(world, label)
    before = await _snapshot(system_http, rtype, rid)
    token = mint(secured_app, caller.scope, patient=world.a.id if caller.patient_a else None)
    retarget = {world.b.ref(): world.a.ref()} if caller.patient_a else {}
    missing = f"missing-{uuid.uuid4().hex[:12]}"
    attempt = FORMS[form]
    async with client_for(secured_app, **bearer(token)) as http:
        foreign = await attempt(http, rtype, rid, _body(before, rid, retarget))
        absent = await attempt(http, rtype, missing, _body(before, missing, retarget))
    after = await _snapshot(system_http, rtype, rid)
    assert after == before, f"{caller.name} changed {rtype}/{rid} through {form}"
    assert foreign == absent, f"{caller.name} can tell {rtype}/{rid} exists through {form}"
    if form in {"update", "conditional-update", "transaction-update", "transaction-conditional-update"}:
        # The nonexistent id must not have been created either (a confined caller chooses no ids).
        assert (await system_http.get(f"/{rtype}/{missing}")).status_code == 404


async def test_patient_a_still_writes_its_own(
    secured_app: FastAPI, system_http: httpx.AsyncClient, world: World
) -> None:
    """The matrix's refusals are not blanket ones: A updates its own lab result."""
    rtype, rid = "Observation", world.a.ids["Observation-lab"]
    own = await _snapshot(system_http, rtype, rid)
    own.pop("meta")
    own["status"] = "amended"
    token = mint(secured_app, "patient/*.cruds", patient=world.a.id)
    async with client_for(secured_app, **bearer(token)) as http:
        answer = await http.put(f"/{rtype}/{rid}", json=own)
    assert answer.status_code == 200, answer.text
    assert (await _snapshot(system_http, rtype, rid))["status"] == "amended"
