"""Typer sub-app for market data, mounted by the venue CLI as ``venue md``."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from market_data.config import DEFAULT_PREFIX, DEFAULT_URL, ConfigError, MarketDataConfig
from market_data.watch import WatchError, watch
from venue.instruments import SYMBOL_RE

app = typer.Typer(help="Market data over MQTT.", no_args_is_help=True)


@app.callback()
def main() -> None:
    """Market data over MQTT (see specs/market-data.md)."""


@app.command("watch")
def watch_command(
    symbol: Annotated[str, typer.Argument(help="Instrument symbol, e.g. AAPL.")],
    *,
    mqtt: Annotated[
        str,
        typer.Option(
            "--mqtt",
            help="Broker URL: mqtt://host:port, mqtts:// for TLS, user:password@ for login.",
        ),
    ] = DEFAULT_URL,
    prefix: Annotated[str, typer.Option(help="Topic prefix.")] = DEFAULT_PREFIX,
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
    if not SYMBOL_RE.match(symbol):
        typer.echo(f"error: {symbol!r} is not an instrument symbol", err=True)
        raise typer.Exit(1)
    try:
        config = MarketDataConfig.from_url(mqtt, prefix=prefix)
    except ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    try:
        asyncio.run(
            watch(config, symbol, levels=levels, count=1 if once else count, timeout=timeout)
        )
    except WatchError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        raise typer.Exit(0) from None
