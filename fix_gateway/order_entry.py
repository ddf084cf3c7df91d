"""Order entry: the FIX application between the session layer and the matching engine.

Inbound application messages become engine commands (through :mod:`fix_gateway.translate`),
after the venue rules that belong to the session rather than to the book: drop-copy
sessions may not trade, a per-session throttle, per-session risk limits, and FIX 4.4
duplicate detection of NewOrderSingles resent with PossResend. Engine events come back
through :meth:`OrderEntry.on_events` and become ExecutionReports, OrderCancelRejects and
OrderMassCancelReports for the owning session, with a copy of every ExecutionReport to the
drop-copy sessions.

Everything here runs synchronously on the event loop; the sequencer it submits to is the
venue's single path into the engine.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from fix_gateway import translate
from fix_gateway.codec import EncodedBody, Message, OutBody, encode_body
from fix_gateway.config import SessionConfig, SessionID, VenueConfig
from fix_gateway.translate import Body, Refusal, SessionRules
from venue.commands import (
    CancelOrder,
    Command,
    MassCancel,
    NewOrder,
    RejectOrder,
    ReplaceOrder,
    StatusQuery,
)
from venue.events import (
    CancelRejected,
    Event,
    MassCancelDone,
    OrderAccepted,
    OrderCancelled,
    OrderExpired,
    OrderRejected,
    OrderReplaced,
    OrderRestated,
    OrderStatusReport,
    Trade,
)
from venue.instruments import Instrument
from venue.snapshot import OrderView
from venue.types import (
    CancelReason,
    CxlRejResponseTo,
    OrderId,
    OrdStatus,
    OrdType,
    RejectReason,
    StpMode,
)

log = logging.getLogger(__name__)

_FINISHED = frozenset({OrdStatus.FILLED, OrdStatus.CANCELED, OrdStatus.EXPIRED})

#: Application messages the venue accepts from trading sessions.
SUPPORTED = frozenset({"D", "F", "G", "H", "q"})


class Sender(Protocol):
    def send(self, session_id: SessionID, msg_type: str, body: OutBody) -> object: ...


class Venue(Protocol):
    """What order entry needs from the venue runtime."""

    def submit(self, cmd: Command) -> list[Event]: ...

    def instrument(self, symbol: str) -> Instrument | None: ...

    def last_price(self, symbol: str) -> int | None: ...

    def knows_cl_ord_id(self, owner: str, cl_ord_id: str) -> bool:
        """The engine has this ClOrdID of the owner (a live or recently finished order)."""
        ...

    def live_order_ids(self, owner: str) -> list[OrderId]: ...

    def find_order(
        self, owner: str, order_id: OrderId | None, cl_ord_id: str
    ) -> OrderView | None:
        """The owner's order by OrderID, else ClOrdID, as a cancel or replace finds it."""
        ...


@dataclass(slots=True)
class Throttle:
    """A token bucket: ``rate`` application messages per second, bursts up to ``rate``."""

    rate: int
    tokens: float = 0.0
    last_ns: int = 0

    def allow(self, now_ns: int) -> bool:
        if self.last_ns == 0:
            self.tokens = float(self.rate)
        else:
            elapsed = (now_ns - self.last_ns) / 1e9
            self.tokens = min(float(self.rate), self.tokens + elapsed * self.rate)
        self.last_ns = now_ns
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


RECENT_CL_ORD_IDS = 100_000
"""ClOrdIDs per session that PossResend duplicate detection remembers at least."""


class RecentIds:
    """The last ``keep`` ClOrdIDs added, at least (at most twice as many), each with its
    order's id (None for a rejected order), in constant memory: two generations of dicts,
    the older dropped when the newer fills. A replaced order is found by any of its
    ClOrdIDs, which the engine knows only by the current one."""

    __slots__ = ("_new", "_old", "keep")

    def __init__(self, keep: int = RECENT_CL_ORD_IDS) -> None:
        self.keep = keep
        self._new: dict[str, int | None] = {}
        self._old: dict[str, int | None] = {}

    def add(self, item: str, order_id: int | None = None) -> None:
        new = self._new
        new[item] = order_id
        if len(new) >= self.keep:
            self._old, self._new = new, {}

    def __contains__(self, item: object) -> bool:
        return item in self._new or item in self._old

    def order_id(self, item: str) -> int | None:
        """The id of the order that used ClOrdID ``item``, if it is remembered."""
        found = self._new.get(item)
        return found if found is not None else self._old.get(item)

    def __len__(self) -> int:
        return len(self._new.keys() | self._old.keys())


