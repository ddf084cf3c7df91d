"""The FIX 4.4 session layer as a sans-I/O state machine (acceptor side).

No sockets, no asyncio, no clock: the transport feeds bytes and time in (``on_bytes``,
``on_timer``, ``on_disconnect``) and executes the returned actions (:class:`Send`,
:class:`Deliver`, :class:`Disconnect`, :class:`LoggedOn`, :class:`LoggedOut`,
:class:`SessionEvent`, :class:`LoadMessages`, :class:`CheckPassword`) in order.

States (one per connection lifetime; a Session object lives as long as the venue and serves one
connection at a time)::

    DISCONNECTED --connect()--> AWAIT_LOGON --valid Logon--> LOGGED_ON --we send Logout-->
    AWAIT_LOGOUT --Logout reply / LogoutTimeout--> DISCONNECTED

and every state goes back to DISCONNECTED when we emit :class:`Disconnect` (refused logon,
heartbeat timeout, client Logout answered, MsgSeqNum too low ...) or the transport reports the
connection closed.  :data:`TRANSITIONS` is the complete table; ``_set_state`` refuses anything
else, so an impossible transition is a :class:`LocalProtocolError` instead of a silent bug.
A resend in progress (we sent a ResendRequest and queue later messages) is not a state of its
own: it is the non-empty ``_queue`` inside LOGGED_ON, as in QuickFIX.

Each state has one handler (quickfixgo style): ``_in_await_logon`` and ``_in_logged_on`` (which
also serves AWAIT_LOGOUT, where normal traffic is still processed while the reply is awaited).

Sequence number rules follow QuickFIX: a rejected message consumes its MsgSeqNum, a garbled one
(bad BodyLength/CheckSum, dropped by the framer) does not.  Comments cite the FIX session-level
test cases (e.g. "FIX 4.4 2b").
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Final

from fix_gateway.auth import verify_password
from fix_gateway.codec import (
    Encoder,
    Framer,
    Message,
    OutBody,
    OutField,
    format_utc_timestamp,
    is_uint,
    parse,
    parse_utc_timestamp,
)
from fix_gateway.config import SessionConfig, SessionID
from fix_gateway.dictionary import (
    ADMIN_MSG_TYPES,
    APP_MSG_TYPES,
    COMPID_PROBLEM,
    FIX44_MSG_TYPES,
    INCORRECT_DATA_FORMAT,
    INVALID_MSG_TYPE,
    REQUIRED_TAG_MISSING,
    SENDING_TIME_ACCURACY,
    SUPPORTED_MSG_TYPES,
    VALUE_OUT_OF_RANGE,
    validate,
)
from fix_gateway.errors import LocalProtocolError
from fix_gateway.log import Log, NullLog
from fix_gateway.store import MAX_SEQ_NUM, MessageStore

_NS: Final = 1_000_000_000
#: Messages received beyond a gap are queued until it is filled, up to these limits (then
#: Logout and disconnect).
MAX_QUEUED_MESSAGES: Final = 10_000
MAX_QUEUED_BYTES: Final = 64 << 20
#: The longest TestReqID(112) the venue echoes.
MAX_TEST_REQ_ID: Final = 256
#: A ResendRequest is answered this many MsgSeqNums at a time, the transport giving the event
#: loop to the other sessions between two parts (100,000 messages at once held it ~2 s).
RESEND_CHUNK: Final = 500
_NEW_SEQ_NO_TOO_LARGE: Final = (
    f"Value is incorrect (out of range) for this tag: NewSeqNo(36) above {MAX_SEQ_NUM}"
)


def _heart_bt_int(msg: Message) -> int | None:
    """HeartBtInt(108) of a Logon in seconds; None unless a whole number >= 0."""
    text = msg.get(108)
    if text is None or not (text.isascii() and text.isdigit()) or len(text) > 9:
        return None
    return int(text)


def _seq_no(value: str | None) -> int | None:
    """A ResendRequest's BeginSeqNo/EndSeqNo, negative too (to be refused with a reason)."""
    if value is None or not value.isascii() or len(value) > 19:
        return None
    digits = value[1:] if value[:1] == "-" else value
    return int(value) if digits.isdigit() else None


def _new_seq_no(msg: Message) -> int:
    """NewSeqNo(36) of a validated SequenceReset; MAX_SEQ_NUM + 1 for any larger number."""
    text = msg[36]
    return int(text) if len(text) <= 18 else MAX_SEQ_NUM + 1


class SessionState(enum.Enum):
    DISCONNECTED = "disconnected"  # no connection bound to the session
    AWAIT_LOGON = "await_logon"  # connected; the first message must be a valid Logon
    LOGGED_ON = "logged_on"  # normal traffic, heartbeats, resends
    AWAIT_LOGOUT = "await_logout"  # we sent Logout; waiting for the reply or LogoutTimeout


S = SessionState
TRANSITIONS: Final[dict[SessionState, frozenset[SessionState]]] = {
    S.DISCONNECTED: frozenset({S.AWAIT_LOGON}),
    S.AWAIT_LOGON: frozenset({S.LOGGED_ON, S.DISCONNECTED}),
    S.LOGGED_ON: frozenset({S.AWAIT_LOGOUT, S.DISCONNECTED}),
    S.AWAIT_LOGOUT: frozenset({S.DISCONNECTED}),
}


#: Boolean header fields the session checks itself: PossDupFlag(43), PossResend(97).
_HEADER_FLAGS: Final = (43, 97)
_FLAG_VALUES: Final = frozenset({"Y", "N"})


# -- actions ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Send:
    """Write ``raw`` to the connection (after the store writes are committed)."""

    raw: bytes
    seq: int


@dataclass(frozen=True, slots=True)
class Deliver:
    """An application message for order entry, in MsgSeqNum order."""

    msg: Message


@dataclass(frozen=True, slots=True)
class Disconnect:
    """Close the connection once the Sends before it are written."""

    reason: str


