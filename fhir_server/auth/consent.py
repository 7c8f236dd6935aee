"""From a pending authorization request to an authorization code: login, then consent.

Login narrows the scopes to the user's role. The consent page carries a one-time *consent token*
that only the browser that logged in has seen, so the consent form cannot be forged or replayed.
A standalone launch asking ``launch/patient`` picks the patient there.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any, Final

from authlib.common.urls import add_params_to_uri
from authlib.oauth2.rfc6749.errors import AccessDeniedError, InvalidRequestError

from fhir_server.auth import store
from fhir_server.auth.authorize import PageError, pending_id
from fhir_server.auth.launch import consume_launch
from fhir_server.auth.pages import PatientChoice
from fhir_server.auth.roles import ROLES
from fhir_server.auth.scopes import ClinicalScope, ScopeContext, narrow_scopes, parse_scopes
from fhir_server.auth.tokens import new_token_id
from fhir_server.auth.users import check_login
from fhir_server.store import documents as resource_docs

CODE_LIFETIME: Final = 60
CODE_PREFIX: Final = f"{store.KIND_CODE}:"
PATIENT_PICK_LIMIT: Final = 50


class LoginFailed(Exception):
    """Wrong credentials (or a locked or inactive user): show the login page again."""


@dataclass(frozen=True)
class ConsentView:
    request_id: str
    consent_token: str
    client_name: str
    username: str
    scopes: list[str]
    patients: list[PatientChoice] | None  # the picker's choices; None: no picker
    launch_patient: str | None


def code_id(code: str) -> str:
    return CODE_PREFIX + store.secret_hash(code)


async def load_pending(db: store.Database, request_id: str) -> dict[str, Any]:
    document = await db[store.CODES].find_one({"_id": pending_id(request_id), "kind": store.KIND_REQUEST})
    if document is None or store.is_expired(document) or document.get("completed"):
        raise PageError("This sign-in request has expired or was already used. Start again from the app.")
    return document


def _deny(pending: dict[str, Any], description: str) -> Exception:
    error: Exception = AccessDeniedError(
        description=description, state=pending.get("state"), redirect_uri=pending["redirect_uri"]
    )
    return error


async def login(*, db: store.Database, request_id: str, username: str, password: str) -> ConsentView:
    """Check the credentials and narrow the request to the user's role; raise ``LoginFailed``,
    ``PageError`` or a redirecting ``AccessDeniedError``."""
    pending = await load_pending(db, request_id)
    user = await check_login(db=db, username=username, password=password)
    if user is None:
        raise LoginFailed
    if pending.get("launch_username") not in (None, username):
        raise LoginFailed
    role = ROLES.get(str(user.get("role")))
    limits = role.clinical_scopes() if role else ()
    clinical = narrow_scopes(parse_scopes(pending["clinical_scopes"]).clinical, limits)
    if not clinical:
        await _complete(db, request_id)
        raise _deny(pending, "the user's role allows none of the requested scopes")
    launch_scopes = set(pending["launch_scopes"])
    fhir_user = user.get("fhir_user")
    if fhir_user is None:
        launch_scopes.discard("fhirUser")
    needs_picker = "launch/patient" in launch_scopes and not pending.get("launch_patient")
    if needs_picker and not any(_can_pick(limit) for limit in limits):
        await _complete(db, request_id)
        raise _deny(pending, "the user's role cannot select a patient")
    consent_token = secrets.token_urlsafe(24)
    granted = [*sorted(launch_scopes), *clinical]
    await db[store.CODES].update_one(
        {"_id": pending_id(request_id)},
        {
            "$set": {
                "subject": username,
                "fhir_user": fhir_user,
                "granted": granted,
                "needs_picker": needs_picker,
                "auth_time": int(store.now_utc().timestamp()),
                "consent_hash": store.secret_hash(consent_token),
            }
        },
    )
    return ConsentView(
        request_id=request_id,
        consent_token=consent_token,
        client_name=str(pending.get("client_name")),
        username=username,
        scopes=granted,
        patients=await patient_choices(db) if needs_picker else None,
        launch_patient=pending.get("launch_patient"),
    )


def _can_pick(limit: ClinicalScope) -> bool:
    """Picking a patient means browsing patients: a user-level Patient read."""
    return limit.context is ScopeContext.USER and "r" in limit.permissions and limit.applies_to("Patient")


async def patient_choices(db: store.Database) -> list[PatientChoice]:
    collection = db[resource_docs.resource_collection_name("Patient")]
    cursor = collection.find(
        {resource_docs.DELETED: {"$ne": True}}, {f"{resource_docs.RESOURCE}.name": 1}
    ).limit(PATIENT_PICK_LIMIT)
    return [PatientChoice(id=str(doc["_id"]), label=_patient_label(doc)) async for doc in cursor]


def _patient_label(document: dict[str, Any]) -> str:
    names = (document.get(resource_docs.RESOURCE) or {}).get("name") or []
    for name in names:
        parts = [*name.get("given", []), name.get("family", "")]
        text = name.get("text") or " ".join(part for part in parts if part)
        if text:
            return f"{text} ({document['_id']})"
    return str(document["_id"])


async def _patient_exists(db: store.Database, patient: str) -> bool:
    collection = db[resource_docs.resource_collection_name("Patient")]
    found = await collection.find_one({"_id": patient, resource_docs.DELETED: {"$ne": True}}, {"_id": 1})
    return found is not None


async def _complete(db: store.Database, request_id: str) -> bool:
    found = await db[store.CODES].find_one_and_update(
        {"_id": pending_id(request_id), "completed": False}, {"$set": {"completed": True}}
    )
    return found is not None


async def decide(
    *, db: store.Database, request_id: str, consent_token: str, approve: bool, patient: str | None
) -> str:
    """Record the user's decision; return where to send the browser (the app's redirect URI with
    ``code`` or ``error``). Raise ``PageError`` for a bad form, ``ValueError`` for a bad patient."""
    pending = await load_pending(db, request_id)
    expected = pending.get("consent_hash")
    if not expected or not secrets.compare_digest(expected, store.secret_hash(consent_token)):
        raise PageError("This consent form is not valid. Start again from the app.", status=403)
    base: list[tuple[str, str]] = [("state", pending["state"])]
    if not approve:
        await _complete(db, request_id)
        return _redirect(pending, [("error", "access_denied"), *base])
    chosen = pending.get("launch_patient")
    if pending.get("needs_picker"):
        if not patient or not await _patient_exists(db, patient):
            raise ValueError("choose an existing patient")
        chosen = patient
    if not await _complete(db, request_id):
        raise PageError("This sign-in request was already used.")
    if pending.get("launch") and not await consume_launch(db=db, launch=pending["launch"]):
        error: Exception = InvalidRequestError(
            description="the launch was already used",
            state=pending["state"],
            redirect_uri=pending["redirect_uri"],
        )
        raise error
    code = secrets.token_urlsafe(32)
    await db[store.CODES].insert_one(
        {
            "_id": code_id(code),
            "kind": store.KIND_CODE,
            "client_id": pending["client_id"],
            "redirect_uri": pending["redirect_uri"],
            "code_challenge": pending["code_challenge"],
            "scopes": pending["granted"],
            "subject": pending["subject"],
            "fhir_user": pending.get("fhir_user"),
            "patient": chosen,
            "encounter": pending.get("launch_encounter"),
            "nonce": pending.get("nonce"),
            "auth_time": pending.get("auth_time"),
            "grant_id": new_token_id(),
            "used": False,
            store.EXPIRES_AT: store.expires_in(CODE_LIFETIME),
        }
    )
    return _redirect(pending, [("code", code), *base])


def _redirect(pending: dict[str, Any], params: list[tuple[str, str]]) -> str:
    location: str = add_params_to_uri(pending["redirect_uri"], params)
    return location
