"""The browser side of an authorization: sign in (password, new password, one-time code), consent
with the patient picker, sign out. Each method takes the parsed request and returns the page.

A pending request moves through *stages* (``password`` -> ``new-password`` -> ``totp-enrol`` /
``totp`` -> ``consent``); each form may only be posted at its stage, by the browser that started the
request, with its CSRF token. Completing the sign-in opens a session (cookie), so the next
authorization of the shift goes straight to consent.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from fastapi.responses import RedirectResponse
from starlette.requests import Request
from starlette.responses import Response

from fhir_server.auth import store, totp
from fhir_server.auth.authorize import PageError, start_authorization
from fhir_server.auth.browser import (
    BROWSER_COOKIE,
    SESSION_COOKIE,
    browser_hash,
    browser_id,
    check_post,
    clear_cookie,
    csrf_token,
    new_browser_id,
    set_cookie,
)
from fhir_server.auth.consent import (
    check_consent_token,
    decide,
    load_pending,
    prepare_consent,
    role_principal,
    update_pending,
)
from fhir_server.auth.pages import (
    PAGE_HEADERS,
    Branding,
    ConsentContent,
    Form,
    change_password_page,
    consent_page,
    error_page,
    login_page,
    logout_page,
    reset_done_page,
    reset_page,
    signed_out_page,
    totp_enrol_page,
    totp_page,
)
from fhir_server.auth.picker import PatientChoice, PatientFinder, PatientQuery
from fhir_server.auth.revocation_cache import RevocationCache, user_is_active
from fhir_server.auth.scope_words import describe
from fhir_server.auth.sessions import close_session, open_session, session_user
from fhir_server.auth.staff_sync import LinkError, resolve_link
from fhir_server.auth.standing import end_user_access
from fhir_server.auth.throttle import LoginThrottle
from fhir_server.auth.urls import AuthUrls
from fhir_server.auth.user_admin import reset_id
from fhir_server.auth.users import UserError, check_password_rules, get_user, password_matches, set_password
from fhir_server.settings import Settings

WRONG_CREDENTIALS: Final = "Wrong username or password."
CANNOT_SIGN_IN: Final = "This account cannot sign in now. Ask the clinic's administrator."
LOGO_TYPES: Final = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".svg": "image/svg+xml",
}


def branding_of(settings: Settings) -> Branding:
    return Branding(title=settings.login_title, has_logo=settings.login_logo is not None)


def _locked_message(settings: Settings) -> str:
    minutes = max(1, settings.login_lockout_seconds // 60)
    return f"Too many failed sign-ins for this account or from this network. Try again in {minutes} minutes."


@dataclass
class SignIn:
    db: store.Database
    settings: Settings
    urls: AuthUrls
    finder: PatientFinder
    cache: RevocationCache | None = None

    @property
    def branding(self) -> Branding:
        return branding_of(self.settings)

    @property
    def throttle(self) -> LoginThrottle:
        return LoginThrottle.from_settings(self.db, self.settings)

    # ----- start ---------------------------------------------------------------------------------

    async def authorize(self, request: Request, params: dict[str, str]) -> Response:
        """Validate the request; a signed-in browser goes straight to consent, others sign in."""
        known = browser_id(request)
        browser = known or new_browser_id()
        started = await start_authorization(
            db=self.db, urls=self.urls, params=params, browser=browser_hash(browser)
        )
        form = Form(started.request_id, csrf_token(browser))
        signed_in = await session_user(db=self.db, token=request.cookies.get(SESSION_COOKIE))
        if signed_in is not None:
            user, auth_time = signed_in
            pending = await load_pending(self.db, started.request_id)
            response = await self._consent(form, pending, user, auth_time)
        else:
            response = login_page(self.branding, form, client_name=started.client_name)
        if known is None:
            set_cookie(response, BROWSER_COOKIE, browser, self.settings)
        return response

    # ----- sign-in steps -------------------------------------------------------------------------

    async def _step(
        self, request: Request, form: dict[str, str], *stages: str
    ) -> tuple[Form, dict[str, Any]]:
        browser = check_post(request, form, self.settings)
        request_id = form.get("request", "")
        pending = await load_pending(self.db, request_id, browser_hash(browser))
        if pending.get("stage", "password") not in stages:
            raise PageError("This step of the sign-in is over. Start again from the app.", status=409)
        return Form(request_id, csrf_token(browser)), pending

    async def login(self, request: Request, form: dict[str, str]) -> Response:
        page_form, pending = await self._step(request, form, "password")
        username = form.get("username", "").strip()
        address = request.client.host if request.client else None
        client_name = str(pending.get("client_name"))
        if await self.throttle.blocked(username=username, address=address):
            return login_page(
                self.branding,
                page_form,
                client_name=client_name,
                username=username,
                error=_locked_message(self.settings),
                status=429,
            )
        user = await password_matches(db=self.db, username=username, password=form.get("password", ""))
        if user is None:
            await self.throttle.record_failure(username=username, address=address)
            return login_page(
                self.branding,
                page_form,
                client_name=client_name,
                username=username,
                error=WRONG_CREDENTIALS,
                status=401,
            )
        await self.throttle.clear(username=username)
        if not await self._may_sign_in(dict(user)):
            return login_page(
                self.branding, page_form, client_name=client_name, error=CANNOT_SIGN_IN, status=403
            )
        return await self._next(page_form, pending, dict(user))

    async def _may_sign_in(self, user: dict[str, Any]) -> bool:
        """Active, and still active in the staff records (a PractitionerRole's period may have ended
        without any write telling the account)."""
        if not user_is_active(user):
            return False
        if not (user.get("practitioner") or user.get("practitioner_role")):
            return True
        try:
            link = await resolve_link(
                self.db,
                practitioner=user.get("practitioner"),
                practitioner_role=user.get("practitioner_role"),
                fhir_user=user.get("fhir_user"),
            )
        except LinkError:
            link = None
        if link is not None and link.linked_active:
            return True
        await end_user_access(
            db=self.db, username=user["_id"], changes={"linked_active": False}, cache=self.cache
        )
        return False

    async def _next(self, form: Form, pending: dict[str, Any], user: dict[str, Any]) -> Response:
        username = str(user["_id"])
        if user.get("must_change_password"):
            await update_pending(self.db, form.request_id, {"stage": "new-password", "subject": username})
            return change_password_page(self.branding, form)
        if user.get("totp_secret"):
            await update_pending(self.db, form.request_id, {"stage": "totp", "subject": username})
            return totp_page(self.branding, form)
        if totp.required_for(user, self.settings):
            secret = pending.get("totp_secret") or totp.new_secret()
            await update_pending(
                self.db, form.request_id, {"stage": "totp-enrol", "subject": username, "totp_secret": secret}
            )
            return totp_enrol_page(self.branding, form, self._enrolment(secret, username))
        return await self._signed_in(form, pending, user)

    def _enrolment(self, secret: str, username: str) -> totp.Enrolment:
        return totp.enrolment(secret, username=username, issuer=self.settings.login_title)

    async def change_password(self, request: Request, form: dict[str, str]) -> Response:
        page_form, pending = await self._step(request, form, "new-password")
        new, repeat = form.get("new_password", ""), form.get("repeat", "")
        try:
            if new != repeat:
                raise UserError("the two passwords differ")
            check_password_rules(new)
        except UserError as error:
            return change_password_page(self.branding, page_form, error=f"Not saved: {error}.")
        username = str(pending["subject"])
        await set_password(db=self.db, username=username, password=new)
        await end_user_access(db=self.db, username=username, cache=self.cache)  # other sessions end
        user = await get_user(db=self.db, username=username)
        if user is None or not user_is_active(dict(user)):
            raise PageError(CANNOT_SIGN_IN, status=403)
        return await self._next(page_form, pending, dict(user))

    async def code(self, request: Request, form: dict[str, str]) -> Response:
        page_form, pending = await self._step(request, form, "totp-enrol", "totp")
        stage = pending["stage"]
        username = str(pending["subject"])
        user = await get_user(db=self.db, username=username)
        if user is None or not user_is_active(dict(user)):
            raise PageError(CANNOT_SIGN_IN, status=403)
        address = request.client.host if request.client else None
        if await self.throttle.blocked(username=username, address=address):
            raise PageError(_locked_message(self.settings), status=429)
        entered = form.get("code", "")
        if stage == "totp-enrol":
            secret = str(pending["totp_secret"])
            if not await totp.enrol(db=self.db, username=username, secret=secret, code=entered):
                await self.throttle.record_failure(username=username, address=address)
                return totp_enrol_page(
                    self.branding,
                    page_form,
                    self._enrolment(secret, username),
                    error="That code is not right.",
                )
        elif not await totp.accept_code(
            db=self.db, username=username, secret=str(user.get("totp_secret")), code=entered
        ):
            await self.throttle.record_failure(username=username, address=address)
            return totp_page(self.branding, page_form, error="That code is not right (or was already used).")
        await self.throttle.clear(username=username)
        refreshed = await get_user(db=self.db, username=username)
        assert refreshed is not None
        return await self._signed_in(page_form, pending, dict(refreshed))

    async def _signed_in(self, form: Form, pending: dict[str, Any], user: dict[str, Any]) -> Response:
        """Every factor passed: open the session and show the consent page."""
        auth_time = int(store.now_utc().timestamp())
        token = await open_session(
            db=self.db,
            username=str(user["_id"]),
            generation=int(user.get(store.GENERATION, 0)),
            auth_time=auth_time,
            lifetime=self.settings.session_lifetime,
        )
        response = await self._consent(form, pending, user, auth_time)
        set_cookie(response, SESSION_COOKIE, token, self.settings, max_age=self.settings.session_lifetime)
        return response

    # ----- consent -------------------------------------------------------------------------------

    async def _consent(
        self, form: Form, pending: dict[str, Any], user: dict[str, Any], auth_time: int
    ) -> Response:
        view = await prepare_consent(
            db=self.db, request_id=form.request_id, pending=pending, user=user, auth_time=auth_time
        )
        refreshed = await load_pending(self.db, form.request_id)
        content = await self._content(refreshed, user)
        return consent_page(self.branding, form, consent_token=view.consent_token, content=content)

    async def _content(self, pending: dict[str, Any], user: dict[str, Any]) -> ConsentContent:
        launch_patient: PatientChoice | None = None
        launch_id = pending.get("launch_patient")
        if launch_id:
            launch_patient = await self.finder.get(principal=role_principal(user), patient_id=launch_id)
            launch_patient = launch_patient or PatientChoice(
                id=launch_id, name=f"Patient {launch_id}", birth_date="", mrn=""
            )
        return ConsentContent(
            client_name=str(pending.get("client_name")),
            username=str(pending["subject"]),
            role=str(pending.get("role") or "no role"),
            sentences=describe(pending.get("granted") or []),
            picker=bool(pending.get("needs_picker")),
            launch_patient=launch_patient,
        )

    async def consent(self, request: Request, form: dict[str, str]) -> Response:
        page_form, pending = await self._step(request, form, "consent")
        consent_token = form.get("consent", "")
        check_consent_token(pending, consent_token)
        user = await get_user(db=self.db, username=str(pending["subject"]))
        if (
            user is None
            or not user_is_active(dict(user))
            or int(user.get(store.GENERATION, 0)) != pending.get("user_generation")
        ):
            raise PageError("Your account changed since you signed in. Start again from the app.", status=403)
        content = await self._content(pending, dict(user))
        query = PatientQuery(
            name=form.get("name", "").strip(),
            birth_date=form.get("birthdate", "").strip(),
            mrn=form.get("mrn", "").strip(),
        )

        def page(**extra: Any) -> Response:
            return consent_page(
                self.branding, page_form, consent_token=consent_token, content=content, query=query, **extra
            )

        if form.get("action") == "search" and content.picker:
            problem = query.problem()
            if problem is not None:
                return page(error=problem, status=400)
            found, more = await self.finder.find(principal=role_principal(dict(user)), query=query)
            return page(results=found, more=more)
        approve = form.get("decision") == "approve"
        patient: str | None = None
        if approve and content.picker:
            patient = form.get("patient", "").strip()
            chosen = (
                await self.finder.get(principal=role_principal(dict(user)), patient_id=patient)
                if patient
                else None
            )
            if chosen is None:
                return page(error="Choose the patient: search, then select one in the list.", status=400)
        location = await decide(
            db=self.db, request_id=page_form.request_id, pending=pending, approve=approve, patient=patient
        )
        return RedirectResponse(location, status_code=303, headers=PAGE_HEADERS)

    # ----- sign out, password reset, logo -------------------------------------------------------

    async def logout_form(self, request: Request) -> Response:
        known = browser_id(request)
        browser = known or new_browser_id()
        response = logout_page(self.branding, csrf_token(browser))
        if known is None:
            set_cookie(response, BROWSER_COOKIE, browser, self.settings)
        return response

    async def logout(self, request: Request, form: dict[str, str]) -> Response:
        browser = check_post(request, form, self.settings)
        await close_session(db=self.db, token=request.cookies.get(SESSION_COOKIE))
        response: Response = signed_out_page(self.branding)
        request_id = form.get("request")
        if request_id:
            # "Not you?" on a consent page: the same request, signed in as someone else.
            pending = await load_pending(self.db, request_id, browser_hash(browser))
            await update_pending(
                self.db, request_id, {"stage": "password", "subject": None, "consent_hash": None}
            )
            response = login_page(
                self.branding,
                Form(request_id, csrf_token(browser)),
                client_name=str(pending.get("client_name")),
            )
        clear_cookie(response, SESSION_COOKIE, self.settings)
        return response

    async def _reset_user(self, token: str) -> str:
        found = await self.db[store.RESETS].find_one({"_id": reset_id(token)})
        if found is None or store.is_expired(found):
            raise PageError(
                "This password link has expired or was already used. Ask the administrator for a new one."
            )
        return str(found["username"])

    async def reset_form(self, request: Request, token: str) -> Response:
        await self._reset_user(token)
        known = browser_id(request)
        browser = known or new_browser_id()
        response = reset_page(self.branding, token=token, csrf=csrf_token(browser))
        if known is None:
            set_cookie(response, BROWSER_COOKIE, browser, self.settings)
        return response

    async def reset(self, request: Request, form: dict[str, str]) -> Response:
        browser = check_post(request, form, self.settings)
        token = form.get("token", "")
        username = await self._reset_user(token)
        new, repeat = form.get("new_password", ""), form.get("repeat", "")
        try:
            if new != repeat:
                raise UserError("the two passwords differ")
            check_password_rules(new)
        except UserError as error:
            return reset_page(
                self.branding, token=token, csrf=csrf_token(browser), error=f"Not saved: {error}."
            )
        deleted = await self.db[store.RESETS].delete_one({"_id": reset_id(token)})
        if deleted.deleted_count != 1:
            raise PageError("This password link was already used.")
        await set_password(db=self.db, username=username, password=new)
        await end_user_access(db=self.db, username=username, cache=self.cache)
        return reset_done_page(self.branding)

    async def logo(self) -> Response:
        path = self.settings.login_logo
        media_type = LOGO_TYPES.get(path.suffix.lower()) if path is not None else None
        if path is None or media_type is None:
            return Response(status_code=404)
        content = await asyncio.to_thread(Path(path).read_bytes)
        headers = {
            "Cache-Control": "public, max-age=3600",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
        }
        return Response(content, media_type=media_type, headers=headers)


def error_response(settings: Settings, message: str, status: int) -> Response:
    return error_page(branding_of(settings), message, status)
