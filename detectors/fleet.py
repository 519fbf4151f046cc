"""The registry as the detectors need it: numpy arrays indexed by device key.

Strings (grid codes, gateway ids) are stored once in lists and referenced by index, so that
millions of devices cost a few bytes each. Each device's metrics get consecutive series
numbers: `series(key, metric_id)` = base[key] + the metric's place in its device type.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from gridwatch.catalogue import DEVICE_TYPES
from gridwatch.db import Conn

_TYPES = list(DEVICE_TYPES)
_SLOT = {m.metric_id: i for t in DEVICE_TYPES.values() for i, m in enumerate(t.metrics)}
_MAX_METRIC = max(_SLOT) + 1
SLOT_OF_METRIC = np.array([_SLOT.get(m, 0) for m in range(_MAX_METRIC)], dtype=np.int64)
METRICS_OF_TYPE = np.array([len(DEVICE_TYPES[t].metrics) for t in _TYPES], dtype=np.int64)


@dataclass
class Fleet:
    base: npt.NDArray[np.int64]  # first series of each device key
    series: int
    grid: npt.NDArray[np.int32]  # → grids
    microgrid: npt.NDArray[np.int32]  # → microgrids, −1 for none
    gateway: npt.NDArray[np.int32]  # → gateways, −1 for none
    interval_s: npt.NDArray[np.int32]
    known: npt.NDArray[np.bool_]
    grids: list[str]
    microgrids: list[str]
    gateways: list[str]

    @property
    def size(self) -> int:
        return len(self.known)

    def series_of(self, keys: npt.NDArray[np.int64], metric_ids: npt.NDArray[np.int64]
                  ) -> npt.NDArray[np.int64]:  # fmt: skip
        out: npt.NDArray[np.int64] = self.base[keys] + SLOT_OF_METRIC[metric_ids]
        return out


def _codes(values: list[str | None]) -> tuple[npt.NDArray[np.int32], list[str]]:
    names: dict[str, int] = {}
    idx = np.array([-1 if v is None else names.setdefault(v, len(names)) for v in values],
                   dtype=np.int32)  # fmt: skip
    return idx, list(names)


def load_fleet_arrays(conn: Conn) -> Fleet:
    rows = conn.execute(
        "SELECT device_key, device_type, grid_code, microgrid_code, gateway_id,"
        " report_interval_s, retired_at IS NULL FROM device ORDER BY device_key"
    ).fetchall()  # retired devices keep their series numbers: the saved state stays aligned
    size = (int(rows[-1][0]) + 1) if rows else 0
    keys = np.array([int(r[0]) for r in rows], dtype=np.int64)
    known = np.zeros(size, dtype=bool)
    known[keys] = np.array([bool(r[6]) for r in rows], dtype=bool)
    per_key = np.zeros(size, dtype=np.int64)
    type_idx = np.array([_TYPES.index(str(r[1])) for r in rows], dtype=np.int64)
    per_key[keys] = METRICS_OF_TYPE[type_idx] if len(rows) else 0
    base = np.concatenate([[0], np.cumsum(per_key)[:-1]]) if size else np.zeros(0, np.int64)

    def spread(values: npt.NDArray[np.int32], fill: int = -1) -> npt.NDArray[np.int32]:
        out = np.full(size, fill, dtype=np.int32)
        out[keys] = values
        return out

    grid, grids = _codes([str(r[2]) for r in rows])
    micro, micros = _codes([r[3] and str(r[3]) for r in rows])
    gw, gws = _codes([r[4] and str(r[4]) for r in rows])
    interval = spread(np.array([int(r[5]) for r in rows], dtype=np.int32), fill=60)
    return Fleet(base.astype(np.int64), int(per_key.sum()), spread(grid), spread(micro),
                 spread(gw), interval, known, grids, micros, gws)  # fmt: skip
