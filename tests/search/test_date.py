"""Date search: partial dates as ranges, time zones, Periods and Timings, every prefix, multi-valued
dates (no false positives from different values), and _lastUpdated."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.search.conftest import Store


def obs(oid: str, **effective: Any) -> dict[str, Any]:
    return {"resourceType": "Observation", "id": oid, "status": "final", "code": {"text": "x"}, **effective}


RESOURCES = [
    obs("day", effectiveDateTime="2020-06-15"),
    obs("sec", effectiveDateTime="2020-06-15T10:30:00Z"),
    obs("tz", effectiveDateTime="2020-06-15T23:30:00-04:00"),  # 2020-06-16T03:30Z
    obs("instant", effectiveInstant="2020-06-15T10:30:00.123Z"),
    obs("year", effectiveDateTime="2021"),
    obs("period", effectivePeriod={"start": "2020-06-01", "end": "2020-06-30"}),
    obs("open", effectivePeriod={"start": "2019-01-01"}),
    obs("old", effectiveDateTime="2010-01-01"),
    obs("timing", effectiveTiming={"event": ["2022-01-01", "2022-03-01"]}),
    obs("none"),
]

ALL_2020_JUNE_15 = ["day", "instant", "sec"]


@pytest.fixture
async def loaded(store: Store) -> Store:
    await store.put(*RESOURCES)
    return store


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("date=2020-06-15", ALL_2020_JUNE_15),  # "tz" is on the 16th in UTC
        ("date=eq2020-06-15", ALL_2020_JUNE_15),
        ("date=2020-06", ["day", "instant", "period", "sec", "tz"]),
        ("date=2020", ["day", "instant", "period", "sec", "tz"]),  # "open" has no end: not inside 2020
        ("date=2020-06-16T03:30:00Z", ["tz"]),
        ("date=2020-06-15T23:30:00-04:00", ["tz"]),  # the query's zone is honoured
        ("date=2020-06-15T23:30:00 04:00", []),  # "+" decoded as space: read as +04:00
        ("date=2020-06-15T10:30Z", ["instant", "sec"]),  # minute precision
        ("date=2020-06-15T10:30:00Z", ["instant", "sec"]),
        ("date=2020-06-15T12:30:00+02:00", ["instant", "sec"]),
        ("date=2020-06-15T10:30:00.123Z", ["instant"]),  # millisecond precision
        ("date=gt2020-06-15", ["open", "period", "timing", "tz", "year"]),
        ("date=lt2020-06-15", ["old", "open", "period"]),
        ("date=ge2020-06-15", ["day", "instant", "open", "period", "sec", "timing", "tz", "year"]),
        ("date=le2020-06-15", ["day", "instant", "old", "open", "period", "sec"]),
        ("date=sa2020-06-15", ["timing", "tz", "year"]),
        ("date=eb2020-06-15", ["old"]),
        ("date=ne2020-06", ["old", "open", "timing", "year"]),
        ("date=2022", ["timing"]),  # the Timing's outer limits
        ("date=2022-02", []),
        ("date=gt2022-02-15", ["open", "timing"]),
        ("date=ge2020-06-15&date=lt2020-07", ["day", "instant", "open", "period", "sec", "tz"]),
        ("date=2010,2021", ["old", "year"]),
        ("date:missing=true", ["none"]),
    ],
)
async def test_date_prefixes_and_precision(loaded: Store, query: str, expected: list[str]) -> None:
    assert await loaded.ids("Observation", query) == expected


@pytest.mark.parametrize(
    "value", ["2020-13", "20200615", "2020-06-15T25:00:00Z", "xx2020", "ge", "2020-06-15T10"]
)
async def test_malformed_dates_are_rejected(loaded: Store, value: str) -> None:
    from fhir_server.errors import BadRequest

    with pytest.raises(BadRequest) as raised:
        await loaded.search("Observation", [("date", value)])
    assert raised.value.expression == ("date",)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d")


async def test_approximately(store: Store) -> None:
    now = datetime.now(UTC)
    target = now - timedelta(days=100)  # 10% of the gap: +-10 days
    await store.put(
        obs("near", effectiveDateTime=_iso(target + timedelta(days=5))),
        obs("far", effectiveDateTime=_iso(target + timedelta(days=25))),
    )
    assert await store.ids("Observation", f"date=ap{_iso(target)}") == ["near"]


async def test_multiple_dates_never_combine_across_values(store: Store) -> None:
    now = datetime.now(UTC)
    reactions = [{"date": _iso(now - timedelta(days=200))}, {"date": _iso(now - timedelta(days=20))}]
    await store.put(
        {
            "resourceType": "Immunization",
            "id": "imm-old-new",
            "status": "completed",
            "vaccineCode": {"text": "x"},
            "patient": {"reference": "Patient/1"},
            "occurrenceDateTime": "2019-01-01",
            "reaction": [{"date": "2019-05-01"}, {"date": "2021-05-01"}],
        },
        {
            "resourceType": "Immunization",
            "id": "imm-recent",
            "status": "completed",
            "vaccineCode": {"text": "x"},
            "patient": {"reference": "Patient/1"},
            "occurrenceDateTime": "2019-01-01",
            "reaction": reactions,
        },
    )
    # 2019-05-01 is before 2020 and 2021-05-01 after it: neither value is inside 2020.
    assert await store.ids("Immunization", "reaction-date=2020") == []
    assert await store.ids("Immunization", "reaction-date=2019") == ["imm-old-new"]
    assert await store.ids("Immunization", "reaction-date=ge2021-01-01") == ["imm-old-new", "imm-recent"]
    assert await store.ids("Immunization", "reaction-date=lt2019-12-31") == ["imm-old-new"]
    # ap (now - 100 days, +-10 days): one reaction is 100 days before, the other 80 days after it.
    assert await store.ids("Immunization", f"reaction-date=ap{_iso(now - timedelta(days=100))}") == []
    assert await store.ids("Immunization", f"reaction-date=ap{_iso(now - timedelta(days=22))}") == [
        "imm-recent"
    ]


async def test_last_updated(store: Store) -> None:
    for index in range(3):
        await store.put({"resourceType": "Patient", "id": f"p{index}"})  # lu 00:00:01, :02, :03 (UTC)
    assert await store.ids("Patient", "_lastUpdated=gt2024-01-01T00:00:01Z") == ["p1", "p2"]
    assert await store.ids("Patient", "_lastUpdated=le2024-01-01T00:00:02Z") == ["p0", "p1"]
    assert await store.ids("Patient", "_lastUpdated=2024-01-01T00:00:02Z") == ["p1"]
    assert await store.ids("Patient", "_lastUpdated=2024-01-01") == ["p0", "p1", "p2"]
    assert await store.ids("Patient", "_lastUpdated=2024-01-01T01:00:02+01:00") == ["p1"]
    assert await store.ids("Patient", "_lastUpdated=ne2024-01-01T00:00:02Z") == ["p0", "p2"]
    assert await store.ids("Patient", "_lastUpdated=lt2024-01-01") == []


async def test_birthdate_partial(store: Store) -> None:
    await store.put(
        {"resourceType": "Patient", "id": "full", "birthDate": "1974-12-25"},
        {"resourceType": "Patient", "id": "month", "birthDate": "1974-12"},
        {"resourceType": "Patient", "id": "year", "birthDate": "1974"},
    )
    assert await store.ids("Patient", "birthdate=1974") == ["full", "month", "year"]
    assert await store.ids("Patient", "birthdate=1974-12") == ["full", "month"]
    assert await store.ids("Patient", "birthdate=1974-12-25") == ["full"]
    # a value coarser than the query is not inside it, but reaches beyond it for ge/le
    assert await store.ids("Patient", "birthdate=ge1974-12-25") == ["full", "month", "year"]
    assert await store.ids("Patient", "birthdate=le1974-12-24") == ["month", "year"]
    assert await store.ids("Patient", "birthdate=sa1974-11-30") == ["full", "month"]
    assert await store.ids("Patient", "birthdate=gt1974-12-24") == ["full", "month", "year"]
