"""Bundle.total: present by default, counted once per search, an estimate (said so) above the bound,
``_total=none`` to skip it, and fhirpy's ``_totalMethod`` understood."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from fhir_server.errors import BadRequest
from fhir_server.search import totals
from tests.search.conftest import Store


def patient(index: int) -> dict[str, Any]:
    return {"resourceType": "Patient", "id": f"p{index:02d}", "gender": "female" if index % 2 else "male"}


def next_params(bundle: dict[str, Any]) -> list[tuple[str, str]]:
    url = next(item["url"] for item in bundle["link"] if item["relation"] == "next")
    return parse_qsl(urlsplit(url).query, keep_blank_values=True)


def notes(bundle: dict[str, Any]) -> list[str]:
    outcomes = [e["resource"] for e in bundle.get("entry", []) if e["search"]["mode"] == "outcome"]
    return [issue["diagnostics"] for outcome in outcomes for issue in outcome["issue"]]


@pytest.fixture
async def many(store: Store) -> Store:
    await store.put(*(patient(i) for i in range(25)))
    return store


async def test_total_by_default_on_every_page(many: Store) -> None:
    first = await many.search("Patient", "_count=10")
    assert first["total"] == 25 and notes(first) == []
    second = await many.search("Patient", next_params(first))
    assert second["total"] == 25
    assert (await many.search("Patient", "gender=female&_count=3"))["total"] == 12
    assert (await many.search("Patient", "gender=female"))["total"] == 12  # one page: counted by itself


async def test_later_pages_repeat_the_first_count_unless_accurate(many: Store) -> None:
    carried = await many.search("Patient", "_count=10")
    recounted = await many.search("Patient", "_count=10&_total=accurate")
    await many.delete("Patient", "p24")
    assert (await many.search("Patient", next_params(carried)))["total"] == 25  # not counted again
    assert (await many.search("Patient", next_params(recounted)))["total"] == 24


async def test_none_skips_the_total(many: Store) -> None:
    first = await many.search("Patient", "_count=10&_total=none")
    assert "total" not in first
    assert "total" not in await many.search("Patient", next_params(first))
    assert "total" not in await many.search("Patient", "_total=none&_summary=count")


async def test_above_the_bound_the_total_is_an_estimate_and_says_so(
    many: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(totals, "TOTAL_BOUND", 5)
    first = await many.search("Patient", "_count=10")
    # 25 stored, a sample of all of them: the estimate is exact here, and above the bound
    assert first["total"] == 25
    assert any("estimate" in note and "_total=accurate" in note for note in notes(first))
    second = await many.search("Patient", next_params(first))
    assert second["total"] == 25 and any("estimate" in note for note in notes(second))
    exact = await many.search("Patient", "_count=10&_total=accurate")
    assert exact["total"] == 25 and notes(exact) == []
    assert (await many.search("Patient", "gender=female&_count=2"))["total"] == 12  # sampled share


async def test_total_method_as_fhirpy_sends_it(many: Store) -> None:
    counted = await many.search("Patient", "gender=male&_count=0&_totalMethod=count")
    assert counted["total"] == 13 and "entry" not in counted
    assert (await many.search("Patient", "_count=10&_totalMethod=estimate"))["total"] == 25
    assert "total" not in await many.search("Patient", "_count=10&_totalMethod=none")
    assert (await many.search("Patient", "_total=accurate&_totalMethod=count"))["total"] == 25


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("_totalMethod=exact", "_total=accurate|estimate|none"),
        ("_total=none&_totalMethod=count", "asked for twice"),
    ],
)
async def test_total_method_refused_with_the_standard_name(many: Store, query: str, message: str) -> None:
    with pytest.raises(BadRequest) as raised:
        await many.search("Patient", query)
    assert message in raised.value.diagnostics
    assert raised.value.expression == ("_totalMethod",)
