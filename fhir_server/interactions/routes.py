"""The dispatch table: (method, what the URL addresses) -> interaction, handler, and body kind.

One table serves the REST API and every bundle entry. A type may override a row (Binary's raw
content); operations are looked up by name in the operation table.
"""

from __future__ import annotations

from collections.abc import Iterable

from fhir_server.context import Interaction
from fhir_server.errors import MethodNotAllowed
from fhir_server.interactions import handlers
from fhir_server.interactions.bundle import batch_or_transaction
from fhir_server.interactions.invoke import invoke
from fhir_server.interactions.route import BodyKind, Route
from fhir_server.interactions.target import Shape, Target

CORE_ROUTES: tuple[Route, ...] = (
    Route("GET", Shape.METADATA, Interaction.CAPABILITIES, handlers.capabilities, public=True),
    Route("GET", Shape.SYSTEM, Interaction.SEARCH_SYSTEM, handlers.search),
    Route("POST", Shape.SYSTEM_SEARCH, Interaction.SEARCH_SYSTEM, handlers.search, BodyKind.FORM),
    Route("GET", Shape.SYSTEM_HISTORY, Interaction.HISTORY_SYSTEM, handlers.history_of),
    Route("GET", Shape.TYPE, Interaction.SEARCH_TYPE, handlers.search),
    Route("POST", Shape.TYPE_SEARCH, Interaction.SEARCH_TYPE, handlers.search, BodyKind.FORM),
    Route("POST", Shape.TYPE, Interaction.CREATE, handlers.create, BodyKind.RESOURCE),
    Route("PUT", Shape.TYPE, Interaction.UPDATE, handlers.conditional_update, BodyKind.RESOURCE),
    Route("PATCH", Shape.TYPE, Interaction.PATCH, handlers.patch, BodyKind.PATCH),
    Route("DELETE", Shape.TYPE, Interaction.DELETE, handlers.conditional_delete),
    Route("GET", Shape.TYPE_HISTORY, Interaction.HISTORY_TYPE, handlers.history_of),
    Route("GET", Shape.INSTANCE, Interaction.READ, handlers.read),
    Route("PUT", Shape.INSTANCE, Interaction.UPDATE, handlers.update, BodyKind.RESOURCE),
    Route("PATCH", Shape.INSTANCE, Interaction.PATCH, handlers.patch, BodyKind.PATCH),
    Route("DELETE", Shape.INSTANCE, Interaction.DELETE, handlers.delete),
    Route("GET", Shape.INSTANCE_HISTORY, Interaction.HISTORY_INSTANCE, handlers.history_of),
    Route("GET", Shape.VERSION, Interaction.VREAD, handlers.vread),
    Route("GET", Shape.COMPARTMENT, Interaction.SEARCH_TYPE, handlers.search),
    Route(
        "POST", Shape.SYSTEM, Interaction.BATCH, batch_or_transaction, BodyKind.BUNDLE, in_transaction=False
    ),
    *(
        Route(method, shape, Interaction.OPERATION, invoke, BodyKind.OPERATION)
        for shape in (Shape.SYSTEM_OPERATION, Shape.TYPE_OPERATION, Shape.INSTANCE_OPERATION)
        for method in ("GET", "POST")
    ),
)


class RouteTable:
    def __init__(self, routes: Iterable[Route]) -> None:
        self._routes: dict[tuple[str, Shape, str | None], Route] = {}
        self._methods: dict[Shape, set[str]] = {}
        for route in routes:
            self._routes[route.key] = route
            self._methods.setdefault(route.shape, set()).add(route.method)

    def add(self, route: Route) -> None:
        self._routes[route.key] = route
        self._methods.setdefault(route.shape, set()).add(route.method)

    def match(self, method: str, target: Target) -> Route:
        """The route for this method and target; 405 when the target takes other methods."""
        lookup = "GET" if method == "HEAD" else method
        route = self._routes.get((lookup, target.shape, target.resource_type)) or self._routes.get(
            (lookup, target.shape, None)
        )
        if route is None:
            allowed = sorted(self._methods.get(target.shape, set()))
            raise MethodNotAllowed(
                f"{method} is not supported on {target.path() or 'the base URL'}"
                + (f"; use {', '.join(allowed)}" if allowed else ""),
                headers={"Allow": ", ".join(allowed)} if allowed else None,
            )
        return route
