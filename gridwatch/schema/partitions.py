"""Plain-PostgreSQL upkeep that TimescaleDB does by itself: daily partitions ahead, retention.

Partitions are named `<table>_pYYYYMMDD` and cover one UTC day.
"""

from __future__ import annotations

import datetime as dt

import psycopg
from psycopg import sql

PARTITIONED_TABLES = ("reading", "device_event")


def _day_name(table: str, day: dt.date) -> str:
    return f"{table}_p{day:%Y%m%d}"


def ensure_partitions(
    conn: psycopg.Connection[tuple[object, ...]], today: dt.date, ahead_days: int, behind_days: int
) -> int:
    """Create the missing daily partitions from today-behind to today+ahead; return how many."""
    created = 0
    for table in PARTITIONED_TABLES:
        existing = _existing(conn, table)
        for offset in range(-behind_days, ahead_days + 1):
            day = today + dt.timedelta(days=offset)
            name = _day_name(table, day)
            if name in existing:
                continue
            conn.execute(
                sql.SQL(
                    "CREATE TABLE IF NOT EXISTS {} PARTITION OF {} FOR VALUES FROM ({}) TO ({})"
                ).format(
                    sql.Identifier(name),
                    sql.Identifier(table),
                    sql.Literal(f"{day.isoformat()} 00:00:00+00"),
                    sql.Literal(f"{(day + dt.timedelta(days=1)).isoformat()} 00:00:00+00"),
                )
            )
            created += 1
    return created


def drop_expired(
    conn: psycopg.Connection[tuple[object, ...]], today: dt.date, retention_days: int
) -> list[str]:
    """Drop whole partitions older than the retention and purge the default partitions."""
    cutoff = today - dt.timedelta(days=retention_days)
    dropped: list[str] = []
    for table in PARTITIONED_TABLES:
        for name in sorted(_existing(conn, table)):
            day = dt.datetime.strptime(name.rsplit("_p", 1)[1], "%Y%m%d").date()
            if day < cutoff:
                conn.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(name)))
                dropped.append(name)
        conn.execute(
            sql.SQL("DELETE FROM {} WHERE ts < {}").format(
                sql.Identifier(f"{table}_default"), sql.Literal(f"{cutoff.isoformat()} 00:00:00+00")
            )
        )
    return dropped


def _existing(conn: psycopg.Connection[tuple[object, ...]], table: str) -> set[str]:
    rows = conn.execute(
        """
        SELECT c.relname FROM pg_inherits i
        JOIN pg_class c ON c.oid = i.inhrelid
        JOIN pg_class p ON p.oid = i.inhparent
        WHERE p.relname = %s AND c.relname LIKE %s
        """,
        (table, f"{table}\\_p%"),
    ).fetchall()
    return {str(r[0]) for r in rows}
