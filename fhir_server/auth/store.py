"""MongoDB collections of the authorization server, their document shapes and indexes.

Everything short-lived carries ``expires_at`` (a UTC datetime) with a TTL index, so MongoDB purges
it; code never relies on the purge and checks ``expires_at`` itself. Secrets (codes, refresh tokens,
client secrets) are stored as SHA-256 hashes, never as issued.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any, Final, TypedDict

from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from fhir_server.store.schema import ensure_indexes

USERS: Final = "auth_users"
CLIENTS: Final = "auth_clients"
CODES: Final = "auth_codes"  # pending authorization requests and authorization codes
TOKENS: Final = "auth_tokens"  # refresh tokens and revocation markers
LAUNCHES: Final = "auth_launches"  # EHR launch contexts
JTI: Final = "auth_jti"  # client assertion ids seen (replay protection)
SESSIONS: Final = "auth_sessions"  # browser sign-in sessions (the session cookie)
FAILURES: Final = "auth_failures"  # failed sign-ins per account name and per network address
RESETS: Final = "auth_resets"  # one-time password reset links

EXPIRES_AT: Final = "expires_at"
TTL_COLLECTIONS: Final = (CODES, TOKENS, LAUNCHES, JTI, SESSIONS, FAILURES, RESETS)
GENERATION: Final = "gen"  # bumped on every change that must end a user's or client's tokens

# auth_codes kinds and auth_tokens kinds / id prefixes.
KIND_REQUEST: Final = "request"
KIND_CODE: Final = "code"
KIND_REFRESH: Final = "refresh"
KIND_REVOKED_ACCESS: Final = "revoked-access"
KIND_REVOKED_GRANT: Final = "revoked-grant"

Database = AsyncDatabase[dict[str, Any]]


class UserDoc(TypedDict, total=False):
    _id: str  # username
    password_hash: str  # argon2id
    role: str
    fhir_user: str | None  # "Practitioner/123" (the fhirUser of the user's tokens)
    practitioner: str | None  # Practitioner id the account belongs to (staff sync)
    practitioner_role: str | None  # PractitionerRole id whose code sets the role (staff sync)
    active: bool  # an administrator's switch
    linked_active: bool  # False while the linked Practitioner / PractitionerRole is inactive
    gen: int
    must_change_password: bool
    totp_secret: str | None  # base32; set once enrolled
    totp_last_step: int  # the last time step accepted (a code is accepted once)
    totp_required: bool  # this account must use TOTP whatever its role
    created_at: datetime
    updated_at: datetime


class ClientDoc(TypedDict, total=False):
    _id: str  # client_id
    kind: str  # ClientKind value
    name: str
    secret_hash: str | None
    jwks: dict[str, Any] | None
    jwks_uri: str | None
    redirect_uris: list[str]
    scopes: list[str]  # the most this client may be granted
    role: str | None  # the role its scopes came from, if any (a backend's tokens carry it)
    fhir_user: str | None  # the resource a backend acts as ({fhirUser} in role scopes)
    active: bool
    gen: int
    created_at: datetime
    updated_at: datetime


class RefreshDoc(TypedDict, total=False):
    _id: str  # "refresh:<sha256 of the token>"
    kind: str
    grant_id: str
    client_id: str
    subject: str
    scopes: list[str]
    patient: str | None
    encounter: str | None
    fhir_user: str | None
    role: str | None
    user_generation: int | None
    client_generation: int | None
    used: bool
    revoked: bool
    issued_at: datetime
    expires_at: datetime
    grant_expires_at: datetime  # the absolute end of the grant: rotation never moves it


class LaunchDoc(TypedDict, total=False):
    _id: str  # the launch value handed to the app
    patient: str
    encounter: str | None
    client_id: str | None  # bound to one app, if given
    username: str | None  # bound to one user, if given
    created_by: str
    expires_at: datetime


def now_utc() -> datetime:
    return datetime.now(UTC)


def expires_in(seconds: int) -> datetime:
    return now_utc() + timedelta(seconds=seconds)


def as_utc(moment: datetime) -> datetime:
    """Datetimes read back from a client without ``tz_aware`` are naive UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def is_expired(document: dict[str, Any]) -> bool:
    moment = document.get(EXPIRES_AT)
    return not isinstance(moment, datetime) or as_utc(moment) <= now_utc()


def secret_hash(secret: str) -> str:
    """Hash of a high-entropy secret we generated (codes, tokens, client secrets)."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def refresh_id(token: str) -> str:
    return f"{KIND_REFRESH}:{secret_hash(token)}"


def revoked_access_id(jti: str) -> str:
    return f"{KIND_REVOKED_ACCESS}:{jti}"


def revoked_grant_id(grant_id: str) -> str:
    return f"{KIND_REVOKED_GRANT}:{grant_id}"


def collection(db: Database, name: str) -> AsyncCollection[dict[str, Any]]:
    return db[name]


async def ensure_auth_indexes(db: Database) -> None:
    """Create the auth collections' indexes (idempotent); call from the app's lifespan."""
    for name in TTL_COLLECTIONS:
        await ensure_indexes(
            db[name], [IndexModel([(EXPIRES_AT, ASCENDING)], expireAfterSeconds=0, name="ttl")]
        )
    await ensure_indexes(
        db[TOKENS],
        [
            IndexModel([("grant_id", ASCENDING)], name="grant", sparse=True),
            IndexModel([("subject", ASCENDING)], name="subject", sparse=True),
            IndexModel([("client_id", ASCENDING)], name="client", sparse=True),
            IndexModel([("kind", ASCENDING)], name="kind"),
        ],
    )
    await ensure_indexes(db[SESSIONS], [IndexModel([("username", ASCENDING)], name="username")])
