"""The client for bundle tests: paths are absolute from the server root (``/fhir``, ``/fhir/Patient``)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest_asyncio
from fastapi import FastAPI

SERVER_ROOT = "http://testserver"


def root_client(app: FastAPI) -> httpx.AsyncClient:
    """A client whose base is the server root, so ``/fhir`` is the FHIR base URL itself."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=SERVER_ROOT, timeout=60)


@pytest_asyncio.fixture(loop_scope="session")
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with root_client(app) as http:
        yield http
