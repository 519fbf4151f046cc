"""`gridwatch bench api`: the alert list's latency with a million incidents stored, and how
fast a new incident reaches 200 live-feed clients.

Everything runs against a database of its own (created on the configured server, dropped
after), with the API in its own process (`gridwatch api`), the clients here. Measured in the
same run for comparison: the same list query straight on the database (the store's share)
and /health (the framework's floor).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from typing import Any

import httpx
import numpy as np

from api.keys import create_key
from gridwatch.db import connect, scratch_database
from gridwatch.net import free_port, wait_for_port
from gridwatch.schema.migrate import migrate
from gridwatch.settings import Settings

CAUSES = ["fire", "gas_leak", "flooding", "elevator_entrapment", "elevator_fault",
          "grid_outage", "gateway_offline", "device_offline", "sensor_fault"]  # fmt: skip


def _fill(conn: Any, incidents: int) -> None:
    """`incidents` over 90 days; one live per grid and cause at most (the constraint)."""
    conn.execute(
        "WITH g AS (SELECT array_agg(code) AS codes, array_agg(parent_code) AS parents,"
        "  array_agg(path) AS paths, count(*)::int AS n FROM territory WHERE level = 'grid')"
        " INSERT INTO alert (grid_code, community_code, territory_path, cause, severity, status,"
        "  title, opened_at, updated_at, resolved_at, signals)"
        " SELECT g.codes[r.k], g.parents[r.k], g.paths[r.k],"
        "  (%s::text[])[1 + floor(random() * %s)::int],"
        "  (ARRAY['informational', 'low', 'low', 'medium', 'medium', 'high', 'critical'])"
        "  [1 + floor(random() * 7)::int], 'resolved', 'bench incident', r.t, r.t,"
        "  r.t + interval '1 hour', 1"
        " FROM g, LATERAL (SELECT 1 + floor(random() * g.n)::int AS k,"
        "  now() - random() * interval '90 days' AS t FROM generate_series(1, %s)) AS r",
        (CAUSES, len(CAUSES), incidents),
    )
    conn.execute(  # the newest of each (grid, cause) is still live
        "UPDATE alert a SET status = 'open', resolved_at = NULL FROM (SELECT DISTINCT ON"
        " (grid_code, cause) alert_id FROM alert ORDER BY grid_code, cause, opened_at DESC) n"
        " WHERE a.alert_id = n.alert_id"
    )
    conn.execute("VACUUM ANALYZE alert")


def _pct(xs: list[float], q: float) -> float:
    return round(float(np.percentile(xs, q)) * 1000, 2)


def _latencies(http: httpx.Client, queries: list[dict[str, Any]], rounds: int) -> list[float]:
    out = []
    for _ in range(rounds):
        for q in queries:
            t = time.perf_counter()
            r = http.get("/api/v1/alerts", params=q)
            out.append(time.perf_counter() - t)
            r.raise_for_status()
    return out


async def _feed(url: str, key: str, clients: int, settings: Settings, incidents: int
                ) -> dict[str, Any]:  # fmt: skip
    got: dict[int, list[float]] = {}
    ready = asyncio.Event()
    connected = 0

    async def listen(http: httpx.AsyncClient) -> None:
        nonlocal connected
        async with http.stream("GET", "/api/v1/alerts/stream", headers={"X-API-Key": key}) as r:
            connected += 1
            if connected == clients:
                ready.set()
            async for line in r.aiter_lines():
                if line.startswith("id: "):
                    got.setdefault(int(line[4:]), []).append(time.perf_counter())

    limits = httpx.Limits(max_connections=clients + 10)
    async with httpx.AsyncClient(base_url=url, timeout=None, limits=limits) as http:
        tasks = [asyncio.create_task(listen(http)) for _ in range(clients)]
        await asyncio.wait_for(ready.wait(), 60)
        await asyncio.sleep(1.0)
        sent: dict[int, float] = {}
        with connect(settings) as conn:
            alert_id = conn.execute("SELECT min(alert_id) FROM alert WHERE status = 'open'"
                                    ).fetchone()[0]  # type: ignore[index]  # fmt: skip
            for _ in range(incidents):
                t = time.perf_counter()
                row = conn.execute(
                    "INSERT INTO alert_transition (alert_id, at, kind, to_status, actor, note)"
                    " VALUES (%s, now(), 'comment', 'open', 'bench', 'ping') RETURNING"
                    " transition_id", (alert_id,)).fetchone()  # fmt: skip
                assert row is not None
                sent[int(row[0])] = t
                await asyncio.sleep(1.0)
        await asyncio.sleep(2.0)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    delays = [got_at - sent[eid] for eid, times in got.items() if eid in sent for got_at in times]
    return {
        "feed_clients": clients,
        "feed_events_sent": incidents,
        "feed_deliveries": len(delays),
        "feed_deliveries_expected": clients * incidents,
        "feed_delay_p50_ms": _pct(delays, 50) if delays else None,
        "feed_delay_p99_ms": _pct(delays, 99) if delays else None,
        "feed_delay_max_ms": _pct(delays, 100) if delays else None,
    }


def bench_api(settings: Settings, incidents: int = 1_000_000, clients: int = 200,
              rounds: int = 40, progress: Any = print) -> dict[str, Any]:  # fmt: skip
    from simulators.city import generate
    from simulators.city_store import write_city

    with scratch_database(settings, "gw_bench_api") as own:
        with connect(own) as conn:
            migrate(conn, own)
            write_city(conn, generate(0.05, seed=1), progress=lambda _: None)
            t = time.monotonic()
            _fill(conn, incidents)
            progress(f"{incidents:,} incidents written in {time.monotonic() - t:.0f} s")
            key = create_key(conn, "admin")
            district = conn.execute("SELECT code FROM territory WHERE level = 'district'"
                                    " LIMIT 1").fetchone()[0]  # type: ignore[index]  # fmt: skip
            grid = conn.execute("SELECT grid_code FROM alert GROUP BY 1 ORDER BY count(*) DESC"
                                " LIMIT 1").fetchone()[0]  # type: ignore[index]  # fmt: skip
        port = free_port()
        env = {**os.environ, "GRIDWATCH_DATABASE_URL": own.dsn,
               "GRIDWATCH_MQTT_URL": settings.mqtt_url or "mqtt://127.0.0.1:1883"}  # fmt: skip
        proc = subprocess.Popen([sys.executable, "-m", "gridwatch", "api", "--port", str(port)],
                                env=env)  # fmt: skip
        try:
            wait_for_port("127.0.0.1", port, timeout_s=30, alive=proc.poll)
            url = f"http://127.0.0.1:{port}"
            queries: list[dict[str, Any]] = [
                {}, {"severity": ["high", "critical"]}, {"status": ["open"]},
                {"territory": district}, {"territory": grid}, {"cause": ["fire"]},
                {"territory": district, "severity": ["critical"], "status": ["resolved"]},
            ]  # fmt: skip
            with httpx.Client(base_url=url, headers={"X-API-Key": key}, timeout=30) as http:
                first = http.get("/api/v1/alerts", params={"limit": 50}).json()
                queries.append({"cursor": first["next_cursor"]})
                _latencies(http, queries, 3)  # warm
                lat = _latencies(http, queries, rounds)
                floor = []
                for _ in range(len(lat)):
                    t = time.perf_counter()
                    http.get("/health")
                    floor.append(time.perf_counter() - t)
            with connect(own) as conn:
                sql = []
                for _ in range(len(lat)):
                    t = time.perf_counter()
                    conn.execute("SELECT alert_id FROM alert a WHERE a.territory_path LIKE %s"
                                 " ORDER BY a.opened_at DESC, a.alert_id DESC LIMIT 51",
                                 ("%",)).fetchall()  # fmt: skip
                    sql.append(time.perf_counter() - t)
            progress(f"list: {len(lat)} requests; feed: {clients} clients")
            feed = asyncio.run(_feed(url, key, clients, own, incidents=5))
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    return {
        "incidents_stored": incidents,
        "list_requests": len(lat),
        "list_p50_ms": _pct(lat, 50),
        "list_p95_ms": _pct(lat, 95),
        "list_p99_ms": _pct(lat, 99),
        "health_p99_ms_floor": _pct(floor, 99),
        "sql_newest_page_p99_ms": _pct(sql, 99),
        **feed,
        "cpu_cores": os.cpu_count(),
    }
