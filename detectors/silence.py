"""Silence: devices that stop reporting, and the one root cause when many stop together.

Every device has an expected report interval (from the registry). A device not heard from for
`factor` (1.9) × its interval is offline — a scan every few seconds finds it within twice its
interval for intervals of a minute or more — and a last-will makes it offline at once. When
most devices behind one gateway go quiet together, that is one `gateway silent` signal;
when most of a grid goes quiet, one `grid silent` signal; only the devices not explained
by either get a signal of their own.

State is a few numpy arrays indexed by device key: 8 + 4 + 4 + 4 + 1 + 1 bytes per device.

>>> import numpy as np
>>> grid = np.zeros(7, dtype=int)                 # device key → grid index
>>> gw = np.array([-1, -1, -1, -1, 0, 0, 0])      # device key → gateway index (−1: none)
>>> s = Silence(np.full(7, 60), grid, gw, now=0.0)
>>> s.seen(np.arange(7), np.full(7, 100.0))
>>> s.seen(np.array([0, 1, 2]), np.full(3, 200.0))
>>> [(o.scope, o.target, o.devices) for o in s.scan(now=200.0)]
[('gateway', 0, 3)]
>>> s.seen(np.array([4, 5, 6]), np.full(3, 230.0))
>>> [(o.scope, o.target, o.state) for o in s.scan(now=231.0)]
[('gateway', 0, 'cleared'), ('device', 3, 'raised')]
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

Keys = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class Outage:
    scope: str  # device, gateway or grid
    target: int  # device key, gateway index or grid index
    state: str  # raised or cleared
    reason: str
    devices: int  # how many devices it covers


class Silence:
    def __init__(self, interval_s: npt.NDArray[np.integer], grid: npt.NDArray[np.integer],
                 gateway: npt.NDArray[np.integer], now: float, factor: float = 1.9,
                 group_factor: float = 1.05, group_share: float = 0.8, group_min: int = 3,
                 tracked: npt.NDArray[np.bool_] | None = None) -> None:  # fmt: skip
        n = len(interval_s)
        self.interval = interval_s.astype(np.float32)
        self.grid = grid.astype(np.int32)
        self.gateway = gateway.astype(np.int32)
        # Not heard of yet: expected from now on, as if it had just reported.
        self.last_seen = np.full(n, now, dtype=np.float64)
        if tracked is not None:  # keys with no device behind them are never late
            self.last_seen[~tracked] = np.inf
        self.offline = np.zeros(n, dtype=bool)
        self.signalled = np.zeros(n, dtype=bool)  # offline with a signal of its own
        self.factor = factor
        self.group_factor = group_factor
        self.group_share = group_share
        self.group_min = group_min
        self.grid_down = np.zeros(int(grid.max(initial=-1)) + 1, dtype=bool)
        self.gateway_down = np.zeros(int(gateway.max(initial=-1)) + 1, dtype=bool)
        self._pending: list[Outage] = []

    # -- carrying state over (registry grown, process restarted) -------------------------
    def state(self) -> dict[str, npt.NDArray[np.bool_]]:
        return {"offline": self.offline, "signalled": self.signalled,
                "grid_down": self.grid_down, "gateway_down": self.gateway_down}  # fmt: skip

    def adopt(self, state: dict[str, npt.NDArray[np.bool_]]) -> None:
        """Take over what another watch knew was down, so that it is cleared when it comes
        back. Last-seen times start afresh: a restarted watch cannot tell a device that went
        quiet from one whose reports are still queued, so each gets its full interval."""
        for name, mine in self.state().items():
            theirs = state[name]
            n = min(len(mine), len(theirs))
            mine[:n] = theirs[:n]

    def save(self, path: Path) -> None:
        tmp = path.with_suffix(".tmp.npz")
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(tmp, **self.state())  # type: ignore[arg-type]
        os.replace(tmp, path)

    def load(self, path: Path) -> None:
        with np.load(path) as data:
            self.adopt({k: np.array(data[k], dtype=bool) for k in data.files})

    def seen(self, keys: Keys, ts: npt.NDArray[np.float64]) -> None:
        """Devices heard from (their readings' times); those that were offline come back."""
        keys = keys[keys < len(self.last_seen)]
        if not len(keys):
            return
        np.maximum.at(self.last_seen, keys, ts[: len(keys)])
        back = np.unique(keys[self.offline[keys]])
        if len(back):
            self.offline[back] = False
            told = back[self.signalled[back]]  # a device clears only what it raised itself
            self.signalled[told] = False
            self._pending += [Outage("device", int(k), "cleared", "reporting again", 1)
                              for k in told]  # fmt: skip
            self._groups_back()

    def last_will(self, keys: Keys) -> list[Outage]:
        """Devices whose connection the broker saw die: offline at once."""
        keys = np.unique(keys[(keys < len(self.offline))])
        keys = keys[~self.offline[keys]]
        self.offline[keys] = True
        self.signalled[keys] = True
        return [Outage("device", int(k), "raised", "last will", 1) for k in keys]

    def scan(self, now: float) -> list[Outage]:
        """Newly silent devices, as few signals as explain them; plus recoveries since.

        Groups are judged on devices that missed one report (`group_factor` × interval);
        a device alone is reported only after `factor` × interval, by when the silence of
        its gateway or grid, if that is the cause, has been seen and explains it.
        """
        out, self._pending = self._pending, []
        since = now - self.last_seen
        overdue = since > self.group_factor * self.interval
        quiet = overdue | self.offline
        explained = np.zeros(len(self.offline), dtype=bool)
        for scope, group, down in (("grid", self.grid, self.grid_down),
                                   ("gateway", self.gateway, self.gateway_down)):  # fmt: skip
            members = group >= 0
            total = np.bincount(group[members], minlength=len(down))
            silent = np.bincount(group[members & quiet], minlength=len(down))
            now_down = (silent >= self.group_min) & (silent >= self.group_share * total) & ~down
            for g in np.flatnonzero(now_down):
                out.append(Outage(scope, int(g), "raised", "most devices silent", int(silent[g])))
            down |= now_down
            explained |= members & down[np.maximum(group, 0)]
        self.offline |= overdue & explained
        alone = np.flatnonzero((since > self.factor * self.interval) & ~self.offline)
        self.offline[alone] = True
        self.signalled[alone] = True
        out += [Outage("device", int(k), "raised", "missed reports", 1) for k in alone]
        return out

    def _groups_back(self) -> None:
        for scope, group, down in (("grid", self.grid, self.grid_down),
                                   ("gateway", self.gateway, self.gateway_down)):  # fmt: skip
            if not down.any():
                continue
            members = group >= 0
            total = np.bincount(group[members], minlength=len(down))
            quiet = np.bincount(group[members & self.offline], minlength=len(down))
            up = down & (quiet < 0.5 * total)
            for g in np.flatnonzero(up):
                self._pending.append(Outage(scope, int(g), "cleared", "reporting again",
                                            int(total[g])))  # fmt: skip
            down &= ~up
