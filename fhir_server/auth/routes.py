"""HTTP endpoints of the authorization server (``build_auth_router``).

Each route parses, calls one service function and responds. OAuth refusals (authlib ``OAuth2Error``)
and page errors are turned into responses in one place, ``OAuthRoute``.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from authlib.oauth2.base import OAuth2Error
from authlib.oauth2.rfc6749.errors import InvalidRequestError
from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field

from fhir_server.auth import store
from fhir_server.auth.authenticate import authenticate
from fhir_server.auth.authorize import PageError, start_authorization
from fhir_server.auth.consent import ConsentView, LoginFailed, decide, load_pending, login
from fhir_server.auth.discovery import openid_configuration, smart_configuration, smart_security_component
from fhir_server.auth.gate import grants
from fhir_server.auth.grants import TOKEN_RESPONSE_HEADERS, exchange
from fhir_server.auth.launch import LaunchError, create_launch
from fhir_server.auth.pages import PAGE_HEADERS, consent_page, error_page, login_page
from fhir_server.auth.revocation import introspect, revoke
from fhir_server.auth.state import AuthState, build_auth_state
from fhir_server.auth.store import ensure_auth_indexes
from fhir_server.auth.urls import (
    AUTHORIZE_PATH,
    CONSENT_PATH,
    INTROSPECT_PATH,
    JWKS_PATH,
    LAUNCH_PATH,
    LOGIN_PATH,
    OPENID_CONFIGURATION_PATH,
    REVOKE_PATH,
    SMART_CONFIGURATION_PATH,
    TOKEN_PATH,
)
from fhir_server.context import Principal
from fhir_server.errors import BadRequest, Forbidden
from fhir_server.settings import Settings

__all__ = [
    "build_auth_router",
    "build_auth_state",
    "ensure_auth_indexes",
    "smart_security_component",
]

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


class OAuthRoute(APIRoute):
    """Renders OAuth errors as RFC 6749 JSON (or a redirect to the app) and page errors as HTML."""

    def get_route_handler(self) -> Handler:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except OAuth2Error as error:
                status, body, headers = error()
                # A dict body is the JSON error; an empty one goes with a redirect to the app.
                response = (
                    JSONResponse(body, status_code=status, headers=dict(headers))
                    if isinstance(body, dict)
                    else Response(body, status_code=status, headers=dict(headers))
                )
                response.headers.update(TOKEN_RESPONSE_HEADERS)
                return response
            except PageError as error:
                return error_page(error.message, error.status)

        return handle


async def get_auth(request: Request) -> AuthState:
    auth: AuthState = request.app.state.auth
    return auth


async def get_db(request: Request) -> store.Database:
    db: store.Database = request.app.state.db
    return db


async def form_params(request: Request) -> dict[str, str]:
    """Form fields as a dict; a repeated OAuth parameter is an error (RFC 6749 3.1)."""
    form = await request.form()
    params: dict[str, str] = {}
    for name, value in form.multi_items():
        if name in params or not isinstance(value, str):
            error: Exception = InvalidRequestError(description=f"parameter {name} repeated or not text")
            raise error
        params[name] = value
    return params


def query_params(request: Request) -> dict[str, str]:
    params: dict[str, str] = {}
    for name, value in request.query_params.multi_items():
        if name in params:
            raise PageError(f"The parameter {name} is repeated.")
        params[name] = value
    return params


AuthDep = Annotated[AuthState, Depends(get_auth)]
DbDep = Annotated[store.Database, Depends(get_db)]
FormDep = Annotated[dict[str, str], Depends(form_params)]
PrincipalDep = Annotated[Principal, Depends(authenticate)]


class LaunchRequest(BaseModel):
    patient: str = Field(description="Patient id the app is launched for.")
    encounter: str | None = Field(default=None, description="Encounter id, if any.")
    client_id: str | None = Field(default=None, description="Bind the launch to this client.")
    username: str | None = Field(default=None, description="Bind the launch to this user.")


def _consent_response(view: ConsentView, error: str | None = None) -> Response:
    return consent_page(
        request_id=view.request_id,
        consent_token=view.consent_token,
        client_name=view.client_name,
        username=view.username,
        scopes=view.scopes,
        patients=view.patients,
        launch_patient=view.launch_patient,
        error=error,
    )


def build_auth_router(settings: Settings | None = None) -> APIRouter:
    """Discovery, JWKS, authorize/login/consent, token, introspect, revoke and EHR launch endpoints.

    The routes read ``app.state.auth`` (``build_auth_state``), ``app.state.db`` and
    ``app.state.settings`` at request time; ``settings`` is accepted for the caller's convenience.
    """
    router = APIRouter(route_class=OAuthRoute, tags=["authorization"])

    @router.get(SMART_CONFIGURATION_PATH)
    async def smart_config(auth: AuthDep) -> JSONResponse:
        return JSONResponse(smart_configuration(auth.urls, auth.server_key.algorithm))

    @router.get(OPENID_CONFIGURATION_PATH)
    async def openid_config(auth: AuthDep) -> JSONResponse:
        return JSONResponse(openid_configuration(auth.urls, auth.server_key.algorithm))

    @router.get(JWKS_PATH)
    async def jwks(auth: AuthDep) -> JSONResponse:
        return JSONResponse(auth.server_key.public_jwks(), headers={"Cache-Control": "public, max-age=300"})

    async def authorize(auth: AuthState, db: store.Database, params: dict[str, str]) -> Response:
        started = await start_authorization(db=db, urls=auth.urls, params=params)
        return login_page(request_id=started.request_id, client_name=started.client_name)

    @router.get(AUTHORIZE_PATH)
    async def authorize_get(request: Request, auth: AuthDep, db: DbDep) -> Response:
        return await authorize(auth, db, query_params(request))

    @router.post(AUTHORIZE_PATH)
    async def authorize_post(auth: AuthDep, db: DbDep, form: FormDep) -> Response:
        return await authorize(auth, db, form)

    @router.post(LOGIN_PATH)
    async def login_post(db: DbDep, form: FormDep) -> Response:
        request_id = form.get("request", "")
        try:
            view = await login(
                db=db,
                request_id=request_id,
                username=form.get("username", ""),
                password=form.get("password", ""),
            )
        except LoginFailed:
            pending = await load_pending(db, request_id)
            return login_page(
                request_id=request_id,
                client_name=str(pending.get("client_name")),
                error="Wrong username or password.",
                status=401,
            )
        return _consent_response(view)

    @router.post(CONSENT_PATH)
    async def consent_post(db: DbDep, form: FormDep) -> Response:
        patient = form.get("patient_id") or form.get("patient")
        try:
            location = await decide(
                db=db,
                request_id=form.get("request", ""),
                consent_token=form.get("consent", ""),
                approve=form.get("decision") == "approve",
                patient=patient.strip() if patient else None,
            )
        except ValueError as error:
            return error_page(f"{error}. Go back and try again.", 400)
        return RedirectResponse(location, status_code=303, headers=PAGE_HEADERS)

    @router.post(TOKEN_PATH)
    async def token(request: Request, auth: AuthDep, db: DbDep, form: FormDep) -> JSONResponse:
        body = await exchange(auth=auth, db=db, form=form, headers=request.headers)
        return JSONResponse(body, headers=TOKEN_RESPONSE_HEADERS)

    @router.post(INTROSPECT_PATH)
    async def introspect_post(request: Request, auth: AuthDep, db: DbDep, form: FormDep) -> JSONResponse:
        body = await introspect(auth=auth, db=db, form=form, headers=request.headers)
        return JSONResponse(body, headers=TOKEN_RESPONSE_HEADERS)

    @router.post(REVOKE_PATH)
    async def revoke_post(request: Request, auth: AuthDep, db: DbDep, form: FormDep) -> Response:
        await revoke(auth=auth, db=db, form=form, headers=request.headers)
        return Response(status_code=200, headers=TOKEN_RESPONSE_HEADERS)

    @router.post(LAUNCH_PATH, status_code=201)
    async def launch(body: LaunchRequest, principal: PrincipalDep, auth: AuthDep, db: DbDep) -> JSONResponse:
        if not any(grant.compartment is None for grant in grants(principal, "Patient", "r")):
            raise Forbidden("creating a launch needs a user- or system-level Patient read scope")
        try:
            created = await create_launch(
                db=db,
                patient=body.patient,
                encounter=body.encounter,
                client_id=body.client_id,
                username=body.username,
                created_by=principal.subject or principal.client_id or "unknown",
            )
        except LaunchError as error:
            raise BadRequest(str(error)) from error
        return JSONResponse(
            {"launch": created.launch, "expires_in": created.expires_in, "iss": auth.urls.fhir_base},
            status_code=201,
        )

    return router
