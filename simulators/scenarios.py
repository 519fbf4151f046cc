"""Scenario files: which incidents happen when, and which transport faults to inject."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from simulators.incidents import BUILDERS

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_UNIT = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: Any) -> float:
    """Seconds from a number or a string such as '90s', '15m', '2h'.

    >>> parse_duration("15m"), parse_duration(30), parse_duration("1.5h")
    (900.0, 30.0, 5400.0)
    """
    if isinstance(value, int | float):
        return float(value)
    match = _DURATION.match(str(value))
    if not match:
        raise ValueError(f"not a duration: {value!r} (use e.g. 90, '90s', '15m', '2h')")
    return float(match.group(1)) * _UNIT[match.group(2)]


Duration = Annotated[float, BeforeValidator(parse_duration)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class IncidentSpec(_Strict):
    type: str = Field(description="one of simulators.incidents.BUILDERS")
    at: Duration = Field(description="start, from the beginning of the run")
    duration: Duration = 600.0
    params: dict[str, Any] = Field(default_factory=dict)

    def model_post_init(self, _: Any) -> None:
        if self.type not in BUILDERS:
            raise ValueError(f"unknown incident type {self.type!r}; known: {sorted(BUILDERS)}")


class Faults(_Strict):
    """Transport faults, each a probability per message (clock skew: a share of devices)."""

    malformed: float = Field(0.0, ge=0, le=1)
    truncated: float = Field(0.0, ge=0, le=1)
    unknown_device: float = Field(0.0, ge=0, le=1)
    duplicate: float = Field(0.0, ge=0, le=1)
    out_of_order: float = Field(0.0, ge=0, le=1)
    late: float = Field(0.0, ge=0, le=1)
    late_by_s: Duration = 30.0
    clock_skew_devices: float = Field(0.0, ge=0, le=1)
    clock_skew_s: Duration = 0.0


class Scenario(_Strict):
    name: str
    description: str = ""
    duration: Duration = 900.0
    incidents: list[IncidentSpec] = Field(default_factory=list)
    faults: Faults = Faults()


def builtin_names() -> list[str]:
    folder = resources.files("simulators").joinpath("scenarios")
    return sorted(
        p.name.removesuffix(".json") for p in folder.iterdir() if p.name.endswith(".json")
    )


def load_scenario(name_or_file: str) -> Scenario:
    """A built-in scenario by name, or a scenario file by path."""
    path = Path(name_or_file)
    if path.suffix == ".json" and path.exists():
        return Scenario.model_validate_json(path.read_bytes())
    if name_or_file not in builtin_names():
        raise ValueError(
            f"no scenario {name_or_file!r}: not a file, and not one of {builtin_names()}"
        )
    text = resources.files("simulators").joinpath("scenarios", f"{name_or_file}.json").read_bytes()
    return Scenario.model_validate_json(text)
