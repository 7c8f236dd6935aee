"""``fhir-server users|clients|dev-token|launch``: argparse wiring and testable async handlers.

``add_subcommands(subparsers)`` registers the commands; each sets ``auth_handler`` (an async
``(args, settings, db) -> exit code``) and ``auth_needs_db``. The main CLI either calls
``run_auth_command(args, settings)`` (which opens the configured database when needed) or calls the
handler itself with a database it opened.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import os
import sys
from collections.abc import Awaitable, Callable
from typing import Any, Final, TextIO

from fhir_server.auth import store
from fhir_server.auth.clients import ClientError, ClientKind, create_client
from fhir_server.auth.devtoken import DevTokenError, first_token_hint, make_dev_token
from fhir_server.auth.launch import LaunchError, create_launch
from fhir_server.auth.roles import ROLES
from fhir_server.auth.scopes import ScopeContext
from fhir_server.auth.urls import AuthUrls
from fhir_server.auth.users import UserError, create_user
from fhir_server.settings import Settings

__all__ = ["add_subcommands", "first_token_hint", "run_auth_command"]

PASSWORD_ENV: Final = "FHIR_NEW_USER_PASSWORD"
AuthHandler = Callable[[argparse.Namespace, Settings, store.Database | None], Awaitable[int]]


def read_text(path: str) -> str:
    with open(path, encoding="utf-8") as handle:
        return handle.read()


def _fail(message: str, err: TextIO | None = None) -> int:
    print(f"error: {message}", file=err or sys.stderr)
    return 2


def read_password(env_var: str, prompt: Callable[[str], str] = getpass.getpass) -> str:
    """The new user's password: from ``env_var`` if set, else asked twice on the terminal."""
    from_env = os.environ.get(env_var)
    if from_env:
        return from_env
    first = prompt("Password: ")
    if first != prompt("Repeat password: "):
        raise UserError("passwords differ")
    return first


async def users_create(args: argparse.Namespace, settings: Settings, db: store.Database | None) -> int:
    assert db is not None
    try:
        password = read_password(args.password_env)
        user = await create_user(
            db=db, username=args.username, password=password, role=args.role, fhir_user=args.fhir_user
        )
    except UserError as error:
        return _fail(str(error))
    print(f"created user {user['_id']} (role {user['role']})")
    return 0


def _client_scopes(args: argparse.Namespace) -> str:
    if args.role is None:
        return str(args.scope or "")
    context = ScopeContext.SYSTEM if args.kind == ClientKind.BACKEND else ScopeContext.USER
    role_scopes = [scope.to_v2() for scope in ROLES[args.role].clinical_scopes(context)]
    return " ".join([*(args.scope or "").split(), *role_scopes])


async def clients_create(args: argparse.Namespace, settings: Settings, db: store.Database | None) -> int:
    assert db is not None
    try:
        jwks: dict[str, Any] | None = json.loads(read_text(args.jwks_file)) if args.jwks_file else None
        registered = await create_client(
            db=db,
            kind=ClientKind(args.kind),
            name=args.name,
            scopes=_client_scopes(args),
            redirect_uris=args.redirect_uri or [],
            jwks=jwks,
            jwks_uri=args.jwks_url,
            client_id=args.client_id,
        )
    except (ClientError, OSError, ValueError) as error:
        return _fail(str(error))
    urls = AuthUrls.from_settings(settings)
    print(f"client_id: {registered.document['_id']}")
    if registered.secret:
        print(f"client_secret: {registered.secret}  (shown once; store it now)")
    print(f"scopes: {' '.join(registered.document['scopes'])}")
    print(f"token endpoint: {urls.token}")
    return 0


async def dev_token(args: argparse.Namespace, settings: Settings, db: store.Database | None) -> int:
    try:
        token = make_dev_token(
            settings=settings,
            scope=args.scope,
            patient=args.patient,
            fhir_user=args.fhir_user,
            allow_wildcard=args.allow_wildcard,
            lifetime=args.lifetime,
        )
    except DevTokenError as error:
        return _fail(str(error))
    print(token)
    return 0


