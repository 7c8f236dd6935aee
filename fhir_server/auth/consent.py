"""From a signed-in user and a pending authorization request to an authorization code.

``prepare_consent`` narrows the request to the user's role (its scopes, with ``{fhirUser}`` filled
in, and its server scopes) and issues a one-time *consent token* that only the browser showing the
consent page has seen, so the consent form cannot be forged or replayed. A standalone launch asking
``launch/patient`` picks the patient there (nothing preselected). ``decide`` records the answer.
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
from fhir_server.auth.roles import ROLES, Role
from fhir_server.auth.scopes import SERVER_SCOPES, ClinicalScope, ScopeContext, narrow_scopes, parse_scopes
from fhir_server.auth.tokens import new_token_id
from fhir_server.context import Principal

CODE_LIFETIME: Final = 60
CODE_PREFIX: Final = f"{store.KIND_CODE}:"


@dataclass(frozen=True)
class ConsentView:
    request_id: str
    consent_token: str
    client_name: str
    username: str
    role: str
    scopes: list[str]
    needs_picker: bool
    launch_patient: str | None


def code_id(code: str) -> str:
    return CODE_PREFIX + store.secret_hash(code)


async def load_pending(db: store.Database, request_id: str, browser: str | None = None) -> dict[str, Any]:
    """The pending request; with ``browser`` (its cookie's hash), only for the browser that started it."""
    document = await db[store.CODES].find_one({"_id": pending_id(request_id), "kind": store.KIND_REQUEST})
    if document is None or store.is_expired(document) or document.get("completed"):
        raise PageError("This sign-in request has expired or was already used. Start again from the app.")
    if browser is not None and not secrets.compare_digest(str(document.get("browser")), browser):
        raise PageError("This sign-in was started in another browser. Start again from the app.", status=403)
    return document


async def update_pending(db: store.Database, request_id: str, changes: dict[str, Any]) -> None:
    await db[store.CODES].update_one({"_id": pending_id(request_id)}, {"$set": changes})


def deny(pending: dict[str, Any], description: str) -> Exception:
    error: Exception = AccessDeniedError(
        description=description, state=pending.get("state"), redirect_uri=pending["redirect_uri"]
    )
    return error


def role_of(user: dict[str, Any]) -> Role | None:
    return ROLES.get(str(user.get("role") or ""))


def role_principal(user: dict[str, Any]) -> Principal:
    """The user as their role lets them act (the picker searches patients with it)."""
    role = role_of(user)
    scopes = role.scope_texts(fhir_user=user.get("fhir_user")) if role else []
    return Principal(
        subject=str(user["_id"]),
        client_id=None,
        scopes=frozenset(scopes),
        fhir_user=user.get("fhir_user"),
        role=role.name if role else None,
    )


async def prepare_consent(
    *, db: store.Database, request_id: str, pending: dict[str, Any], user: dict[str, Any], auth_time: int
) -> ConsentView:
    """Narrow the request to the user's role and get the consent page ready; raise a redirecting
    ``AccessDeniedError`` when the role allows none of it."""
    username = str(user["_id"])
    if pending.get("launch_username") not in (None, username):
        raise PageError(
            "This launch was prepared for another user. Sign out and start again from the app.", 403
        )
    role = role_of(user)
    fhir_user = user.get("fhir_user")
    limits = role.clinical_scopes(fhir_user=fhir_user) if role else ()
    clinical = narrow_scopes(parse_scopes(pending["clinical_scopes"]).clinical, limits)
    if not clinical:
        await complete(db, request_id)
        raise deny(pending, "the user's role allows none of the requested scopes")
    held_server_scopes = set(role.server_scopes) if role else set()
    launch_scopes = {
        scope
        for scope in pending["launch_scopes"]
        if scope not in SERVER_SCOPES or scope in held_server_scopes
    }
    if fhir_user is None:
        launch_scopes.discard("fhirUser")
    needs_picker = "launch/patient" in launch_scopes and not pending.get("launch_patient")
    if needs_picker and not any(_can_pick(limit) for limit in limits):
        await complete(db, request_id)
        raise deny(pending, "the user's role cannot select a patient")
    consent_token = secrets.token_urlsafe(24)
    granted = [*sorted(launch_scopes), *clinical]
    await update_pending(
        db,
        request_id,
        {
            "stage": "consent",
            "subject": username,
            "fhir_user": fhir_user,
            "role": role.name if role else None,
            "user_generation": int(user.get(store.GENERATION, 0)),
            "granted": granted,
            "needs_picker": needs_picker,
            "auth_time": auth_time,
            "consent_hash": store.secret_hash(consent_token),
        },
    )
    return ConsentView(
        request_id=request_id,
        consent_token=consent_token,
        client_name=str(pending.get("client_name")),
        username=username,
        role=role.name if role else "no role",
        scopes=granted,
        needs_picker=needs_picker,
        launch_patient=pending.get("launch_patient"),
    )


def _can_pick(limit: ClinicalScope) -> bool:
    """Picking a patient means browsing patients: a user-level Patient read."""
    return limit.context is ScopeContext.USER and "r" in limit.permissions and limit.applies_to("Patient")


def check_consent_token(pending: dict[str, Any], consent_token: str) -> None:
    expected = pending.get("consent_hash")
    if not expected or not secrets.compare_digest(expected, store.secret_hash(consent_token)):
        raise PageError("This consent form is not valid. Start again from the app.", status=403)


async def complete(db: store.Database, request_id: str) -> bool:
    found = await db[store.CODES].find_one_and_update(
        {"_id": pending_id(request_id), "completed": False}, {"$set": {"completed": True}}
    )
    return found is not None


async def decide(
    *, db: store.Database, request_id: str, pending: dict[str, Any], approve: bool, patient: str | None
) -> str:
    """Record the user's decision (the consent token already checked, the picked patient already
    found visible); return where to send the browser: the app's redirect URI with ``code`` or
    ``error``."""
    base: list[tuple[str, str]] = [("state", pending["state"])]
    if not approve:
        await complete(db, request_id)
        return _redirect(pending, [("error", "access_denied"), *base])
    chosen = patient if pending.get("needs_picker") else pending.get("launch_patient")
    if not await complete(db, request_id):
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
            "role": pending.get("role"),
            "user_generation": pending.get("user_generation"),
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
