"""MessageStore, logs and Logon routing."""

from __future__ import annotations

from pathlib import Path

from fixclient import T0, client_msg, disconnected, sent
from hypothesis import given
from hypothesis import strategies as st

from fix_gateway.config import SessionConfig, SessionID
from fix_gateway.log import FileLog, _stamp, file_log_factory, mask, message_lines, printable
from fix_gateway.router import Router
from fix_gateway.session import Disconnect, LoggedOn, Session, SessionState
from fix_gateway.store import MemoryStore, MessageStore, StoreWrite


def test_memory_store_protocol_and_pending_writes() -> None:
    s = MemoryStore(creation_time=T0, write_back=True)
    assert isinstance(s, MessageStore)
    s.save(1, b"a")
    s.incr_next_sender_seq()
    s.save(2, b"b")
    s.incr_next_sender_seq()
    s.incr_next_target_seq()
    assert s.pending() == [
        StoreWrite("message", 1, b"a"), StoreWrite("message", 2, b"b"),
        StoreWrite("next_sender_seq", 3), StoreWrite("next_target_seq", 2)]
    assert s.pending() == []
    assert s.get(1, 5) == [(1, b"a"), (2, b"b")]
    assert s.get(2, 2) == [(2, b"b")]
    s.reset(T0 + 1)
    assert (s.next_sender_seq, s.next_target_seq, s.creation_time) == (1, 1, T0 + 1)
    assert s.get(1, 10) == []
    assert s.pending() == [StoreWrite("reset", T0 + 1)]


def test_memory_store_without_write_back_records_nothing() -> None:
    # an in-memory venue never drains pending(): recording would keep every message sent
    s = MemoryStore(creation_time=T0, keep=2)
    for seq in range(1, 10):
        s.save(seq, b"m%d" % seq)
        s.incr_next_sender_seq()
    s.incr_next_target_seq()
    s.reset(T0 + 1)
    assert s.pending() == []
    assert s._writes == []
    assert MemoryStore.restore(s).pending() == []


def test_memory_store_restore_continues() -> None:
    s = MemoryStore(T0, 5, 7, [(3, b"c"), (1, b"a")])
    r = MemoryStore.restore(s)
    assert (r.next_sender_seq, r.next_target_seq, r.creation_time) == (5, 7, T0)
    assert r.get(1, 4) == [(1, b"a"), (3, b"c")]


def test_mask_passwords() -> None:
    raw = b"8=FIX.4.4\x019=5\x0135=A\x01554=secret\x01925=new\x0110=000\x01"
    assert mask(raw) == b"8=FIX.4.4\x019=5\x0135=A\x01554=********\x01925=********\x0110=000\x01"
    only_new = b"8=FIX.4.4\x0135=A\x01925=new\x0110=000\x01"
    assert mask(only_new) == b"8=FIX.4.4\x0135=A\x01925=********\x0110=000\x01"
    clean = b"8=FIX.4.4\x0135=8\x0158=x554=y\x011554=z\x0110=000\x01"  # not tags 554/925
    assert mask(clean) is clean


def test_file_log_names_and_format(tmp_path: Path) -> None:
    sid = SessionID("FIX.4.4", "VENUE", "CLIENT1")
    log = FileLog(tmp_path, sid)
    log.on_incoming(b"8=FIX.4.4\x0135=A\x01554=pw\x01", T0)
    log.on_event("Logon", T0)
    log.close()
    msgs = (tmp_path / "FIX.4.4-VENUE-CLIENT1.messages.current.log").read_text()
    events = (tmp_path / "FIX.4.4-VENUE-CLIENT1.event.current.log").read_text()
    assert msgs == "20231114-22:13:20.000000 : 8=FIX.4.4|35=A|554=********|\n"
    assert events == "20231114-22:13:20.000000 : Logon\n"


