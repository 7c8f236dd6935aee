"""The interaction pipeline: every FHIR call, from any adapter, passes the same steps.

    route -> prepare storage -> authorize (gate) -> handler (validate, one repository call,
    the write door) -> observers (audit) -> Outcome

``Pipeline.dispatch`` is the one entry point: the REST adapter (``fhir_server.api.fhir``), bundle
entries (``fhir_server.interactions.bundle``) and the importer all call it with a :class:`Call`.
Errors are ``FhirError``s, raised to the adapter, which turns them into an OperationOutcome (REST)
or an entry's ``response.outcome`` (batch).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any

from fhir_server.context import RequestContext
from fhir_server.errors import BadRequest, FhirError, NotFound
from fhir_server.interactions.call import Call
from fhir_server.interactions.metadata import PublishedStatement
from fhir_server.interactions.observer import CallObserver
from fhir_server.interactions.operation import OperationSpec
from fhir_server.interactions.outcome import Outcome
from fhir_server.interactions.route import Route
from fhir_server.interactions.routes import CORE_ROUTES, RouteTable
from fhir_server.interactions.target import Shape, Target
from fhir_server.services import Services

_TYPED_SHAPES = frozenset(
    {
        Shape.TYPE,
        Shape.TYPE_SEARCH,
        Shape.TYPE_HISTORY,
        Shape.TYPE_OPERATION,
        Shape.INSTANCE,
        Shape.INSTANCE_HISTORY,
        Shape.VERSION,
        Shape.INSTANCE_OPERATION,
        Shape.COMPARTMENT,
    }
)


class Pipeline:
    def __init__(
        self,
        *,
        services: Services,
        operations: Iterable[OperationSpec],
        capability_statement: Callable[[], PublishedStatement],
        routes: Iterable[Route] = (),
    ) -> None:
        self.services = services
        self.routes = RouteTable([*CORE_ROUTES, *routes])
        self.operations = {spec.name: spec for spec in operations}
        self.capability_statement = capability_statement
        self.observers: list[CallObserver] = []

    def route(self, method: str, target: Target) -> Route:
        """The route a call takes (405 for a method the target does not take, 404 for an unknown type)."""
        self._check_types(target)
        return self.routes.match(method, target)

    async def dispatch(self, call: Call, route: Route | None = None) -> Outcome:
        route = route or self.route(call.method, call.target)
        if call.session is not None and not route.in_transaction:
            raise BadRequest(f"{call.method} {call.target.path()} cannot be part of a transaction")
        services = self.services
        if call.session is None and call.resource_type is not None and _writes(route):
            await services.repository.ensure_collections([call.resource_type])
        try:
            if not route.public and call.target.operation is None:
                services.guard.require(call.ctx, route.interaction, call.resource_type)
            outcome = await route.handler(call, self)
        except FhirError as error:
            await self.observe(call, route, None, error)
            raise
        outcome = self._release(call.ctx, outcome)
        await self.observe(call, route, outcome, None)
        return outcome

    def _release(self, ctx: RequestContext, outcome: Outcome) -> Outcome:
        """What leaves: every resource as the caller may see it (elements its role may not see
        removed), whichever handler produced it. Bundle responses hold entries already released."""
        redact = self.services.guard.redact
        body = outcome.body
        if outcome.write is not None and outcome.stored is not None and outcome.stored.resource is not None:
            released = redact(ctx, outcome.stored.resource)
            body = released if released is not outcome.stored.resource else body
        elif body is not None and body.get("resourceType") == "Bundle":
            if body.get("type") not in _RELEASED_BUNDLES:
                body = _released_bundle(body, lambda resource: redact(ctx, resource))
        elif body is not None:
            body = redact(ctx, body)
        return outcome if body is outcome.body else replace(outcome, body=body)

    async def observe(
        self, call: Call, route: Route, outcome: Outcome | None, error: FhirError | None
    ) -> None:
        """Tell the observers how a call ended; adapters call it for a call refused before
        dispatch (401: the caller could not be authenticated)."""
        for observer in self.observers:
            await observer(call, route, outcome, error)

    def _check_types(self, target: Target) -> None:
        registry = self.services.registry
        if target.shape in _TYPED_SHAPES and not registry.is_resource_type(target.resource_type or ""):
            raise NotFound(f"'{target.resource_type}' is not a resource type this server knows")
        compartment_of = target.compartment_of
        if compartment_of not in (None, "*") and not registry.is_resource_type(compartment_of):
            raise NotFound(f"'{compartment_of}' is not a resource type this server knows")


_RELEASED_BUNDLES = frozenset({"batch-response", "transaction-response"})


def _released_bundle(
    bundle: dict[str, Any], redact: Callable[[dict[str, Any]], dict[str, Any]]
) -> dict[str, Any]:
    entries = bundle.get("entry") or []
    released = [
        {**entry, "resource": redact(entry["resource"])} if isinstance(entry.get("resource"), dict) else entry
        for entry in entries
    ]
    if all(new.get("resource") is old.get("resource") for new, old in zip(released, entries, strict=True)):
        return bundle
    return {**bundle, "entry": released}


def _writes(route: Route) -> bool:
    return route.method in {"POST", "PUT", "PATCH", "DELETE"}
