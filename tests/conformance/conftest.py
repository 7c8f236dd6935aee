"""Fixtures for the conformance tests: one validator per session and the shipped example instances."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from fhir_server.conformance.validator import ProfileValidator

REPO = Path(__file__).resolve().parents[2]
PROFILES = REPO / "profiles"
EXAMPLES = PROFILES / "examples"
CLINIC = "http://clinic.example.org/fhir"

JsonDict = dict[str, Any]


def read_json(path: Path) -> JsonDict:
    data: JsonDict = orjson.loads(path.read_bytes())
    return data


def example_paths() -> list[Path]:
    return sorted(EXAMPLES.glob("*.json"))


@pytest.fixture(scope="session")
def validator() -> ProfileValidator:
    return ProfileValidator.from_directories([PROFILES])


@pytest.fixture(scope="session")
def examples() -> dict[str, JsonDict]:
    """Example id -> example resource (``clinic-patient-example`` ...)."""
    return {path.stem.partition("-")[2]: read_json(path) for path in example_paths()}


@pytest.fixture
def example(examples: dict[str, JsonDict]) -> Callable[[str], JsonDict]:
    """A fresh, mutable copy of an example by id."""

    def get(example_id: str) -> JsonDict:
        return copy.deepcopy(examples[example_id])

    return get
