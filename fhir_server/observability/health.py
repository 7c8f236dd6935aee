"""Liveness (``/healthz``: the process answers) and readiness (``/readyz``: its backends answer).

Both sit outside the FHIR base and outside authorization, for load balancers and orchestrators.
Liveness deliberately ignores the database: a database outage is repaired by restarting the
database (``serve`` does it for the embedded one, the driver reconnects to an external one), not
this process, so an orchestrator must keep it. Readiness says 503 while the database does not
answer, within ``READINESS_TIMEOUT_SECONDS``, so traffic goes elsewhere meanwhile.
A failed check reports the exception type only: messages may name hosts or quote data.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Final, Literal, NotRequired, TypedDict

from starlette.datastructures import State
from starlette.requests import Request
from starlette.responses import JSONResponse

logger = logging.getLogger(__name__)

READINESS_TIMEOUT_SECONDS: Final = 3.0
_NO_STORE: Final = {"Cache-Control": "no-store"}


class CheckResult(TypedDict):
    status: Literal["ok", "fail"]
    error: NotRequired[str]


class ReadinessReport(TypedDict):
    status: Literal["ready", "unavailable"]
    checks: dict[str, CheckResult]


class NotConfigured(RuntimeError):
    """The app state lacks the backend this check pings (lifespan not run, or it failed)."""


def _state_attribute(state: State, name: str) -> Any:
    value = getattr(state, name, None)
    if value is None:
        raise NotConfigured(name)
    return value


async def _ping_database(state: State) -> None:
    await _state_attribute(state, "db").command("ping")


async def _ping_blob_store(state: State) -> None:
    await _state_attribute(state, "blob_store").ping()


READINESS_CHECKS: Final[dict[str, Callable[[State], Awaitable[None]]]] = {
    "database": _ping_database,
    "blob_store": _ping_blob_store,
}


async def _run_check(name: str, check: Callable[[State], Awaitable[None]], state: State) -> CheckResult:
    try:
        async with asyncio.timeout(READINESS_TIMEOUT_SECONDS):
            await check(state)
    except Exception as exc:
        error_type = type(exc).__name__
        logger.warning("readiness check failed", extra={"check": name, "error_type": error_type})
        return {"status": "fail", "error": error_type}
    return {"status": "ok"}


async def check_readiness(state: State) -> ReadinessReport:
    """Run every readiness check concurrently, each bounded by ``READINESS_TIMEOUT_SECONDS``."""
    names = list(READINESS_CHECKS)
    results = await asyncio.gather(*(_run_check(name, READINESS_CHECKS[name], state) for name in names))
    checks = dict(zip(names, results, strict=True))
    ready = all(result["status"] == "ok" for result in checks.values())
    return {"status": "ready" if ready else "unavailable", "checks": checks}


async def healthz() -> JSONResponse:
    return JSONResponse({"status": "ok"}, headers=_NO_STORE)


async def readyz(request: Request) -> JSONResponse:
    report = await check_readiness(request.app.state)
    status_code = 200 if report["status"] == "ready" else 503
    return JSONResponse(report, status_code=status_code, headers=_NO_STORE)
