"""The few HTML pages of the authorization server: login, consent with patient picker, errors.

Plain server-rendered forms, every value escaped; no scripts, framing refused.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from typing import Final

from fastapi.responses import HTMLResponse

from fhir_server.auth.urls import CONSENT_PATH, LOGIN_PATH

PAGE_HEADERS: Final = {
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
}
_STYLE: Final = (
    "body{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem;color:#222}"
    "label{display:block;margin:.8rem 0 .2rem}input,select{width:100%;padding:.4rem;font-size:1rem}"
    "button{margin:1rem .5rem 0 0;padding:.5rem 1.2rem;font-size:1rem}.error{color:#a00}"
    "li{margin:.2rem 0}code{font-size:.9rem}"
)


@dataclass(frozen=True)
class PatientChoice:
    id: str
    label: str


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    html = (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width,initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><h1>{escape(title)}</h1>{body}</body></html>"
    )
    return HTMLResponse(html, status_code=status, headers=PAGE_HEADERS)


def _error(message: str | None) -> str:
    return f"<p class=error role=alert>{escape(message)}</p>" if message else ""


def login_page(
    *, request_id: str, client_name: str, error: str | None = None, status: int = 200
) -> HTMLResponse:
    body = (
        f"<p>Sign in to let <strong>{escape(client_name)}</strong> access the clinic's records.</p>"
        f"{_error(error)}"
        f'<form method=post action="{LOGIN_PATH}">'
        f'<input type=hidden name=request value="{escape(request_id)}">'
        "<label for=username>Username</label>"
        "<input id=username name=username autocomplete=username required>"
        "<label for=password>Password</label>"
        "<input id=password name=password type=password autocomplete=current-password required>"
        "<button type=submit>Sign in</button></form>"
    )
    return _page("Sign in", body, status)


def consent_page(
    *,
    request_id: str,
    consent_token: str,
    client_name: str,
    username: str,
    scopes: Sequence[str],
    patients: Sequence[PatientChoice] | None,
    launch_patient: str | None,
    error: str | None = None,
) -> HTMLResponse:
    items = "".join(f"<li><code>{escape(scope)}</code></li>" for scope in scopes)
    picker = ""
    if patients is not None:
        options = "".join(
            f'<option value="{escape(choice.id)}">{escape(choice.label)}</option>' for choice in patients
        )
        picker = (
            "<label for=patient>Patient</label>"
            f"<select id=patient name=patient>{options}</select>"
            "<label for=patient_id>or patient id</label><input id=patient_id name=patient_id>"
        )
    elif launch_patient is not None:
        picker = f"<p>Patient: <code>{escape(launch_patient)}</code> (from the EHR launch)</p>"
    body = (
        f"<p>Signed in as <strong>{escape(username)}</strong>.</p>"
        f"<p><strong>{escape(client_name)}</strong> asks for:</p><ul>{items}</ul>{_error(error)}"
        f'<form method=post action="{CONSENT_PATH}">'
        f'<input type=hidden name=request value="{escape(request_id)}">'
        f'<input type=hidden name=consent value="{escape(consent_token)}">'
        f"{picker}"
        "<button type=submit name=decision value=approve>Allow</button>"
        "<button type=submit name=decision value=deny>Deny</button></form>"
    )
    return _page("Allow access?", body)


def error_page(message: str, status: int = 400) -> HTMLResponse:
    return _page("Authorization failed", f"<p class=error>{escape(message)}</p>", status)
