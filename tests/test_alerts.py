"""Incidents in the real database: one live incident per grid and cause even with concurrent
correlators, history and roster on every change, people's actions, restart, re-open."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import psycopg
import pytest

from detectors.alert_service import AlertService
from detectors.correlator import Correlator
from gridwatch.db import Conn
from gridwatch.incidents import IncidentError, assign, change_status, comment
from gridwatch.settings import Settings
from simulators.city import generate
from simulators.city_store import write_city


@pytest.fixture
def city(conn: Conn) -> tuple[str, list[int]]:
    write_city(conn, generate(0.0002, seed=4), progress=lambda _: None)
    grid = conn.execute("SELECT grid_code FROM device GROUP BY grid_code"
                        " ORDER BY count(*) DESC LIMIT 1").fetchone()  # fmt: skip
    assert grid is not None
    rows = conn.execute("SELECT device_key FROM device WHERE grid_code = %s ORDER BY 1", grid)
    keys = [int(r[0]) for r in rows]
    return str(grid[0]), keys


def put_signal(conn: Conn, grid: str, key: int, kind: str, severity: str, at: float,
               state: str = "raised", code: str | None = None) -> None:  # fmt: skip
    conn.execute(
        "INSERT INTO device_signal (at, scope, device_key, grid_code, source, kind, severity,"
        " state, code) VALUES (%s, 'device', %s, %s, 'event', %s, %s, %s, %s)",
        (dt.datetime.fromtimestamp(at, dt.UTC), key, grid, kind, severity, state, code),
    )


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


T0 = 1_800_000_000.0


def history(conn: Conn, alert_id: int) -> list[tuple[Any, ...]]:
    return conn.execute(
        "SELECT kind, from_status, to_status, actor, note, escalation FROM alert_transition"
        " WHERE alert_id = %s ORDER BY transition_id",
        (alert_id,),
    ).fetchall()


def test_signals_become_one_incident_with_history_roster_and_a_durable_cursor(
    settings: Settings, conn: Conn, city: tuple[str, list[int]]
) -> None:
    grid, keys = city
    clock = Clock(T0)
    put_signal(conn, grid, keys[0], "fire", "medium", T0, code="SMOKE_ALARM")
    put_signal(conn, grid, keys[1], "fire", "medium", T0, code="SMOKE_ALARM")
    svc = AlertService(settings, clock=clock)
    svc.step()
    rows = conn.execute("SELECT alert_id, cause, severity, status, devices, community_code"
                        " FROM alert").fetchall()  # fmt: skip
    assert len(rows) == 1
    alert_id, cause, severity, status, devices, community = rows[0]
    assert (cause, severity, status) == ("fire", "high", "open")
    assert sorted(devices) == sorted(keys[:2]) and community is not None
    opened = history(conn, alert_id)[0]
    assert opened[0] == "opened" and "Grid worker of" in opened[4]
    clock.t += 300  # high: the community manager hears of it after 5 min unacknowledged
    svc.step()
    esc = [h for h in history(conn, alert_id) if h[0] == "escalation"]
    assert len(esc) == 1 and esc[0][5] == 1 and "Emergency manager of" in esc[0][4]
    svc.stop()
    # A restarted correlator carries on: same incident, no signal read twice.
    put_signal(conn, grid, keys[2], "fire", "high", T0 + 400, code="FIRE_ALARM")
    clock.t += 100
    again = AlertService(settings, clock=clock)
    again.step()
    assert again.stats()["signals_read"] == 1
    row = conn.execute("SELECT count(*), max(severity), max(signals) FROM alert").fetchone()
    assert row == (1, "critical", 3)
    again.stop()


def test_concurrent_correlators_never_open_two_live_incidents(
    settings: Settings, conn: Conn, city: tuple[str, list[int]]
) -> None:
    grid, keys = city
    for k in keys[:5]:
        put_signal(conn, grid, k, "gas", "high", T0, code="GAS_ALARM")
    services = [AlertService(settings, name=f"c{i}", clock=Clock(T0)) for i in range(4)]
    barrier = threading.Barrier(len(services))
    errors: list[BaseException] = []

    def go(s: AlertService) -> None:
        barrier.wait()
        try:
            s.step()
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=go, args=(s,)) for s in services]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    live = conn.execute("SELECT alert_id, signals FROM alert WHERE status <> 'resolved'")
    rows = live.fetchall()
    assert len(rows) == 1 and rows[0][1] == 5 * len(services)  # every correlator's evidence
    # The constraint itself, not only the code, refuses a second live incident.
    with pytest.raises(psycopg.errors.UniqueViolation):
        conn.execute("INSERT INTO alert (grid_code, cause, severity, status, title, opened_at,"
                     " updated_at) VALUES (%s, 'gas_leak', 'low', 'open', 'x', now(), now())",
                     (grid,))  # fmt: skip
    for s in services:
        s.stop()


def test_people_acknowledge_assign_comment_and_resolve_and_escalation_stops(
    settings: Settings, conn: Conn, city: tuple[str, list[int]]
) -> None:
    grid, keys = city
    clock = Clock(T0)
    put_signal(conn, grid, keys[0], "entrapment", "critical", T0, code="8")
    svc = AlertService(settings, clock=clock)
    svc.step()
    alert_id = int(conn.execute("SELECT alert_id FROM alert").fetchone()[0])  # type: ignore[index]
    change_status(conn, alert_id, "acknowledged", "worker-7", "on my way")
    assign(conn, alert_id, "worker-7", "rescue team 3")
    comment(conn, alert_id, "worker-7", "car stuck between floors 3 and 4")
    clock.t += 3600
    svc.step()
    kinds = [h[0] for h in history(conn, alert_id)]
    assert "escalation" not in kinds and kinds[-3:] == ["status", "assign", "comment"]
    with pytest.raises(IncidentError, match="cannot become acknowledged"):
        change_status(conn, alert_id, "acknowledged", "worker-7")
    change_status(conn, alert_id, "resolved", "worker-7", "passengers out")
    svc.step()
    row = conn.execute("SELECT status, assignee FROM alert").fetchone()
    assert row == ("resolved", "rescue team 3")
    assert not svc.correlator.live()
    with pytest.raises(IncidentError, match="no incident"):
        change_status(conn, alert_id + 1000, "resolved", "x")
    svc.stop()


def test_a_cleared_condition_auto_resolves_and_a_recurrence_reopens_the_same_incident(
    settings: Settings, conn: Conn, city: tuple[str, list[int]]
) -> None:
    grid, keys = city
    clock = Clock(T0)
    svc = AlertService(settings, correlator=Correlator(hold_s=120.0), clock=clock)
    put_signal(conn, grid, keys[0], "gas", "high", T0, code="GAS_ALARM")
    svc.step()
    put_signal(conn, grid, keys[0], "gas", "high", T0 + 60, "cleared", code="GAS_ALARM")
    clock.t += 60
    svc.step()
    clock.t += 121
    svc.step()
    alert_id, status = conn.execute("SELECT alert_id, status FROM alert").fetchone()  # type: ignore[misc]
    assert status == "resolved"
    put_signal(conn, grid, keys[0], "gas", "high", clock.t + 600, code="GAS_ALARM")
    clock.t += 600
    svc.step()
    rows = conn.execute("SELECT alert_id, status, reopened FROM alert").fetchall()
    assert rows == [(alert_id, "open", 1)]
    kinds = [(h[0], h[2]) for h in history(conn, alert_id)]
    assert ("status", "resolved") in kinds and kinds[-1] == ("reopened", "open")
    svc.stop()


def test_hints_are_not_incidents_until_raised(
    settings: Settings, conn: Conn, city: tuple[str, list[int]]
) -> None:
    grid, keys = city
    clock = Clock(T0)
    svc = AlertService(settings, correlator=Correlator(hold_s=60.0), clock=clock)
    conn.execute(
        "INSERT INTO device_signal (at, scope, device_key, grid_code, source, kind, severity)"
        " VALUES (%s, 'device', %s, %s, 'silence', 'offline', 'low')",
        (dt.datetime.fromtimestamp(T0, dt.UTC), keys[0], grid),
    )
    svc.step()
    assert conn.execute("SELECT count(*) FROM alert").fetchone() == (0,)  # one device: a hint
    clock.t += 600  # still away after 10 min: worth a ticket, written with its history
    svc.step()
    alert_id, severity = conn.execute("SELECT alert_id, severity FROM alert").fetchone()  # type: ignore[misc]
    assert severity == "low"
    assert [h[0] for h in history(conn, alert_id)] == ["opened", "severity"]
    svc.stop()
