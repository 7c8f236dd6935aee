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
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field

from fhir_server.auth import store
from fhir_server.auth.admin_api import build_admin_router
from fhir_server.auth.authenticate import authenticate
from fhir_server.auth.authorize import PageError
from fhir_server.auth.discovery import openid_configuration, smart_configuration, smart_security_component
from fhir_server.auth.gate import grants
from fhir_server.auth.grants import TOKEN_RESPONSE_HEADERS, exchange
from fhir_server.auth.launch import LaunchError, create_launch
from fhir_server.auth.picker import PatientFinder, SearchFinder
from fhir_server.auth.revocation import introspect, revoke
from fhir_server.auth.signin import SignIn, error_response
from fhir_server.auth.state import AuthState, build_auth_state
from fhir_server.auth.store import ensure_auth_indexes
from fhir_server.auth.urls import (
    AUTHORIZE_PATH,
    CONSENT_PATH,
    INTROSPECT_PATH,
    JWKS_PATH,
    LAUNCH_PATH,
    LOGIN_PATH,
    LOGO_PATH,
    LOGOUT_PATH,
    OPENID_CONFIGURATION_PATH,
    PASSWORD_CHANGE_PATH,
    PASSWORD_RESET_PATH,
    REVOKE_PATH,
    SMART_CONFIGURATION_PATH,
    TOKEN_PATH,
    TOTP_PATH,
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
                return error_response(request.app.state.settings, error.message, error.status)

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


async def get_signin(request: Request) -> SignIn:
    """The sign-in flow for this request, on the app's database, settings and patient search."""
    state = request.app.state
    auth: AuthState = state.auth
    finder: PatientFinder = SearchFinder(state.services.search, auth.gate, auth.settings.base_url)
    return SignIn(db=state.db, settings=auth.settings, urls=auth.urls, finder=finder, cache=auth.cache)


SignInDep = Annotated[SignIn, Depends(get_signin)]


def build_auth_router(settings: Settings | None = None) -> APIRouter:
    """Discovery, JWKS, sign-in pages, token, introspect, revoke, EHR launch and administration.

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

    @router.get(AUTHORIZE_PATH)
    async def authorize_get(request: Request, flow: SignInDep) -> Response:
        return await flow.authorize(request, query_params(request))

    @router.post(AUTHORIZE_PATH)
    async def authorize_post(request: Request, flow: SignInDep, form: FormDep) -> Response:
        return await flow.authorize(request, form)

    @router.post(LOGIN_PATH)
    async def login_post(request: Request, flow: SignInDep, form: FormDep) -> Response:
        return await flow.login(request, form)

    @router.post(PASSWORD_CHANGE_PATH)
    async def password_change_post(request: Request, flow: SignInDep, form: FormDep) -> Response:
        return await flow.change_password(request, form)

    @router.post(TOTP_PATH)
    async def code_post(request: Request, flow: SignInDep, form: FormDep) -> Response:
        return await flow.code(request, form)

    @router.post(CONSENT_PATH)
    async def consent_post(request: Request, flow: SignInDep, form: FormDep) -> Response:
        return await flow.consent(request, form)

    @router.get(LOGOUT_PATH)
    async def logout_get(request: Request, flow: SignInDep) -> Response:
        return await flow.logout_form(request)

    @router.post(LOGOUT_PATH)
    async def logout_post(request: Request, flow: SignInDep, form: FormDep) -> Response:
        return await flow.logout(request, form)

    @router.get(PASSWORD_RESET_PATH)
    async def reset_get(request: Request, flow: SignInDep, token: str = "") -> Response:
        return await flow.reset_form(request, token)

    @router.post(PASSWORD_RESET_PATH)
    async def reset_post(request: Request, flow: SignInDep, form: FormDep) -> Response:
        return await flow.reset(request, form)

    @router.get(LOGO_PATH, include_in_schema=False)
    async def logo(flow: SignInDep) -> Response:
        return await flow.logo()

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

    router.include_router(build_admin_router())
    return router
