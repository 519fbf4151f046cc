"""The city generator: territory hierarchy and device registry, deterministic for a seed.

At scale 1.0 the counts match the city reports (Ningbo): 11 districts, ~150 streets/towns,
2,869 communities, 12,600 grids, 57,100 micro-grids and 2.45 million devices. Smaller scales
keep the proportions; every level keeps at least one node per parent.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulators.names import DISTRICTS, place_name

CITY_CODE = "330200"
CITY_NAME = "Ningbo"

FULL_SCALE = {
    "district": 11,
    "street": 150,
    "community": 2_869,
    "grid": 12_600,
    "microgrid": 57_100,
}
# Devices at scale 1.0 (2.45 million in all): the reports' elevators, micro fire stations and
# new video points, the rest split among the community sensors.
FULL_DEVICES = {
    "elevator": 124_900,
    "fire": 2_355,
    "video": 2_864,
    "smoke": 927_952,
    "door": 579_970,
    "gas": 347_982,
    "manhole": 185_590,
    "water": 162_391,
    "env": 115_996,
}
# Sensors that usually sit behind a compound's gateway (LoRa / NB-IoT concentrators).
GATEWAY_TYPES = ("smoke", "door", "gas", "water", "manhole", "env")
DEVICES_PER_GATEWAY = 48
COMMUNITY_KINDS = ("urban", "rural", "industrial")
KIND_WEIGHTS = (0.62, 0.30, 0.08)
HOUSEHOLDS_PER_GRID = 344


@dataclass(frozen=True)
class Territory:
    code: str
    level: str
    name: str
    parent_code: str | None
    path: str
    kind: str | None = None
    households: int | None = None


@dataclass
class Fleet:
    """The device registry as columns: cheap enough for the whole city in one process."""

    device_id: np.ndarray  # str
    device_type: np.ndarray  # str
    community: np.ndarray  # str
    grid: np.ndarray  # str
    microgrid: np.ndarray  # str
    gateway: np.ndarray  # str, "" when the device talks to the broker itself
    lat: np.ndarray
    lon: np.ndarray
    interval_s: np.ndarray  # int32

    def __len__(self) -> int:
        return len(self.device_id)


@dataclass
class City:
    seed: int
    scale: float
    territories: list[Territory]
    fleet: Fleet

    def level(self, level: str) -> list[Territory]:
        return [t for t in self.territories if t.level == level]


def scaled(count: int, scale: float) -> int:
    return max(1, round(count * scale))


def _spread(rng: np.random.Generator, n_children: int, n_parents: int) -> np.ndarray:
    """Parent index of each child: every parent gets one, the rest fall unevenly."""
    n_children = max(n_children, n_parents)
    weights = rng.gamma(2.0, 1.0, size=n_parents)
    extra = rng.multinomial(n_children - n_parents, weights / weights.sum())
    return np.repeat(np.arange(n_parents), 1 + extra)


def generate(scale: float, seed: int) -> City:
    """Build a city in memory; `write_city` stores it."""
    if not 0 < scale <= 1.0:
        raise ValueError("scale must be in (0, 1]")
    rng = np.random.default_rng(seed)
    n_districts = min(len(DISTRICTS), scaled(FULL_SCALE["district"], scale))
    city = Territory(CITY_CODE, "city", CITY_NAME, None, CITY_CODE)
    territories = [city]
    districts = []
    for code, name in DISTRICTS[:n_districts]:
        districts.append(Territory(code, "district", name, CITY_CODE, f"{CITY_CODE}/{code}"))
    territories += districts

    def children(
        parents: list[Territory], level: str, count: int, width: int, suffix: str
    ) -> list[Territory]:
        owner = _spread(rng, scaled(count, scale), len(parents))
        out: list[Territory] = []
        serial = np.zeros(len(parents), dtype=np.int64)
        for p in owner:
            serial[p] += 1
            parent = parents[p]
            code = f"{parent.code}{serial[p]:0{width}d}"
            out.append(Territory(code, level, place_name(rng, suffix), parent.code,
                                 f"{parent.path}/{code}"))  # fmt: skip
        return out

    streets = children(districts, "street", FULL_SCALE["street"], 3, "Street")
    communities = []
    for t in children(streets, "community", FULL_SCALE["community"], 3, "Community"):
        kind = str(rng.choice(COMMUNITY_KINDS, p=KIND_WEIGHTS))
        name = t.name.replace("Community", "Village") if kind == "rural" else t.name
        communities.append(Territory(t.code, t.level, name, t.parent_code, t.path, kind))
    grids = [
        Territory(t.code, t.level, f"Grid {t.code[-3:]}", t.parent_code, t.path,
                  households=int(rng.normal(HOUSEHOLDS_PER_GRID, 40)))
        for t in children(communities, "grid", FULL_SCALE["grid"], 3, "Grid")
    ]  # fmt: skip
    microgrids = [
        Territory(t.code, t.level, f"Micro-grid {t.code[-2:]}", t.parent_code, t.path)
        for t in children(grids, "microgrid", FULL_SCALE["microgrid"], 2, "Micro-grid")
    ]
    territories += streets + communities + grids + microgrids
    fleet = _fleet(rng, scale, communities, microgrids)
    return City(seed, scale, territories, fleet)


def _fleet(
    rng: np.random.Generator,
    scale: float,
    communities: list[Territory],
    microgrids: list[Territory],
) -> Fleet:
    kind_of = {c.code: c.kind for c in communities}
    mg_codes = np.array([m.code for m in microgrids])
    mg_grid = np.array([m.parent_code for m in microgrids])
    mg_comm = np.array([m.code[:12] for m in microgrids])
    urban = np.array([kind_of[c] == "urban" for c in mg_comm])
    centre = np.array([29.87, 121.55])
    mg_pos = centre + rng.normal(0, 0.25, size=(len(microgrids), 2))

    ids, types, mgs = [], [], []
    for dtype, full in FULL_DEVICES.items():
        n = scaled(full, scale)
        # Elevators and fire stations cluster in urban communities' high-rises.
        weight = (
            np.where(urban, 3.0, 1.0) if dtype in ("elevator", "fire") else np.ones(len(mg_codes))
        )
        where = rng.choice(len(mg_codes), size=n, p=weight / weight.sum())
        where.sort()
        types.append(np.full(n, dtype))
        mgs.append(where)
        ids.append(np.arange(n))
    type_arr = np.concatenate(types)
    mg_idx = np.concatenate(mgs)
    serial = np.concatenate(ids)
    comm = mg_comm[mg_idx]
    device_id = np.char.add(
        np.char.add(np.char.add(type_arr, "-"), comm),
        np.char.add("-", np.char.zfill(serial.astype(str), 7)),
    )
    gateway = _gateways(type_arr, mg_idx, mg_codes)
    pos = mg_pos[mg_idx] + rng.normal(0, 0.002, size=(len(mg_idx), 2))
    return Fleet(
        device_id=device_id,
        device_type=type_arr,
        community=comm,
        grid=mg_grid[mg_idx],
        microgrid=mg_codes[mg_idx],
        gateway=gateway,
        lat=pos[:, 0].round(6),
        lon=pos[:, 1].round(6),
        interval_s=np.full(len(mg_idx), 60, dtype=np.int32),
    )


def _gateways(types: np.ndarray, mg_idx: np.ndarray, mg_codes: np.ndarray) -> np.ndarray:
    """Group gateway-type devices per micro-grid into gateways of up to 48 devices."""
    out = np.full(len(types), "", dtype=object)
    behind = np.isin(types, GATEWAY_TYPES)
    idx = np.flatnonzero(behind)
    order = idx[np.argsort(mg_idx[idx], kind="stable")]
    mg_sorted = mg_idx[order]
    # Position of each device within its micro-grid, then chunks of DEVICES_PER_GATEWAY.
    starts = np.r_[0, np.flatnonzero(np.diff(mg_sorted)) + 1]
    rank = np.arange(len(order)) - np.repeat(starts, np.diff(np.r_[starts, len(order)]))
    chunk = rank // DEVICES_PER_GATEWAY
    out[order] = [f"gw-{mg_codes[m]}-{c:02d}" for m, c in zip(mg_sorted, chunk, strict=True)]
    return out.astype(str)
