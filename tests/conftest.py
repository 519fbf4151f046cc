"""Real servers for the tests: the configured ones, or private ones started here.

Every test that touches storage gets its own database cloned from a migrated template, so
tests never see each other's rows.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from gridwatch.db import Conn, with_database
from gridwatch.local_services import services_for
from gridwatch.schema.migrate import migrate
from gridwatch.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE_DB = f"gw_template_{os.getpid()}"


@pytest.fixture(scope="session")
def services() -> Iterator[Settings]:
    """Settings pointing at a real PostgreSQL and a real broker for this test session."""
    base = load_settings(data_dir=ROOT / ".gridwatch" / f"test-{os.getpid()}")
    with services_for(base, log=False) as settings:
        admin = settings.dsn
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{TEMPLATE_DB}"')
        template = settings.model_copy(update={"database_url": with_database(admin, TEMPLATE_DB)})
        with psycopg.connect(template.dsn, autocommit=True) as conn:
            migrate(conn, template)
        try:
            yield settings
        finally:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{TEMPLATE_DB}" WITH (FORCE)')


@pytest.fixture
def settings(services: Settings) -> Iterator[Settings]:
    """Settings with a fresh, migrated database of this test's own."""
    name = f"gw_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(services.dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE_DB}"')
    try:
        yield services.model_copy(update={"database_url": with_database(services.dsn, name)})
    finally:
        with psycopg.connect(services.dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def conn(settings: Settings) -> Iterator[Conn]:
    with psycopg.connect(settings.dsn, autocommit=True) as c:
        yield c


@pytest.fixture
def topic_root() -> str:
    """A topic prefix of this test's own on the shared broker."""
    return f"t{uuid.uuid4().hex[:10]}"
