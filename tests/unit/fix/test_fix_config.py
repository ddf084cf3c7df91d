"""sessions.cfg parsing, schedules and password hashes."""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import pickle
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from fix_gateway.auth import hash_password, verify_password
from fix_gateway.config import (
    KEYS,
    DefaultConfig,
    Schedule,
    SessionConfig,
    SessionID,
    load_config,
    parse_config,
)
from fix_gateway.errors import ConfigError

PW_HASH = hash_password("pw", iterations=1000)

GOOD = f"""\
# venue config
[DEFAULT]
ConnectionType=acceptor
BeginString=FIX.4.4
SenderCompID=VENUE
SocketAcceptPort=9878
HeartBtInt=30
InstrumentsFile=instruments.csv
StoreURL=sqlite+aiosqlite:///venue.db
MqttURL=mqtt://127.0.0.1:1883
MqttTopicPrefix=venue
MqttDepth=10
AdminSocket=run/admin.sock
FileLogPath=logs
MaxOrderQty=1000000

[SESSION]
TargetCompID=CLIENT1
Username=client1
PasswordHash={PW_HASH}
StartTime=08:00:00
EndTime=17:00:00
TimeZone=Europe/London
CancelOnDisconnect=Y
SelfTradePrevention=CancelResting
MaxOrderNotional=2500000.50
Account=ACC1
PermittedAccounts=ACC1, ACC1-HEDGE

[SESSION]
TargetCompID=DROP1
SessionRole=DropCopy
DropCopyAccounts=ACC1, ACC2
AllowedRemoteAddresses=127.0.0.1,10.0.0.5
StartDay=Monday
EndDay=Friday
StartTime=00:00:00
EndTime=23:59:59
"""


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "sessions.cfg"
    p.write_text(text)
    return p


def test_good_file(tmp_path: Path) -> None:
    cfg = load_config(_write(tmp_path, GOOD))
    assert cfg.default.instruments_file == tmp_path / "instruments.csv"
    assert cfg.default.store_url == "sqlite+aiosqlite:///venue.db"
    assert cfg.default.mqtt_depth == 10
    assert cfg.default.admin_socket == tmp_path / "run/admin.sock"
    c1, d1 = cfg.sessions
    assert str(c1.session_id) == "FIX.4.4:VENUE->CLIENT1"
    assert c1.socket_accept_port == 9878 and c1.heart_bt_int == 30
    assert c1.username == "client1" and verify_password("pw", c1.password_hash or "")
    assert c1.cancel_on_disconnect is True
    assert c1.self_trade_prevention == "CancelResting"
    assert c1.max_order_notional == Decimal("2500000.50")
    assert c1.max_order_qty == 1000000
    assert c1.account == "ACC1" and c1.permitted_accounts == ("ACC1", "ACC1-HEDGE")
    assert d1.permitted_accounts is None
    assert c1.file_log_path == tmp_path / "logs"
    assert c1.schedule == Schedule(dt.time(8), dt.time(17), "Europe/London")
    assert d1.session_role == "DropCopy"
    assert d1.drop_copy_accounts == ("ACC1", "ACC2")
    assert d1.allowed_remote_addresses == ("127.0.0.1", "10.0.0.5")
    assert d1.schedule is not None and d1.schedule.start_day == 0 and d1.schedule.end_day == 4
    assert d1.check_latency is True and d1.max_latency == 120
    assert cfg.session("FIX.4.4:VENUE->DROP1") is d1


def test_key_table_matches_dataclasses() -> None:
    session_attrs = {f.name for f in dataclasses.fields(SessionConfig) if f.init}  # not derived
    default_attrs = {f.name for f in dataclasses.fields(DefaultConfig)}
    assert {k.attr for k in KEYS.values() if k.scope == "any"} == session_attrs
    assert {k.attr for k in KEYS.values() if k.scope == "default"} == default_attrs


def test_session_id_str_roundtrip() -> None:
    sid = SessionID("FIX.4.4", "VENUE", "CLIENT1")
    assert str(sid) == "FIX.4.4:VENUE->CLIENT1"
    assert SessionID.parse(str(sid)) == sid