def test_file_log_stamps_microseconds_across_seconds(tmp_path: Path) -> None:
    log = FileLog(tmp_path, SessionID("FIX.4.4", "VENUE", "CLIENT1"))
    for offset_ns in (123_456_789, 999_999_999, 1_000_000_000, 61_000_004_000):
        log.on_outgoing(b"8=FIX.4.4\x0135=0\x01", T0 + offset_ns)
    log.close()
    text = (tmp_path / "FIX.4.4-VENUE-CLIENT1.messages.current.log").read_text()
    stamps = [line.split(" : ")[0] for line in text.splitlines()]
    assert stamps == [
        "20231114-22:13:20.123456",
        "20231114-22:13:20.999999",
        "20231114-22:13:21.000000",
        "20231114-22:14:21.000004",
    ]


def test_file_log_factory_uses_file_log_path(tmp_path: Path) -> None:
    cfg = SessionConfig("VENUE", "C1", file_log_path=tmp_path / "logs")
    log = file_log_factory()(cfg)
    log.on_event("x", T0)
    log.close()
    assert (tmp_path / "logs" / "FIX.4.4-VENUE-C1.event.current.log").exists()


def _router() -> tuple[Router, Session, Session]:
    a = Session(SessionConfig("VENUE", "C1"), MemoryStore(T0))
    b = Session(SessionConfig("VENUE", "C2", allowed_remote_addresses=("10.0.0.1",)),
                MemoryStore(T0))
    return Router([a, b]), a, b


def _logon(sender: str, **kw: object) -> bytes:
    return client_msg("A", [(98, 0), (108, 30)], seq=1, sender=sender, **kw)  # type: ignore[arg-type]


def test_router_routes_by_comp_ids() -> None:
    router, a, _ = _router()
    conn = router.connection("127.0.0.1", T0)
    data = _logon("C1")
    acts = conn.on_bytes(data[:20], T0) + conn.on_bytes(data[20:], T0)
    assert any(isinstance(x, LoggedOn) for x in acts)
    assert conn.session is a and a.state is SessionState.LOGGED_ON


def test_router_unknown_session_refused() -> None:
    router, _, _ = _router()
    acts = router.connection("127.0.0.1", T0).on_bytes(_logon("NOBODY"), T0)
    [logout] = sent(acts)
    assert logout.msg_type == "5" and "Unknown session" in (logout.get(58) or "")
    assert disconnected(acts)


def test_router_wrong_begin_string_refused() -> None:
    router, _, _ = _router()
    [logout] = sent(router.connection("h", T0).on_bytes(_logon("C1", begin="FIX.4.2"), T0))
    assert "BeginString" in (logout.get(58) or "")


def test_router_remote_address_not_allowed() -> None:
    router, _, b = _router()
    [logout] = sent(router.connection("127.0.0.1", T0).on_bytes(_logon("C2"), T0))
    assert "not allowed" in (logout.get(58) or "")
    assert b.state is SessionState.DISCONNECTED


def test_router_second_logon_refused_without_disturbing_live_session() -> None:
    router, a, _ = _router()
    first = router.connection("127.0.0.1", T0)
    first.on_bytes(_logon("C1"), T0)
    seqs = (a.store.next_sender_seq, a.store.next_target_seq)
    second = router.connection("127.0.0.1", T0)
    acts = second.on_bytes(_logon("C1"), T0)
    [logout] = sent(acts)
    assert logout.get(58) == "Session already logged on"
    assert isinstance(acts[-1], Disconnect)
    assert second.on_disconnect(T0) == []
    assert a.state is SessionState.LOGGED_ON
    assert (a.store.next_sender_seq, a.store.next_target_seq) == seqs


def test_router_first_message_not_logon() -> None:
    router, _, _ = _router()
    acts = router.connection("h", T0).on_bytes(client_msg("0", seq=1, sender="C1"), T0)
    assert sent(acts) == [] and disconnected(acts)


def test_router_unrouted_logon_timeout() -> None:
    router, _, _ = _router()
    conn = router.connection("h", T0)
    assert conn.on_timer(T0 + 5 * 10**9) == []
    assert disconnected(conn.on_timer(T0 + 11 * 10**9))


