"""`gridwatch ingest`: the MQTT → database consumer, until Ctrl-C or SIGTERM."""

from __future__ import annotations

import signal
import threading
import time
from typing import Annotated

import orjson
import typer

from gridwatch.db import connect
from gridwatch.schema.migrate import migrate
from gridwatch.settings import load_settings
from ingest.service import IngestService


def ingest(
    client_id: Annotated[str | None, typer.Option(help="MQTT client id (keys the session)")] = None,
    namespace: Annotated[str, typer.Option(help="topic prefix before gw/v1 (e.g. 'site-a/')")] = "",
    report_s: Annotated[float, typer.Option(help="print counters this often")] = 10.0,
) -> None:
    """Consume device feeds into the database (QoS 1, persistent session, dead letters)."""
    settings = load_settings()
    with connect(settings) as conn:
        migrate(conn, settings)
    service = IngestService(settings, namespace=namespace, client_id=client_id)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    service.start()
    print(f"ingest: {len(service.registry):,} devices registered; consuming {namespace}gw/v1/#",
          flush=True)  # fmt: skip
    while not stop.wait(report_s):
        print(orjson.dumps({"t": round(time.time(), 1), **service.stats()}).decode(), flush=True)
    service.stop()
    print(orjson.dumps(service.stats()).decode(), flush=True)


def register(app: typer.Typer) -> None:
    app.command("ingest")(ingest)