@dataclass(frozen=True, slots=True)
class LoggedOn:
    """The session is now logged on."""


@dataclass(frozen=True, slots=True)
class LoggedOut:
    """The session was logged on and no longer is."""


@dataclass(frozen=True, slots=True)
class SessionEvent:
    """Something the venue's health record keeps: ``kind`` is ``logout``, ``disconnect``,
    ``logon_rejected``, ``reject`` (a Reject(3) sent) or ``business_reject`` (a
    BusinessMessageReject(j) sent by the session layer); ``detail`` says why."""

    kind: str
    detail: str


@dataclass(frozen=True, slots=True)
class LoadMessages:
    """A ResendRequest asks for outbound messages older than the store keeps in memory:
    load ``begin..end`` into it (``MessageStore.preload``), then call ``Session.resume``.
    Inbound messages are held, in order, until then."""

    begin: int
    end: int


@dataclass(frozen=True, slots=True)
class CheckPassword:
    """A Logon's password must be checked against the session's PasswordHash: PBKDF2 takes
    tens of milliseconds, which the event loop must not spend, so the check runs elsewhere
    (``verify_password(password, password_hash)``) and the transport then calls
    ``Session.password_checked``. Inbound messages are held, in order, until then."""

    password: str
    password_hash: str

    def __repr__(self) -> str:  # never the password in a log line
        return "CheckPassword(...)"


@dataclass(slots=True)
class _Resend:
    """A ResendRequest being answered part by part (see :data:`RESEND_CHUNK`)."""

    next: int  # the next MsgSeqNum to resend
    end: int
    # The stored messages of the whole range, read at once (a preload is read by one get,
    # and the store may drop old messages while new ones are sent): (seq, raw) ascending.
    stored: list[tuple[int, bytes]]
    at: int = 0  # index in ``stored`` of the first message not yet resent
    gap_start: int = 0  # first MsgSeqNum of a GapFill not yet sent (0: none)
    after: list[Send] = field(default_factory=list)  # new messages, sent once it is done


Action = (
    Send | Deliver | Disconnect | LoggedOn | LoggedOut | SessionEvent | LoadMessages
    | CheckPassword
)


