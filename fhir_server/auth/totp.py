"""Optional second factor: time-based one-time codes (RFC 6238, pyotp), from any authenticator app.

A code is accepted once (the last accepted time step is kept), within one step of clock drift.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import pyotp

from fhir_server.auth import store
from fhir_server.settings import Settings

DRIFT_STEPS: Final = 1
STEP_SECONDS: Final = 30


def required_for(user: Mapping[str, Any], settings: Settings) -> bool:
    """Must this account use a code at sign-in (its role's setting, or its own flag)?"""
    roles = {name.strip() for name in settings.totp_required_roles.split(",") if name.strip()}
    return bool(user.get("totp_required")) or user.get("role") in roles


def new_secret() -> str:
    return pyotp.random_base32()


@dataclass(frozen=True)
class Enrolment:
    secret: str
    uri: str  # otpauth:// for apps that take a link

    @property
    def grouped(self) -> str:
        """The secret in groups of four, easier to type."""
        return " ".join(self.secret[i : i + 4] for i in range(0, len(self.secret), 4))


def enrolment(secret: str, *, username: str, issuer: str) -> Enrolment:
    return Enrolment(secret, pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=issuer))


def matching_step(secret: str, code: str, now: float | None = None) -> int | None:
    """The time step ``code`` is valid for (within the drift), or None."""
    code = code.replace(" ", "")
    if not code.isdigit() or len(code) != 6:
        return None
    totp = pyotp.TOTP(secret)
    moment = store.now_utc().timestamp() if now is None else now
    for offset in range(-DRIFT_STEPS, DRIFT_STEPS + 1):
        at = moment + offset * STEP_SECONDS
        if totp.verify(code, for_time=int(at), valid_window=0):
            return int(at // STEP_SECONDS)
    return None


async def accept_code(*, db: store.Database, username: str, secret: str, code: str) -> bool:
    """Check a code for an enrolled account; each time step is accepted once."""
    step = matching_step(secret, code)
    if step is None:
        return False
    updated = await db[store.USERS].update_one(
        {"_id": username, "totp_secret": secret, "totp_last_step": {"$not": {"$gte": step}}},
        {"$set": {"totp_last_step": step}},
    )
    return updated.modified_count == 1


async def enrol(*, db: store.Database, username: str, secret: str, code: str) -> bool:
    """Save the secret once the user proved their app has it (a code from it)."""
    step = matching_step(secret, code)
    if step is None:
        return False
    await db[store.USERS].update_one(
        {"_id": username}, {"$set": {"totp_secret": secret, "totp_last_step": step}}
    )
    return True
