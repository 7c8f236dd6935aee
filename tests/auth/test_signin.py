"""Sign-in pages a clinic accepts: session per shift, sign-out, throttling and lockout, one-time codes,
forced password change, CSRF and browser binding, the patient picker, plain-words consent, branding."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import httpx
import pyotp
import pytest_asyncio

from fhir_server.assembly import close_services
from fhir_server.auth import store
from fhir_server.auth.clients import ClientKind, create_client
from fhir_server.auth.state import build_auth_state
from fhir_server.auth.users import create_user
from fhir_server.settings import Settings
from tests.auth.conftest import build_test_app
from tests.auth.helpers import (
    PASSWORD,
    REDIRECT_URI,
    Pkce,
    authorize_params,
    consent,
    hidden_inputs,
    query_of,
    store_resources,
)

SCOPE = "launch/patient openid fhirUser patient/*.rs"
Browser = Callable[..., Awaitable[httpx.AsyncClient]]


@pytest_asyncio.fixture(loop_scope="session")
async def browser(settings: Settings, db: Any) -> AsyncIterator[Browser]:
    """New browsers (own cookie jars) on an app with these setting overrides."""
    async with AsyncExitStack() as stack:

        async def make(**overrides: Any) -> httpx.AsyncClient:
            configured = settings.model_copy(update=overrides)
            auth = await build_auth_state(configured, db)
            stack.push_async_callback(auth.aclose)
            app = await build_test_app(configured, db, auth)
            stack.push_async_callback(close_services, app.state.services)
            transport = httpx.ASGITransport(app=app)
            client = httpx.AsyncClient(transport=transport, base_url="http://testserver", timeout=30)
            return await stack.enter_async_context(client)

        yield make


async def _setup(db: Any, role: str = "doctor") -> str:
    await create_user(db=db, username="bea", password=PASSWORD, role=role, fhir_user="Practitioner/p1")
    for patient_id, family, given, birth, mrn in (
        ("p-ada", "Lovelace", "Ada", "1815-12-10", "MRN-1815"),
        ("p-alan", "Turing", "Alan", "1912-06-23", "MRN-1912"),
        ("p-grace", "Hopper", "Grace", "1906-12-09", "MRN-1906"),
    ):
        resource = {
            "resourceType": "Patient",
            "id": patient_id,
            "name": [{"family": family, "given": [given]}],
            "birthDate": birth,
            "identifier": [{"system": "http://clinic.example.org/fhir/sid/mrn", "value": mrn}],
        }
        await store_resources(db, resource)
    client = await create_client(
        db=db, kind=ClientKind.PUBLIC, name="Chart app", scopes=SCOPE, redirect_uris=[REDIRECT_URI]
    )
    return client.document["_id"]


async def _open(http: httpx.AsyncClient, client_id: str) -> httpx.Response:
    page = await http.get("/oauth/authorize", params=authorize_params(client_id, Pkce(), SCOPE))
    assert page.status_code == 200, page.text
    return page


async def _sign_in(
    http: httpx.AsyncClient, page: httpx.Response, password: str = PASSWORD, user: str = "bea"
) -> httpx.Response:
    return await http.post(
        "/oauth/login", data={**hidden_inputs(page.text), "username": user, "password": password}
    )


async def test_a_session_signs_in_once_per_shift_and_sign_out_ends_it(browser: Browser, db: Any) -> None:
    client_id = await _setup(db)
    http = await browser()
    consent_page = await _sign_in(http, await _open(http, client_id))
    assert "Allow access?" in consent_page.text
    cookie = consent_page.headers.get_list("set-cookie")
    session_cookie = next(value for value in cookie if value.startswith("fhir_session="))
    assert (
        "HttpOnly" in session_cookie and "SameSite=lax" in session_cookie and "Path=/oauth" in session_cookie
    )
    second = await _open(http, client_id)
    assert "Allow access?" in second.text, "the second authorization of the shift goes straight to consent"
    assert "Signed in as <strong>bea</strong>" in second.text
    signed_out = await http.post("/oauth/logout", data={"csrf": hidden_inputs(second.text)["csrf"]})
    assert "signed out" in signed_out.text
    assert "Sign in" in (await _open(http, client_id)).text


async def test_secure_cookies_over_https(browser: Browser, db: Any) -> None:
    client_id = await _setup(db)
    http = await browser(base_url="https://clinic.example.org/fhir")
    params = {**authorize_params(client_id, Pkce(), SCOPE), "aud": "https://clinic.example.org/fhir"}
    page = await http.get("/oauth/authorize", params=params)
    assert page.status_code == 200, page.text
    assert all("Secure" in value for value in page.headers.get_list("set-cookie"))


async def test_not_you_signs_out_and_shows_the_login_for_the_same_request(browser: Browser, db: Any) -> None:
    client_id = await _setup(db)
    http = await browser()
    consent_page = await _sign_in(http, await _open(http, client_id))
    fields = hidden_inputs(consent_page.text)
    answer = await http.post("/oauth/logout", data={"request": fields["request"], "csrf": fields["csrf"]})
    assert 'action="/oauth/login"' in answer.text
    assert hidden_inputs(answer.text)["request"] == fields["request"]


async def test_lockout_after_repeated_failures_even_for_unknown_names(browser: Browser, db: Any) -> None:
    client_id = await _setup(db)
    http = await browser(login_max_failures=3)
    page = await _open(http, client_id)
    for _ in range(3):
        answer = await _sign_in(http, page, password="not the password")
        assert answer.status_code == 401
        assert 'value="bea"' in answer.text, "a wrong password keeps the username"
    locked = await _sign_in(http, page)
    assert locked.status_code == 429, "the right password does not help while locked"
    assert "Try again in 15 minutes" in locked.text
    for _ in range(3):
        await _sign_in(http, page, password="whatever", user="nobody-here")
    assert (await _sign_in(http, page, user="nobody-here")).status_code == 429, (
        "names that do not exist lock alike"
    )


async def test_an_address_is_throttled_across_names(browser: Browser, db: Any) -> None:
    client_id = await _setup(db)
    http = await browser(login_address_max_failures=4)
    page = await _open(http, client_id)
    for name in ("a1", "a2", "a3", "a4"):
        assert (await _sign_in(http, page, password="wrong", user=name)).status_code == 401
    assert (await _sign_in(http, page)).status_code == 429


async def test_totp_enrolment_then_codes_at_each_sign_in(browser: Browser, db: Any) -> None:
    client_id = await _setup(db)
    first = await browser(totp_required_roles="admin,doctor")
    enrol = await _sign_in(first, await _open(first, client_id))
    assert "Set up your code app" in enrol.text
    secret = re.search(r"<code>([A-Z2-7 ]+)</code>", enrol.text)
    assert secret is not None
    totp = pyotp.TOTP(secret.group(1).replace(" ", ""))
    wrong = await first.post("/oauth/code", data={**hidden_inputs(enrol.text), "code": "000000"})
    assert wrong.status_code == 401
    code = totp.now()
    done = await first.post("/oauth/code", data={**hidden_inputs(enrol.text), "code": code})
    assert "Allow access?" in done.text, done.text
    user = await db[store.USERS].find_one({"_id": "bea"})
    assert user["totp_secret"] == secret.group(1).replace(" ", "")

    other = await browser(totp_required_roles="admin,doctor")  # another browser: no session
    ask = await _sign_in(other, await _open(other, client_id))
    assert "One-time code" in ask.text
    replay = await other.post("/oauth/code", data={**hidden_inputs(ask.text), "code": code})
    assert replay.status_code == 401, "a code is accepted once"
    previous = totp.at(int(store.now_utc().timestamp()) + 30)
    accepted = await other.post("/oauth/code", data={**hidden_inputs(ask.text), "code": previous})
    assert "Allow access?" in accepted.text


async def test_a_temporary_password_must_be_changed_first(browser: Browser, db: Any) -> None:
    client_id = await _setup(db)
    await db[store.USERS].update_one({"_id": "bea"}, {"$set": {"must_change_password": True}})
    http = await browser()
    ask = await _sign_in(http, await _open(http, client_id))
    assert "New password" in ask.text
    short = await http.post(
        "/oauth/password-change", data={**hidden_inputs(ask.text), "new_password": "x", "repeat": "x"}
    )
    assert short.status_code == 400
    new = "a much better password"
    done = await http.post(
        "/oauth/password-change", data={**hidden_inputs(ask.text), "new_password": new, "repeat": new}
    )
    assert "Allow access?" in done.text
    again = await browser()
    assert (await _sign_in(again, await _open(again, client_id))).status_code == 401, (
        "the old password is gone"
    )
    assert "Allow access?" in (await _sign_in(again, await _open(again, client_id), password=new)).text


async def test_forms_need_their_browser_and_token(browser: Browser, db: Any) -> None:
    client_id = await _setup(db)
    victim = await browser()
    page = await _open(victim, client_id)
    fields = hidden_inputs(page.text)
    no_token = await victim.post(
        "/oauth/login", data={"request": fields["request"], "username": "bea", "password": PASSWORD}
    )
    assert no_token.status_code == 403
    attacker = await browser()
    await _open(attacker, client_id)  # the attacker's own cookie and token ...
    own = hidden_inputs((await _open(attacker, client_id)).text)
    stolen = await attacker.post(
        "/oauth/login",
        data={"request": fields["request"], "csrf": own["csrf"], "username": "bea", "password": PASSWORD},
    )
    assert stolen.status_code == 403, "... cannot carry on a request another browser started"
    foreign = await victim.post(
        "/oauth/login",
        data={**fields, "username": "bea", "password": PASSWORD},
        headers={"Origin": "https://evil.example"},
    )
    assert foreign.status_code == 403


async def test_the_picker_searches_and_preselects_nothing(browser: Browser, db: Any) -> None:
    client_id = await _setup(db)
    http = await browser()
    page = await _sign_in(http, await _open(http, client_id))
    assert "name=patient" not in page.text and "<select" not in page.text
    fields = hidden_inputs(page.text)

    async def search(**query: str) -> httpx.Response:
        return await http.post("/oauth/consent", data={**fields, "action": "search", **query})

    by_name = await search(name="lovel")
    assert 'value="p-ada"' in by_name.text and "p-alan" not in by_name.text
    assert (
        "LOVELACE, Ada" in by_name.text
        and "born 1815-12-10" in by_name.text
        and "MRN MRN-1815" in by_name.text
    )
    assert "checked" not in by_name.text
    assert 'value="p-alan"' in (await search(birthdate="1912-06-23")).text
    assert 'value="p-grace"' in (await search(mrn="MRN-1906")).text
    assert "No patient matches" in (await search(name="nobody")).text
    assert (await search()).status_code == 400
    unchosen = await http.post("/oauth/consent", data={**fields, "decision": "approve"})
    assert unchosen.status_code == 400 and "Choose the patient" in unchosen.text
    result = await consent(http, by_name, patient="p-ada")
    assert "code" in result


async def test_consent_names_what_each_scope_allows_in_plain_words(browser: Browser, db: Any) -> None:
    client_id = await _setup(db)
    http = await browser()
    page = await _sign_in(http, await _open(http, client_id))
    assert "Read and search all records of the chosen patient only." in page.text
    assert "Know which patient you choose below." in page.text
    assert "Know who you are in the clinic" in page.text


async def test_title_and_logo_from_settings(browser: Browser, db: Any, tmp_path: Path) -> None:
    client_id = await _setup(db)
    logo = tmp_path / "logo.png"
    logo.write_bytes(b"\x89PNG\r\n\x1a\n" + b"0" * 32)
    http = await browser(login_title="Sunrise Clinic", login_logo=logo)
    page = await _open(http, client_id)
    assert "Sunrise Clinic" in page.text and '<img src="/oauth/logo"' in page.text
    assert "http" not in page.text.split("<body>")[1].split("<form")[0], "no external assets"
    assert "script" not in page.text
    served = await http.get("/oauth/logo")
    assert served.status_code == 200 and served.headers["content-type"] == "image/png"
    assert served.content == logo.read_bytes()


async def test_a_disabled_account_cannot_sign_in(browser: Browser, db: Any) -> None:
    client_id = await _setup(db)
    await db[store.USERS].update_one({"_id": "bea"}, {"$set": {"active": False}})
    http = await browser()
    answer = await _sign_in(http, await _open(http, client_id))
    assert answer.status_code == 403 and "cannot sign in" in answer.text
    denied = await http.post("/oauth/consent", data={**hidden_inputs(answer.text), "decision": "approve"})
    assert denied.status_code in (403, 409)
    assert "code" not in query_of(denied.headers.get("location", "http://x/?"))
