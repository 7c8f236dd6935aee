"""The HTML pages of sign-in: login, password change, one-time code, consent with patient picker,
sign-out, password reset, errors.

Plain server-rendered forms, every value escaped, no scripts, no external assets (the optional logo is
served by this server), framing refused. Every form carries the CSRF token (``browser``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from typing import Final

from fastapi.responses import HTMLResponse

from fhir_server.auth.browser import CSRF_FIELD
from fhir_server.auth.picker import PatientChoice, PatientQuery
from fhir_server.auth.totp import Enrolment
from fhir_server.auth.urls import (
    CONSENT_PATH,
    LOGIN_PATH,
    LOGO_PATH,
    LOGOUT_PATH,
    PASSWORD_CHANGE_PATH,
    PASSWORD_RESET_PATH,
    TOTP_PATH,
)

PAGE_HEADERS: Final = {
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'",
    "Referrer-Policy": "no-referrer",
}
_STYLE: Final = (
    "body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;color:#222;"
    "line-height:1.4}header{display:flex;align-items:center;gap:1rem}header img{max-height:3rem}"
    "label{display:block;margin:.8rem 0 .2rem}input{padding:.4rem;font-size:1rem}"
    "input:not([type=radio]){width:100%;box-sizing:border-box}"
    "button{margin:1rem .5rem 0 0;padding:.5rem 1.2rem;font-size:1rem}.error{color:#a00;font-weight:bold}"
    "li{margin:.3rem 0}fieldset{margin:1rem 0;border:1px solid #bbb}.row{display:flex;gap:.5rem}"
    ".row>div{flex:1}table{border-collapse:collapse;width:100%}td{padding:.3rem;border-top:1px solid #ddd}"
    ".quiet{color:#555;font-size:.9rem}.inline{display:inline}.inline button{margin:0;padding:.2rem .6rem}"
    "code{font-size:.9rem;word-break:break-all}"
)


@dataclass(frozen=True)
class Branding:
    title: str
    has_logo: bool


@dataclass(frozen=True)
class Form:
    """The hidden fields every step of a pending sign-in posts back."""

    request_id: str
    csrf: str

    def hidden(self) -> str:
        return _hidden("request", self.request_id) + _hidden(CSRF_FIELD, self.csrf)


def _hidden(name: str, value: str) -> str:
    return f'<input type=hidden name={name} value="{escape(value)}">'


def _page(branding: Branding, heading: str, body: str, status: int = 200) -> HTMLResponse:
    logo = f'<img src="{LOGO_PATH}" alt="">' if branding.has_logo else ""
    html = (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width,initial-scale=1">'
        f"<title>{escape(heading)} - {escape(branding.title)}</title><style>{_STYLE}</style></head>"
        f"<body><header>{logo}<span>{escape(branding.title)}</span></header>"
        f"<h1>{escape(heading)}</h1>{body}</body></html>"
    )
    return HTMLResponse(html, status_code=status, headers=PAGE_HEADERS)


def _error(message: str | None) -> str:
    return f"<p class=error role=alert>{escape(message)}</p>" if message else ""


def login_page(
    branding: Branding,
    form: Form,
    *,
    client_name: str,
    username: str = "",
    error: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    focus_password = " autofocus" if username else ""
    body = (
        f"<p>Sign in to let <strong>{escape(client_name)}</strong> use the clinic's records.</p>"
        f"{_error(error)}"
        f'<form method=post action="{LOGIN_PATH}">{form.hidden()}'
        "<label for=username>Username</label>"
        f'<input id=username name=username autocomplete=username required value="{escape(username)}"'
        f"{'' if username else ' autofocus'}>"
        "<label for=password>Password</label>"
        "<input id=password name=password type=password autocomplete=current-password required"
        f"{focus_password}>"
        "<button type=submit>Sign in</button></form>"
    )
    return _page(branding, "Sign in", body, status)


def change_password_page(branding: Branding, form: Form, *, error: str | None = None) -> HTMLResponse:
    body = (
        "<p>Choose a new password before you go on (at least 10 characters).</p>"
        f"{_error(error)}"
        f'<form method=post action="{PASSWORD_CHANGE_PATH}">{form.hidden()}'
        "<label for=new_password>New password</label>"
        "<input id=new_password name=new_password type=password autocomplete=new-password required autofocus>"
        "<label for=repeat>Repeat it</label>"
        "<input id=repeat name=repeat type=password autocomplete=new-password required>"
        "<button type=submit>Save and continue</button></form>"
    )
    return _page(branding, "New password", body, 200 if error is None else 400)


def totp_enrol_page(
    branding: Branding, form: Form, enrolment: Enrolment, *, error: str | None = None
) -> HTMLResponse:
    body = (
        "<p>This account needs a one-time code at sign-in. In your authenticator app, add an account "
        "with this key (time-based, 6 digits), then type the code it shows.</p>"
        f"<p><code>{escape(enrolment.grouped)}</code></p>"
        "<p class=quiet>Or open this link on the device with the app: "
        f"<code>{escape(enrolment.uri)}</code></p>"
        f"{_error(error)}"
        f'<form method=post action="{TOTP_PATH}">{form.hidden()}'
        "<label for=code>Code from the app</label>"
        "<input id=code name=code inputmode=numeric autocomplete=one-time-code required autofocus>"
        "<button type=submit>Confirm</button></form>"
    )
    return _page(branding, "Set up your code app", body, 200 if error is None else 401)


def totp_page(branding: Branding, form: Form, *, error: str | None = None) -> HTMLResponse:
    body = (
        "<p>Type the 6-digit code your authenticator app shows for this account.</p>"
        f"{_error(error)}"
        f'<form method=post action="{TOTP_PATH}">{form.hidden()}'
        "<label for=code>Code</label>"
        "<input id=code name=code inputmode=numeric autocomplete=one-time-code required autofocus>"
        "<button type=submit>Continue</button></form>"
    )
    return _page(branding, "One-time code", body, 200 if error is None else 401)


@dataclass(frozen=True)
class ConsentContent:
    client_name: str
    username: str
    role: str
    sentences: Sequence[tuple[str, str]]  # (plain words, scope)
    picker: bool
    launch_patient: PatientChoice | None


def _choice_label(choice: PatientChoice) -> str:
    parts = [f"<strong>{escape(choice.name)}</strong>"]
    parts.append(f"born {escape(choice.birth_date)}" if choice.birth_date else "birth date unknown")
    parts.append(f"MRN {escape(choice.mrn)}" if choice.mrn else "no MRN")
    return " · ".join(parts)


def _picker(query: PatientQuery, results: Sequence[PatientChoice] | None, more: bool) -> str:
    rows = ""
    if results is not None:
        if results:
            rows = (
                "<table>"
                + "".join(
                    f'<tr><td><input type=radio name=patient id="p-{escape(choice.id)}" '
                    f'value="{escape(choice.id)}">'
                    f'</td><td><label for="p-{escape(choice.id)}">{_choice_label(choice)}</label></td></tr>'
                    for choice in results
                )
                + "</table>"
            )
            if more:
                rows += "<p class=quiet>More patients match: add a birth date or an MRN.</p>"
        else:
            rows = "<p>No patient matches.</p>"
    return (
        "<fieldset><legend>Choose the patient</legend>"
        "<div class=row><div><label for=name>Name</label>"
        f'<input id=name name=name value="{escape(query.name)}" autocomplete=off></div>'
        "<div><label for=birthdate>Birth date</label>"
        f'<input id=birthdate name=birthdate type=date value="{escape(query.birth_date)}"></div>'
        "<div><label for=mrn>MRN</label>"
        f'<input id=mrn name=mrn value="{escape(query.mrn)}" autocomplete=off></div></div>'
        "<button type=submit name=action value=search>Search</button>"
        f"{rows}</fieldset>"
    )


def consent_page(
    branding: Branding,
    form: Form,
    *,
    consent_token: str,
    content: ConsentContent,
    query: PatientQuery | None = None,
    results: Sequence[PatientChoice] | None = None,
    more: bool = False,
    error: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    items = "".join(
        f"<li>{escape(sentence)} <span class=quiet>(<code>{escape(scope)}</code>)</span></li>"
        for sentence, scope in content.sentences
    )
    patient = ""
    if content.picker:
        patient = _picker(query or PatientQuery(), results, more)
    elif content.launch_patient is not None:
        patient = f"<p>Patient: {_choice_label(content.launch_patient)} (from the clinic's system)</p>"
    body = (
        f'<form method=post action="{LOGOUT_PATH}" class=inline>{form.hidden()}'
        f"<p>Signed in as <strong>{escape(content.username)}</strong> ({escape(content.role)}). "
        "<button type=submit>Not you? Sign out</button></p></form>"
        f"<p><strong>{escape(content.client_name)}</strong> asks to:</p><ul>{items}</ul>"
        f"{_error(error)}"
        f'<form method=post action="{CONSENT_PATH}">{form.hidden()}{_hidden("consent", consent_token)}'
        f"{patient}"
        "<button type=submit name=decision value=approve>Allow</button>"
        "<button type=submit name=decision value=deny>Deny</button></form>"
    )
    return _page(branding, "Allow access?", body, status)


def logout_page(branding: Branding, csrf: str) -> HTMLResponse:
    body = (
        f'<form method=post action="{LOGOUT_PATH}">{_hidden(CSRF_FIELD, csrf)}'
        "<p>Sign out of the clinic's sign-in on this browser?</p>"
        "<button type=submit>Sign out</button></form>"
    )
    return _page(branding, "Sign out", body)


def signed_out_page(branding: Branding) -> HTMLResponse:
    return _page(
        branding,
        "Signed out",
        "<p>You are signed out. Apps you allowed keep their access until it ends or is revoked.</p>",
    )


def reset_page(branding: Branding, *, token: str, csrf: str, error: str | None = None) -> HTMLResponse:
    body = (
        f"{_error(error)}"
        f'<form method=post action="{PASSWORD_RESET_PATH}">'
        f"{_hidden('token', token)}{_hidden(CSRF_FIELD, csrf)}"
        "<label for=new_password>New password (at least 10 characters)</label>"
        "<input id=new_password name=new_password type=password autocomplete=new-password required autofocus>"
        "<label for=repeat>Repeat it</label>"
        "<input id=repeat name=repeat type=password autocomplete=new-password required>"
        "<button type=submit>Save</button></form>"
    )
    return _page(branding, "Choose a new password", body, 200 if error is None else 400)


def reset_done_page(branding: Branding) -> HTMLResponse:
    return _page(branding, "Password saved", "<p>Your new password is saved. Sign in from your app.</p>")


def error_page(branding: Branding, message: str, status: int = 400) -> HTMLResponse:
    return _page(branding, "Sign-in failed", f"<p class=error>{escape(message)}</p>", status)