BASE = "[DEFAULT]\nSenderCompID=VENUE\nSocketAcceptPort=9878\n[SESSION]\nTargetCompID=C1\n"


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ("HeartBtInt=abc", "sessions.cfg:6: HeartBtInt: expected an integer, got 'abc'"),
        ("HertBtInt=30", "sessions.cfg:6: HertBtInt: unknown key"),
        ("ResetOnLogon=yes", "sessions.cfg:6: ResetOnLogon: expected Y or N, got 'yes'"),
        ("StartTime=25:00:00\nEndTime=17:00:00", "sessions.cfg:6: StartTime: expected a time"),
        ("StartTime=08:00:00", "sessions.cfg:6: EndTime: StartTime and EndTime go together"),
        ("TimeZone=Mars/Base", "sessions.cfg:6: TimeZone: expected an IANA time zone"),
        ("StoreURL=sqlite://", "sessions.cfg:6: StoreURL: allowed only in [DEFAULT]"),
        ("SessionRole=Viewer", "sessions.cfg:6: SessionRole: expected one of Trading|DropCopy"),
        ("SocketAcceptPort=70000", "sessions.cfg:6: SocketAcceptPort: expected a port"),
        ("ConnectionType=initiator", "sessions.cfg:6: ConnectionType: expected one of acceptor"),
        ("BeginString=FIX.4.2", "sessions.cfg:6: BeginString: expected one of FIX.4.4"),
        ("PasswordHash=plain", "sessions.cfg:6: PasswordHash: expected a hash"),
        ("Username=bob", "sessions.cfg:6: PasswordHash: Username and PasswordHash go together"),
        ("MaxOrderNotional=-5", "sessions.cfg:6: MaxOrderNotional: expected a positive decimal"),
        ("StartDay=Funday", "sessions.cfg:6: StartDay: expected a day name"),
        ("TargetCompID=C2", "sessions.cfg:6: TargetCompID: repeated in this block"),
        ("no equals sign", "sessions.cfg:6: expected Key=Value"),
        ("PermittedAccounts= ,", "sessions.cfg:6: PermittedAccounts: expected a comma-separated"),
        (
            "Account=ACC9\nPermittedAccounts=ACC1,ACC2",
            "sessions.cfg:6: Account: 'ACC9' is not one of PermittedAccounts (ACC1, ACC2)",
        ),
    ],
)
def test_errors_name_file_line_and_key(tmp_path: Path, extra: str, expected: str) -> None:
    with pytest.raises(ConfigError) as e:
        load_config(_write(tmp_path, BASE + extra + "\n"))
    assert expected in str(e.value)
    assert str(e.value).startswith(str(tmp_path / "sessions.cfg"))


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("MqttTopicPrefix=a#b", "sessions.cfg:4: MqttTopicPrefix: invalid topic prefix 'a#b'"),
        ("MqttTopicPrefix=$SYS", "sessions.cfg:4: MqttTopicPrefix: invalid topic prefix"),
        ("MqttURL=http://x", "sessions.cfg:4: MqttURL: invalid MQTT URL 'http://x': scheme"),
        ("MqttURL=mqtt://h?depth=x", "sessions.cfg:4: MqttURL: depth: invalid value 'x'"),
        ("MqttDepth=0", "sessions.cfg:4: MqttDepth: expected an integer >= 1, got '0'"),
    ],
)
def test_market_data_keys_are_checked_when_the_file_is_read(line: str, expected: str) -> None:
    """Not only when the venue starts its publisher (an error there names no line)."""
    text = (f"[DEFAULT]\nSenderCompID=VENUE\nSocketAcceptPort=9878\n{line}\n"
            "[SESSION]\nTargetCompID=C1\n")
    with pytest.raises(ConfigError) as e:
        parse_config(text)
    assert str(e.value).startswith(expected)
    for good in ("MqttURL=none", "MqttURL=mqtts://h:8883?depth=5", "MqttTopicPrefix=a/b"):
        parse_config(text.replace(line, good))


