import numpy as np
import pytest

from gridwatch.db import Conn
from simulators.city import FULL_DEVICES, FULL_SCALE, generate, scaled
from simulators.city_store import RegistryNotEmpty, city_summary, load_fleet, write_city


@pytest.fixture(scope="module")
def city():  # type: ignore[no-untyped-def]
    return generate(0.05, seed=11)


def test_proportions_follow_the_city_reports(city) -> None:  # type: ignore[no-untyped-def]
    levels = {lvl: len(city.level(lvl)) for lvl in FULL_SCALE}
    for level, full in FULL_SCALE.items():
        if level == "district":
            assert levels[level] == 1
        else:
            assert levels[level] == scaled(full, 0.05)
    types, counts = np.unique(city.fleet.device_type, return_counts=True)
    assert dict(zip(types.tolist(), counts.tolist(), strict=True)) == {
        t: scaled(n, 0.05) for t, n in FULL_DEVICES.items()
    }


def test_full_scale_counts_are_the_reports() -> None:
    assert sum(FULL_DEVICES.values()) == 2_450_000
    assert FULL_DEVICES["elevator"] == 124_900 and FULL_DEVICES["fire"] == 2_355
    assert FULL_SCALE == {"district": 11, "street": 150, "community": 2_869, "grid": 12_600,
                          "microgrid": 57_100}  # fmt: skip


def test_same_seed_same_city_other_seed_other_city(city) -> None:  # type: ignore[no-untyped-def]
    again = generate(0.05, seed=11)
    assert again.territories == city.territories
    assert (again.fleet.device_id == city.fleet.device_id).all()
    assert (again.fleet.microgrid == city.fleet.microgrid).all()
    other = generate(0.05, seed=12)
    assert not (other.fleet.microgrid == city.fleet.microgrid).all()


def test_hierarchy_is_consistent(city) -> None:  # type: ignore[no-untyped-def]
    parent = {t.code: t.parent_code for t in city.territories}
    level = {t.code: t.level for t in city.territories}
    f = city.fleet
    for i in range(0, len(f), 97):
        mg, grid, comm = str(f.microgrid[i]), str(f.grid[i]), str(f.community[i])
        assert parent[mg] == grid and parent[grid] == comm and level[comm] == "community"
    codes = [t.code for t in city.territories]
    assert len(codes) == len(set(codes))
    assert len(set(f.device_id.tolist())) == len(f)
    kinds = {t.kind for t in city.level("community")}
    assert kinds == {"urban", "rural", "industrial"}


def test_gateways_front_devices_of_one_microgrid(city) -> None:  # type: ignore[no-untyped-def]
    f = city.fleet
    behind = f.gateway != ""
    assert behind.any() and not behind[f.device_type == "elevator"].any()
    for gw in np.unique(f.gateway[behind])[:200]:
        members = f.gateway == gw
        assert len(np.unique(f.microgrid[members])) == 1
        assert members.sum() <= 48


def test_write_and_load_round_trip(conn: Conn) -> None:
    small = generate(0.005, seed=3)
    write_city(conn, small, progress=lambda _: None)
    fleet = load_fleet(conn)
    assert fleet.device_id.tolist() == small.fleet.device_id.tolist()
    assert fleet.gateway.tolist() == small.fleet.gateway.tolist()
    summary = city_summary(conn)
    assert summary["community"] == len(small.level("community"))
    assert summary["devices.smoke"] == scaled(FULL_DEVICES["smoke"], 0.005)
    with pytest.raises(RegistryNotEmpty):
        write_city(conn, small, progress=lambda _: None)
    write_city(conn, generate(0.005, seed=4), replace=True, progress=lambda _: None)
    assert len(load_fleet(conn)) == len(small.fleet)
