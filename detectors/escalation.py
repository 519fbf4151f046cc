"""When an unacknowledged incident moves up the emergency chain.

Level 0 is the grid's worker, who hears of the incident when it opens; level 1 the community
emergency manager; level 2 the emergency leadership group (`gridwatch.incidents.LEVELS`).
The deadlines count from the moment the incident opened (or re-opened) and depend on its
current severity, so an incident that turns critical escalates sooner. Acknowledging stops
the clock; informational incidents never escalate.

>>> Escalation().due("critical", level=0, elapsed_s=150.0)
1
>>> Escalation().due("low", level=1, elapsed_s=1e6) is None
True
"""

from __future__ import annotations

from dataclasses import dataclass, field

# severity → seconds unacknowledged before level 1, level 2 (None: it stops there).
DEADLINES_S: dict[str, tuple[float | None, float | None]] = {
    "critical": (120.0, 300.0),
    "high": (300.0, 900.0),
    "medium": (900.0, 3600.0),
    "low": (3600.0, None),
    "informational": (None, None),
}


@dataclass(frozen=True)
class Escalation:
    deadlines_s: dict[str, tuple[float | None, float | None]] = field(
        default_factory=lambda: dict(DEADLINES_S)
    )

    def due(self, severity: str, level: int, elapsed_s: float) -> int | None:
        """The level the incident should reach now, if higher than `level`."""
        reached = level
        for i, deadline in enumerate(self.deadlines_s[severity], start=1):
            if deadline is not None and elapsed_s >= deadline:
                reached = max(reached, i)
        return reached if reached > level else None
