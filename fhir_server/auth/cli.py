"""``fhir-server users|clients|dev-token|launch``: argparse wiring and testable async handlers.

The account and client commands are the operations of ``/admin`` (``user_admin``,
``client_admin``); they reach a running server's database through ``store.mongo.open_database``,
and the server notices their revocations within ``revocation_check_seconds``.

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
from fhir_server.auth.client_admin import (
    ClientNotFound,
    ClientView,
    list_clients,
    register_client,
    rotate_credentials,
    set_client_active,
    show_client,
)
from fhir_server.auth.clients import ClientError, ClientKind
from fhir_server.auth.devtoken import DevTokenError, first_token_hint, make_dev_token
from fhir_server.auth.launch import LaunchError, create_launch
from fhir_server.auth.roles import ROLES
from fhir_server.auth.urls import AuthUrls
from fhir_server.auth.user_admin import (
    AccountNotFound,
    AccountView,
    create_account,
    list_accounts,
    reset_password,
    set_active,
    set_role,
    set_totp,
    show_account,
)
from fhir_server.auth.users import UserError
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
        view = await create_account(
            db=db,
            username=args.username,
            password=password,
            role=args.role,
            practitioner=args.practitioner,
            practitioner_role=args.practitioner_role,
            fhir_user=args.fhir_user,
            must_change_password=args.must_change_password,
            totp_required=args.totp,
        )
    except UserError as error:
        return _fail(str(error))
    print(f"created user {view.username} (role {view.role})")
    return 0


def _account_line(view: AccountView) -> str:
    state = "active" if view.can_sign_in else ("disabled" if not view.active else "inactive in FHIR")
    links = " ".join(
        part
        for part in (
            f"fhirUser={view.fhir_user}" if view.fhir_user else "",
            f"PractitionerRole/{view.practitioner_role}" if view.practitioner_role else "",
            "totp" if view.totp_enrolled else ("totp-required" if view.totp_required else ""),
            "must-change-password" if view.must_change_password else "",
        )
        if part
    )
    return f"{view.username}\t{view.role or '-'}\t{state}\t{links}".rstrip()


async def users_list(args: argparse.Namespace, settings: Settings, db: store.Database | None) -> int:
    assert db is not None
    views = await list_accounts(db=db)
    if args.json:
        print(json.dumps([view.as_json() for view in views], indent=2))
    else:
        for view in views:
            print(_account_line(view))
    return 0


async def _account_command(work: Awaitable[AccountView], done: str, as_json: bool = False) -> int:
    try:
        view = await work
    except AccountNotFound as error:
        return _fail(f"no account {error}")
    except UserError as error:
        return _fail(str(error))
    print(json.dumps(view.as_json(), indent=2) if as_json else f"{done}: {_account_line(view)}")
    return 0


async def users_show(args: argparse.Namespace, settings: Settings, db: store.Database | None) -> int:
    assert db is not None
    return await _account_command(show_account(db=db, username=args.username), "", as_json=True)


async def users_disable(args: argparse.Namespace, settings: Settings, db: store.Database | None) -> int:
    assert db is not None
    return await _account_command(
        set_active(db=db, username=args.username, active=False), "disabled (tokens end within a minute)"
    )


async def users_enable(args: argparse.Namespace, settings: Settings, db: store.Database | None) -> int:
    assert db is not None
    return await _account_command(set_active(db=db, username=args.username, active=True), "enabled")


async def users_set_role(args: argparse.Namespace, settings: Settings, db: store.Database | None) -> int:
    assert db is not None
    return await _account_command(
        set_role(db=db, username=args.username, role=args.role), "role changed (tokens end within a minute)"
    )


async def users_reset_password(
    args: argparse.Namespace, settings: Settings, db: store.Database | None
) -> int:
    assert db is not None
    try:
        password = None if args.link else read_password(args.password_env)
        result = await reset_password(
            db=db,
            username=args.username,
            mode="link" if args.link else "temporary",
            link_base=AuthUrls.from_settings(settings).password_reset,
            lifetime=settings.password_reset_lifetime,
            password=password,
        )
    except AccountNotFound as error:
        return _fail(f"no account {error}")
    except UserError as error:
        return _fail(str(error))
    if result.link:
        print(f"one-time link (valid {result.expires_in} s; give it to the user only): {result.link}")
    else:
        print("temporary password set: the user must choose a new one at next sign-in")
    return 0


async def users_totp(args: argparse.Namespace, settings: Settings, db: store.Database | None) -> int:
    assert db is not None
    required = True if args.require else (False if args.no_require else None)
    return await _account_command(
        set_totp(db=db, username=args.username, remove=args.remove, required=required), "updated"
    )


async def clients_create(args: argparse.Namespace, settings: Settings, db: store.Database | None) -> int:
    assert db is not None
    try:
        jwks: dict[str, Any] | None = json.loads(read_text(args.jwks_file)) if args.jwks_file else None
        registered = await register_client(
            db=db,
            kind=ClientKind(args.kind),
            name=args.name,
            scope=args.scope,
            role=args.role,
            fhir_user=args.fhir_user,
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


def _client_line(view: ClientView) -> str:
    state = "active" if view.active else "disabled"
    return f"{view.client_id}\t{view.kind}\t{state}\t{view.name}"


async def clients_list(args: argparse.Namespace, settings: Settings, db: store.Database | None) -> int:
    assert db is not None
    views = await list_clients(db=db)
    if args.json:
        print(json.dumps([view.as_json() for view in views], indent=2))
    else:
        for view in views:
            print(_client_line(view))
    return 0


async def _client_command(work: Awaitable[ClientView], done: str) -> int:
    try:
        view = await work
    except ClientNotFound as error:
        return _fail(f"no client {error}")
    print(f"{done}: {_client_line(view)}")
    return 0


async def clients_show(args: argparse.Namespace, settings: Settings, db: store.Database | None) -> int:
    assert db is not None
    try:
        view = await show_client(db=db, client_id=args.client_id)
    except ClientNotFound as error:
        return _fail(f"no client {error}")
    print(json.dumps(view.as_json(), indent=2))
    return 0


async def clients_disable(args: argparse.Namespace, settings: Settings, db: store.Database | None) -> int:
    assert db is not None
    return await _client_command(
        set_client_active(db=db, client_id=args.client_id, active=False),
        "disabled (tokens end within a minute)",
    )


async def clients_enable(args: argparse.Namespace, settings: Settings, db: store.Database | None) -> int:
    assert db is not None
    return await _client_command(set_client_active(db=db, client_id=args.client_id, active=True), "enabled")


async def clients_rotate(args: argparse.Namespace, settings: Settings, db: store.Database | None) -> int:
    assert db is not None
    try:
        jwks: dict[str, Any] | None = json.loads(read_text(args.jwks_file)) if args.jwks_file else None
        rotated = await rotate_credentials(db=db, client_id=args.client_id, jwks=jwks, jwks_uri=args.jwks_url)
    except ClientNotFound as error:
        return _fail(f"no client {error}")
    except (ClientError, OSError, ValueError) as error:
        return _fail(str(error))
    if rotated.secret:
        print(f"client_secret: {rotated.secret}  (shown once; store it now)")
    print(f"rotated (the client's tokens end within a minute): {_client_line(rotated.view)}")
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


def _add_user_commands(subparsers: Any) -> None:
    users = subparsers.add_parser("users", help="manage clinic user accounts").add_subparsers(
        dest="users_command"
    )
    new = users.add_parser("create", help="create an account (linked to its staff records, if given)")
    new.add_argument("--username", required=True)
    new.add_argument("--role", choices=list(ROLES), help="omit when --practitioner-role names one")
    new.add_argument("--practitioner", help="Practitioner id of the staff member")
    new.add_argument("--practitioner-role", help="PractitionerRole id whose code is the account's role")
    new.add_argument(
        "--fhir-user", help="fhirUser of the tokens, e.g. Practitioner/123 (default: the Practitioner)"
    )
    new.add_argument(
        "--must-change-password", action="store_true", help="ask for a new password at first sign-in"
    )
    new.add_argument("--totp", action="store_true", help="require a one-time code app whatever the role")
    new.add_argument(
        "--password-env", default=PASSWORD_ENV, help=f"variable holding the password (default {PASSWORD_ENV})"
    )
    _handler(new, users_create, needs_db=True)
    listing = users.add_parser("list", help="list accounts")
    listing.add_argument("--json", action="store_true")
    _handler(listing, users_list, needs_db=True)
    for name, handler, help_text in (
        ("show", users_show, "show an account"),
        (
            "disable",
            users_disable,
            "disable an account: its refresh tokens end now, access tokens within a minute",
        ),
        ("enable", users_enable, "enable an account again"),
    ):
        command = users.add_parser(name, help=help_text)
        command.add_argument("username")
        _handler(command, handler, needs_db=True)
    role = users.add_parser("set-role", help="change an account's role (its tokens end)")
    role.add_argument("username")
    role.add_argument("role", choices=list(ROLES))
    _handler(role, users_set_role, needs_db=True)
    reset = users.add_parser("reset-password", help="end the account's tokens and reset its password")
    reset.add_argument("username")
    reset.add_argument(
        "--link", action="store_true", help="print a one-time link instead of setting a password"
    )
    reset.add_argument(
        "--password-env", default=PASSWORD_ENV, help="variable holding the temporary password (else asked)"
    )
    _handler(reset, users_reset_password, needs_db=True)
    codes = users.add_parser("totp", help="remove an account's code app, or require one")
    codes.add_argument("username")
    codes.add_argument("--remove", action="store_true", help="forget the enrolled app (lost phone)")
    choice = codes.add_mutually_exclusive_group()
    choice.add_argument("--require", action="store_true")
    choice.add_argument("--no-require", action="store_true")
    _handler(codes, users_totp, needs_db=True)


def _add_client_commands(subparsers: Any) -> None:
    clients = subparsers.add_parser("clients", help="manage OAuth clients").add_subparsers(
        dest="clients_command"
    )
    new = clients.add_parser("create", help="register a SMART app or backend service")
    new.add_argument("--kind", required=True, choices=[kind.value for kind in ClientKind])
    new.add_argument("--name", required=True)
    new.add_argument("--client-id", help="choose the client id (default: generated)")
    new.add_argument("--scope", help="space-separated scopes the client may be granted")
    new.add_argument("--role", choices=list(ROLES), help="add a role's scopes (system/ for backends)")
    new.add_argument("--fhir-user", help="the resource a backend acts as, e.g. Organization/lab-1")
    new.add_argument("--redirect-uri", action="append", help="repeat for several")
    keys = new.add_mutually_exclusive_group()
    keys.add_argument("--jwks-file", help="file with the client's public JWKS")
    keys.add_argument("--jwks-url", help="URL of the client's public JWKS")
    _handler(new, clients_create, needs_db=True)
    listing = clients.add_parser("list", help="list clients")
    listing.add_argument("--json", action="store_true")
    _handler(listing, clients_list, needs_db=True)
    for name, handler, help_text in (
        ("show", clients_show, "show a client"),
        ("disable", clients_disable, "disable a client: its tokens end"),
        ("enable", clients_enable, "enable a client again"),
    ):
        command = clients.add_parser(name, help=help_text)
        command.add_argument("client_id")
        _handler(command, handler, needs_db=True)
    rotate = clients.add_parser(
        "rotate", help="new secret (confidential-symmetric) or new keys; its tokens end"
    )
    rotate.add_argument("client_id")
    rotated_keys = rotate.add_mutually_exclusive_group()
    rotated_keys.add_argument("--jwks-file", help="file with the new public JWKS")
    rotated_keys.add_argument("--jwks-url", help="URL of the new public JWKS")
    _handler(rotate, clients_rotate, needs_db=True)


def add_subcommands(subparsers: Any) -> None:
    """Register ``users``, ``clients``, ``dev-token`` and ``launch`` on the main CLI's subparsers."""
    _add_user_commands(subparsers)
    _add_client_commands(subparsers)

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