async def launch_create(args: argparse.Namespace, settings: Settings, db: store.Database | None) -> int:
    assert db is not None
    try:
        created = await create_launch(
            db=db,
            patient=args.patient,
            encounter=args.encounter,
            client_id=args.client_id,
            username=args.username,
            created_by="cli",
        )
    except LaunchError as error:
        return _fail(str(error))
    base = AuthUrls.from_settings(settings).fhir_base
    print(f"launch: {created.launch}  (valid {created.expires_in} s, once)")
    print(f"open the app's launch URL with ?launch={created.launch}&iss={base}")
    return 0


def _handler(parser: argparse.ArgumentParser, handler: AuthHandler, *, needs_db: bool) -> None:
    parser.set_defaults(handler=run_from_main, auth_handler=handler, auth_needs_db=needs_db)


def run_from_main(args: argparse.Namespace) -> int:
    """The ``handler(args) -> int`` the main CLI calls: settings from the environment."""
    from fhir_server.settings import get_settings

    return asyncio.run(run_auth_command(args, get_settings()))


def add_subcommands(subparsers: Any) -> None:
    """Register ``users``, ``clients``, ``dev-token`` and ``launch`` on the main CLI's subparsers."""
    users = subparsers.add_parser("users", help="manage clinic users").add_subparsers(dest="users_command")
    users_new = users.add_parser("create", help="create a clinic user")
    users_new.add_argument("--username", required=True)
    users_new.add_argument("--role", required=True, choices=list(ROLES))
    users_new.add_argument("--fhir-user", help="the user's FHIR resource, e.g. Practitioner/123")
    users_new.add_argument(
        "--password-env", default=PASSWORD_ENV, help=f"variable holding the password (default {PASSWORD_ENV})"
    )
    _handler(users_new, users_create, needs_db=True)

    clients = subparsers.add_parser("clients", help="manage OAuth clients").add_subparsers(
        dest="clients_command"
    )
    clients_new = clients.add_parser("create", help="register a SMART app or backend service")
    clients_new.add_argument("--kind", required=True, choices=[kind.value for kind in ClientKind])
    clients_new.add_argument("--name", required=True)
    clients_new.add_argument("--client-id", help="choose the client id (default: generated)")
    clients_new.add_argument("--scope", help="space-separated scopes the client may be granted")
    clients_new.add_argument("--role", choices=list(ROLES), help="add a role's scopes (system/ for backends)")
    clients_new.add_argument("--redirect-uri", action="append", help="repeat for several")
    keys = clients_new.add_mutually_exclusive_group()
    keys.add_argument("--jwks-file", help="file with the client's public JWKS")
    keys.add_argument("--jwks-url", help="URL of the client's public JWKS")
    _handler(clients_new, clients_create, needs_db=True)

    token = subparsers.add_parser("dev-token", help="print a signed access token for exactly these scopes")
    token.add_argument("--scope", required=True, help="e.g. 'user/Patient.rs patient/Observation.rs'")
    token.add_argument("--patient", help="patient id for patient/ scopes")
    token.add_argument("--fhir-user", help="e.g. Practitioner/123")
    token.add_argument("--allow-wildcard", action="store_true", help="permit '*' resource types")
    token.add_argument("--lifetime", type=int, help="seconds (default: the access token lifetime)")
    _handler(token, dev_token, needs_db=False)

    launch = subparsers.add_parser("launch", help="create an EHR launch context for an app")
    launch.add_argument("--patient", required=True, help="patient id")
    launch.add_argument("--encounter", help="encounter id")
    launch.add_argument("--client-id", help="bind the launch to this client")
    launch.add_argument("--username", help="bind the launch to this user")
    _handler(launch, launch_create, needs_db=True)


async def run_auth_command(args: argparse.Namespace, settings: Settings) -> int:
    """Run the handler ``add_subcommands`` set, opening the configured database if it needs one."""
    handler: AuthHandler = args.auth_handler
    if not args.auth_needs_db:
        return await handler(args, settings, None)
    from fhir_server.store.mongo import open_database

    async with open_database(settings) as db:
        return await handler(args, settings, db)
