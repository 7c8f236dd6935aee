"""``fhir-server import-clinic FILE.json``: a clinic's own export, in one transaction.

The file's layout (docs/clinic-import.md) is the clinic's plain records (``mappers``), one list per
kind, that refer to one another by key. It is checked first (pydantic, plus keys used twice and
plans addressing a visit without a diagnosis), every problem named by its place in the file; then
the records become ONE transaction Bundle (``mappers.bundle``) run by the server's own bundle
code: everything is written, or nothing. The resources' ids derive from the records' keys, so
running the same file again (after a crash, or by mistake) stores no second copy.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import mimetypes
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, ValidationError, ValidationInfo, model_validator
from rich.console import Console
from rich.table import Table
from rich.text import Text

from fhir_server.assembly import assembled
from fhir_server.context import Principal, RequestContext
from fhir_server.errors import FhirError
from fhir_server.importer.stable_ids import with_stable_ids
from fhir_server.interactions.bundle import process_bundle
from fhir_server.interactions.pipeline import Pipeline
from fhir_server.settings import Settings, get_settings
from fhir_server.store.mongo import open_database
from mappers.appointment import AppointmentRequest
from mappers.bundle import ClinicRecord, build_transaction
from mappers.common import MappingError
from mappers.doctor import Doctor
from mappers.documents import ClinicalDocument, PatientImage
from mappers.finance import Expense, OtherIncome
from mappers.medical_record import MedicalRecord
from mappers.patient import PatientRecord
from mappers.procedure import ProcedureRecord
from mappers.staff import StaffMember
from mappers.treatment_plan import TreatmentPlan

_ENTRY_EXPRESSION = re.compile(r"^Bundle\.entry\[(\d+)\]")
LAYOUT_INVALID = 2  # exit status: the file was refused before anything was written
IMPORT_FAILED = 1  # exit status: the server refused the transaction, nothing was written


# ----- the layout ----------------------------------------------------------------------------------


def _load_content(data: Any, info: ValidationInfo) -> Any:
    """``data_base64`` or ``path`` (relative to the JSON file) become the record's ``data`` bytes;
    a file's name and guessed type fill ``title`` and ``content_type`` when absent."""
    if not isinstance(data, dict):
        return data
    data = dict(data)
    encoded, path = data.pop("data_base64", None), data.pop("path", None)
    if "data" in data:
        raise ValueError("give the bytes as data_base64 or as a path to a file, not as data")
    if encoded is not None and path is not None:
        raise ValueError("give data_base64 or path, not both")
    if encoded is not None:
        try:
            data["data"] = base64.b64decode(str(encoded), validate=True)
        except binascii.Error:
            raise ValueError("data_base64 is not valid base64") from None
    if path is not None:
        base_dir = Path((info.context or {}).get("base_dir", "."))
        try:
            data["data"] = (base_dir / str(path)).read_bytes()
        except OSError as error:
            raise ValueError(f"cannot read {path}: {error.strerror}") from None
        data.setdefault("title", Path(str(path)).name)
        guessed, _ = mimetypes.guess_type(str(path))
        if guessed is not None:
            data.setdefault("content_type", guessed)
    return data


class DocumentEntry(ClinicalDocument):
    """A clinical document of the file: ``data_base64``, ``path`` or ``url`` instead of ``data``."""

    @model_validator(mode="before")
    @classmethod
    def _content(cls, data: Any, info: ValidationInfo) -> Any:
        return _load_content(data, info)


class ImageEntry(PatientImage):
    """A patient image of the file: ``data_base64``, ``path`` or ``url`` instead of ``data``."""

    @model_validator(mode="before")
    @classmethod
    def _content(cls, data: Any, info: ValidationInfo) -> Any:
        return _load_content(data, info)


# Sections in file (and Bundle) order; sections sharing a key space are checked together.
_KEY_SPACES: dict[str, str] = {
    "doctors": "staff number",
    "staff": "staff number",
    "patients": "MRN",
    "appointments": "appointment",
    "medical_records": "visit",
    "treatment_plans": "treatment plan",
    "procedures": "procedure",
    "expenses": "expense",
    "incomes": "income",
    "documents": "document",
    "images": "image",
}


