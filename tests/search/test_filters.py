"""The shape of the MongoDB filters: field-level conditions only for the common searches (SecantusDB
serves a query from an index only then), the most selective indexed condition first."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from fhir_server.conformance.registry import ConformanceRegistry
from fhir_server.search.clauses import build_filter, merge_conditions
from fhir_server.search.query import QueryParser


def parser(registry: ConformanceRegistry) -> QueryParser:
    return QueryParser(registry, "http://x/fhir", datetime.now(UTC), 20, 100)


@pytest.mark.parametrize(
    ("resource_type", "query", "first"),
    [
        ("Observation", "subject=Patient/1&code=1234-5", "ix.subject"),
        ("Observation", "code=1234-5&subject=Patient/1", "ix.subject"),
        ("Observation", "subject=Patient/1&date=ge2015-01-01&date=lt2016-01-01", "ix.subject"),
        ("Observation", "date=ge2015-01-01&date=le2016", "ix.date@hi"),
        ("Observation", "date=ap2015", "ix.date@hi"),
        ("Observation", "value-quantity=gt5|http://unitsofmeasure.org|mg", "ix.value-quantity@hi"),
        ("Observation", "code-value-quantity=http://loinc.org|1$lt5", "ix.code-value-quantity"),
        ("Patient", "name=peterpeterpeterpeterpeterpeter", "ix.name"),
        ("Patient", "name=peter&name=chalmers&gender=male", "ix.name"),
        ("Patient", "identifier=a|b&_lastUpdated=ge2020&_lastUpdated=lt2021", "ix.identifier"),
        ("Patient", "_id=1,2&gender=male", "_id"),
        ("Patient", "gender:not=male&birthdate=1970", "ix.birthdate"),  # the negation is residual
    ],
)
def test_common_searches_have_no_top_level_operators(
    registry: ConformanceRegistry, resource_type: str, query: str, first: str
) -> None:
    from urllib.parse import parse_qsl

    criteria = parser(registry).criteria_for(resource_type, parse_qsl(query))
    clauses = [c.clause for c in criteria if c.clause is not None]
    mongo = build_filter(clauses, trailing=[("del", {"$ne": True})])
    assert not [key for key in mongo if key.startswith("$")], mongo
    assert next(iter(mongo)) == first


def test_merging_conditions_on_one_field() -> None:
    assert merge_conditions("a", "b") == {"$eq": "a", "$all": ["b"]}
    assert merge_conditions({"$gt": 1}, {"$gt": 5}) == {"$gt": 5}
    assert merge_conditions({"$gte": 1}, {"$lt": 5}) == {"$gte": 1, "$lt": 5}
    assert merge_conditions({"$in": [1]}, {"$in": [2]}) is None
    assert merge_conditions({"$nin": ["a"]}, "b") == {"$nin": ["a"], "$eq": "b"}
    both = merge_conditions({"$elemMatch": {"l": 1}}, {"$elemMatch": {"h": 2}})
    assert both == {"$all": [{"$elemMatch": {"l": 1}}, {"$elemMatch": {"h": 2}}]}
