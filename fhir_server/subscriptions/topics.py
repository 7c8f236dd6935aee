"""SubscriptionTopic resources (R4B), read into the triggers the matcher evaluates.

A *resource trigger* fires on a create, update or delete of one type when its query criteria hold
(``previous`` on the version before, ``current`` on the new one, each a search in the search
engine's own semantics; ``resultForCreate``/``resultForDelete`` stand in for the missing side) and
its ``fhirPathCriteria`` (with ``%previous`` and ``%current``) is true. An *event trigger* is a
named server event: this server knows one, the appointment reminder (a time before an
appointment's start). ``canFilterBy`` lists the search parameters a subscription may filter on.

The clinic's topics ship in ``profiles/topics/`` and are published read-only at start-up.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import fhirpathpy
import orjson

from fhir_server.conformance.registry import profile_directories
from fhir_server.errors import BadRequest, Unprocessable
from fhir_server.subscriptions.model import split_search

CLINIC_EVENTS: Final = "http://clinic.example.org/fhir/CodeSystem/clinic-subscription-event"
APPOINTMENT_REMINDER: Final = "appointment-reminder"
# Server events this server can raise, by (system, code), with the type of their focus.
KNOWN_EVENTS: Final = {(CLINIC_EVENTS, APPOINTMENT_REMINDER): "Appointment"}
INTERACTIONS: Final = frozenset({"create", "update", "delete"})
TOPICS_FOLDER: Final = "topics"


@dataclass(frozen=True)
class ResourceTrigger:
    resource_type: str
    interactions: frozenset[str]  # create, update, delete
    previous: tuple[tuple[str, str], ...] | None
    current: tuple[tuple[str, str], ...] | None
    result_for_create: bool  # what the ``previous`` test gives on a create
    result_for_delete: bool  # what the ``current`` test gives on a delete
    require_both: bool
    fhirpath: str | None

    def decide(self, *, previous_ok: bool | None, current_ok: bool | None) -> bool:
        """Combine the query tests (None: that criterion is absent)."""
        tests = [test for test in (previous_ok, current_ok) if test is not None]
        if not tests:
            return True
        return all(tests) if self.require_both else any(tests)

    def fhirpath_holds(self, previous: dict[str, Any] | None, current: dict[str, Any] | None) -> bool:
        if self.fhirpath is None:
            return True
        focus = current if current is not None else previous
        result = fhirpathpy.evaluate(focus or {}, self.fhirpath, {"previous": previous, "current": current})
        return result == [True]


@dataclass(frozen=True)
class EventTrigger:
    system: str
    code: str
    resource_type: str


@dataclass(frozen=True)
class Topic:
    url: str
    status: str
    resource_triggers: tuple[ResourceTrigger, ...]
    event_triggers: tuple[EventTrigger, ...]
    filter_params: dict[str, frozenset[str]] = field(default_factory=dict)  # canFilterBy, by type

    def types(self) -> set[str]:
        return {t.resource_type for t in self.resource_triggers} | {
            e.resource_type for e in self.event_triggers
        }

    def triggers_for(self, resource_type: str) -> list[ResourceTrigger]:
        return [t for t in self.resource_triggers if t.resource_type == resource_type]

    def raises(self, system: str, code: str) -> bool:
        return any(e.system == system and e.code == code for e in self.event_triggers)


def _type_of(resource: Any, where: str) -> str:
    text = str(resource or "")
    name = text.rstrip("/").rsplit("/", 1)[-1]
    if not name or not name[0].isupper():
        raise Unprocessable(f"'{text}' does not name a resource type", (where,))
    return name


def _criteria(value: Any, resource_type: str, where: str) -> tuple[tuple[str, str], ...] | None:
    if value is None:
        return None
    text = str(value)
    # Topic criteria are written as a query ("status=booked") or a search ("Appointment?status=booked").
    if "?" in text:
        named, params = split_search(text, where)
        if named != resource_type:
            raise Unprocessable(f"criteria on {named} in a trigger for {resource_type}", (where,))
        return params
    return split_search(f"{resource_type}?{text}", where)[1]


def _test_result(value: Any, default: bool, where: str) -> bool:
    if value is None:
        return default
    if value not in ("test-passes", "test-fails"):
        raise Unprocessable(f"'{value}' is not test-passes or test-fails", (where,))
    return bool(value == "test-passes")


def _resource_trigger(trigger: dict[str, Any], index: int) -> ResourceTrigger:
    where = f"SubscriptionTopic.resourceTrigger[{index}]"
    resource_type = _type_of(trigger.get("resource"), f"{where}.resource")
    interactions = frozenset(trigger.get("supportedInteraction") or INTERACTIONS)
    if not interactions <= INTERACTIONS:
        raise Unprocessable(
            "supportedInteraction takes create, update and delete", (f"{where}.supportedInteraction",)
        )
    query = trigger.get("queryCriteria") or {}
    fhirpath = trigger.get("fhirPathCriteria")
    if fhirpath is not None:
        try:
            # fhirpathpy parses lazily: evaluating on nothing is how it reports a malformed expression.
            fhirpathpy.evaluate({}, str(fhirpath), {"previous": None, "current": None})
        except Exception:  # fhirpathpy raises plain Exception for syntax errors
            raise BadRequest(
                "fhirPathCriteria is not valid FHIRPath", (f"{where}.fhirPathCriteria",)
            ) from None
    return ResourceTrigger(
        resource_type=resource_type,
        interactions=interactions,
        previous=_criteria(query.get("previous"), resource_type, f"{where}.queryCriteria.previous"),
        current=_criteria(query.get("current"), resource_type, f"{where}.queryCriteria.current"),
        result_for_create=_test_result(
            query.get("resultForCreate"), True, f"{where}.queryCriteria.resultForCreate"
        ),
        result_for_delete=_test_result(
            query.get("resultForDelete"), False, f"{where}.queryCriteria.resultForDelete"
        ),
        require_both=bool(query.get("requireBoth", False)),
        fhirpath=str(fhirpath) if fhirpath is not None else None,
    )


def _event_trigger(trigger: dict[str, Any], index: int) -> EventTrigger:
    where = f"SubscriptionTopic.eventTrigger[{index}]"
    codings = (trigger.get("event") or {}).get("coding") or []
    for coding in codings:
        key = (coding.get("system"), coding.get("code"))
        if key in KNOWN_EVENTS:
            resource_type = _type_of(trigger.get("resource"), f"{where}.resource")
            if resource_type != KNOWN_EVENTS[key]:
                raise Unprocessable(
                    f"the event {key[1]} concerns {KNOWN_EVENTS[key]}", (f"{where}.resource",)
                )
            return EventTrigger(system=key[0], code=key[1], resource_type=resource_type)
    known = ", ".join(f"{system}#{code}" for system, code in KNOWN_EVENTS)
    raise Unprocessable(f"this server raises no such event; it knows {known}", (f"{where}.event",))


def parse_topic(resource: dict[str, Any]) -> Topic:
    """The triggers of a SubscriptionTopic; 400/422 naming the element it cannot honour."""
    url = resource.get("url")
    if not isinstance(url, str) or not url:
        raise BadRequest("a SubscriptionTopic needs a url", ("SubscriptionTopic.url",))
    resource_triggers = tuple(
        _resource_trigger(t, i) for i, t in enumerate(resource.get("resourceTrigger") or [])
    )
    event_triggers = tuple(_event_trigger(t, i) for i, t in enumerate(resource.get("eventTrigger") or []))
    if not resource_triggers and not event_triggers:
        raise Unprocessable(
            "a SubscriptionTopic needs a resourceTrigger or an eventTrigger", ("SubscriptionTopic",)
        )
    filters: dict[str, set[str]] = {}
    for index, item in enumerate(resource.get("canFilterBy") or []):
        parameter = item.get("filterParameter")
        if not isinstance(parameter, str) or not parameter:
            raise BadRequest(
                "canFilterBy needs a filterParameter", (f"SubscriptionTopic.canFilterBy[{index}]",)
            )
        types = (
            [_type_of(item["resource"], f"SubscriptionTopic.canFilterBy[{index}].resource")]
            if item.get("resource")
            else sorted(
                {t.resource_type for t in resource_triggers} | {e.resource_type for e in event_triggers}
            )
        )
        for resource_type in types:
            filters.setdefault(resource_type, set()).add(parameter)
    return Topic(
        url=url,
        status=str(resource.get("status") or "active"),
        resource_triggers=resource_triggers,
        event_triggers=event_triggers,
        filter_params={t: frozenset(p) for t, p in filters.items()},
    )


def topic_searches(topic: Topic) -> Iterable[tuple[str, tuple[tuple[str, str], ...], str]]:
    """Every (type, parameters, element) search a topic runs, to validate them with the search engine."""
    for index, trigger in enumerate(topic.resource_triggers):
        for name, criteria in (("previous", trigger.previous), ("current", trigger.current)):
            if criteria:
                yield (
                    trigger.resource_type,
                    criteria,
                    f"SubscriptionTopic.resourceTrigger[{index}].queryCriteria.{name}",
                )


def shipped_topics(directories: Iterable[Path] | None = None) -> list[dict[str, Any]]:
    """The clinic's SubscriptionTopic resources (``profiles/topics/*.json``)."""
    found: list[dict[str, Any]] = []
    for directory in directories if directories is not None else profile_directories():
        for path in sorted((directory / TOPICS_FOLDER).glob("*.json")):
            data = orjson.loads(path.read_bytes())
            if isinstance(data, dict) and data.get("resourceType") == "SubscriptionTopic":
                found.append(data)
    return found
