"""sessions.cfg: QuickFIX-syntax session configuration.

The file has one ``[DEFAULT]`` block and one ``[SESSION]`` block per session; each line is
``Key=Value``; ``#`` and ``;`` start comment lines.  Every known key is one row of :data:`KEYS`
(name, type, default, where it may appear, attribute); an unknown key, a key in the wrong block,
a duplicate key or a malformed value raises :class:`ConfigError` naming file, line and key, e.g.
``sessions.cfg:7: HeartBtInt: expected an integer, got 'abc'``.  The venue does not start on a
broken file.

Adding a key: one row in :data:`KEYS` and one field in :class:`SessionConfig` (or
:class:`DefaultConfig` for DEFAULT-only keys); a unit test checks the two agree.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Final, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fix_gateway.auth import is_password_hash
from fix_gateway.errors import ConfigError
from market_data.config import MarketDataConfig

Scope = Literal["default", "any"]  # DEFAULT block only, or DEFAULT (as default) and SESSION

_DAYS: Final = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


# -- value parsers: str -> value, raising ValueError("expected ...") ----------------------------


def _int(v: str) -> int:
    if not re.fullmatch(r"-?\d+", v):
        raise ValueError("expected an integer")
    return int(v)


def _int_at_least(low: int) -> Callable[[str], int]:
    def parse(v: str) -> int:
        n = _int(v)
        if n < low:
            raise ValueError(f"expected an integer >= {low}")
        return n

    return parse


_nonneg_int = _int_at_least(0)
_pos_int = _int_at_least(1)


def _port(v: str) -> int:
    n = _int(v)
    if not 0 <= n <= 65535:
        raise ValueError("expected a port number 0-65535")
    return n


def _bool(v: str) -> bool:
    if v not in ("Y", "N"):
        raise ValueError("expected Y or N")
    return v == "Y"


def _str(v: str) -> str:
    if not v:
        raise ValueError("expected a value")
    return v


def _decimal(v: str) -> Decimal:
    try:
        d = Decimal(v)
    except InvalidOperation:
        raise ValueError("expected a decimal number") from None
    if not d.is_finite() or d <= 0:
        raise ValueError("expected a positive decimal number")
    return d


def _time(v: str) -> dt.time:
    m = re.fullmatch(r"(\d\d):(\d\d):(\d\d)", v)
    if not m or int(m[1]) > 23 or int(m[2]) > 59 or int(m[3]) > 59:
        raise ValueError("expected a time HH:MM:SS")
    return dt.time(int(m[1]), int(m[2]), int(m[3]))


def _day(v: str) -> int:
    low = v.lower()
    for i, name in enumerate(_DAYS):
        if len(low) >= 2 and name.startswith(low):
            return i
    raise ValueError("expected a day name (Monday..Sunday)")


def _zone(v: str) -> str:
    try:
        ZoneInfo(v)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("expected an IANA time zone such as UTC or Europe/London") from None
    return v


def _list(v: str) -> tuple[str, ...]:
    items = tuple(x.strip() for x in v.split(",") if x.strip())
    if not items:
        raise ValueError("expected a comma-separated list")
    return items


def _choice(*choices: str) -> Callable[[str], str]:
    def parse(v: str) -> str:
        if v not in choices:
            raise ValueError("expected one of " + "|".join(choices))
        return v

    return parse


def _mqtt_url(v: str) -> str:
    """An MQTT broker URL the market data publisher can use, or ``none``."""
    if v.lower() != "none":
        MarketDataConfig.from_url(v)  # a ValueError (ConfigError) says what is wrong
    return v


def _topic_prefix(v: str) -> str:
    MarketDataConfig(url="mqtt://localhost", prefix=v)  # checks the prefix
    return v


def _password_hash(v: str) -> str:
    if not is_password_hash(v):
        raise ValueError("expected a hash from `python -m fix_gateway.auth`")
    return v


_PATH = "path"  # marker: a path resolved relative to the cfg file's directory


@dataclass(frozen=True, slots=True)
class Key:
    """One known configuration key."""

    name: str
    parse: Callable[[str], Any] | str
    default: Any
    scope: Scope
    attr: str


#: Every key the venue understands: QuickFIX keys first, then the venue's own.
KEYS: Final[dict[str, Key]] = {
    k.name: k
    for k in (
        Key("ConnectionType", _choice("acceptor"), "acceptor", "any", "connection_type"),
        Key("BeginString", _choice("FIX.4.4"), "FIX.4.4", "any", "begin_string"),
        Key("SenderCompID", _str, None, "any", "sender_comp_id"),
        Key("TargetCompID", _str, None, "any", "target_comp_id"),
        Key("SocketAcceptPort", _port, None, "any", "socket_accept_port"),
        Key("SocketAcceptHost", _str, "0.0.0.0", "any", "socket_accept_host"),
        Key("HeartBtInt", _nonneg_int, 30, "any", "heart_bt_int"),
        Key("ResetOnLogon", _bool, False, "any", "reset_on_logon"),
        Key("ResetOnLogout", _bool, False, "any", "reset_on_logout"),
        Key("ResetOnDisconnect", _bool, False, "any", "reset_on_disconnect"),
        Key("StartTime", _time, None, "any", "start_time"),
        Key("EndTime", _time, None, "any", "end_time"),
        Key("StartDay", _day, None, "any", "start_day"),
        Key("EndDay", _day, None, "any", "end_day"),
        Key("TimeZone", _zone, "UTC", "any", "time_zone"),
        Key("LogonTime", _time, None, "any", "logon_time"),
        Key("LogoutTime", _time, None, "any", "logout_time"),
        Key("LogonDay", _day, None, "any", "logon_day"),
        Key("LogoutDay", _day, None, "any", "logout_day"),
        Key("NonStopSession", _bool, False, "any", "non_stop_session"),
        Key("FileLogPath", _PATH, None, "any", "file_log_path"),
        Key("CheckLatency", _bool, True, "any", "check_latency"),
        Key("MaxLatency", _pos_int, 120, "any", "max_latency"),  # CheckLatency=N: no check
        Key("LogonTimeout", _nonneg_int, 10, "any", "logon_timeout"),
        Key("LogoutTimeout", _nonneg_int, 2, "any", "logout_timeout"),
        Key("RefreshOnLogon", _bool, False, "any", "refresh_on_logon"),
        Key("AllowedRemoteAddresses", _list, None, "any", "allowed_remote_addresses"),
        # venue keys
        Key("Username", _str, None, "any", "username"),
        Key("PasswordHash", _password_hash, None, "any", "password_hash"),
        Key("MaxOrderQty", _nonneg_int, None, "any", "max_order_qty"),
        Key("MaxOrderNotional", _decimal, None, "any", "max_order_notional"),
        Key("MaxMessagesPerSecond", _nonneg_int, None, "any", "max_messages_per_second"),
        Key("CancelOnDisconnect", _bool, False, "any", "cancel_on_disconnect"),
        Key("SessionRole", _choice("Trading", "DropCopy"), "Trading", "any", "session_role"),
        Key("DropCopyAccounts", _list, None, "any", "drop_copy_accounts"),
        Key(
            "SelfTradePrevention",
            _choice("None", "CancelResting", "CancelAggressor", "CancelBoth", "DecrementAndCancel"),
            "None",
            "any",
            "self_trade_prevention",
        ),
        Key("Account", _str, None, "any", "account"),
        Key("PermittedAccounts", _list, None, "any", "permitted_accounts"),
        Key("InstrumentsFile", _PATH, None, "default", "instruments_file"),
        Key("StoreURL", _str, None, "default", "store_url"),
        Key("MqttURL", _mqtt_url, None, "default", "mqtt_url"),
        Key("MqttTopicPrefix", _topic_prefix, None, "default", "mqtt_topic_prefix"),
        Key("MqttDepth", _pos_int, None, "default", "mqtt_depth"),
        Key("AdminSocket", _PATH, None, "default", "admin_socket"),
        Key("SnapshotCommandInterval", _nonneg_int, None, "default", "snapshot_command_interval"),
    )
}


#: QuickFIX keys that a QuickFIX acceptor's file may carry but that do not change this venue's
#: behaviour (its store, logs and validation are its own): accepted and ignored, so a stock
#: QuickFIX sessions.cfg loads. Any other unknown key is an error (it is most likely a typo).
QUICKFIX_PASSIVE_KEYS: Final = frozenset(
    {
        "FileStorePath", "FileStoreSync", "FileStoreMaxCachedMsgs", "PersistMessages",
        "UseDataDictionary", "DataDictionary", "TransportDataDictionary", "AppDataDictionary",
        "ValidateUserDefinedFields", "ValidateFieldsOutOfOrder", "ValidateFieldsHaveValues",
        "ValidateLengthAndChecksum", "AllowUnknownMsgFields", "PreserveMessageFieldsOrder",
        "ScreenLogShowIncoming", "ScreenLogShowOutgoing", "ScreenLogShowEvents",
        "ScreenLogShowHeartBeats", "FileLogBackupPath", "SocketNodelay", "SocketReuseAddress",
        "SocketSendBufferSize", "SocketReceiveBufferSize", "MillisecondsInTimeStamp",
        "TimestampPrecision", "SendRedundantResendRequests", "ReconnectInterval",
        "SendResetSeqNumFlag", "SocketTcpNoDelay",
    }
)

#: QuickFIX keys whose default is what the venue does: that value is accepted and ignored,
#: another one is refused with the reason (key -> (the value, why no other)).
QUICKFIX_FIXED_KEYS: Final[dict[str, tuple[str, str]]] = {
    "UseLocalTime": ("N", "schedules are in TimeZone: give the local zone there, "
                     "e.g. TimeZone=Europe/London"),
    "CheckCompID": ("Y", "the venue routes each connection to its session by the CompIDs"),
    "ValidateSequenceNumbers": ("Y", "the venue always checks MsgSeqNum"),
    "RejectInvalidMessage": ("Y", "the venue always rejects an invalid message"),
    "ResetOnError": ("N", "an invalid message gets a Reject and the session goes on"),
    "DisconnectOnError": ("N", "an invalid message gets a Reject and the session goes on"),
    "ResendRequestChunkSize": ("0", "the venue asks for a gap in one ResendRequest"),
    "EnableLastMsgSeqNumProcessed": ("N", "the venue does not send LastMsgSeqNumProcessed(369)"),
    "EnableNextExpectedMsgSeqNum": ("N", "the venue does not use NextExpectedMsgSeqNum(789)"),
}

#: QuickFIX keys for what the venue does not have: refused with the reason.
QUICKFIX_UNSUPPORTED_KEYS: Final[dict[str, str]] = {
    **dict.fromkeys(
        ("SessionQualifier", "SenderSubID", "SenderLocationID", "TargetSubID",
         "TargetLocationID"),
        "not supported: a session is its BeginString, SenderCompID and TargetCompID",
    ),
    **dict.fromkeys(
        ("SocketConnectHost", "SocketConnectPort", "SocketConnectSourceHost",
         "SocketConnectSourcePort"),
        "not supported: the venue is an acceptor only",
    ),
    "DefaultApplVerID": "not supported: FIXT.1.1 only, and the venue speaks FIX.4.4",
    "HttpAcceptPort": "not supported: the venue is administered through its AdminSocket "
                      "(`venue sessions ...`)",
}


@dataclass(frozen=True, slots=True, order=True)
class SessionID:
    """A session seen from the venue: we are the sender, the client is the target.

    The key of the acceptor's and order entry's maps, looked up several times per message:
    its hash is computed once (a dataclass hashes a new tuple of its fields on every call).
    """

    begin_string: str
    sender_comp_id: str
    target_comp_id: str
    _hash: int = field(init=False, repr=False, compare=False, default=0)

    def __post_init__(self) -> None:
        fields = (self.begin_string, self.sender_comp_id, self.target_comp_id)
        object.__setattr__(self, "_hash", hash(fields))

    def __hash__(self) -> int:
        return self._hash

    def __reduce__(self) -> tuple[type[SessionID], tuple[str, str, str]]:
        # rebuilt through __init__: string hashes differ from one process to the next
        return (SessionID, (self.begin_string, self.sender_comp_id, self.target_comp_id))

    def __str__(self) -> str:
        return f"{self.begin_string}:{self.sender_comp_id}->{self.target_comp_id}"

    @classmethod
    def parse(cls, text: str) -> SessionID:
        """Inverse of ``str()``: ``FIX.4.4:VENUE->CLIENT1``."""
        m = re.fullmatch(r"([^:]+):([^-]+)->(.+)", text)
        if not m:
            raise ValueError(f"not a session id: {text!r}")
        return cls(m[1], m[2], m[3])


@dataclass(frozen=True, slots=True)
class Schedule:
    """A daily (or, with days, weekly) trading session in a time zone (QuickFIX semantics).

    Both ends are inclusive; StartTime == EndTime on a daily schedule is a 24-hour session that
    starts at that time. Both are wall-clock times of the time zone on the days they fall on,
    so a period that spans a daylight-saving change is an hour shorter or longer, and its
    start stays where it was.
    """

    start_time: dt.time
    end_time: dt.time
    time_zone: str = "UTC"
    start_day: int | None = None  # 0 = Monday
    end_day: int | None = None

    def _start_s(self, now_s: int) -> int | None:
        """Start (Unix seconds) of the period holding ``now_s``, None when outside."""
        zone = ZoneInfo(self.time_zone)
        today = dt.datetime.fromtimestamp(now_s, zone).date()
        start_day, end_day = self.start_day, self.end_day
        weekly = start_day is not None and end_day is not None
        if start_day is not None and end_day is not None:
            span = (end_day - start_day) % 7  # days from a start to its end
            if span == 0 and self.end_time <= self.start_time:
                span = 7
        else:
            span = 0 if self.end_time > self.start_time else 1
        for back in range(span + 1):  # the latest start first: periods may not overlap
            day = today - dt.timedelta(days=back)
            if weekly and day.weekday() != self.start_day:
                continue
            start = dt.datetime.combine(day, self.start_time, zone).timestamp()
            last_day = day + dt.timedelta(days=span)
            end = dt.datetime.combine(last_day, self.end_time, zone).timestamp()
            if start <= now_s <= end:
                return int(start)
            if now_s >= start:
                return None  # after this period's end, before the next one's start
        return None

    def is_in_session(self, now_ns: int) -> bool:
        return self._start_s(now_ns // 1_000_000_000) is not None

    def period_start(self, now_ns: int) -> int | None:
        """Start (ns) of the session period containing ``now_ns``; None when outside."""
        start = self._start_s(now_ns // 1_000_000_000)
        return None if start is None else start * 1_000_000_000


@dataclass(frozen=True, slots=True)
class SessionConfig:
    """One [SESSION] block merged over [DEFAULT]; attribute names follow :data:`KEYS`."""

    sender_comp_id: str
    target_comp_id: str
    connection_type: str = "acceptor"
    begin_string: str = "FIX.4.4"
    socket_accept_port: int = 0
    socket_accept_host: str = "0.0.0.0"
    heart_bt_int: int = 30
    reset_on_logon: bool = False
    reset_on_logout: bool = False
    reset_on_disconnect: bool = False
    start_time: dt.time | None = None
    end_time: dt.time | None = None
    start_day: int | None = None
    end_day: int | None = None
    time_zone: str = "UTC"
    logon_time: dt.time | None = None
    logout_time: dt.time | None = None
    logon_day: int | None = None
    logout_day: int | None = None
    non_stop_session: bool = False
    file_log_path: Path | None = None
    check_latency: bool = True
    max_latency: int = 120
    logon_timeout: int = 10
    logout_timeout: int = 2
    refresh_on_logon: bool = False
    allowed_remote_addresses: tuple[str, ...] | None = None
    username: str | None = None
    password_hash: str | None = None
    max_order_qty: int | None = None
    max_order_notional: Decimal | None = None
    max_messages_per_second: int | None = None
    cancel_on_disconnect: bool = False
    session_role: str = "Trading"
    drop_copy_accounts: tuple[str, ...] | None = None
    self_trade_prevention: str = "None"
    account: str | None = None
    permitted_accounts: tuple[str, ...] | None = None
    schedule: Schedule | None = field(init=False, default=None, compare=False)
    logon_schedule: Schedule | None = field(init=False, default=None, compare=False)
    """When Logons are accepted, if narrower than :attr:`schedule` (LogonTime ... LogoutDay)."""
    session_id: SessionID = field(init=False, repr=False, compare=False)
    """One object for the session's lifetime: map lookups with it stop at identity."""

    def __post_init__(self) -> None:
        if self.start_time is not None and self.end_time is not None:
            sched = Schedule(
                self.start_time, self.end_time, self.time_zone, self.start_day, self.end_day
            )
            object.__setattr__(self, "schedule", sched)
            if (self.logon_time, self.logout_time, self.logon_day, self.logout_day) != (
                None, None, None, None
            ):
                logon = Schedule(
                    self.logon_time or self.start_time,
                    self.logout_time or self.end_time,
                    self.time_zone,
                    self.start_day if self.logon_day is None else self.logon_day,
                    self.end_day if self.logout_day is None else self.logout_day,
                )
                object.__setattr__(self, "logon_schedule", logon)
        session_id = SessionID(self.begin_string, self.sender_comp_id, self.target_comp_id)
        object.__setattr__(self, "session_id", session_id)


