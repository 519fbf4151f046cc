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
