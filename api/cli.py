"""`gridwatch keys create|revoke` and `gridwatch mqtt sync`."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Annotated

import typer

from api.keys import ROLES, create_key, revoke_key
from gridwatch.db import connect
from gridwatch.mqtt_auth import write_files
from gridwatch.settings import load_settings

keys_app = typer.Typer(help="API keys (stored hashed).", no_args_is_help=True)
mqtt_app = typer.Typer(help="The broker's credentials and ACL.", no_args_is_help=True)


@keys_app.command("create")
def keys_create(
    role: Annotated[str, typer.Option(help=f"one of {', '.join(ROLES)}")],
    territory: Annotated[str | None, typer.Option(help="territory code (default: city)")] = None,
    name: Annotated[str | None, typer.Option(help="who holds it")] = None,
) -> None:
    """Create a key; it is printed once, as the last line."""
    with connect(load_settings()) as conn:
        try:
            key = create_key(conn, role, territory, name)
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None
    print(
        f"role {role}, territory {territory or 'the whole city'}; keep this key, it is not"
        " shown again:"
    )
    print(key)


@keys_app.command("revoke")
def keys_revoke(key_id: Annotated[str, typer.Argument(help="the part after gw_")]) -> None:
    with connect(load_settings()) as conn:
        if not revoke_key(conn, key_id):
            raise typer.BadParameter(f"no live key {key_id!r}")
    print(f"revoked {key_id}")


@mqtt_app.command("sync")
def mqtt_sync(
    out: Annotated[Path, typer.Option(help="folder for passwd and acl")],
    consumer: Annotated[str, typer.Option(help="GridWatch ingest's own user")] = "gridwatch",
    consumer_password: Annotated[
        str | None,
        typer.Option(envvar="GRIDWATCH_MQTT_PASSWORD", help="default: a new random one, printed"),
    ] = None,
) -> None:
    """Write Mosquitto's password_file and acl_file from the registry (then reload the
    broker: kill -HUP)."""
    password = consumer_password or secrets.token_urlsafe(24)
    with connect(load_settings()) as conn:
        counts = write_files(conn, out, consumer, password)
    print(
        f"{out}/passwd and {out}/acl: {counts['devices']:,} devices, {counts['gateways']:,}"
        " gateways"
    )
    if consumer_password is None:
        print(f"ingest's user {consumer} has the new password: {password}")
