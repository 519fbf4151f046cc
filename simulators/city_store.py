"""Store a generated city with COPY, and read a fleet back from any registry."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import numpy as np

from gridwatch.db import Conn
from simulators.city import City, Fleet

_CHUNK = 100_000


class RegistryNotEmpty(Exception):
    pass


def write_city(
    conn: Conn, city: City, replace: bool = False, progress: Callable[[str], None] = print
) -> None:
    """Write territories, gateways and devices in one transaction. `replace` first empties
    everything that hangs off the registry: incidents, rosters, API keys."""
    started = time.monotonic()
    with conn.transaction():
        if conn.execute("SELECT 1 FROM territory LIMIT 1").fetchone():
            if not replace:
                raise RegistryNotEmpty("the registry already holds a city; use --replace")
            conn.execute(
                "TRUNCATE device_status, device, gateway, alert_transition, alert, duty_roster,"
                " api_key, territory"
            )
        with (
            conn.cursor() as cur,
            cur.copy(
                "COPY territory (code, level, name, parent_code, path, kind, households) FROM STDIN"
            ) as copy,
        ):
            for t in city.territories:
                copy.write_row((t.code, t.level, t.name, t.parent_code, t.path, t.kind,
                                t.households))  # fmt: skip
        progress(f"territories: {len(city.territories):,}")
        write_roster(conn)
        fleet = city.fleet
        has_gw = fleet.gateway != ""
        gw_ids, first = np.unique(fleet.gateway[has_gw], return_index=True)
        gw_comm = fleet.community[has_gw][first]
        gw_grid = fleet.grid[has_gw][first]
        with (
            conn.cursor() as cur,
            cur.copy("COPY gateway (gateway_id, community_code, grid_code) FROM STDIN") as copy,
        ):
            for row in zip(gw_ids.tolist(), gw_comm.tolist(), gw_grid.tolist(), strict=True):
                copy.write_row(row)
        progress(f"gateways: {len(gw_ids):,}")
        for start in range(0, len(fleet), _CHUNK):
            _copy_devices(conn, fleet, start, min(start + _CHUNK, len(fleet)))
            done = min(start + _CHUNK, len(fleet))
            rate = done / max(time.monotonic() - started, 1e-9)
            progress(f"devices: {done:,}/{len(fleet):,} ({rate:,.0f}/s)")
        conn.execute("ANALYZE territory")
        conn.execute("ANALYZE device")


def write_roster(conn: Conn) -> None:
    """A stand-in duty roster: a worker per grid, a manager and a leadership group per
    community (real rosters come from each community's office)."""
    conn.execute(
        "INSERT INTO duty_roster (community_code, level, grid_code, name, contact)"
        " SELECT parent_code, 0, code, 'Grid worker of ' || name, 'grid-' || code || '@duty'"
        " FROM territory WHERE level = 'grid'"
        " UNION ALL SELECT code, 1, NULL, 'Emergency manager of ' || name,"
        " 'manager-' || code || '@duty' FROM territory WHERE level = 'community'"
        " UNION ALL SELECT code, 2, NULL, 'Emergency leadership group of ' || name,"
        " 'leaders-' || code || '@duty' FROM territory WHERE level = 'community'"
    )


def _copy_devices(conn: Conn, fleet: Fleet, lo: int, hi: int) -> None:
    cols = (
        fleet.device_id[lo:hi].tolist(),
        fleet.device_type[lo:hi].tolist(),
        fleet.community[lo:hi].tolist(),
        fleet.grid[lo:hi].tolist(),
        fleet.microgrid[lo:hi].tolist(),
        [g or None for g in fleet.gateway[lo:hi].tolist()],
        fleet.lat[lo:hi].tolist(),
        fleet.lon[lo:hi].tolist(),
        fleet.interval_s[lo:hi].tolist(),
    )
    with (
        conn.cursor() as cur,
        cur.copy(
            "COPY device (device_id, device_type, community_code, grid_code, microgrid_code,"
            " gateway_id, lat, lon, report_interval_s) FROM STDIN"
        ) as copy,
    ):
        for row in zip(*cols, strict=True):
            copy.write_row(row)


def load_fleet(conn: Conn) -> Fleet:
    """The registered (not retired) devices, in device-key order."""
    cols: list[list[object]] = [[] for _ in range(9)]
    with conn.cursor() as cur:
        cur.execute(
            """
            SELECT device_id, device_type, community_code, grid_code,
                   coalesce(microgrid_code, ''), coalesce(gateway_id, ''),
                   coalesce(lat, 0), coalesce(lon, 0), report_interval_s
            FROM device WHERE retired_at IS NULL ORDER BY device_key
            """
        )
        for row in _rows(cur):
            for col, value in zip(cols, row, strict=True):
                col.append(value)
    return Fleet(
        device_id=np.array(cols[0], dtype=str),
        device_type=np.array(cols[1], dtype=str),
        community=np.array(cols[2], dtype=str),
        grid=np.array(cols[3], dtype=str),
        microgrid=np.array(cols[4], dtype=str),
        gateway=np.array(cols[5], dtype=str),
        lat=np.array(cols[6], dtype=float),
        lon=np.array(cols[7], dtype=float),
        interval_s=np.array(cols[8], dtype=np.int32),
    )


def _rows(cur: object) -> Iterator[tuple[object, ...]]:
    while batch := cur.fetchmany(50_000):  # type: ignore[attr-defined]
        yield from batch


def city_summary(conn: Conn) -> dict[str, int]:
    """Counts per territory level and device type, as `gridwatch city info` prints them."""
    out: dict[str, int] = {}
    for level, n in conn.execute("SELECT level, count(*) FROM territory GROUP BY level"):
        out[str(level)] = int(str(n))
    for dtype, n in conn.execute("SELECT device_type, count(*) FROM device GROUP BY 1"):
        out[f"devices.{dtype}"] = int(str(n))
    out["gateways"] = int((conn.execute("SELECT count(*) FROM gateway").fetchone() or (0,))[0])
    return out
