"""`gridwatch run`: the whole pipeline in one process — MQTT → ingest → detectors → alerts.

Ingest hands each committed batch to the detectors; the correlator follows the signals they
write and keeps the grid incidents; the API and dashboard serve them on one port; all report
their counters. Stops cleanly on Ctrl-C or SIGTERM: ingest drains what it
took, the detectors save what they learned, the correlator saves where it stopped.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from typing import Annotated

import orjson
import typer

from detectors.alert_service import AlertService
from detectors.service import DetectionService
from gridwatch.db import connect
from gridwatch.schema.migrate import migrate
from gridwatch.settings import Settings, load_settings
from ingest.service import IngestService


class Pipeline:
    def __init__(self, settings: Settings, namespace: str = "", client_id: str | None = None,
                 clock: Callable[[], float] = time.time, scan_s: float = 5.0) -> None:  # fmt: skip
        """`clock`: the detectors' and correlator's now (a replay at speed runs its own);
        `scan_s`: how often silence is looked for."""
        with connect(settings) as conn:
            migrate(conn, settings)
        self.detection = DetectionService(settings, clock=clock, scan_s=scan_s)
        self.alerts = AlertService(settings, clock=clock)
        self.ingest = IngestService(settings, namespace=namespace, client_id=client_id,
                                    on_stored=self.detection.feed)  # fmt: skip

    def start(self) -> None:
        self.alerts.start()
        self.detection.start()
        self.ingest.start()

    def stop(self) -> None:
        self.ingest.stop()
        self.detection.stop()
        self.alerts.stop()

    def stats(self) -> dict[str, object]:
        return {"ingest": self.ingest.stats(), "detectors": self.detection.stats(),
                "alerts": self.alerts.stats()}  # fmt: skip


def run_until(settings: Settings, stop: threading.Event, report_s: float = 10.0,
              out: Callable[[str], None] = print, host: str = "127.0.0.1",
              port: int | None = 8000) -> None:  # fmt: skip
    from api.app import create_app
    from api.server import Server

    pipeline = Pipeline(settings)
    pipeline.start()
    server = Server(create_app(settings, pipeline), host, port).start() if port else None
    out(f"gridwatch: {pipeline.ingest.devices:,} devices registered; ingest, detectors and"
        " correlator running" + (f"; API and dashboard on {server.url}" if server else "")
        + " (Ctrl-C stops)")  # fmt: skip
    try:
        while not stop.wait(report_s):
            out(orjson.dumps({"t": round(time.time(), 1), **pipeline.stats()}).decode())
    finally:
        if server is not None:
            server.stop()
        pipeline.stop()
        out(orjson.dumps(pipeline.stats()).decode())


def run_cmd(
    report_s: Annotated[float, typer.Option(help="print counters this often")] = 10.0,
    port: Annotated[int, typer.Option(help="API and dashboard port (0: no API)")] = 8000,
    host: Annotated[str, typer.Option(help="address to serve on")] = "127.0.0.1",
) -> None:
    """Run ingest, detectors, correlator, API and dashboard together until Ctrl-C/SIGTERM."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    run_until(load_settings(), stop, report_s, host=host, port=port or None)
