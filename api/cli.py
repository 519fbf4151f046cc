"""`gridwatch api`, `gridwatch keys create|revoke`, `gridwatch mqtt sync`,
`gridwatch bench api`."""

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


def api_cmd(
    port: Annotated[int, typer.Option(help="port to serve on")] = 8000,
    host: Annotated[str, typer.Option(help="address to serve on")] = "127.0.0.1",
) -> None:
    """Serve the API and dashboard alone (ingest, detectors and correlator run elsewhere:
    `gridwatch run --port 0`)."""
    import uvicorn

    from api.app import create_app

    uvicorn.run(create_app(load_settings()), host=host, port=port, log_level="warning")


def bench_api_cmd(
    incidents: Annotated[int, typer.Option(help="incidents stored")] = 1_000_000,
    clients: Annotated[int, typer.Option(help="live-feed clients")] = 200,
    json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """Alert list p99 with `incidents` stored; live-feed delay to `clients` clients."""
    import sys

    from api.bench import bench_api
    from gridwatch.local_services import services_for
    from gridwatch.report import print_result

    def say(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    with services_for(load_settings(), log=not json) as settings:
        print_result(bench_api(settings, incidents, clients, progress=say), json)


def register(app: typer.Typer, bench: typer.Typer) -> None:
    app.command("api")(api_cmd)
    app.add_typer(keys_app, name="keys")
    app.add_typer(mqtt_app, name="mqtt")
    bench.command("api")(bench_api_cmd)
