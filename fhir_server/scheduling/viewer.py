"""Who is writing, for the booking hook: repository hooks receive no request context.

A write check (which does receive the context) records it in a context variable; the hook, which
runs later in the same task, reads it to decide whether a conflict message may name the other
appointment. No recorded caller means nothing is named (fail closed).
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

from fhir_server.access import AccessGate
from fhir_server.context import RequestContext

_writer: ContextVar[RequestContext | None] = ContextVar("scheduling_writer", default=None)


async def remember_writer(ctx: RequestContext, resource: dict[str, Any]) -> None:
    """Write check: note the caller of an Appointment write (asyncio copies the variable per task)."""
    if resource.get("resourceType") == "Appointment":
        _writer.set(ctx)


def writer_may_see(gate: AccessGate, resource: dict[str, Any] | None) -> bool:
    ctx = _writer.get()
    return ctx is not None and resource is not None and gate.can_see(ctx, resource)