def test_max_latency_zero_is_refused_not_read_as_no_check() -> None:
    """CheckLatency=N turns the check off; in QuickFIX MaxLatency=0 is the strictest value,
    which no message meets at this venue's nanosecond clock."""
    text = ("[DEFAULT]\nSenderCompID=VENUE\nSocketAcceptPort=9878\nMaxLatency=0\n"
            "[SESSION]\nTargetCompID=C1\n")
    with pytest.raises(ConfigError) as e:
        parse_config(text)
    assert str(e.value).startswith("sessions.cfg:4: MaxLatency: expected an integer >= 1, got '0'")


def test_missing_required_key() -> None:
    with pytest.raises(ConfigError, match=r"sessions\.cfg:1: TargetCompID: required"):
        parse_config("[SESSION]\nSenderCompID=V\nSocketAcceptPort=1\n")


def test_duplicate_session() -> None:
    with pytest.raises(ConfigError, match=r"sessions\.cfg:6: session FIX\.4\.4:VENUE->C1 already"):
        parse_config(BASE + "[SESSION]\nTargetCompID=C1\n")


def test_unknown_block_and_no_session() -> None:
    with pytest.raises(ConfigError, match=r"sessions.cfg:1: unknown block \[SESSIONS\]"):
        parse_config("[SESSIONS]\n")
    with pytest.raises(ConfigError, match="no \\[SESSION\\] block"):
        parse_config("[DEFAULT]\nSenderCompID=V\n")


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "nope.cfg")


def _ns(y: int, mo: int, d: int, h: int, mi: int = 0, *, tz: str = "UTC") -> int:
    from zoneinfo import ZoneInfo

    return int(dt.datetime(y, mo, d, h, mi, tzinfo=ZoneInfo(tz)).timestamp()) * 1_000_000_000


def test_daily_schedule() -> None:
    s = Schedule(dt.time(8), dt.time(17), "America/New_York")
    assert s.is_in_session(_ns(2024, 1, 10, 9, tz="America/New_York"))
    assert not s.is_in_session(_ns(2024, 1, 10, 18, tz="America/New_York"))
    assert s.period_start(_ns(2024, 1, 10, 9, tz="America/New_York")) == _ns(
        2024, 1, 10, 8, tz="America/New_York")
    assert s.period_start(_ns(2024, 1, 10, 7)) is None


def test_overnight_schedule() -> None:
    s = Schedule(dt.time(22), dt.time(6))
    assert s.is_in_session(_ns(2024, 1, 10, 23))
    assert s.is_in_session(_ns(2024, 1, 11, 5))
    assert not s.is_in_session(_ns(2024, 1, 11, 12))
    assert s.period_start(_ns(2024, 1, 11, 5)) == _ns(2024, 1, 10, 22)


def test_weekly_schedule() -> None:
    s = Schedule(dt.time(18), dt.time(17), "UTC", start_day=6, end_day=4)  # Sun 18:00-Fri 17:00
    assert s.is_in_session(_ns(2024, 1, 10, 3))  # Wednesday
    assert not s.is_in_session(_ns(2024, 1, 13, 12))  # Saturday
    assert s.period_start(_ns(2024, 1, 10, 3)) == _ns(2024, 1, 7, 18)  # previous Sunday


@pytest.mark.parametrize(
    ("first_day", "transition"),
    [((2026, 10, 24), "clocks go back"), ((2026, 3, 28), "clocks go forward")],
)
def test_a_daylight_saving_change_starts_no_new_period(
    first_day: tuple[int, int, int], transition: str
) -> None:
    """A 24-hour session starting at local midnight (Europe/London) has exactly one period
    per local day across a DST change, each starting at that day's local midnight: the
    period start used to jump by the shift (a mid-day Logout, a second sequence reset and a
    false end of the trading day)."""
    s = Schedule(dt.time(0), dt.time(0), "Europe/London")
    y, mo, d = first_day
    begin = _ns(y, mo, d, 0, tz="Europe/London")
    starts = {
        s.period_start(begin + minute * 60 * 1_000_000_000) for minute in range(3 * 24 * 60 - 60)
    }
    midnights = {_ns(y, mo, d + k, 0, tz="Europe/London") for k in range(3)}
    assert starts == midnights, transition