def test_router_unrouted_logon_timeout_is_the_longest_logon_timeout_of_the_sessions() -> None:
    """It was a fixed 10 s whatever LogonTimeout said."""
    a = Session(SessionConfig("VENUE", "C1", logon_timeout=2), MemoryStore(T0))
    b = Session(SessionConfig("VENUE", "C2", logon_timeout=3), MemoryStore(T0))
    conn = Router([a, b]).connection("h", T0)
    assert conn.on_timer(T0 + 2 * 10**9) == []
    assert disconnected(conn.on_timer(T0 + 3 * 10**9))
    zero = Router([Session(SessionConfig("VENUE", "C1", logon_timeout=0), MemoryStore(T0))])
    assert zero.connection("h", T0).on_timer(T0 + 10**9 - 1) == []  # at least a second


def test_memory_store_keeps_a_window_of_the_newest_messages() -> None:
    store = MemoryStore(keep=4, write_back=True)
    for seq in range(1, 6):
        store.save(seq, b"m%d" % seq)
    assert store.first_kept_seq == 1  # 5 <= 4 + 4 // 4: nothing dropped yet
    store.save(6, b"m6")  # 6 > 5: down to the newest 4
    assert store.first_kept_seq == 3
    assert store.get(1, 10) == [(s, b"m%d" % s) for s in range(3, 7)]
    assert [w.seq for w in store.pending() if w.kind == "message"] == [1, 2, 3, 4, 5, 6]
    # a preload answers the next get only, and only below the window
    store.preload([(1, b"old1"), (2, b"old2"), (4, b"stale")])
    assert store.get(2, 4) == [(2, b"old2"), (3, b"m3"), (4, b"m4")]
    assert store.get(1, 4) == [(3, b"m3"), (4, b"m4")]
    store.next_sender_seq = 7
    restored = MemoryStore.restore(store)
    assert (restored.first_kept_seq, restored.get(1, 10)) == (3, store.get(1, 10))
    store.reset(5)
    assert (store.first_kept_seq, store.get(1, 10)) == (1, [])


FIELDS = [b"8=FIX.4.4", b"35=A", b"554=secret", b"925=new", b"58=x554=y", b"55=\xe9t\xe9", b""]


@given(
    st.lists(
        st.tuples(st.integers(0, 10**19), st.lists(st.sampled_from(FIELDS), max_size=6)),
        max_size=20,
    )
)
def test_message_lines_are_the_lines_of_each_message(
    messages: list[tuple[int, list[bytes]]],
) -> None:
    """The batch's lines are what each message alone gives: stamp, mask, SOH as |."""
    pairs = [(now_ns, b"\x01".join(fields) + b"\x01") for now_ns, fields in messages]
    one_by_one = "".join(f"{_stamp(now_ns)} : {printable(raw)}\n" for now_ns, raw in pairs)
    assert message_lines(pairs) == one_by_one.encode("latin-1")


def test_file_log_writes_every_message_in_order_across_batches(tmp_path: Path) -> None:
    log = FileLog(tmp_path, SessionID("FIX.4.4", "VENUE", "CLIENT1"))
    for i in range(600):
        raw = b"8=FIX.4.4\x0135=A\x01554=pw\x01" if i == 300 else b"8=FIX.4.4\x0134=%d\x01" % i
        (log.on_incoming if i % 2 else log.on_outgoing)(raw, T0 + i * 1000)
    path = tmp_path / "FIX.4.4-VENUE-CLIENT1.messages.current.log"
    log.flush()  # two full batches were written on the way, the last 88 now
    lines = path.read_text().splitlines()
    assert len(lines) == 600
    assert lines[1] == "20231114-22:13:20.000001 : 8=FIX.4.4|34=1|"
    assert lines[300] == "20231114-22:13:20.000300 : 8=FIX.4.4|35=A|554=********|"
    assert lines[599].endswith(" : 8=FIX.4.4|34=599|")
    log.close()
