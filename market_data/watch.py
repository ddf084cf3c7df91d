"""``venue md watch SYMBOL``: the live book and recent trades of one symbol in the terminal.

:func:`watch` subscribes to the symbol's topics, feeds a :class:`SymbolView` and redraws
a rich ``Live`` display. It stops after ``count`` updates or ``timeout`` seconds when asked
(tests and scripts), otherwise runs until interrupted.
"""

from __future__ import annotations

import asyncio

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text

from market_data.config import MarketDataConfig
from market_data.subscriber import SubscriptionError, SymbolView, subscription


class WatchError(Exception):
    """The watch could not run (broker unreachable, connection lost, timed out)."""


def render(view: SymbolView, levels: int) -> RenderableType:
    """The whole display for ``view``: header, book ladder, recent trades."""
    venue = (view.venue or {}).get("status", "?")
    status = (view.status or {}).get("status", "?")
    header = Text.assemble(
        (view.symbol, "bold"),
        f"  trading: {status}  venue: {venue}",
    )
    if view.stats:
        s = view.stats
        header.append(
            f"\nlast {s['last'] or '-'}  open {s['open'] or '-'}  high {s['high'] or '-'}  "
            f"low {s['low'] or '-'}  vol {s['volume']}  vwap {s['vwap'] or '-'}  "
            f"trades {s['trades']}"
        )
    problems = []
    if view.gaps:
        problems.append(f"missed trade seq {', '.join(f'{a}..{b}' for a, b in view.gaps[-3:])}")
    if view.lost:
        problems.append(
            f"venue dropped trade seq {', '.join(f'{a}..{b}' for a, b in view.lost[-3:])}"
        )
    if problems:
        header.append("\n" + "; ".join(problems), style="red")

    book = Table(title="book", expand=False)
    for name, justify in (
        ("orders", "right"),
        ("bid qty", "right"),
        ("bid", "right"),
        ("ask", "left"),
        ("ask qty", "left"),
        ("orders ", "left"),
    ):
        book.add_column(name, justify=justify)  # type: ignore[arg-type]
    bids = (view.book or {}).get("bids", [])[:levels]
    asks = (view.book or {}).get("asks", [])[:levels]
    for i in range(max(len(bids), len(asks))):
        b = bids[i] if i < len(bids) else None
        a = asks[i] if i < len(asks) else None
        book.add_row(
            str(b["orders"]) if b else "",
            str(b["qty"]) if b else "",
            Text(b["price"], style="green") if b else "",
            Text(a["price"], style="red") if a else "",
            str(a["qty"]) if a else "",
            str(a["orders"]) if a else "",
        )
    trades = Table(title="recent trades")
    for name in ("seq", "price", "qty", "aggressor"):
        trades.add_column(name, justify="right")
    for t in list(view.trades)[-10:][::-1]:
        trades.add_row(str(t["seq"]), t["price"], str(t["qty"]), t["aggressor"])
    return Group(header, book, trades)


def _unlisted(view: SymbolView) -> str:
    listed = (view.venue or {}).get("symbols") or []
    shown = ", ".join(listed[:10]) + (f" and {len(listed) - 10} more" if len(listed) > 10 else "")
    return f"{view.symbol} is not listed on the venue (listed: {shown or 'none'})"


async def watch(
    config: MarketDataConfig,
    symbol: str,
    *,
    levels: int = 10,
    count: int | None = None,
    timeout: float | None = None,
    console: Console | None = None,
) -> SymbolView:
    """Watch ``symbol`` until ``count`` updates, ``timeout`` seconds, or cancellation.

    Raises:
        WatchError: the broker is unreachable or the connection dropped, the running venue
            does not list ``symbol``, or ``count`` updates did not arrive within ``timeout``.
    """
    view = SymbolView(symbol)
    console = console or Console()
    loop = asyncio.get_running_loop()
    deadline = None if timeout is None else loop.time() + timeout
    try:
        async with subscription(config, symbol) as messages:
            with Live(render(view, levels), console=console, refresh_per_second=10) as live:
                try:
                    async with asyncio.timeout_at(deadline):
                        async for kind, payload in messages:
                            view.apply(kind, payload)
                            if view.unlisted:
                                raise WatchError(_unlisted(view))
                            live.update(render(view, levels))
                            if count is not None and view.updates >= count:
                                break
                except TimeoutError:
                    if count is not None:
                        raise WatchError(
                            f"timed out after {timeout}s with {view.updates} of {count} updates"
                        ) from None
                live.update(render(view, levels))
    except SubscriptionError as exc:
        raise WatchError(str(exc)) from exc
    return view
