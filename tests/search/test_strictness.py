"""Strict by default (400 naming the parameter); Prefer: handling=lenient ignores and reports."""

from __future__ import annotations

import pytest

from fhir_server.context import Principal, RequestContext
from fhir_server.errors import BadRequest
from tests.search.conftest import BASE, Store

BAD = [
    ("nonsense", "x"),
    ("name:nonsense", "x"),
    ("name:text", "x"),  # :text is a token modifier
    ("gender:exact", "male"),
    ("birthdate", "xx2020"),
    ("birthdate", "2020-02-30"),
    ("birthdate:missing", "maybe"),
    ("_filter", "name eq x"),
    ("_text", "x"),
    ("_count", "abc"),
    ("_count", "-1"),
    ("_sort", "nonsense"),
    ("_sort", "_has"),
    ("_summary", "maybe"),
    ("_elements", "1bad"),
    ("_total", "lots"),
    ("_type", "Patient"),  # system level only
    ("_include", "Patient:name"),
    ("_include:deep", "Patient:organization"),
    ("general-practitioner:Nonsense", "1"),
    ("general-practitioner:Patient", "1"),  # not a target type
    ("identifier:of-type", "MR|1"),
    ("name", ""),
    ("gender", "|"),
]


@pytest.mark.parametrize(("name", "value"), BAD)
async def test_strict_rejects_naming_the_parameter(store: Store, name: str, value: str) -> None:
    with pytest.raises(BadRequest) as raised:
        await store.search("Patient", [(name, value)])
    assert raised.value.expression == (name,)
    assert name in raised.value.diagnostics
    assert raised.value.status == 400


@pytest.mark.parametrize(("name", "value"), BAD)
async def test_lenient_ignores_and_reports(store: Store, name: str, value: str) -> None:
    await store.put({"resourceType": "Patient", "id": "p1", "gender": "male"})
    ctx = RequestContext(principal=Principal.system(), base_url=BASE, lenient=True)
    bundle = await store.search("Patient", [(name, value), ("gender", "male")], ctx=ctx)
    matches = [e for e in bundle["entry"] if e["search"]["mode"] == "match"]
    assert [e["resource"]["id"] for e in matches] == ["p1"]
    outcome = [e for e in bundle["entry"] if e["search"]["mode"] == "outcome"]
    assert len(outcome) == 1
    issue = outcome[0]["resource"]["issue"][0]
    assert issue["severity"] == "warning" and issue["expression"] == [name]
    assert bundle["link"][0] == {"relation": "self", "url": f"{BASE}/Patient?gender=male"}


async def test_unknown_resource_type(store: Store) -> None:
    with pytest.raises(BadRequest):
        await store.search("Nonsense", "")


async def test_format_is_kept_in_links(store: Store) -> None:
    bundle = await store.search("Patient", "_format=json&gender=male")
    assert bundle["link"][0]["url"] == f"{BASE}/Patient?_format=json&gender=male"
