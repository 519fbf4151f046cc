"""The `gridwatch` command: one entry point; each stage contributes its own sub-commands."""

from __future__ import annotations

import sys

import typer

from gridwatch.db import connect
from gridwatch.errors import ConfigError
from gridwatch.schema.backend import installed_backend
from gridwatch.schema.migrate import current_version, migrate
from gridwatch.settings import load_settings

app = typer.Typer(
    help="GridWatch: community IoT devices in, grid-level safety alerts out.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Schema and storage backend.", no_args_is_help=True)
app.add_typer(db_app, name="db")
bench_app = typer.Typer(
    help="Benchmarks: each measures the machine's limits in the same run.", no_args_is_help=True
)
app.add_typer(bench_app, name="bench")


@db_app.command("migrate")
def db_migrate() -> None:
    """Apply pending schema migrations (safe to run again: it then changes nothing)."""
    settings = load_settings()
    with connect(settings) as conn:
        applied = migrate(conn, settings)
        backend = installed_backend(conn)
        version = current_version(conn)
    for mig in applied:
        print(f"applied {mig.version:04d} {mig.name}")
    print(f"schema {version} on {backend} ({len(applied)} applied)")


@db_app.command("info")
def db_info() -> None:
    """Print the storage backend and the schema version."""
    settings = load_settings()
    with connect(settings) as conn:
        print(f"backend: {installed_backend(conn)}")
        print(f"schema: {current_version(conn)}")


def _register_stages() -> None:
    # Imported here so that a stage's import cost is paid once, by the command itself.
    from api.cli import register as register_api
    from detectors.cli import register as register_detectors
    from gridwatch.demo import demo
    from gridwatch.run import run_cmd
    from ingest.cli import register as register_ingest
    from simulators.cli import register as register_simulators

    app.command("demo")(demo)
    app.command("run")(run_cmd)
    register_simulators(app, bench_app)
    register_ingest(app, bench_app)
    register_detectors(app, bench_app)
    register_api(app, bench_app)


def main() -> None:
    _register_stages()
    try:
        app()
    except ConfigError as exc:
        print(f"gridwatch: error: {exc}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)
