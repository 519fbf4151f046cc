"""Which storage backend a database offers: TimescaleDB when the extension loads, else plain."""

from __future__ import annotations

from dataclasses import dataclass

import psycopg


@dataclass(frozen=True)
class Backend:
    name: str  # "timescaledb" or "postgres"
    version: str

    @property
    def is_timescale(self) -> bool:
        return self.name == "timescaledb"

    def __str__(self) -> str:
        return f"{self.name} {self.version}"


def server_version(conn: psycopg.Connection[tuple[object, ...]]) -> str:
    row = conn.execute("SHOW server_version").fetchone()
    return str(row[0]).split()[0] if row else "unknown"


def installed_backend(conn: psycopg.Connection[tuple[object, ...]]) -> Backend:
    """The backend as the database is now, without changing it."""
    row = conn.execute(
        "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'"
    ).fetchone()
    if row:
        return Backend("timescaledb", str(row[0]))
    return Backend("postgres", server_version(conn))


def enable_backend(conn: psycopg.Connection[tuple[object, ...]]) -> Backend:
    """Create the timescaledb extension where the server offers it; report what we have.

    A server that ships the extension but does not preload it would end the session on
    CREATE EXTENSION; then GridWatch runs on plain PostgreSQL rather than not at all.
    """
    available = conn.execute(
        "SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'"
    ).fetchone()
    preload = conn.execute("SELECT current_setting('shared_preload_libraries')").fetchone()
    if available and preload and "timescaledb" in str(preload[0]):
        try:
            with conn.transaction():
                conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
        except psycopg.Error:
            pass
    return installed_backend(conn)