class ClinicExport(BaseModel):
    """The whole file. ``currency`` is the default of the expenses' and incomes' own ``currency``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: Literal[1] = 1
    currency: str | None = None
    doctors: tuple[Doctor, ...] = ()
    staff: tuple[StaffMember, ...] = ()
    patients: tuple[PatientRecord, ...] = ()
    appointments: tuple[AppointmentRequest, ...] = ()
    medical_records: tuple[MedicalRecord, ...] = ()
    treatment_plans: tuple[TreatmentPlan, ...] = ()
    procedures: tuple[ProcedureRecord, ...] = ()
    expenses: tuple[Expense, ...] = ()
    incomes: tuple[OtherIncome, ...] = ()
    documents: tuple[DocumentEntry, ...] = ()
    images: tuple[ImageEntry, ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _default_currency(cls, data: Any, info: ValidationInfo) -> Any:
        if not isinstance(data, dict):
            return data
        currency = data.get("currency") or (info.context or {}).get("currency")
        data = dict(data)
        for section in ("expenses", "incomes"):
            items = data.get(section)
            if isinstance(items, list) and currency is not None:
                data[section] = [
                    {"currency": currency, **item} if isinstance(item, dict) else item for item in items
                ]
        return data

    def records(self) -> Iterator[tuple[str, ClinicRecord]]:
        """(place in the file, record) of every record, in file order (``patients[2]``)."""
        for section in _KEY_SPACES:
            for index, record in enumerate(getattr(self, section)):
                yield f"{section}[{index}]", record


class LayoutError(Exception):
    """The file cannot be imported; ``problems`` name each place (``patients[2].gender: ...``)."""

    def __init__(self, path: Path, problems: Sequence[str]) -> None:
        super().__init__(f"{path}: {len(problems)} problem(s)")
        self.path = path
        self.problems = list(problems)


def _place(location: Sequence[int | str]) -> str:
    text = ""
    for part in location:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(file)"


def _consistency_problems(export: ClinicExport) -> list[str]:
    """Keys used twice in a key space, and plans addressing the diagnosis of a visit that has none."""
    problems: list[str] = []
    seen: dict[tuple[str, str], str] = {}
    for place, record in export.records():
        space = _KEY_SPACES[place.split("[", 1)[0]]
        first = seen.setdefault((space, record.key), place)
        if first != place:
            problems.append(f"{place}.key: this {space} is already used by {first}")
    undiagnosed = {visit.key for visit in export.medical_records if visit.diagnosis is None}
    for index, plan in enumerate(export.treatment_plans):
        if plan.addresses_diagnosis and plan.visit in undiagnosed:
            problems.append(
                f"treatment_plans[{index}].addresses_diagnosis: the visit it names has no diagnosis"
            )
    return problems


def load_clinic_file(path: Path, *, currency: str | None = None) -> ClinicExport:
    """Read and check a clinic export; :class:`LayoutError` lists every problem found.

    ``currency`` is used for amounts when the file names none (the server's clinic currency)."""
    try:
        data = orjson.loads(path.read_bytes())
    except OSError as error:
        raise LayoutError(path, [f"cannot read the file: {error.strerror}"]) from None
    except orjson.JSONDecodeError as error:
        raise LayoutError(path, [f"not valid JSON: {error}"]) from None
    try:
        export = ClinicExport.model_validate(data, context={"base_dir": path.parent, "currency": currency})
    except ValidationError as error:
        problems = [f"{_place(item['loc'])}: {item['msg']}" for item in error.errors(include_url=False)]
        raise LayoutError(path, problems) from None
    problems = _consistency_problems(export)
    if problems:
        raise LayoutError(path, problems)
    return export


# ----- the import ----------------------------------------------------------------------------------


@dataclass
class ClinicImportReport:
    created: Counter[str] = field(default_factory=Counter)  # per resource type
    existing: Counter[str] = field(default_factory=Counter)  # already there (an earlier run): updated or not
    records: Counter[str] = field(default_factory=Counter)  # per section of the file

    @property
    def resources(self) -> int:
        return sum(self.created.values()) + sum(self.existing.values())


class ClinicImportError(Exception):
    """The server refused the transaction (nothing was written): which record, and why."""

    def __init__(self, place: str | None, status: int, message: str) -> None:
        where = f"{place}: " if place else ""
        super().__init__(f"{where}[{status}] {message}")
        self.place = place
        self.status = status


def _refusal(error: FhirError, places: Sequence[str], origins: Sequence[int]) -> ClinicImportError:
    match = _ENTRY_EXPRESSION.match(error.expression[0]) if error.expression else None
    if match is None:
        return ClinicImportError(None, error.status, error.diagnostics)
    entry = int(match.group(1))
    message = error.diagnostics
    if message.startswith(f"entry {entry}"):  # bundle processing names the entry first: we name the record
        message = message.split(": ", 1)[-1]
    place = places[origins[entry]] if entry < len(origins) else None
    return ClinicImportError(place, error.status, message)


async def import_clinic(
    *, pipeline: Pipeline, ctx: RequestContext, export: ClinicExport
) -> ClinicImportReport:
    """Write every record of ``export`` in one transaction (``ClinicImportError`` when refused)."""
    placed = list(export.records())
    places = [place for place, _ in placed]
    try:
        planned = build_transaction([record for _, record in placed])
    except MappingError as error:  # the layout checks make this unreachable for keys used twice
        raise ClinicImportError(None, 400, str(error)) from None
    report = ClinicImportReport(records=Counter(place.split("[", 1)[0] for place in places))
    if not placed:
        return report
    # The mapped resources' ids derive from the records' keys: importing the file again (after a
    # crash, say) updates the same resources instead of creating copies.
    stable = with_stable_ids(planned.bundle, digest="")
    origins = [planned.origins[source] for source in stable.origins]
    try:
        response = await process_bundle(pipeline=pipeline, ctx=ctx, bundle=stable.bundle, prefer="minimal")
    except FhirError as error:
        raise _refusal(error, places, origins) from None
    for index, entry in enumerate(response.get("entry", [])):
        result = entry.get("response") or {}
        location = result.get("location")
        if isinstance(location, str) and index not in stable.added:
            created = str(result.get("status", "")).startswith("201")
            (report.created if created else report.existing)[location.split("/", 1)[0]] += 1
    return report


async def import_clinic_file(settings: Settings, export: ClinicExport) -> ClinicImportReport:
    """Import into the configured database, with services built as the server builds them."""
    ctx = RequestContext(
        principal=Principal.system(), base_url=settings.base_url.rstrip("/"), request_id="import-clinic"
    )
    async with open_database(settings, command="import-clinic") as db, assembled(settings, db) as pipeline:
        return await import_clinic(pipeline=pipeline, ctx=ctx, export=export)


# ----- the command ---------------------------------------------------------------------------------


def summary_table(report: ClinicImportReport) -> Table:
    table = Table(title="Imported", show_footer=True)
    table.add_column("resource type", footer="total")
    table.add_column("created", justify="right", footer=f"{sum(report.created.values()):,}")
    table.add_column("already there", justify="right", footer=f"{sum(report.existing.values()):,}")
    for name in sorted(set(report.created) | set(report.existing)):
        table.add_row(name, f"{report.created[name]:,}", f"{report.existing[name]:,}")
    return table


def _print_refusal(path: Path, problems: Sequence[str]) -> None:
    errors = Console(stderr=True)
    headline = Text(f"import-clinic: {path} was not imported (nothing written):", style="red")
    errors.print(headline, soft_wrap=True)
    for problem in problems:
        errors.print(Text(f"{path}: {problem}"), soft_wrap=True)


def _handle(args: argparse.Namespace) -> int:
    path = Path(args.file)
    settings = get_settings()
    try:
        if path.is_file() and path.stat().st_size > settings.bundle_max_bytes:
            raise LayoutError(
                path,
                [
                    f"the file is larger than {settings.bundle_max_bytes:,} bytes (FHIR_BUNDLE_MAX_BYTES): "
                    "split it into several files, or raise the limit"
                ],
            )
        export = load_clinic_file(path, currency=settings.clinic_currency)
    except LayoutError as error:
        _print_refusal(path, error.problems)
        return LAYOUT_INVALID
    try:
        report = asyncio.run(import_clinic_file(settings, export))
    except ClinicImportError as error:
        _print_refusal(path, [str(error)])
        return IMPORT_FAILED
    out = Console()
    out.print(summary_table(report))
    records = ", ".join(f"{count} {section.replace('_', ' ')}" for section, count in report.records.items())
    out.print(f"{report.resources:,} resources from {path} ({records or 'no records'})", soft_wrap=True)
    return 0


def add_clinic_subcommand(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Install ``import-clinic`` into the ``fhir-server`` command."""
    parser = subparsers.add_parser(
        "import-clinic",
        help="load a clinic export (doctors, patients, visits, finances ...; docs/clinic-import.md)",
        description="Checks the file, then writes every record in ONE transaction: all or nothing. "
        f"Exits {LAYOUT_INVALID} when the file is invalid (each problem named by its place in the "
        f"file) and {IMPORT_FAILED} when the server refuses the import (naming the record).",
    )
    parser.add_argument("file", metavar="FILE.json", help="the clinic export (JSON)")
    parser.set_defaults(handler=_handle)
