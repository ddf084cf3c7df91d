"""Reading one trading day from the venue's store, in chunks.

The tables are the store's own (:mod:`venue.store.models`), read with SQLAlchemy Core
over the async engine; rows stream with ``yield_per`` so a day of any size is read with
bounded memory. Event payloads are the journal's JSON (:mod:`venue.store.codec`): the
event dataclass fields by name, nested objects for ``spec`` and the trade ``buy`` /
``sell`` fills. They are read as plain dicts (``json.loads``), which is several times
faster than building the event dataclasses, and only the members the report needs are
touched.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from types import TracebackType
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from reports.aggregate import DayAggregator
from venue.instruments import Instrument, InstrumentError
from venue.store import models
from venue.types import CancelReason, CxlRejReason, TradingStatus

CHUNK_ROWS = 20_000
"""Rows fetched per round trip when streaming events and trades."""


class ReportError(Exception):
    """The report cannot be built: no data for the day, unreadable database, bad input.

    The message is one line, fit to show to an operator.
    """


@dataclass(frozen=True, slots=True)
class DayExtent:
    """What the store holds for a time range: counts and first/last timestamps."""

    events: int
    trades: int
    session_events: int
    first_trade_ns: int | None
    last_trade_ns: int | None

    @property
    def empty(self) -> bool:
        return not (self.events or self.trades or self.session_events)


def _describe(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


class Source:
    """An open, read-only view of a venue store. Use as ``async with Source(url) as src``."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.where = _describe(url)
        self._engine: AsyncEngine | None = None

    async def __aenter__(self) -> Source:
        try:
            parsed = make_url(self.url)
        except ArgumentError as exc:
            raise ReportError(f"invalid database URL {self.url!r}") from exc
        if parsed.get_backend_name() == "sqlite":
            database = parsed.database or ""
            # Never let SQLite create an empty file for a mistyped path.
            if database in ("", ":memory:") or not Path(database).is_file():
                raise ReportError(f"{self.where}: database file not found")
        try:
            self._engine = create_async_engine(self.url)
        except (ArgumentError, ImportError, SQLAlchemyError) as exc:
            raise ReportError(f"{self.where}: cannot open database: {_first_line(exc)}") from exc
        try:
            async with self._engine.connect() as conn:
                await conn.execute(select(func.count()).select_from(models.instruments))
        except (SQLAlchemyError, OSError) as exc:
            await self._engine.dispose()
            raise ReportError(
                f"{self.where}: cannot read the venue database: {_first_line(exc)}"
            ) from exc
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._engine is not None:
            await self._engine.dispose()

    @property
    def engine(self) -> AsyncEngine:
        assert self._engine is not None, "use Source as an async context manager"
        return self._engine

    async def _scalar_row(self, conn: AsyncConnection, stmt: Any) -> tuple[Any, ...]:
        return tuple((await conn.execute(stmt)).one())

    async def latest_ts(self) -> int | None:
        """The newest timestamp of any event, trade or FIX session event."""
        async with self._guard() as conn:
            values = [
                (await conn.execute(select(func.max(table.c.ts_ns)))).scalar()
                for table in (models.events, models.trades, models.fix_session_events)
            ]
        present = [int(v) for v in values if v is not None]
        return max(present) if present else None

    async def extent(self, start_ns: int, end_ns: int) -> DayExtent:
        ev, tr, fx = models.events, models.trades, models.fix_session_events
        async with self._guard() as conn:
            events = await self._scalar_row(
                conn,
                select(func.count()).where(ev.c.ts_ns >= start_ns, ev.c.ts_ns < end_ns),
            )
            trades = await self._scalar_row(
                conn,
                select(func.count(), func.min(tr.c.ts_ns), func.max(tr.c.ts_ns)).where(
                    tr.c.ts_ns >= start_ns, tr.c.ts_ns < end_ns
                ),
            )
            sessions = await self._scalar_row(
                conn,
                select(func.count()).where(fx.c.ts_ns >= start_ns, fx.c.ts_ns < end_ns),
            )
        return DayExtent(
            events=int(events[0]),
            trades=int(trades[0]),
            session_events=int(sessions[0]),
            first_trade_ns=None if trades[1] is None else int(trades[1]),
            last_trade_ns=None if trades[2] is None else int(trades[2]),
        )

    async def instruments(self) -> dict[str, Instrument]:
        t = models.instruments
        async with self._guard() as conn:
            rows = (await conn.execute(select(t))).mappings().all()
        out: dict[str, Instrument] = {}
        for row in rows:
            try:
                out[row["symbol"]] = Instrument(
                    symbol=row["symbol"],
                    tick_size=Decimal(row["tick_size"]),
                    lot_size=int(row["lot_size"]),
                    min_qty=int(row["min_qty"]),
                    max_qty=row["max_qty"],
                    price_band_pct=(
                        Decimal(row["price_band_pct"]) if row["price_band_pct"] else None
                    ),
                    reference_price=row["reference_price"],
                    status=TradingStatus(row["status"]),
                    description=row["description"] or "",
                )
            except (InstrumentError, InvalidOperation, ValueError) as exc:
                raise ReportError(
                    f"{self.where}: instrument {row['symbol']!r} is invalid: {exc}"
                ) from exc
        return out

    async def stream_events(
        self, start_ns: int, end_ns: int, chunk: int = CHUNK_ROWS
    ) -> AsyncIterator[Sequence[Any]]:
        """The day's events in sequence order: (seq, ts_ns, kind, order_id, owner, symbol,
        payload) rows, ``chunk`` at a time."""
        ev = models.events
        stmt = (
            select(ev.c.ts_ns, ev.c.kind, ev.c.order_id, ev.c.owner, ev.c.symbol, ev.c.payload)
            .where(ev.c.ts_ns >= start_ns, ev.c.ts_ns < end_ns)
            .order_by(ev.c.seq)
            .execution_options(yield_per=chunk)
        )
        async with self._guard() as conn:
            result = await conn.stream(stmt)
            async for rows in result.partitions(chunk):
                yield rows

    async def stream_trades(
        self, start_ns: int, end_ns: int, chunk: int = CHUNK_ROWS
    ) -> AsyncIterator[Sequence[Any]]:
        """The day's trades in trade id (= time) order, ``chunk`` at a time."""
        tr = models.trades
        stmt = (
            select(
                tr.c.trade_id,
                tr.c.ts_ns,
                tr.c.symbol,
                tr.c.price,
                tr.c.qty,
                tr.c.aggressor,
                tr.c.buy_order_id,
                tr.c.buy_owner,
                tr.c.buy_account,
                tr.c.buy_cl_ord_id,
                tr.c.sell_order_id,
                tr.c.sell_owner,
                tr.c.sell_account,
                tr.c.sell_cl_ord_id,
            )
            .where(tr.c.ts_ns >= start_ns, tr.c.ts_ns < end_ns)
            .order_by(tr.c.trade_id)
            .execution_options(yield_per=chunk)
        )
        async with self._guard() as conn:
            result = await conn.stream(stmt)
            async for rows in result.partitions(chunk):
                yield rows

    async def session_events(self, start_ns: int, end_ns: int) -> Sequence[Any]:
        fx = models.fix_session_events
        stmt = (
            select(fx.c.session_id, fx.c.ts_ns, fx.c.kind, fx.c.detail)
            .where(fx.c.ts_ns >= start_ns, fx.c.ts_ns < end_ns)
            .order_by(fx.c.ts_ns, fx.c.id)
        )
        async with self._guard() as conn:
            return (await conn.execute(stmt)).all()

    def _guard(self) -> _Guarded:
        return _Guarded(self)


