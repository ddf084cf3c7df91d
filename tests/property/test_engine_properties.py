"""Property tests of the matching engine (hypothesis).

* A stateful machine drives every command type at random and checks, after every step:
  the book never rests crossed, quantities are conserved per order, trades happen at the
  resting order's price within both limits, sequence numbers are gapless, and a twin
  engine that was restarted from ``snapshot()`` (through the JSON-safe dict form) at random
  points produces identical events. At the end the whole command log is replayed on a fresh
  engine and must give identical events.
* A differential test compares plain limit/market/cancel flows with a tiny naive book.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from venue.commands import (
    AdvanceTime,
    CancelOrder,
    Command,
    EndOfDay,
    MassCancel,
    NewOrder,
    ReplaceOrder,
    SetTradingStatus,
)
from venue.engine import MatchingEngine
from venue.events import (
    Event,
    OrderAccepted,
    OrderCancelled,
    OrderExpired,
    OrderReplaced,
    OrderRestated,
    Trade,
)
from venue.instruments import Instrument
from venue.snapshot import EngineSnapshot
from venue.types import OrderId, OrdType, Price, Qty, Side, StpMode, TimeInForce

INSTRUMENTS = (Instrument("AAA", Decimal("0.01")), Instrument("BBB", Decimal("0.5"), lot_size=1))
OWNERS = ("A", "B", "C")
SETTINGS = settings(
    max_examples=250,
    stateful_step_count=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

prices = st.integers(95, 105)
qtys = st.integers(1, 12)
sides = st.sampled_from([Side.BUY, Side.SELL])
owners = st.sampled_from(OWNERS)
symbols = st.sampled_from(["AAA", "BBB"])


@dataclass
class Ledger:
    """What the events say about one order, for the conservation check."""

    ordered: int
    filled: int = 0
    removed: int = 0  # cancelled, expired or decremented without trading
    done: bool = False


@dataclass
class Checker:
    """Follows the event stream and checks per-event rules."""

    orders: dict[int, Ledger] = field(default_factory=dict)
    next_seq: int = 1

    def feed(self, events: list[Event]) -> None:
        for ev in events:
            assert ev.seq == self.next_seq, "event seq must be gapless"
            self.next_seq += 1
            if isinstance(ev, OrderAccepted):
                self.orders[ev.spec.order_id] = Ledger(ev.spec.qty)
            elif isinstance(ev, Trade):
                for fill in (ev.buy, ev.sell):
                    led = self.orders[fill.spec.order_id]
                    assert not led.done
                    led.filled += ev.qty
                    assert fill.cum_qty == led.filled
                    assert fill.cum_qty + fill.leaves_qty == fill.spec.qty
                passive = ev.passive_fill.spec
                assert passive.price == ev.price, "trades execute at the resting price"
                for fill in (ev.buy, ev.sell):
                    if fill.spec.price is not None:
                        if fill.spec.side is Side.BUY:
                            assert ev.price <= fill.spec.price
                        else:
                            assert ev.price >= fill.spec.price
                    if fill.leaves_qty == 0:
                        self.orders[fill.spec.order_id].done = True
            elif isinstance(ev, (OrderCancelled, OrderExpired)):
                led = self.orders[ev.spec.order_id]
                assert not led.done
                assert ev.cum_qty == led.filled
                led.removed = led.ordered - led.filled
                led.done = True
            elif isinstance(ev, OrderRestated):
                led = self.orders[ev.spec.order_id]
                led.ordered = ev.spec.qty  # the venue reduced the order (STP decrement)
                assert ev.cum_qty + ev.leaves_qty == ev.spec.qty
                assert ev.cum_qty == led.filled
            elif isinstance(ev, OrderReplaced):
                led = self.orders[ev.spec.order_id]
                led.ordered = ev.spec.qty
                assert ev.cum_qty == led.filled
                assert ev.cum_qty + ev.leaves_qty == ev.spec.qty


def _summaries(events: list[Event]) -> list[Event]:
    return events


class EngineMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.engine = MatchingEngine(INSTRUMENTS)
        self.twin = MatchingEngine(INSTRUMENTS)  # restarted from snapshots along the way
        self.checker = Checker()
        self.log: list[Command] = []
        self.all_events: list[Event] = []
        self.ts = 0
        self.n = 0
        self.cl_ids: list[tuple[str, str]] = []  # (owner, cl_ord_id) ever used

    def tick(self) -> int:
        self.ts += 1_000
        return self.ts

    def apply(self, cmd: Command) -> list[Event]:
        events = self.engine.handle(cmd)
        twin_events = self.twin.handle(cmd)
        assert twin_events == events, "restored engine diverged"
        self.checker.feed(events)
        self.log.append(cmd)
        self.all_events.extend(events)
        return events

    def next_cl(self, owner: str) -> str:
        self.n += 1
        cl = f"c{self.n}"
        self.cl_ids.append((owner, cl))
        return cl

    @rule(
        owner=owners,
        symbol=symbols,
        side=sides,
        qty=qtys,
        price=prices,
        tif=st.sampled_from(
            [TimeInForce.DAY, TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK, TimeInForce.GTD]
        ),
        display=st.none() | st.integers(1, 4),
        post_only=st.booleans(),
        min_qty=st.none() | st.integers(1, 6),
        stp=st.sampled_from(list(StpMode)),
    )
    def limit(
        self,
        owner: str,
        symbol: str,
        side: Side,
        qty: int,
        price: int,
        tif: TimeInForce,
        display: int | None,
        post_only: bool,
        min_qty: int | None,
        stp: StpMode,
    ) -> None:
        ts = self.tick()
        self.apply(
            NewOrder(
                ts,
                owner,
                self.next_cl(owner),
                symbol,
                side,
                OrdType.LIMIT,
                Qty(qty),
                Price(price),
                tif=tif,
                expire_ns=ts + 5_000 if tif is TimeInForce.GTD else None,
                display_qty=None if display is None else Qty(display),
                post_only=post_only,
                min_qty=None if min_qty is None else Qty(min_qty),
                stp_group="G" if owner != "C" else "",
                stp_mode=stp,
            )
        )

    @rule(owner=owners, symbol=symbols, side=sides, qty=qtys)
    def market(self, owner: str, symbol: str, side: Side, qty: int) -> None:
        self.apply(
            NewOrder(
                self.tick(), owner, self.next_cl(owner), symbol, side, OrdType.MARKET, Qty(qty)
            )
        )

    @rule(owner=owners, symbol=symbols, side=sides, qty=qtys, stop=prices, limit=st.none() | prices)
    def stop(
        self, owner: str, symbol: str, side: Side, qty: int, stop: int, limit: int | None
    ) -> None:
        self.apply(
            NewOrder(
                self.tick(),
                owner,
                self.next_cl(owner),
                symbol,
                side,
                OrdType.STOP if limit is None else OrdType.STOP_LIMIT,
                Qty(qty),
                None if limit is None else Price(limit),
                stop_price=Price(stop),
            )
        )

    @precondition(lambda self: bool(self.cl_ids))
    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        owner, cl = data.draw(st.sampled_from(self.cl_ids))
        self.apply(CancelOrder(self.tick(), owner, f"x{self.n}", cl))

    @precondition(lambda self: bool(self.cl_ids))
    @rule(data=st.data(), qty=qtys, price=st.none() | prices)
    def replace(self, data: st.DataObject, qty: int, price: int | None) -> None:
        owner, cl = data.draw(st.sampled_from(self.cl_ids))
        view = next((v for v in self.engine.live_orders(owner) if v.spec.cl_ord_id == cl), None)
        if view is not None and view.spec.ord_type in (OrdType.MARKET, OrdType.STOP):
            price = None
        new_cl = self.next_cl(owner)
        self.apply(
            ReplaceOrder(
                self.tick(), owner, new_cl, cl, Qty(qty), None if price is None else Price(price)
            )
        )

    @rule(owner=owners, symbol=st.none() | symbols, side=st.none() | sides)
    def mass_cancel(self, owner: str, symbol: str | None, side: Side | None) -> None:
        self.apply(MassCancel(self.tick(), owner, f"m{self.n}", symbol, side))

    @rule()
    def advance(self) -> None:
        self.ts += 3_000
        self.apply(AdvanceTime(self.ts))

    @rule()
    def end_of_day(self) -> None:
        self.apply(EndOfDay(self.tick()))

    @rule(symbol=symbols, halted=st.booleans())
    def halt(self, symbol: str, halted: bool) -> None:
        self.apply(SetTradingStatus(self.tick(), symbol, halted))

    @rule()
    def restart_twin(self) -> None:
        text = self.twin.snapshot().to_json()
        self.twin = MatchingEngine.restore(EngineSnapshot.from_json(text))
        assert self.twin.snapshot() == self.engine.snapshot()

    @invariant()
    def not_crossed(self) -> None:
        for inst in INSTRUMENTS:
            bid = self.engine.best_bid(inst.symbol)
            ask = self.engine.best_ask(inst.symbol)
            if bid is not None and ask is not None:
                assert bid.price < ask.price

    @invariant()
    def conservation(self) -> None:
        live = {v.spec.order_id: v for v in self.engine.live_orders()}
        for oid, led in self.checker.orders.items():
            view = live.get(oid)
            if view is None:
                assert led.done or self.engine.order(OrderId(oid)) is None
                if led.done:
                    assert led.filled + led.removed == led.ordered or led.filled == led.ordered
                continue
            assert not led.done
            assert view.cum_qty == led.filled
            assert view.cum_qty + view.leaves_qty == view.spec.qty
            assert 0 <= view.displayed_qty <= view.leaves_qty

    @invariant()
    def levels_match_orders(self) -> None:
        for inst in INSTRUMENTS:
            bids, asks = self.engine.depth(inst.symbol, 1000)
            resting = [v for v in self.engine.live_orders(symbol=inst.symbol) if v.displayed_qty]
            for levels, side in ((bids, Side.BUY), (asks, Side.SELL)):
                for level in levels:
                    at = [v for v in resting if v.spec.side is side and v.spec.price == level.price]
                    assert level.orders == len(at)
                    assert level.qty == sum(v.displayed_qty for v in at)

    def teardown(self) -> None:
        replay = MatchingEngine(INSTRUMENTS)
        events: list[Event] = []
        for cmd in self.log:
            events.extend(replay.handle(cmd))
        assert events == self.all_events, "replaying the command log must give the same events"


TestEngineMachine = EngineMachine.TestCase
TestEngineMachine.settings = SETTINGS


# ---------------------------------------------------------------- differential check


@dataclass
class NaiveOrder:
    oid: int
    side: Side
    price: int | None
    qty: int
    cl: str


class NaiveBook:
    """The simplest correct price-time book: sort the candidates on every order."""

    def __init__(self) -> None:
        self.resting: list[NaiveOrder] = []  # in arrival order
        self.next_oid = 1

    def new(self, side: Side, price: int | None, qty: int, cl: str) -> list[tuple[object, ...]]:
        order = NaiveOrder(self.next_oid, side, price, qty, cl)
        self.next_oid += 1
        out: list[tuple[object, ...]] = [("accepted", order.oid)]
        if side is Side.BUY:
            cands = [
                o
                for o in self.resting
                if o.side is Side.SELL and (price is None or o.price <= price)
            ]  # type: ignore[operator]
            cands.sort(key=lambda o: (o.price, o.oid))
        else:
            cands = [
                o
                for o in self.resting
                if o.side is Side.BUY and (price is None or o.price >= price)
            ]  # type: ignore[operator]
            cands.sort(key=lambda o: (-o.price, o.oid))  # type: ignore[operator]
        for r in cands:
            if order.qty == 0:
                break
            q = min(order.qty, r.qty)
            order.qty -= q
            r.qty -= q
            out.append(("trade", r.price, q, order.oid, r.oid))
            if r.qty == 0:
                self.resting.remove(r)
        if order.qty:
            if price is None:
                out.append(("cancelled", order.oid))
            else:
                self.resting.append(order)
        return out

    def cancel(self, cl: str) -> list[tuple[object, ...]]:
        for o in self.resting:
            if o.cl == cl:
                self.resting.remove(o)
                return [("cancelled", o.oid)]
        return [("reject",)]


def _engine_summary(events: list[Event]) -> list[tuple[object, ...]]:
    out: list[tuple[object, ...]] = []
    for ev in events:
        if isinstance(ev, OrderAccepted):
            out.append(("accepted", ev.spec.order_id))
        elif isinstance(ev, Trade):
            out.append(
                (
                    "trade",
                    ev.price,
                    ev.qty,
                    ev.aggressor_fill.spec.order_id,
                    ev.passive_fill.spec.order_id,
                )
            )
        elif isinstance(ev, OrderCancelled):
            out.append(("cancelled", ev.spec.order_id))
        else:
            out.append(("reject",))
    return out


plain_commands = st.lists(
    st.one_of(
        st.tuples(st.just("limit"), sides, prices, qtys),
        st.tuples(st.just("market"), sides, st.none(), qtys),
        st.tuples(st.just("cancel"), st.integers(0, 40), st.none(), st.none()),
    ),
    max_size=60,
)


@settings(max_examples=150, deadline=None)
@given(plain_commands)
def test_differential_against_naive_book(commands: list[tuple[object, ...]]) -> None:
    engine = MatchingEngine(INSTRUMENTS[:1])
    naive = NaiveBook()
    for i, (kind, a, price, qty) in enumerate(commands):
        ts = i + 1
        if kind == "cancel":
            cl = f"c{a}"
            got = _engine_summary(engine.handle(CancelOrder(ts, "A", f"x{i}", cl)))
            want = naive.cancel(cl)
        else:
            assert isinstance(a, Side)
            assert isinstance(qty, int)
            cl = f"c{i}"
            p = None if price is None else Price(price)  # type: ignore[arg-type]
            ord_type = OrdType.MARKET if kind == "market" else OrdType.LIMIT
            got = _engine_summary(
                engine.handle(NewOrder(ts, "A", cl, "AAA", a, ord_type, Qty(qty), p))
            )
            want = naive.new(a, p, qty, cl)
        assert got == want
    bids, asks = engine.depth("AAA", 100)
    assert sum(lv.qty for lv in bids + asks) == sum(o.qty for o in naive.resting)
