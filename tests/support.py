"""Helpers for tests: settings for a test app, an HTTP client bound to an app, unique values."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from fhir_server.settings import Settings

TEST_BASE = "http://testserver/fhir"
SHARED = Path(__file__).resolve().parents[2] / "shared"


def make_settings(mongo_uri: str, data_dir: Path, **overrides: Any) -> Settings:
    """Settings for a test app: its own database, its own data directory, auth off unless asked,
    no subscription delivery or blob sweeping unless asked."""
    values: dict[str, Any] = {
        "mongodb_uri": mongo_uri,
        "database_name": f"test_{uuid.uuid4().hex[:12]}",
        "data_dir": data_dir,
        "base_url": TEST_BASE,
        "auth_enabled": False,
        # Background machinery other tests do not use stays off, so that an app's database sees only
        # its test's work; the subscription and sweeper tests turn theirs on.
        "subscriptions_enabled": False,
        "blob_sweep_interval": 0,
    }
    values.update(overrides)
    return Settings(**values)


def client_for(app: FastAPI, **headers: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=TEST_BASE, headers=headers, timeout=60
    )


def unique(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"
