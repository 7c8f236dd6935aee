"""``/admin``: user accounts and OAuth clients over HTTP, the same operations as the command line.

Callers need the ``admin`` scope (granted at sign-in to the admin role only, to clients registered
with it, or in a ``dev-token``). Refusals are the usual OperationOutcomes: 400 bad input, 401 no
token, 403 no ``admin`` scope, 404 no such account or client.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from fhir_server.auth import store
from fhir_server.auth.authenticate import authenticate
from fhir_server.auth.client_admin import (
    ClientNotFound,
    ClientView,
    list_clients,
    register_client,
    rotate_credentials,
    set_client_active,
    show_client,
)
from fhir_server.auth.clients import ClientError, ClientKind
from fhir_server.auth.revocation_cache import RevocationCache
from fhir_server.auth.scopes import ADMIN_SCOPE
from fhir_server.auth.state import AuthState
from fhir_server.auth.urls import ADMIN_PREFIX
from fhir_server.auth.user_admin import (
    AccountNotFound,
    AccountView,
    UserError,
    create_account,
    list_accounts,
    reset_password,
    set_active,
    set_role,
    set_totp,
    show_account,
)
from fhir_server.context import Principal
from fhir_server.errors import BadRequest, Forbidden, NotFound


async def require_admin(
    request: Request, principal: Annotated[Principal, Depends(authenticate)]
) -> Principal:
    if request.app.state.settings.auth_enabled and ADMIN_SCOPE not in principal.scopes:
        raise Forbidden(f"the administration API needs the '{ADMIN_SCOPE}' scope")
    return principal


class Admin:
    """What an admin route needs: the database and this process's revocation snapshot."""

    def __init__(self, request: Request, _: Annotated[Principal, Depends(require_admin)]) -> None:
        auth: AuthState = request.app.state.auth
        self.db: store.Database = request.app.state.db
        self.cache: RevocationCache | None = auth.cache
        self.auth = auth


AdminDep = Annotated[Admin, Depends(Admin)]


class UserCreate(BaseModel):
    username: str = Field(description="2-64 letters, digits or . _ @ -")
    password: str = Field(description="At least 10 characters; the user changes it at first sign-in.")
    role: str | None = Field(
        default=None, description="A clinic role; omit when practitioner_role names one."
    )
    practitioner: str | None = Field(default=None, description="Practitioner id of the staff member.")
    practitioner_role: str | None = Field(
        default=None, description="PractitionerRole id whose code is the role."
    )
    fhir_user: str | None = Field(
        default=None, description="fhirUser of the tokens (default: the Practitioner)."
    )
    totp_required: bool = Field(default=False, description="Require a one-time code app whatever the role.")


class RoleChange(BaseModel):
    role: str


class PasswordResetRequest(BaseModel):
    mode: Literal["link", "temporary"] = Field(
        default="link",
        description="link: a one-time link; temporary: a generated password to change at sign-in.",
    )


class TotpChange(BaseModel):
    remove: bool = Field(
        default=False, description="Forget the enrolled app (it enrols again at next sign-in)."
    )
    required: bool | None = Field(default=None, description="Require a code app for this account.")


class ClientCreate(BaseModel):
    kind: ClientKind
    name: str
    client_id: str | None = None
    scope: str | None = Field(default=None, description="Space-separated scopes the client may be granted.")
    role: str | None = Field(default=None, description="Add a role's scopes (system/ for backends).")
    fhir_user: str | None = Field(
        default=None, description="The resource a backend acts as (Organization/...)."
    )
    redirect_uris: list[str] = Field(default_factory=list)
    jwks: dict[str, Any] | None = None
    jwks_uri: str | None = None


class Rotation(BaseModel):
    jwks: dict[str, Any] | None = None
    jwks_uri: str | None = None


def _user_error(error: UserError | ClientError) -> BadRequest:
    return BadRequest(str(error))


