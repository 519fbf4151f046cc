"""A private Mosquitto broker under the project's data folder, for the demo and the tests.

Configured for GridWatch's contract: persistence on (queued QoS 1 messages survive a restart)
and no cap on the queue of a persistent session, so a slow consumer means back-pressure in
the broker's memory rather than dropped messages.
"""

from __future__ import annotations

import getpass
import shutil
import signal
import subprocess
from pathlib import Path

from gridwatch.net import free_port, wait_for_port

_CONFIG = """\
listener {port} 127.0.0.1
allow_anonymous {anonymous}
{auth}
persistence true
persistence_location {root}/
autosave_interval 5
max_queued_messages 0
max_queued_bytes 0
max_inflight_messages 0
set_tcp_nodelay true
persistent_client_expiration 7d
user {user}
log_dest file {root}/mosquitto.log
log_type error
log_type warning
log_type notice
"""


def find_mosquitto() -> str | None:
    for cand in (shutil.which("mosquitto"), "/usr/sbin/mosquitto"):
        if cand and Path(cand).exists():
            return cand
    return None


class LocalMosquitto:
    """One private broker: `start()`, `stop()`, `restart()`; `url` once started."""

    def __init__(self, root: Path, port: int | None = None) -> None:
        binary = find_mosquitto()
        if binary is None:
            raise RuntimeError(
                "mosquitto not found: `apt-get install mosquitto`, or set GRIDWATCH_MQTT_URL"
            )
        self.binary = binary
        self.root = root.resolve()
        self.port = port or free_port()
        self.password_file: Path | None = None
        self.acl_file: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def _write_config(self) -> Path:
        self.root.mkdir(parents=True, exist_ok=True)
        auth = ""
        if self.password_file is not None:
            auth += f"password_file {self.password_file}\n"
        if self.acl_file is not None:
            auth += f"acl_file {self.acl_file}\n"
        conf = self.root / "mosquitto.conf"
        conf.write_text(
            _CONFIG.format(
                port=self.port,
                root=self.root,
                user=getpass.getuser(),
                anonymous="false" if self.password_file else "true",
                auth=auth,
            )
        )
        return conf

    def start(self) -> str:
        conf = self._write_config()
        console = self.root / "console.log"
        with console.open("ab") as out:
            self._proc = subprocess.Popen(
                [self.binary, "-c", str(conf)], stdout=out, stderr=subprocess.STDOUT
            )
        try:
            wait_for_port("127.0.0.1", self.port, timeout_s=20.0, alive=self._proc.poll)
        except (TimeoutError, RuntimeError) as exc:
            tail = console.read_text(errors="replace").strip().splitlines()[-3:]
            raise RuntimeError(f"mosquitto did not start: {exc}; {' | '.join(tail)}") from None
        return self.url

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGTERM)  # graceful: it saves the persistence file
            self._proc.wait(timeout=30)
        self._proc = None

    def restart(self) -> None:
        self.stop()
        self.start()
