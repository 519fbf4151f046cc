"""The correlator's incidents in the database: `alert` rows, their history, the signal cursor.

Opening an incident is `INSERT … ON CONFLICT DO NOTHING` against the partial unique index
`alert_one_live_per_cause`: when two correlators see the same cause at once, the second finds
the first's row and adds its evidence there — the database, not process memory, keeps it to
one live incident per grid and cause. People's changes (acknowledge, resolve) win over what
the correlator last knew: each save locks the row and reads its status first.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict
from typing import Any

import orjson
from psycopg import errors

from detectors.correlator import DeviceEvidence, Incident, SignalIn
from gridwatch.db import Conn
from gridwatch.incidents import LEVELS, record

_SIGNAL_SQL = (
    "SELECT signal_id, at, scope, device_key, gateway_id, grid_code, microgrid_code, source,"
    " kind, severity, state, metric_id, value, code FROM device_signal WHERE signal_id > %s"
    " ORDER BY signal_id LIMIT %s"
)
_ALERT_COLUMNS = (
    "alert_id, grid_code, microgrid_code, cause, severity, status, opened_at, resolved_at,"
    " escalation, evidence, signals, last_signal_at, reopened, updated_at, state, subject"
)


def ts(epoch: float | None) -> dt.datetime | None:
    return None if epoch is None else dt.datetime.fromtimestamp(epoch, dt.UTC)


def read_signals(conn: Conn, after: int, limit: int = 5000) -> list[SignalIn]:
    rows = conn.execute(_SIGNAL_SQL, (after, limit)).fetchall()
    return [SignalIn(int(r[0]), r[1].timestamp(), *r[2:]) for r in rows]


def cursor(conn: Conn, name: str) -> int:
    row = conn.execute("SELECT signal_id FROM correlator_cursor WHERE name = %s", (name,))
    found = row.fetchone()
    return int(found[0]) if found else 0


def set_cursor(conn: Conn, name: str, signal_id: int) -> None:
    conn.execute(
        "INSERT INTO correlator_cursor (name, signal_id) VALUES (%s, %s)"
        " ON CONFLICT (name) DO UPDATE SET signal_id = excluded.signal_id",
        (name, signal_id),
    )


def _state(inc: Incident) -> str:
    return orjson.dumps({
        "conditions": inc.conditions, "point_until": inc.point_until,
        "quiet_since": inc.quiet_since, "escalate_from": inc.escalate_from,
        "devices": {str(k): asdict(v) for k, v in inc.devices.items()}, "areas": inc.areas,
        "via": inc.via,
    }).decode()  # fmt: skip


def load_incidents(conn: Conn, since: float) -> list[Incident]:
    """Live incidents, and those resolved after `since` (they may re-open)."""
    rows = conn.execute(
        f"SELECT {_ALERT_COLUMNS} FROM alert WHERE status <> 'resolved' OR resolved_at >= %s",
        (ts(since),),
    ).fetchall()
    out = []
    for (alert_id, grid, micro, cause, severity, status, opened, resolved, level, evidence,
         signals, last_at, reopened, updated, state, subject) in rows:  # fmt: skip
        st: dict[str, Any] = state or {}
        out.append(Incident(
            grid=grid, cause=cause, opened_at=opened.timestamp(), subject=subject,
            via=st.get("via"), microgrid=micro, alert_id=int(alert_id), status=status,
            severity=severity, escalation=level,
            escalate_from=float(st.get("escalate_from", opened.timestamp())),
            conditions=dict(st.get("conditions", {})),
            point_until=float(st.get("point_until", 0.0)), quiet_since=st.get("quiet_since"),
            devices={int(k): DeviceEvidence(**v) for k, v in st.get("devices", {}).items()},
            areas=dict(st.get("areas", {})), evidence=list(evidence), signals=int(signals),
            last_signal_at=last_at.timestamp() if last_at else 0.0,
            resolved_at=resolved.timestamp() if resolved else None, reopened=int(reopened),
            updated_at=updated.timestamp(),
        ))  # fmt: skip
    return out


def statuses(conn: Conn, alert_ids: list[int]) -> dict[int, str]:
    rows = conn.execute(
        "SELECT alert_id, status FROM alert WHERE alert_id = ANY(%s)", (alert_ids,)
    ).fetchall()
    return {int(a): str(s) for a, s in rows}


def save(conn: Conn, inc: Incident) -> list[int]:
    """Write one incident and its pending history in the caller's transaction; the new
    history rows' ids (the live feed's event ids) are returned."""
    if inc.alert_id is None:
        _insert_or_join(conn, inc)
    else:
        _reconcile(conn, inc)
    conn.execute(
        "UPDATE alert SET microgrid_code = %s, severity = %s, status = %s, title = %s,"
        " updated_at = %s, resolved_at = %s, escalation = %s, evidence = %s, signals = %s,"
        " last_signal_at = %s, reopened = %s, devices = %s, state = %s WHERE alert_id = %s",
        (inc.microgrid, inc.severity, inc.status, inc.title, ts(inc.updated_at),
         ts(inc.resolved_at), inc.escalation, orjson.dumps(inc.evidence).decode(), inc.signals,
         ts(inc.last_signal_at), inc.reopened, sorted(inc.devices), _state(inc),
         inc.alert_id),
    )  # fmt: skip
    assert inc.alert_id is not None
    ids = []
    for p in inc.pending:
        note = p["note"]
        if p["kind"] in ("opened", "reopened", "escalation"):
            level = p["escalation"] or 0
            note = f"{note}; {LEVELS[level]}: {_on_duty(conn, inc.grid, level)}"
        at = ts(p["at"]) or dt.datetime.now(dt.UTC)
        ids.append(record(conn, inc.alert_id, at, p["kind"], "gridwatch",
                          from_status=p["from_status"], to_status=p["to_status"], note=note,
                          severity=p["severity"], escalation=p["escalation"]))  # fmt: skip
    inc.pending.clear()
    return ids


def _insert_or_join(conn: Conn, inc: Incident) -> None:
    row = conn.execute(
        "INSERT INTO alert (grid_code, microgrid_code, community_code, territory_path, cause,"
        " subject, severity, status, title, opened_at, updated_at)"
        " SELECT %s, %s, t.parent_code, t.path, %s, %s, %s, 'open', %s, %s, %s"
        " FROM territory t WHERE t.code = %s"
        " ON CONFLICT (grid_code, cause, subject) WHERE status <> 'resolved' DO NOTHING"
        " RETURNING alert_id",
        (inc.grid, inc.microgrid, inc.cause, inc.subject, inc.severity, inc.title,
         ts(inc.opened_at), ts(inc.opened_at), inc.grid),
    ).fetchone()  # fmt: skip
    if row is not None:
        inc.alert_id = int(row[0])
        return
    live = conn.execute(
        "SELECT alert_id, status, opened_at, severity, evidence, signals FROM alert"
        " WHERE grid_code = %s AND cause = %s AND subject = %s AND status <> 'resolved'"
        " FOR UPDATE",
        (inc.grid, inc.cause, inc.subject),
    ).fetchone()
    if live is None:
        raise LookupError(f"grid {inc.grid!r} is not in the territory registry")
    # Another correlator opened it first: this one's evidence joins that incident.
    inc.alert_id, inc.status, inc.opened_at = int(live[0]), str(live[1]), live[2].timestamp()
    inc.evidence = list(live[4]) + inc.evidence
    inc.signals += int(live[5])
    for p in inc.pending:
        if p["kind"] == "opened":
            p["kind"], p["note"] = "evidence", "joined by a concurrent correlator"


def _reconcile(conn: Conn, inc: Incident) -> None:
    """The row's status as people left it wins, except for the correlator's own re-open."""
    row = conn.execute(
        "SELECT status FROM alert WHERE alert_id = %s FOR UPDATE", (inc.alert_id,)
    ).fetchone()
    if row is None:
        raise LookupError(f"incident {inc.alert_id} is gone")
    status = str(row[0])
    reopening = any(p["kind"] == "reopened" for p in inc.pending)
    resolving = any(p["to_status"] == "resolved" and p["kind"] == "status" for p in inc.pending)
    if reopening and status == "resolved":
        try:
            with conn.transaction():
                conn.execute("UPDATE alert SET status = 'open' WHERE alert_id = %s",
                             (inc.alert_id,))  # fmt: skip
        except errors.UniqueViolation:  # a live one exists meanwhile: stay closed
            inc.status = "resolved"
            inc.pending = [p for p in inc.pending if p["kind"] != "reopened"]
        return
    if (resolving and status != "resolved") or status == inc.status:
        return
    inc.status = status  # a person acted since the correlator last looked
    inc.pending = [p for p in inc.pending if p["kind"] not in ("status", "reopened")]


def _on_duty(conn: Conn, grid: str, level: int) -> str:
    if level == 0:
        rows = conn.execute(
            "SELECT name, contact FROM duty_roster WHERE level = 0 AND grid_code = %s"
            " ORDER BY name",
            (grid,),
        ).fetchall()
    else:
        rows = conn.execute(
            "SELECT r.name, r.contact FROM duty_roster r JOIN territory t"
            " ON t.parent_code = r.community_code WHERE t.code = %s AND r.level = %s"
            " ORDER BY r.name",
            (grid, level),
        ).fetchall()
    if not rows:
        return "nobody on the duty roster"
    return ", ".join(f"{n} ({c})" if c else str(n) for n, c in rows)
