"""Typer sub-app for market data, mounted by the venue CLI as ``venue md``."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from fix_gateway.config import load_config
from fix_gateway.errors import ConfigError as VenueConfigError
from market_data.config import DEFAULT_PREFIX, DEFAULT_URL, ConfigError, MarketDataConfig
from market_data.watch import WatchError, watch
from venue.instruments import SYMBOL_RE

app = typer.Typer(help="Market data over MQTT.", no_args_is_help=True)


@app.callback()
def main() -> None:
    """Market data over MQTT (see specs/market-data.md)."""


def _md_config(config: Path | None, mqtt: str | None, prefix: str | None) -> MarketDataConfig:
    """The broker and prefix to watch: the options given, else what ``venue run`` takes from
    the venue's sessions.cfg (an explicit ``--config`` must exist), else the defaults."""
    path = config if config is not None else Path("sessions.cfg")
    if config is not None or path.is_file():
        venue = load_config(path).default
        if prefix is None:  # as venue run takes it
            prefix = MarketDataConfig.configured(mqtt, "prefix", venue.mqtt_topic_prefix)
        if mqtt is None and venue.mqtt_url and venue.mqtt_url.lower() != "none":
            mqtt = venue.mqtt_url
    overrides = {} if prefix is None else {"prefix": prefix}
    return MarketDataConfig.from_url(mqtt or DEFAULT_URL, **overrides)


@app.command("watch")
def watch_command(
    symbol: Annotated[str, typer.Argument(help="Instrument symbol, e.g. AAPL.")],
    *,
    mqtt: Annotated[
        str | None,
        typer.Option(
            "--mqtt",
            help="Broker URL: mqtt://host:port, mqtts:// for TLS, user:password@ for login. "
            f"Default: MqttURL in sessions.cfg, else {DEFAULT_URL}.",
        ),
    ] = None,
    prefix: Annotated[
        str | None,
        typer.Option(
            help=f"Topic prefix. Default: MqttTopicPrefix in sessions.cfg, else {DEFAULT_PREFIX}."
        ),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            help="sessions.cfg of the venue, for MqttURL and MqttTopicPrefix "
            "(default: ./sessions.cfg if there is one).",
            envvar="VENUE_CONFIG",
        ),
    ] = None,
    levels: Annotated[int, typer.Option(min=1, help="Book levels to show.")] = 10,
    count: Annotated[
        int | None, typer.Option(min=1, help="Exit after N updates (messages).")
    ] = None,
    once: Annotated[bool, typer.Option("--once", help="Exit after the first update.")] = False,
    timeout: Annotated[
        float | None,
        typer.Option(
            min=0.0, help="Exit after this many seconds (an error if --count is not reached)."
        ),
    ] = None,
) -> None:
    """Show the live book and recent trades of SYMBOL."""
    if not SYMBOL_RE.fullmatch(symbol):
        typer.echo(f"error: {symbol!r} is not an instrument symbol", err=True)
        raise typer.Exit(1)
    try:
        md_config = _md_config(config, mqtt, prefix)
    except (ConfigError, VenueConfigError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    try:
        asyncio.run(
            watch(md_config, symbol, levels=levels, count=1 if once else count, timeout=timeout)
        )
    except WatchError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        raise typer.Exit(0) from None
