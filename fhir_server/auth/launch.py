"""EHR launch contexts: the EHR creates one (``POST /oauth/launch`` or the CLI) and opens the app with
``launch=<id>&iss=<fhir base>``; the authorization that names it gets its patient (and encounter).

A launch lives 10 minutes, may be bound to one client and one user, and is used once.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import Any, Final

from fhir_server.auth import store

LAUNCH_LIFETIME: Final = 600
_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")


class LaunchError(ValueError):
    """A launch context that cannot be created as asked (message safe to show)."""


@dataclass(frozen=True)
class CreatedLaunch:
    launch: str
    expires_in: int


async def create_launch(
    *,
    db: store.Database,
    patient: str,
    created_by: str,
    encounter: str | None = None,
    client_id: str | None = None,
    username: str | None = None,
) -> CreatedLaunch:
    """Store a launch context for ``Patient/<patient>`` (ids, not references)."""
    for value in (patient, encounter):
        if value is not None and not _ID.match(value):
            raise LaunchError("patient and encounter are FHIR ids like 123 (not references)")
    launch = secrets.token_urlsafe(18)
    document: store.LaunchDoc = {
        "_id": launch,
        "patient": patient,
        "encounter": encounter,
        "client_id": client_id,
        "username": username,
        "created_by": created_by,
        "expires_at": store.expires_in(LAUNCH_LIFETIME),
    }
    await db[store.LAUNCHES].insert_one(dict(document))
    return CreatedLaunch(launch=launch, expires_in=LAUNCH_LIFETIME)


async def find_launch(*, db: store.Database, launch: str, client_id: str) -> dict[str, Any] | None:
    """The usable launch context for this client, or None."""
    if not launch:
        return None
    document = await db[store.LAUNCHES].find_one({"_id": launch, "used": {"$ne": True}})
    if document is None or store.is_expired(document):
        return None
    if document.get("client_id") not in (None, client_id):
        return None
    return document


async def consume_launch(*, db: store.Database, launch: str) -> bool:
    """Mark the launch used; False if it already was."""
    found = await db[store.LAUNCHES].find_one_and_update(
        {"_id": launch, "used": {"$ne": True}}, {"$set": {"used": True}}
    )
    return found is not None
