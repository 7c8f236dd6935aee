"""``fhir-server audit verify | export | expire``: the audit log from the command line.

* ``verify`` walks the hash chain and names every event that was changed, removed or put in
  (exit status 1 when it finds any).
* ``export --since --until`` writes AuditEvents recorded in [since, until) as NDJSON, for a SIEM;
  the export is itself recorded (an AuditEvent of type Export).
* ``expire`` removes events older than the retention (``FHIR_AUDIT_RETENTION_DAYS``) now; a
  running server does the same daily.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from fhir_server.audit.events import Caller, Server, What, audit_event
from fhir_server.audit.trail import AuditTrail
from fhir_server.audit.vocabulary import ENTITY_SYSTEM_OBJECT, SECURITY_EVENTS, SecurityEventKind
from fhir_server.audit.writer import AuditWriter
from fhir_server.conformance.registry import ConformanceRegistry
from fhir_server.errors import BadRequest
from fhir_server.fhirdates import parse_instant
from fhir_server.jsonio import dump_json
from fhir_server.search.indexer import SearchIndexer
from fhir_server.settings import Settings, get_settings
from fhir_server.store.audit_chain import ChainKey
from fhir_server.store.audit_log import AUDIT_EVENT, AuditLog
from fhir_server.store.mongo import open_database
from fhir_server.store.repository import now
from fhir_server.store.schema import Schema

OPERATOR = Caller(subject="cli", client_id="fhir-server-cli", fhir_user=None, origin=None, request_id=None)


def _moment(value: str, name: str) -> datetime:
    try:
        return parse_instant(value, name=name)
    except BadRequest as error:
        raise argparse.ArgumentTypeError(error.diagnostics) from None


async def _with_log(settings: Settings, work: str, args: argparse.Namespace, out: IO[bytes]) -> int:
    async with open_database(settings) as db:
        registry = ConformanceRegistry.create()
        indexer = SearchIndexer(registry, base_url=settings.base_url)
        log = AuditLog(db=db, indexer=indexer, key=ChainKey.of(settings.audit_chain_key))
        if work == "verify":
            return await _verify(log)
        server = Server(settings.base_url.rstrip("/"))
        schema = Schema(db, lambda _type: [])
        await schema.create_shared()
        writer = AuditWriter(
            log=log,
            server=server,
            indexer=indexer,
            interval=settings.audit_flush_interval,
            max_pending=settings.audit_max_pending,
            prepare=lambda: schema.ready([AUDIT_EVENT]),
        )
        trail = AuditTrail(
            log=log, writer=writer, server=server, retention_days=settings.audit_retention_days
        )
        try:
            if work == "export":
                return await _export(trail, args, out)
            removed = await trail.expire()
            print(f"removed {removed} AuditEvents older than {settings.audit_retention_days} days")
            return 0
        finally:
            await writer.close()


async def _verify(log: AuditLog) -> int:
    report = await log.verify()
    span = f"events {report.first}..{report.last}" if report.first is not None else "no events"
    print(f"checked {report.checked} {span}; chain head {report.head_link}")
    for problem in report.problems:
        print(f"TAMPERED: {problem}")
    if report.intact:
        print("the audit log is intact")
    return 0 if report.intact else 1


async def _export(trail: AuditTrail, args: argparse.Namespace, out: IO[bytes]) -> int:
    since: datetime = args.since
    until: datetime = args.until or datetime.now(UTC)
    count = 0
    async for event in trail.log.export(since=since, until=until):
        out.write(dump_json(event) + b"\n")
        count += 1
    out.flush()
    event_type, subtypes, action = SECURITY_EVENTS[SecurityEventKind.AUDIT_EXPORTED]
    record = audit_event(
        what=What(subtypes=list(subtypes), action=action, status=200, event_type=event_type),
        caller=OPERATOR,
        server=trail.server,
        recorded=now(),
        entities=[
            {
                "type": ENTITY_SYSTEM_OBJECT,
                "description": f"AuditEvents recorded from {since.isoformat()} until {until.isoformat()}",
                "detail": [{"type": "count", "valueString": str(count)}],
            }
        ],
    )
    await trail.writer.flush(force=True)
    await trail.log.append([record])
    print(f"exported {count} AuditEvents", file=sys.stderr)
    return 0


def _handle(args: argparse.Namespace) -> int:
    settings = get_settings()
    if getattr(args, "output", None):
        with open(args.output, "wb") as out:
            return asyncio.run(_with_log(settings, args.audit_command, args, out))
    return asyncio.run(_with_log(settings, args.audit_command, args, sys.stdout.buffer))


def add_subcommand(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Install ``audit`` into the ``fhir-server`` command."""
    parser = subparsers.add_parser("audit", help="verify, export or expire the audit log")
    commands = parser.add_subparsers(dest="audit_command", required=True)
    verify = commands.add_parser(
        "verify", help="check the hash chain: exit 1 naming each event changed, removed or added"
    )
    verify.set_defaults(handler=_handle)
    export = commands.add_parser("export", help="write AuditEvents as NDJSON (for a SIEM)")
    export.add_argument(
        "--since",
        required=True,
        type=lambda v: _moment(v, "--since"),
        help="first instant (FHIR date or instant)",
    )
    export.add_argument(
        "--until", type=lambda v: _moment(v, "--until"), help="end instant, excluded (default: now)"
    )
    export.add_argument("--output", type=Path, help="file to write (default: standard output)")
    export.set_defaults(handler=_handle)
    expire = commands.add_parser("expire", help="remove events older than FHIR_AUDIT_RETENTION_DAYS now")
    expire.set_defaults(handler=_handle)
