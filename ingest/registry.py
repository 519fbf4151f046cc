"""The device registry as ingest needs it: id → key, type, community, gateway."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from gridwatch.db import Conn


@dataclass(frozen=True, slots=True)
class DeviceRef:
    key: int
    device_type: str
    community: str
    gateway: str | None


class Registry:
    """Loaded once; a miss asks the database (a device registered since), at most once a
    minute per unknown id, so a flood of unknown ids cannot hammer the store."""

    def __init__(self, conn: Conn, miss_ttl_s: float = 60.0) -> None:
        self._conn = conn
        self._lock = threading.Lock()
        self._devices: dict[str, DeviceRef] = {}
        self._gateways: dict[str, str] = {}
        self._misses: dict[str, float] = {}
        self._miss_ttl_s = miss_ttl_s
        self.reload()

    def reload(self) -> None:
        with self._lock:
            cur = self._conn.execute(
                "SELECT device_id, device_key, device_type, community_code, gateway_id"
                " FROM device WHERE retired_at IS NULL"
            )
            self._devices = {str(r[0]): DeviceRef(int(str(r[1])), str(r[2]), str(r[3]),
                                                  r[4] and str(r[4]))
                             for r in cur}  # fmt: skip
            self._gateways = {
                str(r[0]): str(r[1])
                for r in self._conn.execute("SELECT gateway_id, community_code FROM gateway")
            }
            self._misses.clear()

    def __len__(self) -> int:
        return len(self._devices)

    def device(self, device_id: str) -> DeviceRef | None:
        ref = self._devices.get(device_id)
        if ref is not None:
            return ref
        now = time.monotonic()
        if now - self._misses.get(device_id, -1e9) < self._miss_ttl_s:
            return None
        self._misses[device_id] = now
        with self._lock:
            row = self._conn.execute(
                "SELECT device_key, device_type, community_code, gateway_id FROM device"
                " WHERE device_id = %s AND retired_at IS NULL",
                (device_id,),
            ).fetchone()
        if row is None:
            return None
        ref = DeviceRef(int(str(row[0])), str(row[1]), str(row[2]), row[3] and str(row[3]))
        self._devices[device_id] = ref
        return ref

    def gateway_community(self, gateway_id: str) -> str | None:
        return self._gateways.get(gateway_id)
