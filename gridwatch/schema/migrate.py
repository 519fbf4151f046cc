"""Versioned, idempotent migrations.

Each `sql/NNNN_name.sql` is one version; a version may instead come as a pair
`NNNN_name.timescale.sql` / `NNNN_name.postgres.sql` when the backends differ. Versions run
once each, in order, in their own transaction, under an advisory lock so that two processes
migrating at once do not race.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from importlib import resources

import psycopg

from gridwatch.catalogue import METRICS_BY_ID
from gridwatch.schema.backend import Backend, enable_backend
from gridwatch.schema.partitions import ensure_partitions
from gridwatch.settings import Settings

_LOCK_KEY = 0x67726964  # "grid"
_NAME = re.compile(r"^(\d{4})_(\w+?)(?:\.(timescale|postgres))?\.sql$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def migrations_for(backend: Backend) -> list[Migration]:
    """The migrations that apply to this backend, in version order."""
    variant = "timescale" if backend.is_timescale else "postgres"
    found: dict[int, Migration] = {}
    for entry in resources.files("gridwatch.schema").joinpath("sql").iterdir():
        match = _NAME.match(entry.name)
        if not match or match.group(3) not in (None, variant):
            continue
        version = int(match.group(1))
        found[version] = Migration(version, match.group(2), entry.read_text())
    return [found[v] for v in sorted(found)]


def _ensure_version_table(conn: psycopg.Connection[tuple[object, ...]]) -> None:
    conn.execute(
        """
        CREATE TABLE IF NOT EXISTS schema_version (
            version    integer PRIMARY KEY,
            name       text NOT NULL,
            backend    text NOT NULL,
            applied_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )


def current_version(conn: psycopg.Connection[tuple[object, ...]]) -> int:
    exists = conn.execute("SELECT to_regclass('schema_version')").fetchone()
    if not exists or exists[0] is None:
        return 0
    row = conn.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()
    return int(str(row[0])) if row else 0


def migrate(conn: psycopg.Connection[tuple[object, ...]], settings: Settings) -> list[Migration]:
    """Bring the schema up to date; return the migrations applied (empty the second time)."""
    applied: list[Migration] = []
    conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
    try:
        backend = enable_backend(conn)
        with conn.transaction():
            _ensure_version_table(conn)
        done = current_version(conn)
        params = {
            "retention_days": settings.retention_days,
            "compress_after_days": settings.compress_after_days,
        }
        for mig in migrations_for(backend):
            if mig.version <= done:
                continue
            with conn.transaction():
                conn.execute(_fill(mig.sql, params).encode())
                conn.execute(
                    "INSERT INTO schema_version (version, name, backend) VALUES (%s, %s, %s)",
                    (mig.version, mig.name, backend.name),
                )
            applied.append(mig)
        with conn.transaction():
            _seed_metrics(conn)
            if not backend.is_timescale:
                ensure_partitions(
                    conn, dt.datetime.now(dt.UTC).date(), settings.partitions_ahead_days, 1
                )
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))
    return applied


def _fill(text: str, params: dict[str, int]) -> str:
    """Substitute `{name}` placeholders; SQL's own braces (`'{}'::jsonb`) are left alone."""
    for key, value in params.items():
        text = text.replace("{" + key + "}", str(value))
    return text


def _seed_metrics(conn: psycopg.Connection[tuple[object, ...]]) -> None:
    """Keep the metric table equal to the catalogue in code (ids never change meaning)."""
    with conn.cursor() as cur:
        cur.executemany(
            """
            INSERT INTO metric (metric_id, device_type, name, unit, low, high)
            VALUES (%s, %s, %s, %s, %s, %s)
            ON CONFLICT (metric_id) DO UPDATE SET unit = EXCLUDED.unit,
                low = EXCLUDED.low, high = EXCLUDED.high
            WHERE (metric.unit, metric.low, metric.high)
                IS DISTINCT FROM (EXCLUDED.unit, EXCLUDED.low, EXCLUDED.high)
            """,
            [
                (m.metric_id, m.device_type, m.name, m.unit, m.low, m.high)
                for m in METRICS_BY_ID.values()
            ],
        )
