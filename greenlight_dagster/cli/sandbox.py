"""`greenlight sandbox serve|generate`: the local PropertyWare/ServiceFusion sandbox (docs/operations.md §2).

``serve`` is scripted against: its first stdout line is the info JSON (flushed at once, so a
parent process can read it and go), everything meant for people goes to stderr, and Ctrl-C
or SIGTERM stops all three servers and exits 0. A bad fixture file is one sentence naming the
field and the reason, exit 1.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Any

import click

from greenlight_dagster.sandbox.generator import (
    SCALES,
    FixtureError,
    entity_counts,
    generate_fixture,
    iter_planted,
    validate_fixture,
)
from greenlight_dagster.sandbox.runner import Sandbox, SandboxStartError

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@click.group()
def sandbox() -> None:
    """Run the local PropertyWare and ServiceFusion sandbox, or write its fixtures."""


def read_fixture(path: Path) -> dict[str, Any]:
    """A fixture file, checked; any problem is a one-sentence ClickException (exit 1)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise click.ClickException(f"cannot read fixture file {path}: {exc.strerror or exc}") from None
    try:
        return validate_fixture(json.loads(text))
    except json.JSONDecodeError as exc:
        raise click.ClickException(f"fixture file {path} is not valid JSON: {exc.msg} at line {exc.lineno} "
                                   f"column {exc.colno}") from None
    except FixtureError as exc:
        raise click.ClickException(f"fixture file {path} is invalid: {exc}") from None


def describe(fixture: dict[str, Any]) -> str:
    """One line of record counts and one of planted problems, for people (stderr)."""
    counts = ", ".join(f"{n} {name.split('.')[1]}" for name, n in entity_counts(fixture).items() if n)
    planted = ", ".join(f"{n} {kind}" for kind, n in iter_planted(fixture))
    return f"  records: {counts}" + (f"\n  planted: {planted}" if planted else "")


def wait_for_stop_signal() -> int:
    """Block until SIGINT or SIGTERM; return which one. Handlers are restored afterwards."""
    stop, received = threading.Event(), []

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        received.append(signum)
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in STOP_SIGNALS}
    try:
        while not stop.wait(0.5):  # a timed wait keeps the main thread responsive to signals
            pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return received[0]


@sandbox.command()
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the generated world.")
@click.option("--scale", type=click.Choice(list(SCALES)), default="small", show_default=True,
              help="Size of the generated world.")
@click.option("--fixture", "fixture_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Serve this fixture file (docs/operations.md §3) instead of a generated world; "
                   "--seed/--scale ignored.")
@click.option("--port-base", type=click.IntRange(0, 65_532), default=0, show_default=True,
              help="PW SOAP on P, SF on P+1, admin API on P+2, PW REST on P+3; 0 takes free ports.")
@click.option("--sf-rate-limit", type=click.IntRange(1), default=60, show_default=True,
              help="ServiceFusion requests per minute per token (the real API allows 60).")
def serve(seed: int, scale: str, fixture_file: Path | None, port_base: int, sf_rate_limit: int) -> None:
    """Run the PW (SOAP and REST), SF and admin servers until Ctrl-C; the first stdout line is the info JSON."""
    fixture = read_fixture(fixture_file) if fixture_file else None
    try:
        running = Sandbox(fixture, seed=seed, scale=scale, port_base=port_base,
                          sf_options={"rate_limit_per_minute": sf_rate_limit}).start()
    except SandboxStartError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        info = running.info
        sys.stdout.write(json.dumps(info) + "\n")
        sys.stdout.flush()
        origin = f"fixture {fixture_file}" if fixture_file else f"{scale} world, seed {seed}"
        click.echo(f"GreenLight sandbox running ({origin})\n  PW WSDL: {info['pw_wsdl_url']}\n"
                   f"  SF API:  {info['sf_base_url']}\n  admin:   {info['admin_url']}\n{describe(running.fixture)}\n"
                   "Credentials are on the first stdout line. Ctrl-C to stop.", err=True)
        signum = wait_for_stop_signal()
    finally:
        running.stop()
    click.echo(f"sandbox stopped ({signal.Signals(signum).name})", err=True)


@sandbox.command()
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the generated world.")
@click.option("--scale", type=click.Choice(list(SCALES)), default="small", show_default=True,
              help="Size of the generated world.")
@click.option("--out", "out", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path), default=Path("-"),
              show_default=True, help="Fixture file to write ('-' for stdout).")
def generate(seed: int, scale: str, out: Path) -> None:
    """Write a generated world as a fixture file (docs/operations.md §3)."""
    fixture = generate_fixture(seed, scale)
    text = json.dumps(fixture, indent=1)
    if str(out) == "-":
        click.echo(text)
    else:
        try:
            out.write_text(text + "\n", encoding="utf-8")
        except OSError as exc:
            raise click.ClickException(f"cannot write fixture file {out}: {exc.strerror or exc}") from None
    click.echo(f"fixture: {scale} world, seed {seed} -> {out}\n{describe(fixture)}", err=True)
