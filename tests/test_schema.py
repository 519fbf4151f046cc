import datetime as dt

import psycopg

from gridwatch.catalogue import METRICS_BY_ID
from gridwatch.db import Conn
from gridwatch.schema.backend import installed_backend
from gridwatch.schema.migrate import current_version, migrate, migrations_for
from gridwatch.schema.partitions import drop_expired, ensure_partitions
from gridwatch.settings import Settings


def _schema_fingerprint(conn: Conn) -> list[tuple[object, ...]]:
    return conn.execute(
        """
        SELECT table_name, column_name, data_type FROM information_schema.columns
        WHERE table_schema = 'public' ORDER BY 1, 2
        """
    ).fetchall()


def test_migrate_twice_changes_nothing(conn: Conn, settings: Settings) -> None:
    before = _schema_fingerprint(conn)
    version = current_version(conn)
    assert migrate(conn, settings) == []
    assert _schema_fingerprint(conn) == before
    assert current_version(conn) == version == len(migrations_for(installed_backend(conn)))


def test_registry_and_time_series_tables_exist(conn: Conn) -> None:
    names = {
        r[0]
        for r in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema='public'"
        )
    }
    expected = {
        "territory",
        "device",
        "device_status",
        "reading",
        "device_event",
        "alert",
        "alert_transition",
        "dead_letter",
        "metric",
        "gateway",
    }
    assert expected <= names
    # The rollup is a table on plain PostgreSQL and a continuous aggregate on TimescaleDB;
    # either way it is read by the same name.
    assert conn.execute("SELECT count(*) FROM reading_1m").fetchone() == (0,)


def test_metric_catalogue_is_seeded(conn: Conn) -> None:
    rows = conn.execute("SELECT metric_id, device_type, name FROM metric").fetchall()
    assert {r[0]: (r[1], r[2]) for r in rows} == {
        m.metric_id: (m.device_type, m.name) for m in METRICS_BY_ID.values()
    }


def test_plain_backend_partitions_ahead_and_retention(conn: Conn) -> None:
    if installed_backend(conn).is_timescale:
        return  # TimescaleDB manages chunks itself: covered by test_timescale_objects
    today = dt.datetime.now(dt.UTC).date()
    ensure_partitions(conn, today, ahead_days=3, behind_days=40)
    late = dt.datetime.combine(today - dt.timedelta(days=35), dt.time(12), dt.UTC)
    conn.execute(
        "INSERT INTO reading VALUES (%s, 1, 1, 1, 2.5), (%s, 1, 1, 2, 3.5)",
        (late, dt.datetime.now(dt.UTC)),
    )
    dropped = drop_expired(conn, today, retention_days=30)
    assert f"reading_p{late:%Y%m%d}" in dropped
    assert conn.execute("SELECT count(*) FROM reading").fetchone() == (1,)
    tomorrow = today + dt.timedelta(days=3)
    part = conn.execute("SELECT to_regclass(%s)", (f"reading_p{tomorrow:%Y%m%d}",)).fetchone()
    assert part is not None and part[0] is not None


def test_late_reading_before_any_partition_is_kept(conn: Conn) -> None:
    if installed_backend(conn).is_timescale:
        return
    old = dt.datetime(2001, 1, 1, tzinfo=dt.UTC)
    conn.execute("INSERT INTO reading VALUES (%s, 1, 1, 1, 1.0)", (old,))
    assert conn.execute("SELECT count(*) FROM reading_default").fetchone() == (1,)


def test_timescale_objects(conn: Conn) -> None:
    if not installed_backend(conn).is_timescale:
        return
    hypertables = {
        r[0]
        for r in conn.execute("SELECT hypertable_name FROM timescaledb_information.hypertables")
    }
    assert {"reading", "device_event"} <= hypertables
    caggs = {
        r[0]
        for r in conn.execute("SELECT view_name FROM timescaledb_information.continuous_aggregates")
    }
    assert "reading_1m" in caggs
    procs = {r[0] for r in conn.execute("SELECT proc_name FROM timescaledb_information.jobs")}
    assert {
        "policy_refresh_continuous_aggregate",
        "policy_compression",
        "policy_retention",
    } <= procs


def test_one_live_alert_per_grid_and_cause_is_a_constraint(conn: Conn) -> None:
    conn.execute("INSERT INTO territory (code, level, name, path) VALUES ('g1','grid','G','g1')")
    insert = """INSERT INTO alert (grid_code, cause, severity, status, title, opened_at,
                updated_at) VALUES ('g1', 'fire', 'high', %s, 't', now(), now())"""
    conn.execute(insert, ("open",))
    try:
        conn.execute(insert, ("acknowledged",))
    except psycopg.errors.UniqueViolation:
        pass
    else:
        raise AssertionError("a second live alert for the same grid and cause was accepted")
    conn.execute("UPDATE alert SET status = 'resolved'")
    conn.execute(insert, ("open",))