class Session:
    """One FIX session (acceptor side).

    Args:
        config: the parsed [SESSION] block.
        store: outbound messages and sequence numbers.
        log: message and event log; NullLog when omitted.
    """

    def __init__(self, config: SessionConfig, store: MessageStore, log: Log | None = None) -> None:
        self.config = config
        self.session_id: SessionID = config.session_id
        self.store = store
        self.log: Log = log if log is not None else NullLog()
        self.encoder = Encoder(config.begin_string, config.sender_comp_id, config.target_comp_id)
        self.state = SessionState.DISCONNECTED
        self.enabled = True
        self.generation = 0  # incremented by connect(); lets the transport spot stale callbacks
        self.remote = ""
        self.connected_ns = 0
        self.logon_ns = 0
        self.last_received_ns = 0
        self.last_sent_ns = 0
        self.messages_in = 0
        self.messages_out = 0
        self.heart_bt_int = config.heart_bt_int
        self._hb_ns = config.heart_bt_int * _NS
        self._max_latency_ns = config.max_latency * _NS if config.check_latency else 0
        self._framer = Framer()
        self._queue: dict[int, Message] = {}
        self._queued_bytes = 0  # of the messages queued since the queue was last empty
        self._served_early: set[int] = set()  # too-high ResendRequests already answered
        self._resend_pending = False
        self._resend_begin = 0  # the expected MsgSeqNum when the pending ResendRequest went out
        self._resend_trigger = 0  # the too-high MsgSeqNum that made it go out
        self._held: list[bytes] | None = None  # inbound messages waiting for LoadMessages
        # A read's messages after a delivered one, and whether the gap queue was being
        # drained, wait for :meth:`more`: the application answers the delivered message
        # (numbering its replies) before the session numbers its own replies to the rest.
        self._rest: list[bytes] | None = None
        self._rest_at = 0
        self._draining = False
        self._loaded = False  # the next ResendRequest's messages were just loaded
        self._password_ok: bool | None = None  # the held Logon's password, once checked
        self._resend: _Resend | None = None
        self._test_req_id: str | None = None
        self._test_req_count = 0
        self._logout_sent_ns = 0
        self._handlers = {
            S.AWAIT_LOGON: self._in_await_logon,
            S.LOGGED_ON: self._in_logged_on,
            S.AWAIT_LOGOUT: self._in_logged_on,
        }

    # -- public API -----------------------------------------------------------------------------

    @property
    def is_logged_on(self) -> bool:
        return self.state is S.LOGGED_ON or self.state is S.AWAIT_LOGOUT

    def connect(self, now_ns: int, remote: str = "") -> list[Action]:
        """A transport connection is bound to this session; the Logon is expected next."""
        if self.state is not S.DISCONNECTED:
            raise LocalProtocolError(f"{self.session_id} already has a connection")
        self._set_state(S.AWAIT_LOGON)
        self.generation += 1
        self.remote = remote
        self.connected_ns = self.last_received_ns = self.last_sent_ns = now_ns
        self._framer = Framer()
        self._queue.clear()
        self._queued_bytes = 0
        self._served_early.clear()
        self._resend_pending = False
        self._held = None
        self._rest = None
        self._draining = False
        self._loaded = False
        self._password_ok = None
        self._resend = None
        self._test_req_id = None
        self._test_req_count = 0
        self.log.on_event(f"Connection from {remote or 'unknown'}", now_ns)
        return []

    def on_bytes(self, data: bytes, now_ns: int) -> list[Action]:
        """Bytes from the connection; they may hold part of a message or several."""
        if self.state is S.DISCONNECTED:
            raise LocalProtocolError("on_bytes() on a disconnected session")
        framer = self._framer
        raws = framer.feed(data)
        if framer.garbled:
            for text in framer.garbled:
                self.log.on_event(f"Ignored {text}", now_ns)
            framer.garbled.clear()
        if self._held is not None:
            self._held.extend(raws)
            return []
        return self._handle_raws(raws, now_ns)

    def resume(self, now_ns: int) -> list[Action]:
        """Go on after :class:`LoadMessages` (loaded or not: what is missing is gap-filled)."""
        held, self._held = self._held, None
        if not held or self.state is S.DISCONNECTED:
            return []
        self._loaded = True
        return self._handle_raws(held, now_ns)

    def password_checked(self, ok: bool, now_ns: int) -> list[Action]:
        """Go on after :class:`CheckPassword` with its outcome."""
        held, self._held = self._held, None
        if not held or self.state is S.DISCONNECTED:
            return []
        self._password_ok = ok
        return self._handle_raws(held, now_ns)

    @property
    def is_resending(self) -> bool:
        """True while a ResendRequest is answered part by part: the transport calls
        :meth:`resend_more` once per event-loop turn; received messages wait until it is done,
        and messages the venue sends meanwhile go out after it."""
        return self._resend is not None

    def resend_more(self, now_ns: int) -> list[Action]:
        """The next part of the resend (see :attr:`is_resending`); after the last one, the
        messages sent meanwhile, then the handling of what was received meanwhile."""
        out: list[Action] = []
        if self._resend is None or self.state is S.DISCONNECTED:
            return out
        self._resend_part(now_ns, out)
        if self._resend is None:
            held, self._held = self._held, None
            if held:
                out += self._handle_raws(held, now_ns)
        return out

    @property
    def has_more(self) -> bool:
        """True when a :class:`Deliver` paused the handling of received messages: the
        transport runs the actions so far, then calls :meth:`more`."""
        return self._rest is not None or self._draining

    def more(self, now_ns: int) -> list[Action]:
        """Go on with the messages received after a delivered one (see :attr:`has_more`)."""
        out: list[Action] = []
        if self._draining:
            self._draining = False
            if self.is_logged_on:
                self._drain_queue(now_ns, out)
                if self._draining:
                    return out
        rest, self._rest = self._rest, None
        if rest is not None and self.state is not S.DISCONNECTED:
            out += self._handle_raws(rest, now_ns, self._rest_at)
        return out

    def _handle_raws(self, raws: list[bytes], now_ns: int, start: int = 0) -> list[Action]:
        out: list[Action] = []
        log_in = self.log.on_incoming
        last = len(raws) - 1
        for i in range(start, last + 1):
            raw = raws[i]
            if self.state is S.DISCONNECTED:
                break
            msg = parse(raw)
            msg_type = msg.msg_type
            if msg_type == "2":
                load = self._load_for_resend(msg)
                if load is not None:
                    self._held = raws[i:]
                    out.append(load)
                    break
            elif msg_type == "A" and self.state is S.AWAIT_LOGON:
                check = self._password_check(msg)
                if check is not None:
                    self._held = raws[i:]
                    out.append(check)
                    break
            log_in(raw, now_ns)
            self.last_received_ns = now_ns
            self.messages_in += 1
            self._handlers[self.state](msg, now_ns, out)
            if self._resend is not None:  # the rest waits for resend_more()
                self._held = raws[i + 1:]
                break
            if self._draining or (i < last and out and type(out[-1]) is Deliver):
                self._rest, self._rest_at = raws, i + 1  # answers in MsgSeqNum order
                break
        return out

    def _load_for_resend(self, msg: Message) -> LoadMessages | None:
        """What a ResendRequest needs loaded first: the part older than the store keeps."""
        if self._loaded:
            self._loaded = False
            return None
        first_kept = self.store.first_kept_seq
        begin = msg.get_int(7)
        if not self.is_logged_on or begin is None or not 1 <= begin < first_kept:
            return None
        return LoadMessages(begin, first_kept - 1)

    def _password_check(self, msg: Message) -> CheckPassword | None:
        """What a Logon needs checked first: its password, if the session has one and the
        Username matches (a wrong Username is refused without hashing)."""
        cfg = self.config
        if (
            self._password_ok is not None or cfg.password_hash is None
            or cfg.username is None or msg.get(553) != cfg.username
        ):
            return None
        return CheckPassword(msg.get(554) or "", cfg.password_hash)

    def on_message(self, msg: Message, now_ns: int) -> list[Action]:
        """A message already framed and parsed (tests, replays)."""
        if self.state is S.DISCONNECTED:
            raise LocalProtocolError("on_message() on a disconnected session")
        out: list[Action] = []
        self.log.on_incoming(msg.raw, now_ns)
        self.last_received_ns = now_ns
        self.messages_in += 1
        self._handlers[self.state](msg, now_ns, out)
        self._finish_resend(now_ns, out)
        return out

    def on_timer(self, now_ns: int) -> list[Action]:
        """Heartbeats, TestRequests, logon/logout timeouts and the session schedule."""
        out: list[Action] = []
        state = self.state
        if state is S.DISCONNECTED:
            return out
        cfg = self.config
        if state is S.AWAIT_LOGON:
            if now_ns - self.connected_ns >= cfg.logon_timeout * _NS:
                self._disconnect("Logon timeout", now_ns, out)
            return out
        if state is S.AWAIT_LOGOUT:
            if now_ns - self._logout_sent_ns >= cfg.logout_timeout * _NS:
                self._disconnect("Logout timeout: no Logout reply", now_ns, out)
            return out
        sched = cfg.schedule
        if sched is not None:
            start = sched.period_start(now_ns)
            if start is None:
                self._start_logout("Session period ended", now_ns, out)
                return out
            if self.store.creation_time < start and self.logon_ns < start:
                self._start_logout("New session period started", now_ns, out)
                return out
            logon = cfg.logon_schedule
            if logon is not None and not logon.is_in_session(now_ns):
                self._start_logout("Logon period ended", now_ns, out)
                return out
        hb = self._hb_ns
        if hb <= 0 or self._resend is not None:  # a resend in progress is traffic enough
            return out
        silent = now_ns - self.last_received_ns
        if silent >= hb * 12 // 5:  # 2.4 x HeartBtInt: the TestRequest went unanswered (4b)
            self._disconnect("Heartbeat timeout: no answer to TestRequest", now_ns, out)
            return out
        if silent >= hb * 6 // 5 and self._test_req_id is None:  # 1.2 x HeartBtInt (FIX 4.4 2c)
            self._test_req_count += 1
            self._test_req_id = f"TEST-{self._test_req_count}"
            out.append(self._send("1", [(112, self._test_req_id)], now_ns))
        if now_ns - self.last_sent_ns >= hb:  # idle: Heartbeat (FIX 4.4 1a)
            out.append(self._send("0", (), now_ns))
        return out

    def on_disconnect(self, now_ns: int) -> list[Action]:
        """The transport closed the connection (or lost it)."""
        out: list[Action] = []
        if self.state is not S.DISCONNECTED:
            self._disconnect("Connection closed", now_ns, out, emit=False)
        return out

    def send_app(self, msg_type: str, body: OutBody, now_ns: int) -> Send | None:
        """Send an application message from the venue.

        The message gets the next MsgSeqNum and is stored even when the session is not logged
        on (it then goes out by resend after the next Logon, as in QuickFIX); the Send is only
        returned while logged on.
        """
        if msg_type in ADMIN_MSG_TYPES:
            raise LocalProtocolError(f"send_app() with session message type {msg_type!r}")
        if self.is_logged_on:
            send = self._send(msg_type, body, now_ns)
            if self._resend is not None:  # after the resend, in MsgSeqNum order
                self._resend.after.append(send)
                return None
            return send
        self._send(msg_type, body, now_ns, log=False)
        return None

    def logout(self, reason: str, now_ns: int) -> list[Action]:
        """Venue-initiated logout: send Logout and wait for the reply or LogoutTimeout."""
        out: list[Action] = []
        if self.state is S.LOGGED_ON:
            self._start_logout(reason, now_ns, out)
        elif self.state is S.AWAIT_LOGON:
            self._disconnect(reason, now_ns, out)
        return out

    def disconnect(self, reason: str, now_ns: int) -> list[Action]:
        """Drop the connection without a Logout."""
        out: list[Action] = []
        if self.state is not S.DISCONNECTED:
            self._disconnect(reason, now_ns, out)
        return out

    def reset(self, now_ns: int) -> list[Action]:
        """Reset both sequence numbers to 1 (logging out a connected session first)."""
        out: list[Action] = []
        if self.state is S.LOGGED_ON or self.state is S.AWAIT_LOGOUT:
            out.append(self._send("5", [(58, "Session reset by the venue")], now_ns))
        if self.state is not S.DISCONNECTED:
            self._disconnect("Session reset by the venue", now_ns, out)
        self.store.reset(now_ns)
        self.log.on_event("Sequence numbers reset to 1", now_ns)
        return out

    def set_seq(self, next_sender: int | None, next_target: int | None, now_ns: int) -> None:
        """Set the next outbound and/or expected inbound MsgSeqNum (operator action)."""
        if next_sender is not None:
            self.store.next_sender_seq = next_sender
        if next_target is not None:
            self.store.next_target_seq = next_target
        self.log.on_event(
            f"Sequence numbers set: sender={next_sender} target={next_target}", now_ns
        )

    # -- state handlers -------------------------------------------------------------------------

    def _in_await_logon(self, msg: Message, now_ns: int, out: list[Action]) -> None:
        cfg = self.config
        store = self.store
        if msg.msg_type != "A":  # FIX 4.4 1e: first message not a Logon -> disconnect
            self._disconnect(
                f"First message was not a Logon (MsgType {msg.msg_type!r})", now_ns, out
            )
            return
        if msg.get(8) != cfg.begin_string:  # FIX 4.4 1f? / 2m: wrong BeginString
            self._refuse(f"Incorrect BeginString {msg.get(8)}", now_ns, out)
            return
        if msg.get(49) != cfg.target_comp_id or msg.get(56) != cfg.sender_comp_id:
            self._refuse("Incorrect SenderCompID or TargetCompID", now_ns, out)
            return
        if not self.enabled:
            self._refuse("Session is disabled", now_ns, out)
            return
        sched = cfg.schedule
        if sched is not None:
            start = sched.period_start(now_ns)
            if start is None:
                self._refuse("Logon outside of session time", now_ns, out)
                return
            if store.creation_time < start:  # a new session period: sequence numbers restart
                store.reset(now_ns)
                self.log.on_event("New session period: sequence numbers reset", now_ns)
            logon = cfg.logon_schedule
            if logon is not None and not logon.is_in_session(now_ns):
                self._refuse("Logon outside of logon time", now_ns, out)
                return
        if cfg.refresh_on_logon:
            store.refresh()
        problem = validate(msg)
        if problem is not None:
            _, tag, text = problem
            self._refuse(f"Invalid Logon: {text}" + (f" ({tag})" if tag else ""), now_ns, out)
            return
        if msg.get(98) != "0":  # FIX 4.4 17b: no encryption is supported
            self._refuse("Invalid Logon: EncryptMethod(98) must be 0 (none)", now_ns, out)
            return
        if cfg.username is not None and cfg.password_hash is not None:
            # Checked by the transport (CheckPassword) or, for on_message, here.
            ok, self._password_ok = self._password_ok, None
            if msg.get(553) != cfg.username or not (
                ok if ok is not None else verify_password(msg.get(554) or "", cfg.password_hash)
            ):
                self._refuse("Invalid Username or Password", now_ns, out)
                return
        sending_time = parse_utc_timestamp(msg.get(52) or "")
        if self._max_latency_ns and (
            sending_time is None or abs(now_ns - sending_time) > self._max_latency_ns
        ):
            self._refuse("SendingTime accuracy problem", now_ns, out)
            return
        reset_flag = msg.get(141) == "Y"
        reset = reset_flag or cfg.reset_on_logon  # ResetSeqNumFlag: both sides restart at 1
        seq = msg.get_int(34)
        expected = 1 if reset else store.next_target_seq
        if seq is None:
            self._refuse("Invalid Logon: MsgSeqNum(34) missing or invalid", now_ns, out)
            return
        if seq < expected:  # FIX 4.4 2c on Logon
            self._refuse(f"MsgSeqNum too low, expecting {expected} but received {seq}", now_ns, out)
            return
        hb = _heart_bt_int(msg)
        if hb is None:
            self._refuse("Invalid Logon: HeartBtInt(108) must be a whole number >= 0", now_ns, out)
            return
        if reset:  # only a Logon that is accepted resets (a refused one changes nothing)
            store.reset(now_ns)
            self.log.on_event("Sequence numbers reset by Logon", now_ns)
        self.heart_bt_int = hb
        self._hb_ns = hb * _NS
        self._set_state(S.LOGGED_ON)
        self.logon_ns = now_ns
        body: list[OutField] = [(98, 0), (108, hb)]
        if reset_flag:
            body.append((141, "Y"))
        out.append(self._send("A", body, now_ns))
        self.log.on_event(f"Logon accepted, HeartBtInt={hb}", now_ns)
        out.append(LoggedOn())
        if seq > expected:  # FIX 4.4 1c: Logon with MsgSeqNum too high -> ResendRequest
            self._queue[seq] = msg
            self._request_resend(expected, now_ns, out, trigger=seq)
        else:
            store.incr_next_target_seq()

    def _in_logged_on(self, msg: Message, now_ns: int, out: list[Action]) -> None:
        index = msg._index
        cfg = self.config
        seq_text = index.get(34)
        if seq_text is None or not is_uint(seq_text):
            self._start_logout("MsgSeqNum(34) missing or invalid", now_ns, out)
            return
        seq = int(seq_text)
        if index.get(49) != cfg.target_comp_id or index.get(56) != cfg.sender_comp_id:
            # FIX 4.4 2d: Reject reason 9, then Logout
            self._reject(msg, seq, COMPID_PROBLEM, 49 if index.get(49) != cfg.target_comp_id
                         else 56, "CompID problem", now_ns, out)
            self._start_logout("Incorrect SenderCompID or TargetCompID", now_ns, out)
            return
        if index.get(8) != cfg.begin_string:  # FIX 4.4 2m: wrong BeginString -> Logout
            self._start_logout(f"Incorrect BeginString {index.get(8)}", now_ns, out)
            self._disconnect("Incorrect BeginString", now_ns, out)
            return
        sending_time = parse_utc_timestamp(index.get(52, ""))
        if sending_time is None:  # FIX 4.4 2e: SendingTime missing or malformed
            if 52 in index:
                self._reject(msg, seq, INCORRECT_DATA_FORMAT, 52, "Incorrect data format for "
                             "value", now_ns, out)
            else:
                self._reject(msg, seq, REQUIRED_TAG_MISSING, 52, "Required tag missing",
                             now_ns, out)
            return
        if self._max_latency_ns and abs(now_ns - sending_time) > self._max_latency_ns:
            # FIX 4.4 2e: SendingTime not within MaxLatency -> Reject 10, then Logout
            self._reject(msg, seq, SENDING_TIME_ACCURACY, 52, "SendingTime accuracy problem",
                         now_ns, out)
            self._start_logout("SendingTime accuracy problem", now_ns, out)
            return
        for flag in _HEADER_FLAGS:  # PossDupFlag, PossResend: Y or N, nothing else (14f)
            value = index.get(flag)
            if value is not None and value not in _FLAG_VALUES:
                self._reject(msg, seq, INCORRECT_DATA_FORMAT, flag,
                             "Incorrect data format for value", now_ns, out)
                return
        msg_type = msg.msg_type
        if msg_type == "4" and index.get(123) != "Y":  # Reset mode ignores MsgSeqNum (FIX 11a-c)
            self._sequence_reset(msg, seq, now_ns, out)
            return
        if msg_type == "A" and index.get(141) == "Y":  # both sides restart at 1, in session
            self._reset_by_logon(msg, seq, now_ns, out)
            return
        expected = self.store.next_target_seq
        if seq == expected:
            self._process(msg, seq, sending_time, now_ns, out)
            if self._queue:
                self._drain_queue(now_ns, out)
            return
        if seq > expected:  # FIX 4.4 2b: MsgSeqNum too high -> queue and ResendRequest
            if msg_type == "5":  # answer a Logout at once (QuickFIX)
                self._logout_received(msg, now_ns, out)
                return
            if len(self._queue) >= MAX_QUEUED_MESSAGES or (
                self._queued_bytes + len(msg.raw) > MAX_QUEUED_BYTES
            ):  # a gap never filled must not hold the venue's memory
                text = (f"More than {MAX_QUEUED_MESSAGES} messages or "
                        f"{MAX_QUEUED_BYTES >> 20} MiB received after a gap, which is not filled")
                out.append(self._send("5", [(58, text)], now_ns))
                self._disconnect(text, now_ns, out)
                return
            if msg_type == "2" and seq not in self._served_early:
                # Serve a ResendRequest at once so that two sides with gaps cannot deadlock.
                self._served_early.add(seq)
                self._serve_resend(msg, seq, now_ns, out)
                self._finish_resend(now_ns, out)  # before the ResendRequest of our own
            self._queue[seq] = msg
            self._queued_bytes += len(msg.raw)
            if not self._resend_pending or (
                # The answer to the pending request went past its start but stopped short of
                # the queue: ask again from where it stopped, or the queue waits forever.
                seq > self._resend_trigger and expected > self._resend_begin
            ):
                self._request_resend(expected, now_ns, out, trigger=seq)
            return
        # seq < expected
        if index.get(43) == "Y":  # FIX 4.4 2f: possible duplicate -> ignore (after checks)
            if self._check_poss_dup(msg, seq, sending_time, now_ns, out):
                self.log.on_event(f"Ignored duplicate MsgSeqNum {seq}", now_ns)
            return
        # FIX 4.4 2c: MsgSeqNum too low without PossDupFlag -> Logout and disconnect
        text = f"MsgSeqNum too low, expecting {expected} but received {seq}"
        out.append(self._send("5", [(58, text)], now_ns))
        self._disconnect(text, now_ns, out)

    # -- in-sequence processing -----------------------------------------------------------------

    def _process(
        self, msg: Message, seq: int, sending_time: int, now_ns: int, out: list[Action]
    ) -> None:
        """Handle a message whose MsgSeqNum is the expected one; consumes it."""
        store = self.store
        msg_type = msg.msg_type
        if msg.get(43) == "Y" and not self._check_poss_dup(msg, seq, sending_time, now_ns, out):
            return
        self._test_req_id = None  # the counterparty is alive: the next silence gets a new one
        if msg_type not in SUPPORTED_MSG_TYPES:
            if msg_type == "j":  # the counterparty's BusinessMessageReject: never answered
                store.incr_next_target_seq()  # with one (two engines would loop forever)
                self.log.on_event(f"Received BusinessMessageReject: {msg.get(58) or ''} "
                                  f"(RefSeqNum {msg.get(45)}, RefMsgType {msg.get(372)}, "
                                  f"reason {msg.get(380)})", now_ns)
            elif msg_type in FIX44_MSG_TYPES or msg_type[:1] == "U":
                # An application message the venue does not support: BusinessMessageReject
                self._business_reject(msg, seq, 3, "Unsupported Message Type", now_ns, out)
            else:  # FIX 4.4 2q? undefined MsgType -> Reject reason 11
                self._reject(msg, seq, INVALID_MSG_TYPE, 35, "Invalid MsgType", now_ns, out)
            return
        problem = validate(msg)
        if problem is not None:  # FIX 4.4 14a-14h
            self._reject(msg, seq, problem[0], problem[1], problem[2], now_ns, out)
            return
        if msg_type in APP_MSG_TYPES:
            store.incr_next_target_seq()
            out.append(Deliver(msg))
        elif msg_type == "0":  # Heartbeat
            store.incr_next_target_seq()
        elif msg_type == "1":  # TestRequest -> Heartbeat echoing TestReqID (FIX 4.4 6)
            test_req_id = msg.get(112) or ""
            if len(test_req_id) > MAX_TEST_REQ_ID:  # echoed and stored: not a megabyte
                self._reject(msg, seq, VALUE_OUT_OF_RANGE, 112, "Value is incorrect (out of "
                             f"range) for this tag: over {MAX_TEST_REQ_ID} characters", now_ns, out)
                return
            store.incr_next_target_seq()
            out.append(self._send("0", [(112, test_req_id)], now_ns))
        elif msg_type == "2":  # ResendRequest (FIX 4.4 8)
            store.incr_next_target_seq()
            if seq in self._served_early:
                self._served_early.discard(seq)
            else:
                self._serve_resend(msg, seq, now_ns, out)
        elif msg_type == "3":
            store.incr_next_target_seq()
            self.log.on_event(f"Received Reject: {msg.get(58) or ''} (RefSeqNum "
                              f"{msg.get(45)}, reason {msg.get(373)})", now_ns)
        elif msg_type == "4":  # SequenceReset-GapFill (FIX 4.4 10)
            new_seq = _new_seq_no(msg)
            if new_seq > MAX_SEQ_NUM:
                self._reject(msg, seq, VALUE_OUT_OF_RANGE, 36, _NEW_SEQ_NO_TOO_LARGE, now_ns, out)
                return
            if new_seq <= seq:  # FIX 4.4 10c: NewSeqNo must move forward
                self._reject(msg, seq, VALUE_OUT_OF_RANGE, 36,
                             f"Attempt to lower sequence number, invalid value NewSeqNo={new_seq}",
                             now_ns, out)
                return
            store.next_target_seq = new_seq
        elif msg_type == "5":
            store.incr_next_target_seq()
            self._logout_received(msg, now_ns, out)
        elif msg_type == "A":
            store.incr_next_target_seq()
            self._start_logout("Logon received while already logged on", now_ns, out)

    def _drain_queue(self, now_ns: int, out: list[Action]) -> None:
        """Process queued messages that are now in sequence (after a gap was filled)."""
        self._finish_resend(now_ns, out)  # their answers come after it
        queue = self._queue
        store = self.store
        while queue and self.is_logged_on:
            expected = store.next_target_seq
            msg = queue.pop(expected, None)
            if msg is None:
                break
            if msg.msg_type == "A":  # the Logon that opened the gap: already processed
                store.incr_next_target_seq()
                continue
            sending_time = parse_utc_timestamp(msg.get(52) or "") or 0
            self._process(msg, expected, sending_time, now_ns, out)
            if queue and out and type(out[-1]) is Deliver:
                self._draining = True  # go on in more(), once the delivered one is answered
                return
        expected = store.next_target_seq
        for stale in [s for s in queue if s < expected]:
            del queue[stale]
        if not queue:
            self._queued_bytes = 0  # counted on the way in only: an upper bound until empty
        if not queue and self._resend_pending:
            self._resend_pending = False
            self.log.on_event(f"Resend complete, next expected {expected}", now_ns)

    def _check_poss_dup(
        self, msg: Message, seq: int, sending_time: int, now_ns: int, out: list[Action]
    ) -> bool:
        """OrigSendingTime(122) checks of a PossDupFlag=Y message; False when rejected."""
        orig_text = msg.get(122)
        if orig_text is None:  # FIX 4.4 2f? PossDup without OrigSendingTime -> Reject 1
            if msg.msg_type == "4":  # QuickFIX tolerates a GapFill without it
                return True
            self._reject(msg, seq, REQUIRED_TAG_MISSING, 122, "Required tag missing", now_ns, out)
            return False
        orig = parse_utc_timestamp(orig_text)
        if orig is None:
            self._reject(msg, seq, INCORRECT_DATA_FORMAT, 122, "Incorrect data format for value",
                         now_ns, out)
            return False
        if orig > sending_time:  # FIX 4.4 2g: OrigSendingTime after SendingTime -> Reject 10
            self._reject(msg, seq, SENDING_TIME_ACCURACY, 122, "SendingTime accuracy problem",
                         now_ns, out)
            return False
        return True

    def _sequence_reset(self, msg: Message, seq: int, now_ns: int, out: list[Action]) -> None:
        """SequenceReset in Reset mode: no MsgSeqNum checks (FIX 4.4 11a, 11b, 11c)."""
        problem = validate(msg)
        if problem is not None:
            self._reject(msg, seq, problem[0], problem[1], problem[2], now_ns, out, consume=False)
            return
        new_seq = _new_seq_no(msg)
        expected = self.store.next_target_seq
        if new_seq > MAX_SEQ_NUM:
            self._reject(msg, seq, VALUE_OUT_OF_RANGE, 36, _NEW_SEQ_NO_TOO_LARGE, now_ns, out,
                         consume=False)
            return
        if new_seq > expected:  # 11a
            self.store.next_target_seq = new_seq
            self.log.on_event(f"SequenceReset: next expected {expected} -> {new_seq}", now_ns)
            if self._queue:
                self._drain_queue(now_ns, out)
        elif new_seq == expected:  # 11b
            self.log.on_event(f"SequenceReset to the expected {new_seq}: nothing to do", now_ns)
        else:  # 11c: never lower the expected number
            self._reject(msg, seq, VALUE_OUT_OF_RANGE, 36,
                         f"Value is incorrect (out of range) for this tag: NewSeqNo {new_seq} "
                         f"lower than expected {expected}", now_ns, out, consume=False)

    def _reset_by_logon(self, msg: Message, seq: int, now_ns: int, out: list[Action]) -> None:
        """A Logon with ResetSeqNumFlag=Y while logged on (FIX 4.4, as QuickFIX does it): both
        sides restart at 1 without disconnecting, and the Logon is answered with 141=Y."""
        if self.state is not S.LOGGED_ON:
            self._start_logout("Logon received while logging out", now_ns, out)
            return
        problem = validate(msg)
        if problem is None and _heart_bt_int(msg) is None:
            problem = (VALUE_OUT_OF_RANGE, 108, "HeartBtInt(108) must be a whole number >= 0")
        if problem is None and msg.get(98) != "0":
            problem = (VALUE_OUT_OF_RANGE, 98, "EncryptMethod(98) must be 0 (none)")
        if problem is not None:
            self._reject(msg, seq, problem[0], problem[1], problem[2], now_ns, out, consume=False)
            return
        hb = _heart_bt_int(msg) or 0
        self._queue.clear()
        self._queued_bytes = 0
        self._served_early.clear()
        self._resend_pending = False
        self.store.reset(now_ns)
        self.log.on_event("Sequence numbers reset by Logon while logged on", now_ns)
        self.heart_bt_int = hb
        self._hb_ns = hb * _NS
        out.append(self._send("A", [(98, 0), (108, hb), (141, "Y")], now_ns))
        if seq > 1:  # as on a first Logon: its MsgSeqNum says what is missing
            self._queue[seq] = msg
            self._request_resend(1, now_ns, out, trigger=seq)
        else:
            self.store.incr_next_target_seq()

    def _logout_received(self, msg: Message, now_ns: int, out: list[Action]) -> None:
        if self.state is S.AWAIT_LOGOUT:  # the reply to our Logout (FIX 4.4 13a)
            self._disconnect("Logout completed", now_ns, out, logout=True)
            return
        out.append(self._send("5", (), now_ns))  # FIX 4.4 13b: answer, then disconnect
        self._disconnect(f"Logout by counterparty: {msg.get(58) or ''}".rstrip(": "),
                         now_ns, out, logout=True)

    # -- resends ----------------------------------------------------------------------------------

    def _request_resend(
        self, expected: int, now_ns: int, out: list[Action], *, trigger: int
    ) -> None:
        self._resend_pending = True
        self._resend_begin = expected
        self._resend_trigger = trigger
        out.append(self._send("2", [(7, expected), (16, 0)], now_ns))
        self.log.on_event(f"Sent ResendRequest FROM: {expected} TO: infinity", now_ns)

    def _serve_resend(self, msg: Message, seq: int, now_ns: int, out: list[Action]) -> None:
        """Answer a ResendRequest (FIX 4.4 8): app messages again, admin ones as a GapFill.
        The first part goes out here; if more remain, :attr:`is_resending` is True."""
        begin, end = _seq_no(msg.get(7)), _seq_no(msg.get(16))
        if begin is None or end is None:  # not numbers: validate() rejects the message
            return
        self.log.on_event(f"Received ResendRequest FROM: {begin} TO: {end}", now_ns)
        last = self.store.next_sender_seq - 1
        problem = (
            (7, "BeginSeqNo must be at least 1") if begin < 1
            else (16, "EndSeqNo must be 0 (no limit) or at least 1") if end < 0
            else (16, f"EndSeqNo {end} is below BeginSeqNo {begin}") if 0 < end < begin
            else (7, f"BeginSeqNo {begin} is beyond the last MsgSeqNum sent ({last})")
            if begin > last else None
        )
        if problem is not None:  # nothing to resend: an answer all the same
            self._reject(msg, seq, VALUE_OUT_OF_RANGE, problem[0], problem[1], now_ns, out)
            return
        if end == 0 or end > last:  # EndSeqNo 0 means "up to the last one sent"
            end = last
        self._resend = _Resend(begin, end, self.store.get(begin, end))
        self._resend_part(now_ns, out)

    def _finish_resend(self, now_ns: int, out: list[Action]) -> None:
        """All the rest of a resend at once, where handling cannot pause."""
        while self._resend is not None:
            self._resend_part(now_ns, out)

    def _resend_part(self, now_ns: int, out: list[Action]) -> None:
        r = self._resend
        assert r is not None
        now_text = format_utc_timestamp(now_ns)
        begin = r.next
        end = min(r.end, begin + RESEND_CHUNK - 1)
        stored, at, count = r.stored, r.at, len(r.stored)
        gap_start = r.gap_start
        for s in range(begin, end + 1):
            old = None
            if at < count and stored[at][0] == s:
                old = parse(stored[at][1])
                at += 1
            if old is None or old.msg_type in ADMIN_MSG_TYPES:
                if not gap_start:
                    gap_start = s
                continue
            if gap_start:
                out.append(self._gap_fill(gap_start, s, now_text, now_ns))
                gap_start = 0
            raw = self.encoder.encode(
                old.msg_type, s, now_text, old.body(), orig_sending_time=old.get(52) or now_text
            )
            self.log.on_outgoing(raw, now_ns)
            out.append(Send(raw, s))
        self.last_sent_ns = now_ns
        if end < r.end:
            r.next, r.at, r.gap_start = end + 1, at, gap_start
            return
        if gap_start:
            out.append(self._gap_fill(gap_start, end + 1, now_text, now_ns))
        self._resend = None
        out += r.after

    def _gap_fill(self, begin: int, new_seq: int, now_text: str, now_ns: int) -> Send:
        raw = self.encoder.encode(
            "4", begin, now_text, [(123, "Y"), (36, new_seq)], orig_sending_time=now_text
        )
        self.log.on_outgoing(raw, now_ns)
        return Send(raw, begin)

    # -- helpers ----------------------------------------------------------------------------------

    def _send(
        self, msg_type: str, body: OutBody, now_ns: int, *, log: bool = True
    ) -> Send:
        """Encode with the next MsgSeqNum, store, and count it as sent."""
        store = self.store
        seq = store.next_sender_seq
        raw = self.encoder.encode(msg_type, seq, format_utc_timestamp(now_ns), body)
        store.save(seq, raw)
        store.incr_next_sender_seq()
        if log:
            self.log.on_outgoing(raw, now_ns)
            self.last_sent_ns = now_ns
            self.messages_out += 1
        return Send(raw, seq)

    def _reject(
        self,
        msg: Message,
        seq: int,
        reason: int,
        tag: int | None,
        text: str,
        now_ns: int,
        out: list[Action],
        *,
        consume: bool = True,
    ) -> None:
        """Session-level Reject(3); the rejected message consumes its MsgSeqNum (QuickFIX)."""
        body: list[OutField] = [(45, seq)]
        if tag is not None:
            body.append((371, tag))
        if msg.msg_type:
            body.append((372, msg.msg_type))
        body += [(373, reason), (58, text)]
        out.append(self._send("3", body, now_ns))
        out.append(SessionEvent("reject", text if tag is None else f"{text} (tag {tag})"))
        self.log.on_event(f"Message {seq} Rejected: {text} (reason {reason}, tag {tag})", now_ns)
        if consume and seq == self.store.next_target_seq:
            self.store.incr_next_target_seq()

    def _business_reject(
        self, msg: Message, seq: int, reason: int, text: str, now_ns: int, out: list[Action]
    ) -> None:
        body: list[OutField] = [(45, seq), (372, msg.msg_type), (380, reason), (58, text)]
        out.append(self._send("j", body, now_ns))
        out.append(SessionEvent("business_reject", text))
        self.log.on_event(f"Message {seq} BusinessMessageRejected: {text}", now_ns)
        if seq == self.store.next_target_seq:
            self.store.incr_next_target_seq()

    def _refuse(self, text: str, now_ns: int, out: list[Action]) -> None:
        """Refuse a Logon: Logout with the reason, then disconnect."""
        out.append(self._send("5", [(58, text)], now_ns))
        self._disconnect(f"Logon refused: {text}", now_ns, out, kind="logon_rejected")

    def _start_logout(self, text: str, now_ns: int, out: list[Action]) -> None:
        if self.state is not S.LOGGED_ON:
            return
        out.append(self._send("5", [(58, text)], now_ns))
        self._logout_sent_ns = now_ns
        self._set_state(S.AWAIT_LOGOUT)
        self.log.on_event(f"Initiated Logout: {text}", now_ns)

    def _disconnect(
        self, reason: str, now_ns: int, out: list[Action], *, emit: bool = True,
        logout: bool = False, kind: str = "disconnect",
    ) -> None:
        was_logged_on = self.is_logged_on
        self._set_state(S.DISCONNECTED)
        self.log.on_event(f"Disconnected: {reason}", now_ns)
        if emit:
            out.append(Disconnect(reason))
        if was_logged_on:
            out.append(LoggedOut())
        out.append(SessionEvent("logout" if logout else kind, reason))
        self._queue.clear()
        self._queued_bytes = 0
        self._served_early.clear()
        self._resend_pending = False
        self._resend = None
        self._test_req_id = None
        cfg = self.config
        if cfg.reset_on_disconnect or (logout and cfg.reset_on_logout):
            self.store.reset(now_ns)
            self.log.on_event("Sequence numbers reset to 1", now_ns)

    def _set_state(self, new: SessionState) -> None:
        if new is self.state:
            return
        if new not in TRANSITIONS[self.state]:
            raise LocalProtocolError(f"{self.session_id}: cannot go from {self.state} to {new}")
        self.state = new