def _logon_window_problem(cfg: SessionConfig) -> tuple[str, str] | None:
    """(key, problem) when the logon window does not lie in the session's times (QuickFIX
    checks the same: each end, on its day, within a session period)."""
    sched, logon = cfg.schedule, cfg.logon_schedule
    if sched is None or logon is None:
        return None
    zone = ZoneInfo(cfg.time_zone)
    monday = dt.date(2024, 1, 1)  # any week: the check is of times of day and weekdays
    for key, at, weekday in (
        ("LogonTime", logon.start_time, logon.start_day),
        ("LogoutTime", logon.end_time, logon.end_day),
    ):
        day = monday + dt.timedelta(days=2 if weekday is None else weekday)
        instant = int(dt.datetime.combine(day, at, zone).timestamp())
        if not sched.is_in_session(instant * 1_000_000_000):
            return key, "the logon window must lie within StartTime/EndTime (and their days)"
    return None


@dataclass(frozen=True, slots=True)
class DefaultConfig:
    """Venue-wide keys that may only appear in [DEFAULT]; read by other parts of the venue."""

    instruments_file: Path | None = None
    store_url: str | None = None
    mqtt_url: str | None = None
    mqtt_topic_prefix: str | None = None
    mqtt_depth: int | None = None
    admin_socket: Path | None = None
    snapshot_command_interval: int | None = None