def build_admin_router() -> APIRouter:
    router = APIRouter(prefix=ADMIN_PREFIX, tags=["administration"])

    @router.get("/users", summary="List user accounts")
    async def users(admin: AdminDep) -> list[dict[str, Any]]:
        return [view.as_json() for view in await list_accounts(db=admin.db)]

    @router.post("/users", status_code=201, summary="Create a user account")
    async def create_user(body: UserCreate, admin: AdminDep) -> dict[str, Any]:
        try:
            view = await create_account(
                db=admin.db,
                username=body.username,
                password=body.password,
                role=body.role,
                practitioner=body.practitioner,
                practitioner_role=body.practitioner_role,
                fhir_user=body.fhir_user,
                must_change_password=True,
                totp_required=body.totp_required,
            )
        except UserError as error:
            raise _user_error(error) from error
        return view.as_json()

    @router.get("/users/{username}", summary="Show a user account")
    async def user(username: str, admin: AdminDep) -> dict[str, Any]:
        return await _account(show_account(db=admin.db, username=username))

    @router.post("/users/{username}/disable", summary="Disable an account; its tokens end")
    async def disable_user(username: str, admin: AdminDep) -> dict[str, Any]:
        return await _account(set_active(db=admin.db, username=username, active=False, cache=admin.cache))

    @router.post("/users/{username}/enable", summary="Enable an account")
    async def enable_user(username: str, admin: AdminDep) -> dict[str, Any]:
        return await _account(set_active(db=admin.db, username=username, active=True, cache=admin.cache))

    @router.put("/users/{username}/role", summary="Change an account's role; its tokens end")
    async def change_role(username: str, body: RoleChange, admin: AdminDep) -> dict[str, Any]:
        return await _account(set_role(db=admin.db, username=username, role=body.role, cache=admin.cache))

    @router.post("/users/{username}/reset-password", summary="Reset a password; its tokens end")
    async def reset(username: str, body: PasswordResetRequest, admin: AdminDep) -> dict[str, Any]:
        try:
            result = await reset_password(
                db=admin.db,
                username=username,
                mode=body.mode,
                link_base=admin.auth.urls.password_reset,
                lifetime=admin.auth.settings.password_reset_lifetime,
                cache=admin.cache,
            )
        except AccountNotFound as error:
            raise NotFound(f"no account {error}") from error
        return {name: value for name, value in result.__dict__.items() if value is not None}

    @router.post("/users/{username}/totp", summary="Remove or require a user's code app")
    async def change_totp(username: str, body: TotpChange, admin: AdminDep) -> dict[str, Any]:
        return await _account(
            set_totp(
                db=admin.db, username=username, remove=body.remove, required=body.required, cache=admin.cache
            )
        )

    @router.get("/clients", summary="List OAuth clients")
    async def clients(admin: AdminDep) -> list[dict[str, Any]]:
        return [view.as_json() for view in await list_clients(db=admin.db)]

    @router.post("/clients", status_code=201, summary="Register an OAuth client")
    async def create_client(body: ClientCreate, admin: AdminDep) -> dict[str, Any]:
        try:
            registered = await register_client(
                db=admin.db,
                kind=body.kind,
                name=body.name,
                scope=body.scope,
                role=body.role,
                fhir_user=body.fhir_user,
                redirect_uris=body.redirect_uris,
                jwks=body.jwks,
                jwks_uri=body.jwks_uri,
                client_id=body.client_id,
            )
        except ClientError as error:
            raise _user_error(error) from error
        view = (await show_client(db=admin.db, client_id=registered.document["_id"])).as_json()
        return {**view, "client_secret": registered.secret} if registered.secret else view

    @router.get("/clients/{client_id}", summary="Show an OAuth client")
    async def client(client_id: str, admin: AdminDep) -> dict[str, Any]:
        return await _client(show_client(db=admin.db, client_id=client_id))

    @router.post("/clients/{client_id}/disable", summary="Disable a client; its tokens end")
    async def disable_client(client_id: str, admin: AdminDep) -> dict[str, Any]:
        return await _client(
            set_client_active(db=admin.db, client_id=client_id, active=False, cache=admin.cache)
        )

    @router.post("/clients/{client_id}/enable", summary="Enable a client")
    async def enable_client(client_id: str, admin: AdminDep) -> dict[str, Any]:
        return await _client(
            set_client_active(db=admin.db, client_id=client_id, active=True, cache=admin.cache)
        )

    @router.post("/clients/{client_id}/rotate", summary="New secret, or new keys; its tokens end")
    async def rotate(client_id: str, body: Rotation, admin: AdminDep) -> dict[str, Any]:
        try:
            rotated = await rotate_credentials(
                db=admin.db, client_id=client_id, jwks=body.jwks, jwks_uri=body.jwks_uri, cache=admin.cache
            )
        except ClientNotFound as error:
            raise NotFound(f"no client {client_id}") from error
        except ClientError as error:
            raise _user_error(error) from error
        view = rotated.view.as_json()
        return {**view, "client_secret": rotated.secret} if rotated.secret else view

    return router


async def _account(work: Awaitable[AccountView]) -> dict[str, Any]:
    """Await an account operation, turning its errors into 400 / 404."""
    try:
        view = await work
    except AccountNotFound as error:
        raise NotFound(f"no account {error}") from error
    except UserError as error:
        raise _user_error(error) from error
    return view.as_json()


async def _client(work: Awaitable[ClientView]) -> dict[str, Any]:
    try:
        view = await work
    except ClientNotFound as error:
        raise NotFound(f"no client {error}") from error
    result: dict[str, Any] = view.as_json()
    return result
