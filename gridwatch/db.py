"""Connections to the store: one place that turns libpq failures into a clear setting error."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

import psycopg
from psycopg.rows import TupleRow
from psycopg_pool import ConnectionPool

from gridwatch.errors import ConfigError
from gridwatch.settings import Settings

Conn = psycopg.Connection[TupleRow]

_SETTING = "GRIDWATCH_DATABASE_URL"


def _where(dsn: str) -> str:
    parts = urlsplit(dsn)
    return f"{parts.hostname or 'localhost'}:{parts.port or 5432}{parts.path or ''}"


def _reason(exc: Exception) -> str:
    lines = [ln.strip() for ln in str(exc).strip().splitlines() if ln.strip()]
    return lines[0].removeprefix("connection failed: ") if lines else type(exc).__name__


def connect(settings: Settings, autocommit: bool = True, timeout_s: int = 10) -> Conn:
    """A single connection, or a `ConfigError` naming the setting."""
    try:
        return psycopg.connect(settings.dsn, autocommit=autocommit, connect_timeout=timeout_s)
    except psycopg.OperationalError as exc:
        raise ConfigError(
            _SETTING, f"cannot connect to {_where(settings.dsn)}: {_reason(exc)}"
        ) from None
    except psycopg.ProgrammingError as exc:
        raise ConfigError(_SETTING, f"malformed: {_reason(exc)}") from None


def check_reachable(settings: Settings) -> None:
    """Fail early, with one line, when the database cannot be reached."""
    connect(settings).close()


def make_pool(
    settings: Settings, min_size: int = 1, max_size: int = 8, name: str = "gw"
) -> ConnectionPool[Conn]:
    """A pool with explicit timeouts; the caller closes it."""
    check_reachable(settings)
    return ConnectionPool(
        settings.dsn,
        min_size=min_size,
        max_size=max_size,
        timeout=30.0,
        max_idle=300.0,
        reconnect_timeout=300.0,
        name=name,
        kwargs={"autocommit": True},
        open=True,
    )


def with_database(url: str, dbname: str) -> str:
    """The same server, another database."""
    base, _, _ = url.rpartition("/")
    return f"{base}/{dbname}"


@contextmanager
def scratch_database(settings: Settings, prefix: str) -> Iterator[Settings]:
    """Settings for a new empty database on the same server, dropped on exit — for runs
    (evaluations, benchmarks) that must not touch the configured database's data."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with connect(settings) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield settings.model_copy(update={"database_url": with_database(settings.dsn, name)})
    finally:
        with connect(settings) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