@dataclass(frozen=True, slots=True)
class VenueConfig:
    """The whole parsed file."""

    default: DefaultConfig
    sessions: tuple[SessionConfig, ...]
    path: Path | None = None

    def session(self, session_id: SessionID | str) -> SessionConfig:
        for s in self.sessions:
            if s.session_id == session_id or str(s.session_id) == session_id:
                return s
        raise KeyError(str(session_id))


_SESSION_ATTRS: Final = {f.name for f in fields(SessionConfig) if f.init}
_DEFAULT_ATTRS: Final = {f.name for f in fields(DefaultConfig)}


def load_config(path: str | Path) -> VenueConfig:
    """Read and validate a sessions.cfg file; raises :class:`ConfigError`."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"{p}: cannot read: {e.strerror}") from e
    return parse_config(text, p)


def parse_config(text: str, path: str | Path = "sessions.cfg") -> VenueConfig:
    """Parse sessions.cfg text; ``path`` names the file in errors and anchors relative paths."""
    p = Path(path)
    base = p.parent
    where = str(p)

    def fail(line: int, key: str | None, what: str) -> ConfigError:
        return ConfigError(f"{where}:{line}: {key}: {what}" if key else f"{where}:{line}: {what}")

    # block = (kind, header line, {key: (value, line)})
    blocks: list[tuple[str, int, dict[str, tuple[Any, int]]]] = []
    current: dict[str, tuple[Any, int]] | None = None
    for lineno, line in enumerate(text.splitlines(), start=1):
        s = line.strip()
        if not s or s[0] in "#;":
            continue
        if s.startswith("["):
            kind = s.upper()
            if kind not in ("[DEFAULT]", "[SESSION]"):
                raise fail(lineno, None, f"unknown block {s}; expected [DEFAULT] or [SESSION]")
            if kind == "[DEFAULT]" and any(b[0] == "DEFAULT" for b in blocks):
                raise fail(lineno, None, "a second [DEFAULT] block")
            current = {}
            blocks.append((kind[1:-1], lineno, current))
            continue
        key, sep, raw = s.partition("=")
        key, raw = key.strip(), raw.strip()
        if not sep or not key:
            raise fail(lineno, None, f"expected Key=Value, got {s!r}")
        if current is None:
            raise fail(lineno, key, "key outside a [DEFAULT] or [SESSION] block")
        spec = KEYS.get(key)
        if spec is None:
            if key in QUICKFIX_PASSIVE_KEYS:
                continue
            if key in QUICKFIX_FIXED_KEYS:
                only, why = QUICKFIX_FIXED_KEYS[key]
                if raw != only:
                    raise fail(lineno, key, f"only {only} is supported ({why}), got {raw!r}")
                continue
            if key in QUICKFIX_UNSUPPORTED_KEYS:
                raise fail(lineno, key, QUICKFIX_UNSUPPORTED_KEYS[key])
            raise fail(lineno, key, "unknown key")
        if blocks[-1][0] == "SESSION" and spec.scope == "default":
            raise fail(lineno, key, "allowed only in [DEFAULT]")
        if key in current:
            raise fail(lineno, key, f"repeated in this block (first on line {current[key][1]})")
        if spec.parse == _PATH:
            if not raw:
                raise fail(lineno, key, "expected a path, got ''")
            value: Any = Path(raw) if Path(raw).is_absolute() else base / raw
        else:
            assert callable(spec.parse)
            try:
                value = spec.parse(raw)
            except ValueError as e:
                raise fail(lineno, key, f"{e}, got {raw!r}") from None
        current[key] = (value, lineno)

    defaults: dict[str, tuple[Any, int]] = {}
    for kind, _, values in blocks:
        if kind == "DEFAULT":
            defaults = values
    default_cfg = DefaultConfig(
        **{KEYS[k].attr: v for k, (v, _) in defaults.items() if KEYS[k].scope == "default"}
    )
    sessions: list[SessionConfig] = []
    seen: dict[SessionID, int] = {}
    for kind, header_line, values in blocks:
        if kind != "SESSION":
            continue
        merged = {k: v for k, v in defaults.items() if KEYS[k].scope == "any"} | values

        def line_of(key: str, merged: dict[str, tuple[Any, int]] = merged) -> int:
            return merged[key][1] if key in merged else header_line  # noqa: B023

        for required in ("SenderCompID", "TargetCompID", "SocketAcceptPort"):
            if required not in merged:
                raise fail(header_line, required, "required in every [SESSION] (or [DEFAULT])")
        for a, b in (("StartTime", "EndTime"), ("StartDay", "EndDay")):
            if (a in merged) != (b in merged):
                missing = b if a in merged else a
                raise fail(line_of(a if a in merged else b), missing, f"{a} and {b} go together")
        if "StartDay" in merged and "StartTime" not in merged:
            raise fail(line_of("StartDay"), "StartTime", "StartDay/EndDay need StartTime/EndTime")
        if merged.get("NonStopSession", (False, 0))[0] and "StartTime" in merged:
            raise fail(line_of("NonStopSession"), "NonStopSession",
                       "Y means no session times; remove StartTime/EndTime (or set N)")
        for key, needs in (("LogonTime", "StartTime"), ("LogoutTime", "StartTime"),
                           ("LogonDay", "StartDay"), ("LogoutDay", "StartDay")):
            if key in merged and needs not in merged:
                raise fail(line_of(key), key, f"needs {needs} (a logon window lies in the "
                           "session's times)")
        if ("Username" in merged) != ("PasswordHash" in merged):
            k = "PasswordHash" if "Username" in merged else "Username"
            raise fail(line_of("Username" if "Username" in merged else "PasswordHash"), k,
                       "Username and PasswordHash go together")
        if "PermittedAccounts" in merged and "Account" in merged:
            account, permitted = merged["Account"][0], merged["PermittedAccounts"][0]
            if account not in permitted:
                raise fail(line_of("Account"), "Account",
                           f"{account!r} is not one of PermittedAccounts ({', '.join(permitted)})")
        cfg = SessionConfig(**{KEYS[k].attr: v for k, (v, _) in merged.items()})
        problem = _logon_window_problem(cfg)
        if problem is not None:
            raise fail(line_of(problem[0]), problem[0], problem[1])
        sid = cfg.session_id
        if sid in seen:
            raise fail(header_line, None, f"session {sid} already defined on line {seen[sid]}")
        seen[sid] = header_line
        sessions.append(cfg)
    if not sessions:
        raise ConfigError(f"{where}: no [SESSION] block")
    return VenueConfig(default_cfg, tuple(sessions), p)
