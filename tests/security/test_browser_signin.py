"""A real browser signs in, picks a patient by search and reaches a SMART app page.

Headless Chromium from the Debian package (``./dev test`` installs it when missing and run as root),
driven by Playwright from PyPI with ``executable_path`` (never Playwright's own browser download),
against the real app behind a real uvicorn server. The "SMART app" is a small page served by this test:
its callback exchanges the code (PKCE) and shows the patient it was given. Screenshots of the
consent page and of the app are kept under ``test-artifacts/`` (gitignored).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Final
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
import uvicorn
from playwright.async_api import async_playwright
from pymongo import AsyncMongoClient, MongoClient

from fhir_server.auth.clients import ClientKind, create_client
from fhir_server.auth.keys import load_server_key
from fhir_server.auth.tokens import TokenSubject, issue_access_token
from fhir_server.auth.urls import AuthUrls
from fhir_server.auth.users import create_user
from fhir_server.main import create_app
from fhir_server.settings import Settings
from fhir_server.store.embedded import free_port
from tests.support import make_settings, unique

CHROMIUM: Final = Path("/usr/bin/chromium")
CHROMIUM_FLAGS: Final = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS: Final = Path(__file__).resolve().parents[2] / "test-artifacts"
SCOPE: Final = "launch/patient openid fhirUser patient/*.rs"
PASSWORD: Final = "browser test password 1"


class SmartApp:
    """The app's callback: exchange the code, read the patient, show who it is."""

    def __init__(self, fhir: str, client_id: str) -> None:
        self.fhir = fhir
        self.client_id = client_id
        self.verifier = secrets.token_urlsafe(48)
        self.port = free_port()
        self.redirect_uri = f"http://127.0.0.1:{self.port}/callback"

    @property
    def challenge(self) -> str:
        digest = hashlib.sha256(self.verifier.encode()).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def authorize_url(self, state: str) -> str:
        root = self.fhir.removesuffix("/fhir")
        params = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uri,
            "scope": SCOPE,
            "state": state,
            "aud": self.fhir,
            "code_challenge": self.challenge,
            "code_challenge_method": "S256",
        }
        return f"{root}/oauth/authorize?{urlencode(params)}"

    def page(self, query: dict[str, list[str]]) -> str:
        code = query.get("code", [""])[0]
        tokens = httpx.post(
            f"{self.fhir.removesuffix('/fhir')}/oauth/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": self.redirect_uri,
                "client_id": self.client_id,
                "code_verifier": self.verifier,
            },
        ).json()
        patient = httpx.get(
            f"{self.fhir}/Patient/{tokens['patient']}",
            headers={"Authorization": f"Bearer {tokens['access_token']}"},
        ).json()
        name = patient["name"][0]
        return (
            "<!doctype html><html><body><h1>SMART app</h1>"
            f"<p id=patient>{escape(' '.join(name['given']))} {escape(name['family'])}</p>"
            f"<p>born {escape(patient['birthDate'])}</p></body></html>"
        )

    def serve(self) -> ThreadingHTTPServer:
        app = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = app.page(parse_qs(urlsplit(self.path).query)).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return None

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server


@dataclass
class LiveServer:
    settings: Settings
    fhir: str


@pytest.fixture(scope="module")
def server(mongo_uri: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The real app behind a real uvicorn server (in a thread: no second interpreter to start)."""
    if not CHROMIUM.exists():
        pytest.fail(
            "the browser test needs Chromium at /usr/bin/chromium: run ./dev test as root (it installs "
            "Debian's chromium package), or: apt-get install -y chromium"
        )
    port = free_port()
    fhir = f"http://127.0.0.1:{port}/fhir"
    settings = make_settings(mongo_uri, tmp_path_factory.mktemp("browser"), base_url=fhir, auth_enabled=True)
    config = uvicorn.Config(
        create_app(settings), host="127.0.0.1", port=port, log_config=None, access_log=False
    )
    web = uvicorn.Server(config)
    thread = threading.Thread(target=web.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not web.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert web.started, "the server did not start"
    try:
        yield LiveServer(settings, fhir)
    finally:
        web.should_exit = True
        thread.join(timeout=30)
        cleaner: MongoClient[dict[str, Any]] = MongoClient(mongo_uri)
        with cleaner:
            cleaner.drop_database(settings.database_name)


def _token(settings: Settings, scope: str) -> dict[str, str]:
    who = TokenSubject(subject="browser-test", client_id="dev-token", scopes=(scope,))
    issued = issue_access_token(
        key=load_server_key(settings), urls=AuthUrls.from_settings(settings), who=who, lifetime=300
    )
    return {"Authorization": f"Bearer {issued.token}"}


async def test_sign_in_pick_a_patient_by_search_and_reach_the_app(server: LiveServer, mongo_uri: str) -> None:
    fhir = server.fhir
    username, client_id = unique("nurse"), unique("chart")
    app = SmartApp(fhir, client_id)
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_uri, tz_aware=True)
    try:
        db = mongo[server.settings.database_name]
        await create_user(
            db=db, username=username, password=PASSWORD, role="nurse", fhir_user="Practitioner/n1"
        )
        await create_client(
            db=db,
            kind=ClientKind.PUBLIC,
            name="Chart viewer",
            scopes=SCOPE,
            redirect_uris=[app.redirect_uri],
            client_id=client_id,
        )
    finally:
        await mongo.close()
    family = unique("Lovelace").replace("-", "")
    admin = _token(server.settings, "system/Patient.cruds")
    async with httpx.AsyncClient(timeout=30) as http:
        for given, birth in (("Ada", "1815-12-10"), ("Byron", "1788-01-22")):
            body = {
                "resourceType": "Patient",
                "name": [{"family": family, "given": [given]}],
                "birthDate": birth,
            }
            assert (await http.post(f"{fhir}/Patient", json=body, headers=admin)).status_code == 201

    ARTIFACTS.mkdir(exist_ok=True)
    web = app.serve()
    try:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
            try:
                page = await browser.new_page()
                await page.goto(app.authorize_url(state="s1"))
                await page.fill("#username", username)
                await page.fill("#password", PASSWORD)
                await page.click("button[type=submit]")
                await page.wait_for_selector("text=Allow access?")
                assert "Read and search all records of the chosen patient only." in await page.content()
                await page.fill("#name", family[:6])
                await page.click("button[value=search]")
                await page.wait_for_selector("input[name=patient]")
                radios = page.locator("input[name=patient]")
                assert await radios.count() == 2
                assert not any([await radios.nth(i).is_checked() for i in range(2)]), "nothing preselected"
                await page.screenshot(path=str(ARTIFACTS / "browser-consent.png"), full_page=True)
                await page.click("text=born 1815-12-10")
                await page.click("button[value=approve]")
                await page.wait_for_url(f"{app.redirect_uri}*")
                assert (await page.inner_text("#patient")) == f"Ada {family}"
                await page.screenshot(path=str(ARTIFACTS / "browser-smart-app.png"), full_page=True)
            finally:
                await browser.close()
    finally:
        web.shutdown()
        web.server_close()
    assert (ARTIFACTS / "browser-smart-app.png").stat().st_size > 1000
