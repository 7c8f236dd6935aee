"""Every official R4B example and every shared Synthea bundle entry passes the write-path validator,
except the official examples that themselves break a rule (named here with the rule)."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from fhir_server.conformance.validator import ProfileValidator
from fhir_server.errors import FhirError
from fhir_server.jsonio import parse_json
from tests.support import SHARED

EXAMPLES = SHARED / "reference" / "fhir-r4b-examples"
SYNTHEA = SHARED / "data"
# example -> (expression, rule) of the error the specification's own example has
BREAKS_A_RULE = {
    "Observation-clinical-gender.json": (
        "Observation.performer[0]",
        "Observation.performer may not be an Encounter",
    ),
    "DiagnosticReport-example-pgx.json": (
        "DiagnosticReport.presentedForm[0].hash",
        "hash is the base64 SHA-1 of data",
    ),
}


def _refusal(validator: ProfileValidator, path: Path) -> str | None:
    try:
        validator.validate_for_write(parse_json(path.read_bytes()))
    except FhirError as error:
        return error.issues()[0].expression[0]
    return None


def test_official_examples_are_accepted(validator: ProfileValidator) -> None:
    paths = sorted(p for p in EXAMPLES.glob("*.json") if not p.name.startswith("_"))
    assert len(paths) > 250
    refused = {p.name: where for p in paths if (where := _refusal(validator, p)) is not None}
    assert refused == {name: where for name, (where, _) in BREAKS_A_RULE.items()}


@pytest.mark.parametrize("path", sorted(SYNTHEA.glob("synthea-*/*.json.gz")), ids=lambda p: p.name[:24])
def test_synthea_entries_are_accepted(validator: ProfileValidator, path: Path) -> None:
    bundle = parse_json(gzip.decompress(path.read_bytes()))
    stored = [validator.validate_for_write(entry["resource"]) for entry in bundle["entry"]]
    assert len(stored) == len(bundle["entry"]) > 0
