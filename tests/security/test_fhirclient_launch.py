"""The PyPI ``fhirclient`` completes a SMART standalone launch with PKCE against a real
``fhir-server serve`` process, driven headless: the browser part (sign in, pick the patient,
approve) is done with httpx on the server's own HTML forms, the redirect is captured, not served.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin

import httpx
import pytest
from fhirclient import client as smart
from pymongo import MongoClient

from benchmarks.server_process import ServerProcess, running_server
from tests.support import unique

REDIRECT_URI = "http://localhost:9000/callback"
APP_SCOPE = "launch/patient openid fhirUser patient/*.rs offline_access"
PASSWORD = "launch test password 42"


@dataclass
class Form:
    action: str
    fields: dict[str, str]
    options: dict[str, list[str]]  # select name -> option values


class FormParser(HTMLParser):
    """The forms of a page: hidden and named inputs with their values, and select options."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []
        self._select: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "form":
            self.forms.append(Form(values.get("action", ""), {}, {}))
        elif tag == "input" and self.forms and "name" in values:
            self.forms[-1].fields[values["name"]] = values.get("value", "")
        elif tag == "select" and self.forms:
            self._select = values.get("name")
            self.forms[-1].options[self._select or ""] = []
        elif tag == "option" and self.forms and self._select is not None:
            self.forms[-1].options[self._select].append(values.get("value", ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None


def only_form(page: httpx.Response) -> Form:
    assert page.status_code == 200, page.text
    parser = FormParser()
    parser.feed(page.text)
    assert len(parser.forms) == 1, page.text
    return parser.forms[0]


def consent_form(page: httpx.Response) -> Form:
    """The consent page's decision form (the other one is "Not you? Sign out")."""
    assert page.status_code == 200, page.text
    parser = FormParser()
    parser.feed(page.text)
    return next(form for form in parser.forms if form.action.endswith("/consent"))


def cli(server: ServerProcess, *args: str, **env: str) -> str:
    """Run ``fhir-server <args>`` on the server's configuration (database, data directory, key)."""
    command = [sys.executable, "-m", "fhir_server.cli", *args]
    done = subprocess.run(command, env={**server.env, **env}, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def server(mongo_uri: str) -> Iterator[ServerProcess]:
    """The real server on the suite's database server, in a database of its own."""
    database = f"launch_{unique('db').replace('-', '_')}"
    with running_server({"FHIR_MONGODB_URI": mongo_uri, "FHIR_DATABASE_NAME": database}) as process:
        yield process
    mongo: MongoClient[dict[str, Any]] = MongoClient(mongo_uri)
    with mongo:
        mongo.drop_database(database)


def browser_approves(authorize_url: str, username: str, patient_id: str, family: str) -> str:
    """Sign in, find the patient by name, allow; returns the redirect's Location (the app is not called)."""
    with httpx.Client(follow_redirects=False, timeout=30) as browser:
        login = only_form(browser.get(authorize_url))
        login.fields.update(username=username, password=PASSWORD)
        consent = consent_form(browser.post(urljoin(authorize_url, login.action), data=login.fields))
        search = {**consent.fields, "name": family, "action": "search"}
        found = browser.post(urljoin(authorize_url, consent.action), data=search)
        assert f'value="{patient_id}"' in found.text, "the picker finds the patient"
        answer = browser.post(
            urljoin(authorize_url, consent.action),
            data={**consent_form(found).fields, "patient": patient_id, "decision": "approve"},
        )
    assert answer.status_code in (302, 303), answer.text
    location = answer.headers["location"]
    assert location.startswith(REDIRECT_URI)
    return location


def test_fhirclient_standalone_launch_with_pkce(server: ServerProcess) -> None:
    username, app_id, family = unique("dr"), unique("app"), unique("Launchfamily")
    cli(
        server,
        *("users", "create", "--username", username, "--role", "doctor", "--fhir-user", "Practitioner/dr-1"),
        FHIR_NEW_USER_PASSWORD=PASSWORD,
    )
    cli(
        server,
        *("clients", "create", "--kind", "public", "--name", "fhirclient test", "--client-id", app_id),
        *("--redirect-uri", REDIRECT_URI, "--scope", APP_SCOPE),
    )
    admin = {"Authorization": f"Bearer {server.dev_token('system/Patient.cruds')}"}
    patient = {"resourceType": "Patient", "name": [{"family": family, "given": ["Ada"]}]}
    created = httpx.post(f"{server.base_url}/fhir/Patient", json=patient, headers=admin)
    assert created.status_code == 201, created.text
    patient_id = created.json()["id"]

    saved: list[dict[str, Any]] = []
    app = smart.FHIRClient(
        settings={
            "app_id": app_id,
            "api_base": f"{server.base_url}/fhir",
            "redirect_uri": REDIRECT_URI,
            "scope": APP_SCOPE,
        },
        save_func=saved.append,
    )
    try:
        _launch_and_read(app, server, username, patient_id, family, saved)
    finally:
        app.server.session.close()  # requests keeps sockets open until closed


def _launch_and_read(
    app: Any, server: ServerProcess, username: str, patient_id: str, family: str, saved: list[dict[str, Any]]
) -> None:
    authorize_url = app.authorize_url
    assert authorize_url.startswith(f"{server.base_url}/oauth/authorize?")
    assert "code_challenge_method=S256" in authorize_url

    app.handle_callback(browser_approves(authorize_url, username, patient_id, family))

    assert app.patient_id == patient_id
    assert app.ready
    assert app.server.auth.refresh_token, "offline_access gives a refresh token"
    read = app.patient
    assert read is not None and read.id == patient_id
    assert read.name[0].family == family
    assert saved, "the client saved its state along the way"