@dataclass(slots=True)
class _SessionState:
    config: SessionConfig
    rules: SessionRules
    throttle: Throttle | None
    seen_cl_ord_ids: RecentIds = field(default_factory=RecentIds)


class OrderEntry:
    """The FIX application of the venue (implements ``fix_gateway.application.Application``)."""

    def __init__(
        self,
        config: VenueConfig,
        venue: Venue,
        sender: Sender | None = None,
        session_event: Callable[[SessionID, str, str], None] | None = None,
    ) -> None:
        self._venue = venue
        self._session_event = session_event
        self._sender = sender
        self._sessions: dict[str, _SessionState] = {}
        self._refused: tuple[NewOrder, Message] | None = None  # a refusal being submitted
        self._status_req_id: str | None = None  # of a status request being submitted
        self._ids: dict[str, SessionID] = {}
        self._drop_copies: list[tuple[SessionID, frozenset[str] | None]] = []
        for session in config.sessions:
            owner = str(session.session_id)
            self._ids[owner] = session.session_id
            if session.session_role == "DropCopy":
                accounts = session.drop_copy_accounts
                self._drop_copies.append(
                    (session.session_id, frozenset(accounts) if accounts else None)
                )
            rate = session.max_messages_per_second
            self._sessions[owner] = _SessionState(
                config=session,
                rules=SessionRules(
                    owner=owner,
                    default_account=session.account or "",
                    stp_mode=StpMode(session.self_trade_prevention),
                    permitted_accounts=(
                        frozenset(session.permitted_accounts)
                        if session.permitted_accounts
                        else None
                    ),
                ),
                throttle=Throttle(rate) if rate else None,
            )
        self._handlers: dict[str, Callable[[_SessionState, Message, int], None]] = {
            "D": self._new_order,
            "F": self._cancel,
            "G": self._replace,
            "H": self._status,
            "q": self._mass_cancel,
        }
        self._order_report: dict[type, Callable[[Any, Instrument | None], OutBody]] = {
            OrderAccepted: translate.accepted,
            OrderCancelled: translate.cancelled,
            OrderReplaced: translate.replaced,
            OrderRestated: translate.restated,
            OrderExpired: translate.expired,
        }
        self._event_handlers: dict[type, Callable[[Any], None]] = {
            Trade: self._on_trade,
            OrderRejected: self._on_rejected,
            OrderStatusReport: self._on_status,
            CancelRejected: self._on_cancel_rejected,
            MassCancelDone: self._on_mass_cancel_done,
            **dict.fromkeys(self._order_report, self._on_order_event),
        }

    def attach(self, sender: Sender) -> None:
        self._sender = sender

    def remember_cl_ord_ids(self, used: Iterable[tuple[str, str, int | None]]) -> None:
        """Seed duplicate detection with the (owner, ClOrdID, order id) used before a restart
        (order id None: a rejected order)."""
        for owner, cl_ord_id, order_id in used:
            state = self._sessions.get(owner)
            if state is not None:
                state.seen_cl_ord_ids.add(cl_ord_id, order_id)

    # -- Application ----------------------------------------------------------------------------

    def on_logon(self, session_id: SessionID) -> None:
        log.info("%s logged on", session_id)
        if self._session_event is not None:
            self._session_event(session_id, "logon", "")

    def on_logout(self, session_id: SessionID) -> None:
        state = self._sessions.get(str(session_id))
        if state is None or not state.config.cancel_on_disconnect:
            return
        self.cancel_all(session_id, CancelReason.DISCONNECT)

    def on_session_event(self, session_id: SessionID, kind: str, detail: str) -> None:
        if self._session_event is not None:
            self._session_event(session_id, kind, detail)

    def cancel_all(
        self, session_id: SessionID, reason: CancelReason, now_ns: int | None = None
    ) -> int:
        """Cancel every live order of a session (cancel-on-disconnect, operator action)."""
        owner = str(session_id)
        ts = now_ns if now_ns is not None else time.time_ns()
        count = 0
        for order_id in self._venue.live_order_ids(owner):
            cmd = CancelOrder(
                ts_ns=ts,
                owner=owner,
                cl_ord_id="",
                orig_cl_ord_id="",
                order_id=order_id,
                reason=reason,
            )
            events = self._venue.submit(cmd)
            count += sum(isinstance(e, OrderCancelled) for e in events)
        if count:
            log.info("%s: %d orders cancelled (%s)", session_id, count, reason.value)
        return count

    def on_message(self, session_id: SessionID, msg: Message, now_ns: int) -> None:
        state = self._sessions.get(str(session_id))
        if state is None:
            return
        handler = self._handlers.get(msg.msg_type)
        if handler is None:
            self._business_reject(session_id, msg, "3", f"MsgType {msg.msg_type} is not supported")
            return
        if state.config.session_role == "DropCopy":
            self._business_reject(
                session_id, msg, "6", "a drop-copy session may send only session messages"
            )
            return
        try:
            if state.throttle is not None and not state.throttle.allow(now_ns):
                self._throttled(state, msg, now_ns)
                return
            handler(state, msg, now_ns)
        except Exception:  # a message the venue cannot handle still gets an answer
            log.exception("%s: failed on %r", session_id, msg)
            self._business_reject(
                session_id, msg, "0", "the venue could not process this message"
            )

    # -- inbound --------------------------------------------------------------------------------

    def _new_order(self, state: _SessionState, msg: Message, now_ns: int) -> None:
        cl_ord_id = msg.get(11) or ""
        if msg.get(97) == "Y" and (
            cl_ord_id in state.seen_cl_ord_ids
            or self._venue.knows_cl_ord_id(state.rules.owner, cl_ord_id)
        ):
            # FIX 4.4 duplicate detection: a resent order already seen is never executed
            # twice; the client learns the order's state from a status report.
            log.info("%s: PossResend NewOrderSingle %s already seen", state.rules.owner, cl_ord_id)
            self._venue.submit(self._status_query(state, msg, now_ns))
            return
        result = translate.new_order(msg, state.rules, self._venue, now_ns)
        if isinstance(result, tuple):
            order, refusal = result
            self._refuse_order(order, msg, refusal)
            return
        breach = self._risk_check(state, result)
        if breach is not None:
            self._refuse_order(result, msg, breach)
            return
        self._venue.submit(result)

    def _refuse_order(self, order: NewOrder, msg: Message, refusal: Refusal) -> None:
        """Journal a refused NewOrderSingle; its ExecutionReport echoes ``msg``."""
        self._refused = (order, msg)
        try:
            self._venue.submit(RejectOrder(order, refusal.reason, refusal.text))
        finally:
            self._refused = None

    def _risk_check(self, state: _SessionState, order: NewOrder) -> Refusal | None:
        ticks: int | None = order.price
        if ticks is None or order.ord_type is OrdType.STOP_LIMIT:
            ticks = order.price or order.stop_price or self._venue.last_price(order.symbol)
        breach = self._limit_breach(state.config, order.symbol, order.qty, ticks)
        if (
            breach is None
            and ticks is None
            and order.ord_type is OrdType.MARKET
            and state.config.max_order_notional is not None
            and self._venue.instrument(order.symbol) is not None
        ):
            return Refusal(
                RejectReason.RISK_LIMIT,
                "market order notional cannot be checked: the instrument has no price yet",
            )
        return breach

    def _limit_breach(
        self, cfg: SessionConfig, symbol: str, qty: int, ticks: int | None
    ) -> Refusal | None:
        """The session's MaxOrderQty / MaxOrderNotional (notional only when a price is known)."""
        if cfg.max_order_qty is not None and qty > cfg.max_order_qty:
            return Refusal(
                RejectReason.RISK_LIMIT,
                f"order quantity {qty} exceeds the session limit {cfg.max_order_qty}",
            )
        instrument = self._venue.instrument(symbol)
        if cfg.max_order_notional is not None and instrument is not None and ticks is not None:
            notional = instrument.to_decimal(ticks) * qty
            if notional > cfg.max_order_notional:
                return Refusal(
                    RejectReason.RISK_LIMIT,
                    f"order notional {notional} exceeds the session limit "
                    f"{cfg.max_order_notional:f}",
                )
        return None

    def _cancel(self, state: _SessionState, msg: Message, now_ns: int) -> None:
        cl_ord_id = msg.get(11) or ""
        if cl_ord_id:  # a live order's ClOrdID cannot name this request too (FIX: unique)
            holder = self._venue.find_order(state.rules.owner, None, cl_ord_id)
            if holder is not None and holder.status not in _FINISHED:
                refusal = Refusal(RejectReason.DUPLICATE_CL_ORD_ID,
                                  f"ClOrdID(11) {cl_ord_id!r} is a live order's")
                self._cancel_refused(state, msg, refusal, CxlRejResponseTo.CANCEL, now_ns)
                return
        self._venue.submit(translate.cancel_order(msg, state.rules.owner, now_ns))

    def _replace(self, state: _SessionState, msg: Message, now_ns: int) -> None:
        result = translate.replace_order(msg, state.rules.owner, self._venue, now_ns)
        target = self._target(state, msg)
        refusal = (
            result
            if isinstance(result, Refusal)
            else self._replace_refusal(state, msg, result, target)
        )
        if refusal is not None:
            self._cancel_refused(state, msg, refusal, CxlRejResponseTo.REPLACE, now_ns, target)
        elif isinstance(result, ReplaceOrder):
            self._venue.submit(result)

    def _target(self, state: _SessionState, msg: Message) -> OrderView | None:
        """The session's order a cancel or replace names (None when unknown: the engine
        answers that itself)."""
        return self._venue.find_order(
            state.rules.owner, translate.order_id(msg), msg.get(41) or ""
        )

    def _replace_refusal(
        self, state: _SessionState, msg: Message, replace: ReplaceOrder, target: OrderView | None
    ) -> Refusal | None:
        """The gateway's rules for a replace of a live order: Side(54), Symbol(55) and
        OrdType(40) cannot change, and the session limits apply to the order as replaced (its
        price when 44 is absent)."""
        if target is None or target.status in _FINISHED:
            return None  # the engine answers: unknown order, too late
        spec = target.spec
        if msg.get(55) != spec.symbol or msg.get(54) != spec.side.value:
            return Refusal(
                RejectReason.INVALID_ORDER,
                "Side(54) and Symbol(55) cannot be changed by a replace: the order is "
                f"{spec.side.name.lower()} {spec.symbol}",
            )
        ord_type = msg.get(40)
        if ord_type is not None and ord_type != spec.ord_type.value:
            return Refusal(
                RejectReason.INVALID_ORDER,
                f"OrdType(40) cannot be changed by a replace: the order's is {spec.ord_type.value}",
            )
        ticks = next(
            (p for p in (replace.price, spec.price, replace.stop_price, spec.stop_price)
             if p is not None),
            None,
        )  # fmt: skip
        return self._limit_breach(state.config, spec.symbol, replace.qty, ticks)

    def _cancel_refused(
        self,
        state: _SessionState,
        msg: Message,
        refusal: Refusal,
        response_to: CxlRejResponseTo,
        now_ns: int,
        target: OrderView | None = None,
    ) -> None:
        """An OrderCancelReject from the gateway, with the named order's id and status."""
        if target is None:
            target = self._target(state, msg)
        body = translate.cancel_reject_refusal(msg, refusal, response_to, now_ns, target)
        self._send(state.config.session_id, "9", body)

    def _status(self, state: _SessionState, msg: Message, now_ns: int) -> None:
        self._status_req_id = msg.get(790)  # echoed by _on_status, called inside submit
        try:
            self._venue.submit(self._status_query(state, msg, now_ns))
        finally:
            self._status_req_id = None

    @staticmethod
    def _status_query(state: _SessionState, msg: Message, now_ns: int) -> StatusQuery:
        """The status of the order ``msg`` names: by OrderID(37) if given, else by its
        ClOrdID(11), any of a replaced order's (the engine knows the current one only)."""
        query = translate.status_query(msg, state.rules.owner, now_ns)
        if query.order_id is None:
            order_id = state.seen_cl_ord_ids.order_id(query.cl_ord_id)
            if order_id is not None:
                query = replace(query, order_id=OrderId(order_id))
        return query

    def _mass_cancel(self, state: _SessionState, msg: Message, now_ns: int) -> None:
        result = translate.mass_cancel(msg, state.rules.owner, now_ns)
        symbol = result.symbol if isinstance(result, MassCancel) else None
        if symbol is not None and self._venue.instrument(symbol) is None:
            result = Refusal(RejectReason.UNKNOWN_SYMBOL, f"unknown symbol {symbol!r}")
        if isinstance(result, Refusal):
            body = translate.mass_cancel_refusal(msg, result, now_ns)
            self._send(state.config.session_id, "r", body)
            return
        self._venue.submit(result)

    def _throttled(self, state: _SessionState, msg: Message, now_ns: int) -> None:
        rate = state.config.max_messages_per_second
        text = f"throttle: more than {rate} messages per second"
        if msg.msg_type == "D":
            result = translate.new_order(msg, state.rules, self._venue, now_ns)
            order = result[0] if isinstance(result, tuple) else result
            self._refuse_order(order, msg, Refusal(RejectReason.THROTTLED, text))
        elif msg.msg_type in ("F", "G"):
            response_to = (
                CxlRejResponseTo.CANCEL if msg.msg_type == "F" else CxlRejResponseTo.REPLACE
            )
            self._cancel_refused(
                state, msg, Refusal(RejectReason.THROTTLED, text), response_to, now_ns
            )
        else:
            self._business_reject(state.config.session_id, msg, "0", text)

    def _business_reject(self, session_id: SessionID, msg: Message, reason: str, text: str) -> None:
        body: Body = [
            (45, msg.get(34) or "0"),
            (372, msg.msg_type),
            (380, reason),
            (58, text),
        ]
        ref_id = msg.get(11)
        if ref_id:
            body.insert(2, (379, ref_id))
        self._send(session_id, "j", body)

    # -- outbound -------------------------------------------------------------------------------

    def on_events(self, events: list[Event]) -> None:
        """Turn engine events into messages for their owners and the drop copies."""
        handlers = self._event_handlers
        for ev in events:
            handler = handlers.get(type(ev))
            if handler is not None:
                handler(ev)

    def _on_trade(self, ev: Trade) -> None:
        instrument = self._venue.instrument(ev.symbol)
        for side in (ev.passive_fill, ev.aggressor_fill):
            self._report(side.spec.owner, side.spec.account, translate.fill(ev, side, instrument))

    def _on_order_event(
        self, ev: OrderAccepted | OrderCancelled | OrderReplaced | OrderRestated | OrderExpired
    ) -> None:
        spec = ev.spec
        body = self._order_report[type(ev)](ev, self._venue.instrument(spec.symbol))
        self._report(spec.owner, spec.account, body)
        if type(ev) is OrderAccepted or type(ev) is OrderReplaced:
            state = self._sessions.get(spec.owner)
            if state is not None:
                state.seen_cl_ord_ids.add(spec.cl_ord_id, spec.order_id)

    def _on_rejected(self, ev: OrderRejected) -> None:
        req = ev.request
        refused = self._refused
        echo = refused[1] if refused is not None and refused[0] is req else None
        body = translate.rejected(ev, self._venue.instrument(req.symbol), echo)
        self._report(req.owner, req.account, body)
        state = self._sessions.get(req.owner)
        if state is not None:
            state.seen_cl_ord_ids.add(req.cl_ord_id)

    def _on_status(self, ev: OrderStatusReport) -> None:
        instrument = self._venue.instrument(ev.spec.symbol if ev.spec else ev.symbol)
        self._to_owner(
            ev.owner, "8", translate.status_report(ev, instrument, self._status_req_id)
        )

    def _on_cancel_rejected(self, ev: CancelRejected) -> None:
        self._to_owner(ev.owner, "9", translate.cancel_reject(ev))

    def _on_mass_cancel_done(self, ev: MassCancelDone) -> None:
        self._to_owner(ev.owner, "r", translate.mass_cancel_report(ev))

    def _to_owner(self, owner: str, msg_type: str, body: OutBody) -> None:
        owner_id = self._ids.get(owner)
        if owner_id is not None:
            self._send(owner_id, msg_type, body)

    def _report(self, owner: str, account: str, body: OutBody) -> None:
        owner_id = self._ids.get(owner)
        copies: list[SessionID] = []
        if self._drop_copies:  # most venues have none: no list built per report
            copies = [
                copy_id
                for copy_id, accounts in self._drop_copies
                if accounts is None or account in accounts
            ]
        if not copies:
            if owner_id is not None:
                self._send(owner_id, "8", body)
            return
        # once for the owner and every copy (headers differ)
        encoded = body if isinstance(body, EncodedBody) else encode_body(body)
        if owner_id is not None:
            self._send(owner_id, "8", encoded)
        for copy_id in copies:
            self._send(copy_id, "8", encoded)

    def _send(self, session_id: SessionID, msg_type: str, body: OutBody) -> None:
        if self._sender is None:
            return
        self._sender.send(session_id, msg_type, body)

