"""Keyset paging: links, stability under concurrent writes, previous pages, tokens, counts, sorting."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from fhir_server.errors import BadRequest
from tests.search.conftest import BASE, Store


def patient(index: int, **rest: Any) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "id": f"p{index:02d}",
        "gender": "female" if index % 2 else "male",
        **rest,
    }


def link(bundle: dict[str, Any], relation: str) -> str | None:
    return next((item["url"] for item in bundle["link"] if item["relation"] == relation), None)


def params_of(url: str) -> list[tuple[str, str]]:
    return parse_qsl(urlsplit(url).query, keep_blank_values=True)


def ids(bundle: dict[str, Any]) -> list[str]:
    return [e["resource"]["id"] for e in bundle.get("entry", []) if e["search"]["mode"] == "match"]


async def walk(store: Store, resource_type: str | None, query: str) -> list[list[str]]:
    pages = []
    bundle = await store.search(resource_type, query)
    while True:
        pages.append(ids(bundle))
        following = link(bundle, "next")
        if following is None:
            return pages
        bundle = await store.search(resource_type, params_of(following))


@pytest.fixture
async def many(store: Store) -> Store:
    await store.put(*(patient(i) for i in range(25)))
    return store


async def test_pages_cover_everything_once(many: Store) -> None:
    pages = await walk(many, "Patient", "_count=10")
    assert [len(p) for p in pages] == [10, 10, 5]
    flat = [i for page in pages for i in page]
    assert flat == sorted(flat) == [f"p{i:02d}" for i in range(25)]


async def test_links(many: Store) -> None:
    first = await many.search("Patient", "gender=male&_count=5")
    assert link(first, "self") == f"{BASE}/Patient?gender=male&_count=5"
    assert link(first, "first") == f"{BASE}/Patient?gender=male&_count=5"
    assert link(first, "previous") is None
    following = link(first, "next")
    assert following is not None and following.startswith(f"{BASE}/Patient?gender=male&_count=5&_page=")
    token = dict(params_of(following))["_page"]
    assert len(token) < 120  # short and opaque
    second = await many.search("Patient", params_of(following))
    assert link(second, "self") == following
    previous = link(second, "previous")
    assert previous is not None
    back = await many.search("Patient", params_of(previous))
    assert ids(back) == ids(first)
    assert ids(second) == ["p10", "p12", "p14", "p16", "p18"]


async def test_previous_from_the_last_page(many: Store) -> None:
    bundle = await many.search("Patient", "_count=10")
    pages = [ids(bundle)]
    while (following := link(bundle, "next")) is not None:
        bundle = await many.search("Patient", params_of(following))
        pages.append(ids(bundle))
    previous = link(bundle, "previous")
    assert previous is not None
    middle = await many.search("Patient", params_of(previous))
    assert ids(middle) == pages[1]
    before = link(middle, "previous")
    assert before is not None
    assert ids(await many.search("Patient", params_of(before))) == pages[0]
    assert link(await many.search("Patient", params_of(before)), "previous") is None


async def test_stable_under_concurrent_writes(many: Store) -> None:
    first = await many.search("Patient", "_count=10")
    seen = ids(first)
    many.clock = datetime.now(UTC)  # the writes below happen after the search started
    # between pages: a new resource sorting before and one after the cursor, a deletion ahead,
    # and an update of one resource not yet seen
    await many.put({"resourceType": "Patient", "id": "p05a"}, {"resourceType": "Patient", "id": "p15a"})
    await many.delete("Patient", "p12")
    await many.put(patient(20, active=True))
    bundle = first
    while (following := link(bundle, "next")) is not None:
        bundle = await many.search("Patient", params_of(following))
        seen += ids(bundle)
    unchanged = [f"p{i:02d}" for i in range(25) if i not in (12, 20)]
    assert len(seen) == len(set(seen))  # nothing repeated
    assert set(unchanged) <= set(seen)  # nothing that existed unchanged was skipped
    assert "p05a" not in seen and "p15a" not in seen  # created after the search started


async def test_sorted_paging_with_ties(store: Store) -> None:
    birthdates = ["1990-01-01", "1980-05-05", "1990-01-01", None, "1970-02-02", "1990-01-01", "1980-05-05"]
    await store.put(*(patient(i, **({"birthDate": b} if b else {})) for i, b in enumerate(birthdates)))
    ascending = [i for page in await walk(store, "Patient", "_sort=birthdate&_count=2") for i in page]
    assert ascending == ["p04", "p01", "p06", "p00", "p02", "p05", "p03"]  # ties by id, missing last
    descending = [i for page in await walk(store, "Patient", "_sort=-birthdate&_count=2") for i in page]
    assert descending == ["p00", "p02", "p05", "p01", "p06", "p04", "p03"]
    # walking back from the last page gives the same pages in reverse
    bundle = await store.search("Patient", "_sort=-birthdate&_count=2")
    forward = [ids(bundle)]
    while (following := link(bundle, "next")) is not None:
        bundle = await store.search("Patient", params_of(following))
        forward.append(ids(bundle))
    backward = [ids(bundle)]
    while (previous := link(bundle, "previous")) is not None:
        bundle = await store.search("Patient", params_of(previous))
        backward.append(ids(bundle))
    assert backward == list(reversed(forward))
    by_two = [i for page in await walk(store, "Patient", "_sort=gender,-birthdate&_count=3") for i in page]
    assert by_two == ["p05", "p01", "p03", "p00", "p02", "p06", "p04"]  # female first, then male


async def test_sort_by_string_and_last_updated(store: Store) -> None:
    await store.put(
        {"resourceType": "Patient", "id": "a", "name": [{"family": "Zeta"}]},
        {"resourceType": "Patient", "id": "b", "name": [{"family": "Émile"}]},
        {"resourceType": "Patient", "id": "c", "name": [{"family": "alpha"}]},
    )
    assert await store.ids("Patient", "_sort=family") == ["a", "b", "c"]  # ids() sorts; check order below
    bundle = await store.search("Patient", "_sort=family")
    assert ids(bundle) == ["c", "b", "a"]  # case and accents folded
    assert ids(await store.search("Patient", "_sort=-_lastUpdated")) == ["c", "b", "a"]
    assert ids(await store.search("Patient", "_sort=-_id")) == ["c", "b", "a"]


async def test_count_and_total(many: Store) -> None:
    only_count = await many.search("Patient", "gender=female&_count=0")
    assert only_count["total"] == 12 and "entry" not in only_count
    summary = await many.search("Patient", "_summary=count")
    assert summary["total"] == 25 and "entry" not in summary
    accurate = await many.search("Patient", "_count=5&_total=accurate")
    assert accurate["total"] == 25 and len(ids(accurate)) == 5
    assert (await many.search("Patient", "_count=5"))["total"] == 25  # cheap: present by default
    assert "total" not in await many.search("Patient", "_count=5&_total=none")
    assert (await many.search("Patient", "_total=estimate"))["total"] == 25
    many.settings.max_page_size = 7
    assert len(ids(await many.search("Patient", "_count=100"))) == 7
    many.settings.default_page_size = 4
    assert len(ids(await many.search("Patient", ""))) == 4


@pytest.mark.parametrize("token", ["garbage!", "eyJ4IjoxfQ", ""])
async def test_bad_tokens_are_rejected(many: Store, token: str) -> None:
    with pytest.raises(BadRequest) as raised:
        await many.search("Patient", [("_count", "5"), ("_page", token)])
    assert raised.value.expression == ("_page",)


async def test_token_from_another_search_is_rejected(many: Store) -> None:
    first = await many.search("Patient", "gender=male&_count=5")
    following = link(first, "next")
    assert following is not None
    token = dict(params_of(following))["_page"]
    with pytest.raises(BadRequest):
        await many.search("Patient", [("gender", "female"), ("_count", "5"), ("_page", token)])
