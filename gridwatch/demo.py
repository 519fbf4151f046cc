"""`gridwatch demo`: a simulated city streaming through the whole product on one machine.

Private PostgreSQL and Mosquitto are started where none are configured; a small city is
generated once; the simulator publishes the `combined_day` scenario (gas leak, entrapment,
building fire, failed gateway, transport faults) again and again; the pipeline ingests,
detects and correlates; the API and dashboard serve it (the dashboard's address, with an
admin key, is printed). Every change of an incident (opened, severity, escalation along the
duty roster, resolved) is also printed as it lands. Ctrl-C stops everything.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from typing import Annotated

import typer

from gridwatch.db import Conn, connect
from gridwatch.local_services import services_for
from gridwatch.net import port_or_free
from gridwatch.run import Pipeline
from gridwatch.schema.backend import installed_backend
from gridwatch.schema.migrate import current_version, migrate
from gridwatch.settings import Settings, load_settings


def _simulate(settings: Settings, scenario: str, speed: float, stop: threading.Event) -> None:
    from simulators.city_store import load_fleet
    from simulators.faults import FaultInjector
    from simulators.publisher import Publisher
    from simulators.run import run, start_for
    from simulators.scenarios import load_scenario

    spec = load_scenario(scenario)
    with connect(settings) as conn:
        fleet = load_fleet(conn)
    pub = Publisher(settings.mqtt, f"gridwatch-demo-sim-{int(time.time())}")
    from simulators.engine import Simulation

    try:
        seed = 1
        while not stop.is_set():
            sim = Simulation(fleet, spec, seed, start_for(time.time(), spec.duration, speed),
                             "gateway")  # fmt: skip
            run(sim, pub, spec.duration, speed, FaultInjector(spec.faults, seed),
                stop=stop.is_set)  # fmt: skip
            seed += 1
    finally:
        pub.close()


def _tail_incidents(conn: Conn, after: int) -> int:
    """Print incident history rows after `after`; informational incidents stay quiet."""
    rows = conn.execute(
        "SELECT t.transition_id, t.at, t.alert_id, t.kind, t.to_status, t.severity, t.note,"
        " a.title, a.severity FROM alert_transition t JOIN alert a USING (alert_id)"
        " WHERE t.transition_id > %s ORDER BY t.transition_id LIMIT 200",
        (after,),
    ).fetchall()
    for _, at, alert_id, kind, status, severity, note, title, now_sev in rows:
        if "informational" in (now_sev, severity):
            continue
        print(f"{at:%H:%M:%S} incident {alert_id} [{severity or status}] {kind}: {title} — "
              f"{note or status}", flush=True)  # fmt: skip
    return int(rows[-1][0]) if rows else after


def demo(
    scale: Annotated[float, typer.Option(help="city size (1.0 = 2.45 million devices)")] = 0.002,
    speed: Annotated[float, typer.Option(help="simulated seconds per second")] = 5.0,
    scenario: Annotated[str, typer.Option(help="built-in name or file")] = "combined_day",
    port: Annotated[int, typer.Option(help="dashboard port (another if taken)")] = 8000,
) -> None:
    """The whole product on this machine: city → broker → ingest → detectors → incidents."""
    from simulators.city import generate
    from simulators.city_store import write_city

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with services_for(load_settings()) as settings:
        with connect(settings) as conn:
            migrate(conn, settings)
            print(f"backend: {installed_backend(conn)}, schema {current_version(conn)}")
            if conn.execute("SELECT 1 FROM device LIMIT 1").fetchone() is None:
                print(f"generating a city at scale {scale}…", flush=True)
                write_city(conn, generate(scale, seed=1), progress=lambda _: None)
        print(f"database: {settings.database_url}\nbroker:   {settings.mqtt_url}", flush=True)
        from api.app import create_app
        from api.keys import create_key
        from api.server import Server

        pipeline = Pipeline(settings)
        pipeline.start()
        server = Server(create_app(settings, pipeline), port=port_or_free(port)).start()
        with connect(settings) as conn:
            key = create_key(conn, "admin", name="demo")
        print(f"dashboard: {server.url}/#key={key}\n  (API docs at {server.url}/docs; the key is"
              " an admin key for this demo)", flush=True)  # fmt: skip
        sim = threading.Thread(target=_simulate, args=(settings, scenario, speed, stop),
                               name="simulator", daemon=True)  # fmt: skip
        sim.start()
        print(f"GridWatch demo is up: {pipeline.ingest.devices:,} devices, scenario {scenario}"
              f" at {speed:g}x; Ctrl-C stops it.", flush=True)  # fmt: skip
        last, next_report = 0, time.monotonic() + 10
        with contextlib.suppress(KeyboardInterrupt), connect(settings) as conn:
            while not stop.wait(1.0):
                last = _tail_incidents(conn, last)
                if time.monotonic() >= next_report:
                    ing, al = pipeline.ingest.stats(), pipeline.alerts.stats()
                    dead = sum(ing["rejected"].values())
                    print(f"ingest: {ing['readings_stored']:,} readings stored, {dead:,} dead-"
                          f"lettered; {al['signals_read']:,} device signals, "
                          f"{al['live_incidents']} live incidents", flush=True)  # fmt: skip
                    next_report = time.monotonic() + 10
        print("stopping…", flush=True)
        stop.set()
        sim.join(timeout=10)
        server.stop()
        pipeline.stop()