class _Guarded:
    """A connection whose database errors become one-line ReportErrors."""

    def __init__(self, source: Source) -> None:
        self._source = source
        self._conn: AsyncConnection | None = None

    async def __aenter__(self) -> AsyncConnection:
        try:
            self._conn = await self._source.engine.connect()
        except (SQLAlchemyError, OSError) as exc:
            raise ReportError(f"{self._source.where}: {_first_line(exc)}") from exc
        return self._conn

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._conn is not None
        await self._conn.close()
        if isinstance(exc, SQLAlchemyError | OSError):
            raise ReportError(
                f"{self._source.where}: cannot read the venue database: {_first_line(exc)}"
            ) from exc


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def apply_event(agg: DayAggregator, row: Sequence[Any]) -> None:
    """Feed one journal event row ``(ts_ns, kind, order_id, owner, symbol, payload)``
    (as :meth:`Source.stream_events` yields them) to the aggregator."""
    ts_ns, kind, _order_id, _owner, symbol, payload = row
    if kind in _IGNORED_KINDS:
        agg.other_event(ts_ns)
        return
    data: dict[str, Any] = json.loads(payload)
    if kind == "trade":
        agg.trade_event(ts_ns)
        sym = data["symbol"]
        for fill in (data["buy"], data["sell"]):
            spec = fill["spec"]
            agg.fill_event(
                ts_ns,
                sym,
                spec["order_id"],
                side=spec["side"],
                ord_type=spec["ord_type"],
                price=spec["price"],
                leaves=fill["leaves_qty"],
            )
        return
    if kind == "rejected":
        request = data["request"]
        agg.rejected(ts_ns, request["owner"], request["account"], request["symbol"], data["reason"])
        return
    if kind == "cancel_rejected":
        spec = data.get("spec")
        reason = data["reason"]
        with contextlib.suppress(ValueError):
            reason = f"{CxlRejReason(reason).name.lower()} ({reason})"
        agg.cancel_rejected(ts_ns, symbol or (spec["symbol"] if spec else ""), reason)
        return
    spec = data.get("spec")
    if spec is None:
        agg.other_event(ts_ns)
        return
    oid, sym, acct, own = spec["order_id"], spec["symbol"], spec["account"], spec["owner"]
    if kind == "accepted":
        agg.accepted(
            ts_ns,
            oid,
            own,
            acct,
            sym,
            side=spec["side"],
            ord_type=spec["ord_type"],
            qty=spec["qty"],
            price=spec["price"],
        )
    elif kind == "replaced":
        agg.replaced(
            ts_ns,
            oid,
            own,
            acct,
            sym,
            side=spec["side"],
            ord_type=spec["ord_type"],
            leaves=data["leaves_qty"],
            price=spec["price"],
        )
    elif kind == "cancelled":
        if data.get("reason") == CancelReason.REPLACED_TO_FILLED.value:
            agg.replaced_to_filled(ts_ns, oid, own, acct, sym)  # the client saw 150=5
        else:
            agg.cancelled(ts_ns, oid, own, acct, sym)
    elif kind == "expired":
        agg.expired(ts_ns, oid, own, acct, sym)
    elif kind == "restated":
        agg.restated(ts_ns, oid, sym, leaves=data["leaves_qty"])
    elif kind == "triggered":
        # Stop orders rest off the book until triggered, unfilled: leaves = qty.
        agg.triggered(
            ts_ns,
            oid,
            sym,
            side=spec["side"],
            ord_type=spec["ord_type"],
            leaves=spec["qty"],
            price=spec["price"],
        )
    else:
        agg.other_event(ts_ns)


_IGNORED_KINDS = frozenset({"status", "trading_status", "instrument_added", "mass_cancel"})
