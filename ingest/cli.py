"""`gridwatch ingest`: the MQTT → database consumer, until Ctrl-C or SIGTERM."""

from __future__ import annotations

import signal
import threading
import time
from typing import Annotated

import orjson
import typer

from gridwatch.db import connect
from gridwatch.report import print_result
from gridwatch.schema.migrate import migrate
from gridwatch.settings import load_settings
from ingest.service import IngestService
from ingest.workers import IngestWorkers


def ingest(
    client_id: Annotated[str | None, typer.Option(help="MQTT client id (keys the session)")] = None,
    namespace: Annotated[str, typer.Option(help="topic prefix before gw/v1 (e.g. 'site-a/')")] = "",
    report_s: Annotated[float, typer.Option(help="print counters this often")] = 10.0,
    workers: Annotated[
        int, typer.Option(min=1, help="processes sharing the subscription (one per core)")
    ] = 1,
) -> None:
    """Consume device feeds into the database (QoS 1, persistent session, dead letters)."""
    settings = load_settings()
    with connect(settings) as conn:
        migrate(conn, settings)
    service: IngestService | IngestWorkers
    if workers == 1:
        service = IngestService(settings, namespace=namespace, client_id=client_id)
    else:
        service = IngestWorkers(settings, workers, namespace=namespace, client_id=client_id)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    service.start()
    print(f"ingest: {service.devices:,} devices registered; consuming {namespace}gw/v1/#"
          f" with {workers} worker(s)", flush=True)  # fmt: skip
    while not stop.wait(report_s):
        print(orjson.dumps({"t": round(time.time(), 1), **service.stats()}).decode(), flush=True)
    service.stop()
    print(orjson.dumps(service.stats()).decode(), flush=True)


def bench_ingest(
    mode: Annotated[str, typer.Option(help="direct or gateway")] = "gateway",
    readings: Annotated[int, typer.Option(help="readings in the stream")] = 500_000,
    seed: Annotated[int, typer.Option()] = 1,
    json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """Readings/s stored end to end, beside Mosquitto's C clients, bare paho and bare COPY."""
    from ingest.bench import bench_ingest as run_bench

    if mode not in ("direct", "gateway"):
        raise typer.BadParameter("mode must be direct or gateway")
    log = (lambda *_: None) if json else print
    result = run_bench(load_settings(), "direct" if mode == "direct" else "gateway", readings,
                       seed, log=log)  # fmt: skip
    print_result(result, json)


def bench_soak(
    scale: Annotated[float, typer.Option(help="city size (1.0 = 2.45 million devices)")] = 1.0,
    minutes: Annotated[float, typer.Option(help="how long the city streams")] = 10.0,
    json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """The city's gateway load in real time through `gridwatch ingest`: memory, lag, drain."""
    from ingest.soak import bench_soak as run_soak

    result = run_soak(load_settings(), scale, minutes, log=(lambda *_: None) if json else print)
    samples = result.pop("samples")
    print_result(result if not json else {**result, "samples": samples}, json)


def register(app: typer.Typer, bench: typer.Typer) -> None:
    app.command("ingest")(ingest)
    bench.command("ingest")(bench_ingest)
    bench.command("soak")(bench_soak)
