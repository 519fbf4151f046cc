"""Write a decoded batch in one transaction: COPY into staging, then insert what is new.

COPY cannot skip duplicates, and MQTT delivers at least once. Readings are first COPYed
straight in; when the primary key refuses a duplicate, the batch is copied (binary) into a
session-local staging table instead and moved with `ON CONFLICT DO NOTHING`, which both
stores each reading once and tells how many were duplicates. Events always take that path.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg

from gridwatch.db import Conn
from ingest.messages import Decoded

_STAGING = """
CREATE TEMP TABLE IF NOT EXISTS stage_reading (
    ts timestamptz, device_key integer, metric_id smallint, seq bigint, value double precision
) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS stage_event (
    ts timestamptz, device_key integer, seq bigint, code text, standard text, state text,
    detail jsonb
) ON COMMIT DELETE ROWS;
"""


@dataclass(frozen=True, slots=True)
class Written:
    readings: int
    reading_duplicates: int
    events: int
    event_duplicates: int
    dead_letters: int


READING_TYPES = ["timestamptz", "int4", "int2", "int8", "float8"]
_EVENT_TYPES = ["timestamptz", "int4", "int8", "text", "text", "text", "jsonb"]
_DEAD_LETTER = "dead_letter (received_at, topic, payload, reason, community_code, device_id)"
_DEAD_LETTER_TYPES = ["timestamptz", "text", "bytea", "text", "text", "text"]


def copy_rows(
    cur: psycopg.Cursor[Any], target: str, types: Sequence[str], rows: Iterable[Sequence[Any]]
) -> None:
    """Binary COPY of `rows` into `target` (a table, optionally with its column list)."""
    with cur.copy(f"COPY {target} FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types(list(types))
        for row in rows:
            copy.write_row(row)


def prepare(conn: Conn) -> None:
    """Once per connection."""
    conn.execute(_STAGING)


def write(conn: Conn, batch: Decoded) -> Written:
    with conn.transaction():
        stored = dup = 0
        if batch.readings:
            stored = _copy_readings(conn, batch.readings)
            dup = len(batch.readings) - stored
        ev_stored = ev_dup = 0
        if batch.events:
            with conn.cursor() as cur:
                rows = ((*ev[:6], ev[6].decode()) for ev in batch.events)
                copy_rows(cur, "stage_event", _EVENT_TYPES, rows)
                cur.execute(
                    "INSERT INTO device_event SELECT * FROM stage_event ON CONFLICT DO NOTHING"
                )
                ev_stored = cur.rowcount
                ev_dup = len(batch.events) - ev_stored
        if batch.statuses:
            _statuses(conn, batch.statuses)
        if batch.gateway_statuses:
            _gateway_statuses(conn, batch)
        if batch.rejections:
            with conn.cursor() as cur:
                dead = (
                    (r.received_at, r.topic, r.payload, r.reason, r.community, r.device_id)
                    for r in batch.rejections
                )
                copy_rows(cur, _DEAD_LETTER, _DEAD_LETTER_TYPES, dead)
    return Written(stored, dup, ev_stored, ev_dup, len(batch.rejections))


def _copy_readings(conn: Conn, rows: list[tuple[dt.datetime, int, int, int, float]]) -> int:
    """Store rows not stored yet; returns how many were new.

    Optimistic: a straight COPY into `reading` (the common case, a batch with no
    redelivery, runs at bare COPY speed). A duplicate aborts it at the primary key; then
    the batch goes through staging with `ON CONFLICT DO NOTHING`, which skips and counts
    the duplicates.
    """
    try:
        with conn.transaction(), conn.cursor() as cur:  # a savepoint inside the batch's own
            copy_rows(cur, "reading", READING_TYPES, rows)
        return len(rows)
    except psycopg.errors.UniqueViolation:
        pass
    with conn.cursor() as cur:
        copy_rows(cur, "stage_reading", READING_TYPES, rows)
        cur.execute("INSERT INTO reading SELECT * FROM stage_reading ON CONFLICT DO NOTHING")
        return cur.rowcount


_UPSERT_STATUS = """
INSERT INTO device_status (device_key, online, last_seen, changed_at, reason)
VALUES (%s, %s, %s, %s, %s)
ON CONFLICT (device_key) DO UPDATE SET
    online = EXCLUDED.online, changed_at = EXCLUDED.changed_at, reason = EXCLUDED.reason,
    last_seen = greatest(device_status.last_seen, EXCLUDED.last_seen)
WHERE device_status.changed_at <= EXCLUDED.changed_at
"""


def _statuses(conn: Conn, rows: list[tuple[int, bool, dt.datetime, str | None]]) -> None:
    with conn.cursor() as cur:
        cur.executemany(_UPSERT_STATUS, [(k, on, at, at, why) for k, on, at, why in rows])


def _gateway_statuses(conn: Conn, batch: Decoded) -> None:
    """A gateway's state is its devices' reachability: one row per device, one statement."""
    with conn.cursor() as cur:
        for gateway_id, online, at, why in batch.gateway_statuses:
            cur.execute(
                """
                INSERT INTO device_status (device_key, online, last_seen, changed_at, reason)
                SELECT device_key, %s, NULL, %s, %s FROM device WHERE gateway_id = %s
                ON CONFLICT (device_key) DO UPDATE SET online = EXCLUDED.online,
                    changed_at = EXCLUDED.changed_at, reason = EXCLUDED.reason
                WHERE device_status.changed_at <= EXCLUDED.changed_at
                """,
                (online, at, f"gateway {gateway_id}: {why or ''}".strip(), gateway_id),
            )