def test_a_daily_schedule_across_a_daylight_saving_change_keeps_its_local_hours() -> None:
    s = Schedule(dt.time(8), dt.time(17), "America/New_York")
    # 2026-03-08 is the day the clocks go forward in New York (Sunday); Monday 08:00 EDT
    monday_open = _ns(2026, 3, 9, 8, tz="America/New_York")
    assert s.period_start(monday_open + 60 * 1_000_000_000) == monday_open
    assert not s.is_in_session(monday_open - 60 * 1_000_000_000)
    assert s.is_in_session(_ns(2026, 3, 9, 17, tz="America/New_York"))  # inclusive end
    assert not s.is_in_session(_ns(2026, 3, 9, 17, 1, tz="America/New_York"))


def test_weekly_schedule_outside_and_at_its_ends() -> None:
    s = Schedule(dt.time(18), dt.time(17), "UTC", start_day=6, end_day=4)  # Sun 18:00-Fri 17:00
    assert not s.is_in_session(_ns(2024, 1, 12, 17, 1))  # Friday after the end
    assert s.is_in_session(_ns(2024, 1, 12, 17))  # Friday at the end
    assert not s.is_in_session(_ns(2024, 1, 14, 17, 59))  # Sunday before the start
    assert s.period_start(_ns(2024, 1, 14, 18)) == _ns(2024, 1, 14, 18)
    always = Schedule(dt.time(8), dt.time(8), "UTC", start_day=0, end_day=0)  # a whole week
    assert always.period_start(_ns(2024, 1, 14, 23)) == _ns(2024, 1, 8, 8)


def test_password_hash_roundtrip() -> None:
    h = hash_password("correct horse", iterations=1000)
    assert h.startswith("pbkdf2_sha256$1000$")
    assert verify_password("correct horse", h)
    assert not verify_password("wrong", h)
    assert not verify_password("x", "garbage")
    assert hash_password("a", iterations=1000) != hash_password("a", iterations=1000)  # salted


def test_password_hash_cli() -> None:
    out = subprocess.run([sys.executable, "-m", "fix_gateway.auth"], input="pw\n",
                         capture_output=True, text=True, check=True).stdout.strip()
    assert verify_password("pw", out)


def test_quickfix_keys_that_do_not_apply_are_accepted_and_typos_are_not() -> None:
    text = (
        "[DEFAULT]\nSenderCompID=V\nSocketAcceptPort=1\nFileStorePath=store\n"
        "UseDataDictionary=Y\nDataDictionary=FIX44.xml\n[SESSION]\nTargetCompID=C\n"
    )
    assert parse_config(text).sessions[0].target_comp_id == "C"
    with pytest.raises(ConfigError, match=r"sessions.cfg:4: FileStorPath: unknown key"):
        parse_config(text.replace("FileStorePath", "FileStorPath"))


def test_session_ids_hash_equal_when_equal_and_one_per_session_config() -> None:
    a = SessionID("FIX.4.4", "VENUE", "CLIENT1")
    b = SessionID.parse("FIX.4.4:VENUE->CLIENT1")
    assert a == b and hash(a) == hash(b) and {a: 1}[b] == 1
    assert a != SessionID("FIX.4.4", "VENUE", "CLIENT2")
    assert pickle.loads(pickle.dumps(a)) == a and hash(copy.deepcopy(a)) == hash(a)
    moved = dataclasses.replace(a, target_comp_id="CLIENT2")
    assert hash(moved) == hash(SessionID("FIX.4.4", "VENUE", "CLIENT2"))
    assert repr(a) == (
        "SessionID(begin_string='FIX.4.4', sender_comp_id='VENUE', target_comp_id='CLIENT1')"
    )
    config = SessionConfig("VENUE", "CLIENT1")
    assert config.session_id is config.session_id and config.session_id == a
    assert dataclasses.replace(config, target_comp_id="C9").session_id == SessionID(
        "FIX.4.4", "VENUE", "C9"
    )


