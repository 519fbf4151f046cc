import os
import subprocess
import sys
from pathlib import Path

from gridwatch.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def _gridwatch(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("GRIDWATCH_")}
    return subprocess.run(
        [sys.executable, "-m", "gridwatch", *args],
        capture_output=True,
        text=True,
        env={**clean, **env},
        timeout=120,
        check=False,
    )


def test_db_info_prints_backend_and_schema(settings: Settings) -> None:
    out = _gridwatch("db", "info", GRIDWATCH_DATABASE_URL=settings.dsn)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].split()[:2][0] == "backend:"
    assert lines[0].split()[1] in ("postgres", "timescaledb")
    newest = max(int(p.name[:4]) for p in (ROOT / "gridwatch/schema/sql").glob("*.sql"))
    assert lines[1] == f"schema: {newest}"


def test_migrate_again_applies_nothing(settings: Settings) -> None:
    out = _gridwatch("db", "migrate", GRIDWATCH_DATABASE_URL=settings.dsn)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().endswith("(0 applied)")


def test_unreachable_database_is_one_clear_line() -> None:
    out = _gridwatch("db", "info", GRIDWATCH_DATABASE_URL="postgresql://x@127.0.0.1:1/nope")
    assert out.returncode == 2
    assert out.stderr.startswith("gridwatch: error: GRIDWATCH_DATABASE_URL: cannot connect")
    assert len(out.stderr.strip().splitlines()) == 1


def test_malformed_url_is_one_clear_line() -> None:
    out = _gridwatch("db", "info", GRIDWATCH_MQTT_URL="tcp://x")
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        "gridwatch: error: GRIDWATCH_MQTT_URL: expected mqtt://[user:pass@]host:port, "
        "got scheme 'tcp'"
    ]


def test_keys_create_prints_the_key_last_and_it_works(settings: Settings) -> None:
    import psycopg

    from api.keys import authenticate
    from simulators.city import generate
    from simulators.city_store import write_city

    with psycopg.connect(settings.dsn, autocommit=True) as conn:
        write_city(conn, generate(0.0002, seed=4), progress=lambda _: None)
    out = _gridwatch("keys", "create", "--role", "responder", "--territory", "330203001001001",
                     GRIDWATCH_DATABASE_URL=settings.dsn)  # fmt: skip
    assert out.returncode == 0, out.stderr
    key = out.stdout.strip().splitlines()[-1]
    with psycopg.connect(settings.dsn, autocommit=True) as conn:
        who = authenticate(conn, key)
        stored = conn.execute("SELECT secret_sha256 FROM api_key").fetchone()
    assert who is not None and (who.role, who.territory) == ("responder", "330203001001001")
    assert stored is not None and key.split("_")[2].encode() not in bytes(stored[0])
    bad = _gridwatch("keys", "create", "--role", "boss", GRIDWATCH_DATABASE_URL=settings.dsn)
    assert bad.returncode == 2 and "role must be one of" in bad.stderr
