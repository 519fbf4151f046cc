"""`gridwatch demo`: the whole product on one machine, with private servers where needed."""

from __future__ import annotations

import contextlib
import signal
import threading

from gridwatch.db import connect
from gridwatch.local_services import services_for
from gridwatch.schema.backend import installed_backend
from gridwatch.schema.migrate import current_version, migrate
from gridwatch.settings import load_settings


def demo() -> None:
    """Start services (private ones where none are configured), migrate, and run until Ctrl-C."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with services_for(load_settings()) as settings:
        with connect(settings) as conn:
            migrate(conn, settings)
            print(f"backend: {installed_backend(conn)}, schema {current_version(conn)}")
        print(f"database: {settings.database_url}\nbroker:   {settings.mqtt_url}")
        print("GridWatch demo is up; Ctrl-C stops it.", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            stop.wait()
        print("stopping…", flush=True)
