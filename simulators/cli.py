"""`gridwatch city …`, `simulate`, `record`, `replay`: the testers' commands."""

from __future__ import annotations

import datetime as dt
import signal
import threading
import time
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer

from gridwatch.db import connect
from gridwatch.report import print_result
from gridwatch.settings import load_settings
from simulators.city import generate
from simulators.city_store import city_summary, load_fleet, write_city
from simulators.engine import Mode, Simulation
from simulators.faults import FaultInjector
from simulators.publisher import Publisher, PublisherProcess
from simulators.recording import record, replay
from simulators.run import RunStats, run, start_for
from simulators.scenarios import builtin_names, load_scenario, parse_duration

city_app = typer.Typer(help="Generate and inspect the simulated city.", no_args_is_help=True)


@city_app.command("generate")
def city_generate(
    scale: Annotated[float, typer.Option(help="1.0 = the whole city (2.45 M devices)")] = 0.01,
    seed: Annotated[int, typer.Option(help="same seed, same city")] = 1,
    replace: Annotated[
        bool,
        typer.Option(
            help="replace a city already registered (and its incidents, rosters and API keys)"
        ),
    ] = False,
) -> None:
    """Write a territory hierarchy and device registry into the database."""
    settings = load_settings()
    t0 = time.monotonic()
    city = generate(scale, seed)
    print(f"generated {len(city.territories):,} territories, {len(city.fleet):,} devices "
          f"in {time.monotonic() - t0:.1f}s", flush=True)  # fmt: skip
    with connect(settings) as conn:
        write_city(conn, city, replace=replace, progress=lambda s: print(s, flush=True))
    print(f"done in {time.monotonic() - t0:.1f}s")


@city_app.command("info")
def city_info() -> None:
    """Counts per territory level and device type."""
    with connect(load_settings()) as conn:
        for key, n in sorted(city_summary(conn).items()):
            print(f"{key:24} {n:>10,}")


def _iso(t: float) -> str:
    return dt.datetime.fromtimestamp(t, dt.UTC).isoformat().replace("+00:00", "Z")


def simulate(
    scenario: Annotated[str, typer.Option(help="built-in name or scenario file")] = "quiet_day",
    seed: Annotated[int, typer.Option()] = 1,
    speed: Annotated[float, typer.Option(help="time compression; 0 = as fast as possible")] = 1.0,
    duration: Annotated[str | None, typer.Option(help="e.g. 15m; default: the scenario's")] = None,
    mode: Annotated[str, typer.Option(help="direct or gateway")] = "gateway",
    truth: Annotated[Path | None, typer.Option(help="write the ground truth here (JSON)")] = None,
    list_: Annotated[bool, typer.Option("--list", help="name the built-in scenarios")] = False,
) -> None:
    """Publish the registered city's traffic with a scenario's incidents injected."""
    if list_:
        print("\n".join(builtin_names()))
        return
    if mode not in ("direct", "gateway"):
        raise typer.BadParameter("mode must be direct or gateway")
    settings = load_settings()
    spec = load_scenario(scenario)
    length = parse_duration(duration) if duration else spec.duration
    with connect(settings) as conn:
        fleet = load_fleet(conn)
    if len(fleet) == 0:
        raise typer.BadParameter("no devices registered: run `gridwatch city generate` first")
    start = start_for(time.time(), length, speed)
    mode_: Mode = "gateway" if mode == "gateway" else "direct"
    sim = Simulation(fleet, spec, seed, start, mode_)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    pub = PublisherProcess(settings.mqtt, f"gridwatch-sim-{seed}-{int(time.time())}")

    def report(s: RunStats) -> None:
        print(f"published {s.records:,} records in {s.messages:,} messages "
              f"({s.records_per_s:,.0f} records/s)", flush=True)  # fmt: skip

    try:
        stats = run(sim, pub, length, speed, FaultInjector(spec.faults, seed), progress=report,
                    stop=stop.is_set)  # fmt: skip
        pub.flush()
    finally:
        pub.close()
    report(stats)
    if truth is not None:
        doc: dict[str, Any] = {
            "scenario": spec.name, "seed": seed, "mode": mode, "speed": speed,
            "start": _iso(start), "end": _iso(start + length),
            "incidents": [{**t, "start": _iso(t["start"]), "end": _iso(t["end"])}
                          for t in sim.truth()],
            "faults": stats.faults, "records": stats.records, "messages": stats.messages,
        }  # fmt: skip
        truth.write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2))
        print(f"ground truth: {truth} ({len(doc['incidents'])} incidents)")


def record_cmd(
    out: Annotated[Path, typer.Option(help="JSON-lines file to write")],
    seconds: Annotated[float, typer.Option(help="stop after this long; 0 = until Ctrl-C")] = 0,
) -> None:
    """Capture broker traffic under gw/v1/# with its timing."""
    settings = load_settings()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    if seconds > 0:
        threading.Timer(seconds, stop.set).start()
    n = record(settings.mqtt, out, stop)
    print(f"recorded {n:,} messages to {out}")


def replay_cmd(
    file: Annotated[Path, typer.Argument(help="a file written by `gridwatch record`")],
    speed: Annotated[
        float, typer.Option(help="1 = original timing; 0 = as fast as possible")
    ] = 1.0,
) -> None:
    """Publish a recording again."""
    settings = load_settings()
    pub = Publisher(settings.mqtt, f"gridwatch-replay-{int(time.time())}")
    try:
        n = replay(file, pub, speed)
        pub.flush()
    finally:
        pub.close()
    print(f"replayed {n:,} messages")


def bench_simulate_cmd(
    scale: Annotated[float, typer.Option(help="city size (1.0 = 2.45 million devices)")] = 1.0,
    minutes: Annotated[float, typer.Option(help="simulated minutes to publish")] = 3.0,
    mode: Annotated[str, typer.Option(help="direct or gateway")] = "gateway",
    json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """The simulator's own publish rate: a simulated minute in at most a wall minute?"""
    from simulators.bench import bench_simulate

    if mode not in ("direct", "gateway"):
        raise typer.BadParameter("mode must be direct or gateway")
    result = bench_simulate(scale, minutes, "gateway" if mode == "gateway" else "direct",
                            log=(lambda *_: None) if json else print)  # fmt: skip
    print_result(result, json)


def register(app: typer.Typer, bench: typer.Typer) -> None:
    app.add_typer(city_app, name="city")
    app.command("simulate")(simulate)
    app.command("record")(record_cmd)
    app.command("replay")(replay_cmd)
    bench.command("simulate")(bench_simulate_cmd)