ONE = "[DEFAULT]\nSenderCompID=V\nSocketAcceptPort=1\n[SESSION]\nTargetCompID=C\n"


@pytest.mark.parametrize(
    ("line", "error"),
    [
        ("UseLocalTime=Y", r"UseLocalTime: only N is supported \(schedules are in TimeZone"),
        ("CheckCompID=N", r"CheckCompID: only Y is supported \(the venue routes"),
        ("ValidateSequenceNumbers=N", r"ValidateSequenceNumbers: only Y is supported"),
        ("ResetOnError=Y", r"ResetOnError: only N is supported"),
        ("ResendRequestChunkSize=100", r"ResendRequestChunkSize: only 0 is supported"),
        ("SessionQualifier=A", r"SessionQualifier: not supported: a session is its BeginString"),
        ("TargetSubID=DESK", r"TargetSubID: not supported"),
        ("SocketConnectPort=9000", r"SocketConnectPort: not supported: the venue is an acceptor"),
        ("HttpAcceptPort=8080", r"HttpAcceptPort: not supported: the venue is administered"),
    ],
)
def test_quickfix_keys_the_venue_cannot_honour_are_refused_with_the_reason(
    line: str, error: str
) -> None:
    """Each used to be ignored (UseLocalTime=Y ran the schedule in UTC) or "unknown key"."""
    with pytest.raises(ConfigError, match=r"sessions.cfg:6: " + error):
        parse_config(ONE + line + "\n")


def test_quickfix_keys_at_the_venues_behaviour_are_accepted() -> None:
    lines = ("UseLocalTime=N\nCheckCompID=Y\nValidateSequenceNumbers=Y\nRejectInvalidMessage=Y\n"
             "ResetOnError=N\nDisconnectOnError=N\nResendRequestChunkSize=0\n"
             "EnableLastMsgSeqNumProcessed=N\nEnableNextExpectedMsgSeqNum=N\n"
             "SocketTcpNoDelay=Y\nNonStopSession=Y\n")
    [session] = parse_config(ONE + lines).sessions
    assert session.schedule is None and session.non_stop_session


def test_non_stop_session_with_session_times_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"sessions.cfg:6: NonStopSession: Y means no session "
                       r"times; remove StartTime/EndTime"):
        parse_config(ONE + "NonStopSession=Y\nStartTime=08:00:00\nEndTime=17:00:00\n")


def test_logon_window_defaults_to_the_session_ends_and_must_lie_within_them() -> None:
    times = "StartTime=08:00:00\nEndTime=17:00:00\nTimeZone=America/New_York\n"
    [s] = parse_config(ONE + times + "LogoutTime=16:30:00\n").sessions
    assert s.logon_schedule == Schedule(dt.time(8), dt.time(16, 30), "America/New_York")
    [plain] = parse_config(ONE + times).sessions
    assert plain.logon_schedule is None
    with pytest.raises(ConfigError, match=r"sessions.cfg:9: LogonTime: the logon window must "
                       r"lie within StartTime/EndTime"):
        parse_config(ONE + times + "LogonTime=07:00:00\n")
    with pytest.raises(ConfigError, match=r"sessions.cfg:6: LogoutTime: needs StartTime"):
        parse_config(ONE + "LogoutTime=16:00:00\n")


def test_weekly_logon_window_days() -> None:
    week = "StartDay=Sunday\nEndDay=Friday\nStartTime=18:00:00\nEndTime=17:00:00\n"
    [s] = parse_config(ONE + week + "LogonDay=Monday\nLogonTime=06:00:00\n").sessions
    assert s.logon_schedule == Schedule(dt.time(6), dt.time(17), "UTC", start_day=0, end_day=4)
    with pytest.raises(ConfigError, match=r"sessions.cfg:11: LogoutTime: the logon window"):
        parse_config(ONE + week + "LogoutDay=Saturday\nLogoutTime=12:00:00\n")
    with pytest.raises(ConfigError, match=r"sessions.cfg:6: LogonDay: needs StartDay"):
        parse_config(ONE + "LogonDay=Monday\nStartTime=08:00:00\nEndTime=17:00:00\n")
