"""Fill in missing service URLs by starting private servers, and stop them afterwards."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

from gridwatch.local_broker import LocalMosquitto
from gridwatch.local_postgres import LocalPostgres
from gridwatch.settings import Settings


@contextmanager
def services_for(settings: Settings, log: bool = True) -> Iterator[Settings]:
    """Yield settings whose database and broker URLs are set.

    Where a URL is unset, a private server is started under `settings.data_dir` on a free port
    and stopped on exit.
    """
    with ExitStack() as stack:
        updates: dict[str, str] = {}
        if settings.database_url is None:
            pg = LocalPostgres(
                settings.data_dir / "postgres", timescaledb=settings.local_timescaledb
            )
            updates["database_url"] = pg.start()
            stack.callback(pg.stop)
            if log:
                print(f"started private PostgreSQL: {pg.url} (binaries {pg.bindir})", flush=True)
        if settings.mqtt_url is None:
            # One folder per process: two commands at once must not share a broker's files.
            root = settings.data_dir / "mosquitto" / str(os.getpid())
            broker = LocalMosquitto(root)
            updates["mqtt_url"] = broker.start()
            stack.callback(shutil.rmtree, root, True)
            stack.callback(broker.stop)
            if log:
                print(f"started private Mosquitto: {broker.url}", flush=True)
        yield settings.model_copy(update=updates)
