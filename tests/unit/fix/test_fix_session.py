"""The sans-I/O acceptor Session, rule by rule (FIX 4.4 session test case ids in names)."""

from __future__ import annotations

import datetime as dt

import pytest
from fixclient import (
    NOS_FIELDS,
    SEC,
    T0,
    Pair,
    client_msg,
    delivered,
    disconnected,
    sent,
    tags,
)

from fix_gateway import session as session_module
from fix_gateway.auth import hash_password
from fix_gateway.codec import encode_raw, format_utc_timestamp, parse
from fix_gateway.config import SessionConfig
from fix_gateway.errors import LocalProtocolError
from fix_gateway.session import (
    TRANSITIONS,
    CheckPassword,
    Deliver,
    Disconnect,
    LoadMessages,
    LoggedOn,
    LoggedOut,
    Send,
    SessionEvent,
    SessionState,
)
from fix_gateway.store import MemoryStore


def _cfg(**kw: object) -> SessionConfig:
    return SessionConfig(sender_comp_id="VENUE", target_comp_id="CLIENT1", **kw)  # type: ignore[arg-type]


def logged_on(store: MemoryStore | None = None, **kw: object) -> Pair:
    p = Pair(_cfg(**kw) if kw else None, store=store)
    acts = p.logon()
    assert any(isinstance(a, LoggedOn) for a in acts)
    return p


# -- state machine --------------------------------------------------------------------------


def test_transition_table_is_closed() -> None:
    for state, targets in TRANSITIONS.items():
        assert targets <= set(SessionState)
        assert state in TRANSITIONS
    assert SessionState.LOGGED_ON in TRANSITIONS[SessionState.AWAIT_LOGON]


def test_connect_twice_is_a_local_error() -> None:
    p = Pair()
    with pytest.raises(LocalProtocolError):
        p.session.connect(T0)


def test_bytes_on_disconnected_session_is_a_local_error() -> None:
    p = Pair(connect=False)
    with pytest.raises(LocalProtocolError):
        p.session.on_bytes(b"x", T0)


# -- logon ------------------------------------------------------------------------------------


def test_1a_valid_logon_answered() -> None:
    p = Pair()
    acts = p.logon(hb=5)
    [reply] = sent(acts)
    assert tags(reply, 35, 34, 49, 56, 98, 108) == {
        35: "A", 34: "1", 49: "VENUE", 56: "CLIENT1", 98: "0", 108: "5"}
    assert isinstance(acts[-1], LoggedOn)
    assert p.session.state is SessionState.LOGGED_ON
    assert p.store.next_target_seq == 2
    assert p.store.next_sender_seq == 2


def test_1e_first_message_not_logon_disconnects() -> None:
    p = Pair()
    acts = p.send("D", NOS_FIELDS)
    assert sent(acts) == []
    assert disconnected(acts)
    assert p.session.state is SessionState.DISCONNECTED


def test_logon_wrong_comp_ids_refused_with_text() -> None:
    p = Pair()
    acts = p.logon(sender="OTHER")
    [logout] = sent(acts)
    assert logout.msg_type == "5"
    assert "CompID" in logout.get(58)
    assert disconnected(acts)


def test_logon_wrong_begin_string_refused() -> None:
    p = Pair()
    acts = p.logon(begin="FIX.4.2")
    [logout] = sent(acts)
    assert logout.msg_type == "5" and "BeginString" in logout.get(58)
    assert disconnected(acts)


def test_logon_password_required_and_checked() -> None:
    cfg = _cfg(username="alice", password_hash=hash_password("s3cret", iterations=1000))
    p = Pair(cfg)
    acts = p.logon(extra=[(553, "alice"), (554, "wrong")])
    [logout] = sent(acts)
    assert logout.msg_type == "5"
    assert logout.get(58) == "Invalid Username or Password"
    assert disconnected(acts)
    assert all("wrong" not in line for line in p.log.messages)
    assert any("554=********" in line for line in p.log.messages)
    p2 = Pair(cfg)
    acts = p2.logon(extra=[(553, "alice"), (554, "s3cret")])
    assert any(isinstance(a, LoggedOn) for a in acts)
    p3 = Pair(cfg)
    assert "Invalid Username" in sent(p3.logon())[0].get(58)  # no credentials at all


def test_a_logon_password_is_checked_outside_the_session_and_later_messages_wait() -> None:
    """PBKDF2 takes tens of milliseconds: the session asks the transport to check it
    (CheckPassword) and holds the Logon and what follows it until the answer."""
    stored = hash_password("s3cret", iterations=1000)
    p = Pair(_cfg(username="alice", password_hash=stored))
    data = (client_msg("A", [(98, 0), (108, 30), (553, "alice"), (554, "s3cret")], seq=1,
                       time_ns=p.now)
            + client_msg("1", [(112, "T1")], seq=2, time_ns=p.now))
    acts = p.session.on_bytes(data, p.now)
    assert acts == [CheckPassword("s3cret", stored)]
    assert "s3cret" not in repr(acts)
    assert p.session.state is SessionState.AWAIT_LOGON and p.session.messages_in == 0
    assert p.log.messages == []  # logged when handled, once
    acts = p.session.password_checked(True, p.now)
    assert [m.msg_type for m in sent(acts)] == ["A", "0"]
    assert sent(acts)[1].get(112) == "T1"
    assert p.session.messages_in == 2 and len(p.log.messages) == 4
    assert p.store.next_target_seq == 3


def test_a_failed_password_check_refuses_the_logon_and_a_wrong_username_needs_none() -> None:
    stored = hash_password("s3cret", iterations=1000)
    p = Pair(_cfg(username="alice", password_hash=stored))
    assert p.session.on_bytes(client_msg("A", [(98, 0), (108, 30), (553, "alice"),
                                               (554, "x")], seq=1, time_ns=p.now),
                              p.now) == [CheckPassword("x", stored)]
    acts = p.session.password_checked(False, p.now)
    [logout] = sent(acts)
    assert logout.get(58) == "Invalid Username or Password" and disconnected(acts)
    p2 = Pair(_cfg(username="alice", password_hash=stored))
    acts = p2.session.on_bytes(client_msg("A", [(98, 0), (108, 30), (553, "bob"),
                                                (554, "s3cret")], seq=1, time_ns=p2.now),
                               p2.now)
    assert not any(isinstance(a, CheckPassword) for a in acts)
    assert sent(acts)[0].get(58) == "Invalid Username or Password"


def test_a_check_that_ends_after_the_connection_changes_nothing() -> None:
    stored = hash_password("s3cret", iterations=1000)
    p = Pair(_cfg(username="alice", password_hash=stored))
    p.session.on_bytes(client_msg("A", [(98, 0), (108, 30), (553, "alice"), (554, "s3cret")],
                                  seq=1, time_ns=p.now), p.now)
    p.session.on_disconnect(p.now)
    assert p.session.password_checked(True, p.now) == []
    assert p.session.state is SessionState.DISCONNECTED
    p.session.connect(p.now)  # a new connection is not logged on by the old check
    acts = p.session.on_bytes(client_msg("A", [(98, 0), (108, 30), (553, "alice"),
                                               (554, "nope")], seq=1, time_ns=p.now), p.now)
    assert acts == [CheckPassword("nope", stored)]


def test_logon_disabled_session_refused() -> None:
    p = Pair()
    p.session.enabled = False
    [logout] = sent(p.logon())
    assert logout.get(58) == "Session is disabled"


def test_logon_without_heartbtint_refused() -> None:
    p = Pair()
    acts = p.send("A", [(98, 0)])
    [logout] = sent(acts)
    assert logout.msg_type == "5" and "108" in logout.get(58)
    assert disconnected(acts)


def test_logon_seq_too_low_refused() -> None:
    p = Pair(store=MemoryStore(T0, next_target_seq=5))
    acts = p.logon(seq=3)
    [logout] = sent(acts)
    assert logout.get(58) == "MsgSeqNum too low, expecting 5 but received 3"
    assert disconnected(acts)


def test_1c_logon_seq_too_high_then_resend_request() -> None:
    p = Pair()
    acts = p.logon(seq=5)
    logon, rr = sent(acts)
    assert logon.msg_type == "A"
    assert tags(rr, 35, 7, 16) == {35: "2", 7: "1", 16: "0"}
    assert p.store.next_target_seq == 1
    # the client gap-fills 1..4; the queued Logon (5) is consumed, 6 is expected next
    p.send("4", [(123, "Y"), (36, 5)], seq=1, poss_dup=True, orig_time_ns=T0)
    assert p.store.next_target_seq == 6
    assert delivered(p.send("D", NOS_FIELDS, seq=6))


def test_141_reset_seq_num_flag_on_logon() -> None:
    store = MemoryStore(T0, next_sender_seq=10, next_target_seq=20)
    p = Pair(store=store)
    acts = p.logon(extra=[(141, "Y")], seq=1)
    [reply] = sent(acts)
    assert tags(reply, 34, 141) == {34: "1", 141: "Y"}
    assert store.next_sender_seq == 2 and store.next_target_seq == 2


def test_141_reset_seq_num_flag_while_logged_on_resets_both_sides() -> None:
    p = logged_on()
    for _ in range(3):
        p.send("0")
    assert p.store.next_target_seq == 5
    acts = p.logon(hb=20, extra=[(141, "Y")], seq=1)
    [reply] = sent(acts)
    assert tags(reply, 35, 34, 108, 141) == {35: "A", 34: "1", 108: "20", 141: "Y"}
    assert not disconnected(acts)
    assert p.store.next_sender_seq == 2 and p.store.next_target_seq == 2
    assert p.session.heart_bt_int == 20
    assert delivered(p.send("D", NOS_FIELDS, seq=2))


def test_141_reset_while_logged_on_with_a_bad_heart_bt_int_is_rejected() -> None:
    p = logged_on()
    [rej] = sent(p.logon(hb=-5, extra=[(141, "Y")], seq=1))
    assert tags(rej, 35, 45, 371, 373) == {35: "3", 45: "1", 371: "108", 373: "5"}
    assert p.store.next_target_seq == 2  # nothing reset, nothing consumed


@pytest.mark.parametrize("hb", ["-5", "1.5", "x"])
def test_logon_with_an_invalid_heart_bt_int_refused(hb: str) -> None:
    p = Pair()
    acts = p.send("A", [(98, 0), (108, hb)])
    [logout] = sent(acts)
    assert logout.msg_type == "5"
    assert disconnected(acts)
    assert not any(isinstance(a, LoggedOn) for a in acts)


@pytest.mark.parametrize(
    ("fields", "seq", "text"),
    [
        ([(98, 0), (108, -5)], 1, "Invalid Logon: HeartBtInt(108) must be a whole number >= 0"),
        ([(98, 0), (108, 30)], "abc", "Invalid Logon: MsgSeqNum(34) missing or invalid"),
        ([(98, 0), (108, 30)], b"\xb2", "Invalid Logon: MsgSeqNum(34) missing or invalid"),
        ([(98, 1), (108, 30)], 1, "Invalid Logon: EncryptMethod(98) must be 0 (none)"),
    ],
)
def test_a_refused_logon_with_reset_seq_num_flag_resets_nothing(
    fields: list[tuple[int, object]], seq: object, text: str
) -> None:
    store = MemoryStore(T0, next_sender_seq=5, next_target_seq=5)
    store.save(4, b"8=FIX.4.4\x019=5\x0135=0\x0110=000\x01")
    p = Pair(store=store)
    acts = p.feed(client_msg("A", [*fields, (141, "Y")], seq=seq))  # type: ignore[arg-type]
    [logout] = sent(acts)
    assert (logout.msg_type, logout.get(58)) == ("5", text)
    assert disconnected(acts)
    assert (store.next_sender_seq, store.next_target_seq) == (6, 5)  # only the Logout sent
    assert [seq for seq, _ in store.get(4, 4)] == [4]  # the stored messages kept


def test_reset_on_logon_config() -> None:
    p = Pair(_cfg(reset_on_logon=True), store=MemoryStore(T0, 7, 7))
    [reply] = sent(p.logon(seq=1))
    assert reply.get(34) == "1"


def test_logon_timeout() -> None:
    p = Pair(_cfg(logon_timeout=2))
    assert p.timer(1.9) == []
    acts = p.timer(0.2)
    assert disconnected(acts)


# -- heartbeats ------------------------------------------------------------------------------


def test_heartbeat_when_idle() -> None:
    p = Pair()
    p.logon(hb=10)
    assert sent(p.timer(9)) == []
    [hb] = sent(p.timer(1))
    assert hb.msg_type == "0"


def test_test_request_after_silence_then_disconnect() -> None:
    p = Pair()
    p.logon(hb=10)
    p.send("0", time_ns=p.now)  # keeps the counterparty "alive" until now
    p.now += 10 * SEC
    p.send("0")
    msgs = sent(p.timer(11.9))
    assert [m.msg_type for m in msgs] == ["0"]  # our own heartbeat only
    msgs = sent(p.timer(0.2))  # 12.1 s of silence > 1.2 x HeartBtInt
    assert [m.msg_type for m in msgs] == ["1"]
    test_req_id = msgs[0].get(112)
    assert test_req_id
    acts = p.timer(12.0)  # 24.1 s > 2.4 x HeartBtInt
    assert disconnected(acts)
    assert any(isinstance(a, LoggedOut) for a in acts)
    assert events(acts) == [("disconnect", "Heartbeat timeout: no answer to TestRequest")]


def test_test_request_answered_keeps_session() -> None:
    p = Pair()
    p.logon(hb=10)
    [tr] = [m for m in sent(p.timer(12.1)) if m.msg_type == "1"]
    p.send("0", [(112, tr.get(112))])
    assert not disconnected(p.timer(5))
    assert p.session._test_req_id is None


def test_any_message_answers_a_test_request_so_the_next_silence_gets_a_new_one() -> None:
    p = Pair()
    p.logon(hb=10)
    [tr1] = [m for m in sent(p.timer(12.1)) if m.msg_type == "1"]
    assert tr1.get(112) == "TEST-1"
    p.send("0")  # a plain Heartbeat without TestReqID(112): the counterparty is alive
    assert not disconnected(p.timer(11.9))
    acts = p.timer(0.3)  # 12.2 s of silence again
    assert [m.get(112) for m in sent(acts) if m.msg_type == "1"] == ["TEST-2"]
    assert not disconnected(acts)


def test_6_test_request_echoed_in_heartbeat() -> None:
    p = logged_on()
    [hb] = sent(p.send("1", [(112, "PING-42")]))
    assert tags(hb, 35, 112) == {35: "0", 112: "PING-42"}


def test_heartbeat_interval_zero_means_none() -> None:
    p = Pair()
    p.logon(hb=0)
    assert p.timer(1000) == []


# -- sequence numbers --------------------------------------------------------------------------


def test_messages_queued_behind_a_gap_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(session_module, "MAX_QUEUED_MESSAGES", 3)
    p = logged_on()  # next expected 2; 2 never comes
    p.seq = 3
    for _ in range(3):
        assert not disconnected(p.send("0"))
    acts = p.send("0")
    [logout] = sent(acts)
    assert (logout.msg_type, logout.get(58)) == (
        "5", "More than 3 messages or 64 MiB received after a gap, which is not filled")
    assert disconnected(acts)


def test_bytes_queued_behind_a_gap_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(session_module, "MAX_QUEUED_BYTES", 1000)
    p = logged_on()
    p.seq = 3
    assert not disconnected(p.send("1", [(112, "x" * 200)]))
    assert disconnected(p.send("1", [(112, "x" * 800)]))  # 1000 bytes with the first


def test_a_test_req_id_too_long_to_echo_is_rejected() -> None:
    p = logged_on()
    [rej] = sent(p.send("1", [(112, "x" * 257)]))
    assert tags(rej, 35, 371, 373) == {35: "3", 371: "112", 373: "5"}
    assert p.store.next_target_seq == 3  # consumed
    [hb] = sent(p.send("1", [(112, "x" * 256)]))
    assert (hb.msg_type, hb.get(112)) == ("0", "x" * 256)


def test_2b_seq_too_high_resend_request_and_queue() -> None:
    p = logged_on()  # next expected 2
    p.seq = 5
    acts = p.send("D", [*NOS_FIELDS[:1], (11, "ORD5"), *NOS_FIELDS[1:]][1:])
    [rr] = sent(acts)
    assert tags(rr, 35, 7, 16) == {35: "2", 7: "2", 16: "0"}
    assert delivered(acts) == []
    acts = p.send("D", [(11, "ORD6"), *NOS_FIELDS[1:]])  # seq 6: queued, no second request
    assert sent(acts) == [] and delivered(acts) == []
    for seq in (2, 3, 4):
        acts = p.send("D", [(11, f"ORD{seq}"), *NOS_FIELDS[1:]], seq=seq, poss_dup=True,
                      orig_time_ns=p.now)
        got = [m.get(11) for m in delivered(acts)]
    assert got == ["ORD4", "ORD5", "ORD6"]
    assert p.store.next_target_seq == 7
    assert any("Resend complete" in e for e in p.log.events)


def test_a_resend_answer_that_stops_short_is_requested_again_from_where_it_stopped() -> None:
    p = logged_on()  # next expected 2
    [rr] = sent(p.send("1", [(112, "S5")], seq=5))
    assert tags(rr, 7, 16) == {7: "2", 16: "0"}
    for seq in (2, 3):  # the counterparty resends 2 and 3, but not 4
        p.send("0", seq=seq, poss_dup=True, orig_time_ns=p.now)
    assert p.store.next_target_seq == 4
    acts = p.send("D", NOS_FIELDS, seq=6)
    [rr2] = sent(acts)
    assert tags(rr2, 35, 7, 16) == {35: "2", 7: "4", 16: "0"}
    acts = p.send("4", [(123, "Y"), (36, 5)], seq=4, poss_dup=True, orig_time_ns=p.now)
    assert [m.get(112) for m in sent(acts)] == ["S5"]  # the TestRequest, answered at last
    assert [m.get(11) for m in delivered(acts)] == ["ORD1"]
    assert p.store.next_target_seq == 7


def test_new_messages_before_the_resend_answer_do_not_repeat_the_request() -> None:
    p = logged_on()
    assert [m.msg_type for m in sent(p.send("0", seq=5))] == ["2"]
    assert sent(p.send("0", seq=6)) == []  # nothing resent yet: the request stands
    assert sent(p.send("0", seq=7)) == []
    acts = p.send("4", [(123, "Y"), (36, 5)], seq=2, poss_dup=True, orig_time_ns=p.now)
    assert sent(acts) == [] and p.store.next_target_seq == 8
    assert p.session._resend_pending is False


def test_2c_seq_too_low_without_possdup_logout() -> None:
    p = logged_on()
    p.send("0")
    acts = p.send("0", seq=2)
    [logout] = sent(acts)
    assert logout.msg_type == "5"
    assert logout.get(58) == "MsgSeqNum too low, expecting 3 but received 2"
    assert disconnected(acts)


def test_2f_possdup_duplicate_ignored() -> None:
    p = logged_on()
    p.send("D", NOS_FIELDS)
    acts = p.send("D", NOS_FIELDS, seq=2, poss_dup=True, orig_time_ns=p.now)
    assert acts == []
    assert p.store.next_target_seq == 3


def test_2g_possdup_orig_sending_time_after_sending_time_rejected() -> None:
    p = logged_on()
    acts = p.send("D", NOS_FIELDS, poss_dup=True, orig_time_ns=p.now + 5 * SEC)
    rej = sent(acts)[0]
    assert tags(rej, 35, 45, 371, 372, 373) == {35: "3", 45: "2", 371: "122", 372: "D", 373: "10"}
    assert delivered(acts) == []
    assert p.store.next_target_seq == 3  # consumed


def test_possdup_without_orig_sending_time_rejected_reason_1() -> None:
    p = logged_on()
    acts = p.send("D", NOS_FIELDS, poss_dup=True)
    [rej] = sent(acts)
    assert tags(rej, 35, 45, 371, 373) == {35: "3", 45: "2", 371: "122", 373: "1"}
    assert p.store.next_target_seq == 3
    assert events(acts) == [("reject", "Required tag missing (tag 122)")]


# -- the health record: what the venue keeps of each session's troubles ----------------------


def events(acts: list[object]) -> list[tuple[str, str]]:
    return [(a.kind, a.detail) for a in acts if isinstance(a, SessionEvent)]


def test_logout_by_the_counterparty_is_a_logout_event_with_its_text() -> None:
    p = logged_on()
    assert events(p.send("5", [(58, "end of day")])) == [
        ("logout", "Logout by counterparty: end of day")]


def test_a_dropped_connection_is_a_disconnect_event() -> None:
    p = logged_on()
    assert events(p.session.on_disconnect(p.now)) == [("disconnect", "Connection closed")]
    assert events(p.session.on_disconnect(p.now)) == []  # already down: nothing more


def test_a_refused_logon_is_a_logon_rejected_event() -> None:
    p = Pair()
    acts = p.logon(begin="FIX.4.2")
    assert events(acts) == [("logon_rejected", "Logon refused: Incorrect BeginString FIX.4.2")]


def test_a_business_message_reject_of_the_session_layer_is_an_event() -> None:
    p = logged_on()
    acts = p.send("U1")
    [rej] = sent(acts)
    assert rej.msg_type == "j"
    assert events(acts) == [("business_reject", "Unsupported Message Type")]
    assert events(p.send("ZZ")) == [("reject", "Invalid MsgType (tag 35)")]


def test_a_valid_message_is_no_event() -> None:
    p = logged_on()
    assert events(p.send("D", NOS_FIELDS)) == []


@pytest.mark.parametrize("flag", [43, 97])
@pytest.mark.parametrize("value", ["X", "y", "YES"])
def test_14f_a_header_flag_other_than_y_or_n_is_rejected_and_consumed(
    flag: int, value: str
) -> None:
    p = logged_on()
    acts = p.send("D", NOS_FIELDS, header=[(flag, value)])
    [rej] = sent(acts)
    assert tags(rej, 35, 45, 371, 372, 373) == {
        35: "3", 45: "2", 371: str(flag), 372: "D", 373: "6"}
    assert delivered(acts) == []
    assert p.store.next_target_seq == 3
    assert delivered(p.send("D", NOS_FIELDS, header=[(97, "N")])) != []  # N is fine


def test_too_low_possdup_with_bad_orig_time_rejected_not_consumed() -> None:
    p = logged_on()
    p.send("0")
    acts = p.send("0", seq=2, poss_dup=True, orig_time_ns=p.now + 5 * SEC)
    [rej] = sent(acts)
    assert tags(rej, 45, 373) == {45: "2", 373: "10"}
    assert p.store.next_target_seq == 3


def test_garbled_message_ignored_and_does_not_consume() -> None:
    p = logged_on()
    good = client_msg("D", NOS_FIELDS, seq=2)
    bad = good[:-4] + (b"001\x01" if not good.endswith(b"001\x01") else b"002\x01")
    acts = p.feed(bad)
    assert acts == []
    assert p.store.next_target_seq == 2
    assert any("CheckSum" in e for e in p.log.events)
    assert delivered(p.feed(good))


# -- SequenceReset -----------------------------------------------------------------------------


def test_10a_gap_fill_moves_expected() -> None:
    p = logged_on()
    acts = p.send("4", [(123, "Y"), (36, 10)], poss_dup=True, orig_time_ns=p.now)
    assert acts == []
    assert p.store.next_target_seq == 10


def test_10c_gap_fill_new_seq_not_higher_rejected() -> None:
    p = logged_on()
    acts = p.send("4", [(123, "Y"), (36, 2)])
    [rej] = sent(acts)
    assert tags(rej, 35, 45, 371, 373) == {35: "3", 45: "2", 371: "36", 373: "5"}


def test_11a_sequence_reset_reset_mode_ignores_seq() -> None:
    p = logged_on()
    acts = p.send("4", [(36, 50)], seq=999)
    assert acts == []
    assert p.store.next_target_seq == 50


def test_11b_sequence_reset_to_expected_is_noop() -> None:
    p = logged_on()
    assert p.send("4", [(36, 2)], seq=1) == []
    assert p.store.next_target_seq == 2


def test_11c_sequence_reset_lower_rejected_reason_5() -> None:
    p = logged_on()
    p.send("0")
    p.send("0")  # next expected 4
    acts = p.send("4", [(36, 2)])
    [rej] = sent(acts)
    assert tags(rej, 35, 371, 373) == {35: "3", 371: "36", 373: "5"}
    assert p.store.next_target_seq == 4


@pytest.mark.parametrize("reset_mode", [False, True])
def test_a_new_seq_no_the_store_cannot_keep_is_rejected(reset_mode: bool) -> None:
    p = logged_on()
    fields = [(36, "18446744073709551616")] if reset_mode else [(123, "Y"), (36, 10**18)]
    [rej] = sent(p.send("4", fields))
    assert tags(rej, 35, 45, 371, 373, 58) == {
        35: "3", 45: "2", 371: "36", 373: "5",
        58: "Value is incorrect (out of range) for this tag: NewSeqNo(36) above "
            "999999999999999999",
    }
    assert p.store.next_target_seq == (2 if reset_mode else 3)  # a GapFill is consumed
    assert p.send("4", [(123, "Y"), (36, 10**18 - 1)], seq=p.store.next_target_seq) == []
    assert p.store.next_target_seq == 10**18 - 1


@pytest.mark.parametrize(
    ("msg_type", "fields", "seq", "sending_time", "answer"),
    [
        ("0", [], b"\xb2", None, "logout"),  # MsgSeqNum(34): "\u00b2".isdigit() is True
        ("0", [], "1" * 19, None, "logout"),  # more digits than a sequence number has
        ("0", [], "9" * 5000, None, "logout"),  # beyond int()'s digit limit
        ("4", [(36, b"\xb2")], 2, None, (36, "6")),  # NewSeqNo(36), Reset mode
        ("4", [(123, "Y"), (36, "9" * 5000)], 2, None, (36, "5")),
        ("2", [(7, b"\xb9"), (16, 0)], 2, None, (7, "6")),  # BeginSeqNo(7)
        ("0", [], 2, b"20231114-22:13:20.\xb2", (52, "6")),  # SendingTime's fraction
        ("D", [*NOS_FIELDS[:5], (38, b"\xb3"), *NOS_FIELDS[6:]], 2, None, (38, "6")),
    ],
)
def test_a_number_of_non_ascii_or_too_many_digits_gets_an_answer(
    msg_type: str, fields: list[tuple[int, object]], seq: object, sending_time: bytes | None,
    answer: str | tuple[int, str],
) -> None:
    p = logged_on()
    acts = p.feed(client_msg(msg_type, fields, seq=seq, time_ns=p.now,  # type: ignore[arg-type]
                             sending_time=sending_time))
    [reply] = sent(acts)
    if answer == "logout":
        assert (reply.msg_type, reply.get(58)) == ("5", "MsgSeqNum(34) missing or invalid")
    else:
        assert (reply.msg_type, reply.get(371), reply.get(373)) == ("3", str(answer[0]), answer[1])
    assert p.session.state is not SessionState.DISCONNECTED or answer == "logout"


# -- resend requests from the client ---------------------------------------------------------


def _venue_sends(p: Pair, n: int) -> None:
    for i in range(n):
        assert p.session.send_app("8", [(37, f"O{i}"), (150, "0")], p.now) is not None


def test_8_resend_request_app_messages_possdup_and_admin_gap_filled() -> None:
    p = logged_on()  # venue seq 1 = Logon
    _venue_sends(p, 2)  # 2, 3
    p.timer(31)  # 4 = Heartbeat
    p.send("0")
    _venue_sends(p, 1)  # 5
    acts = p.send("2", [(7, 1), (16, 0)])
    msgs = sent(acts)
    assert [(m.msg_type, m.get(34)) for m in msgs] == [
        ("4", "1"), ("8", "2"), ("8", "3"), ("4", "4"), ("8", "5")]
    gf = msgs[0]
    assert tags(gf, 123, 36, 43) == {123: "Y", 36: "2", 43: "Y"}
    assert tags(msgs[3], 36) == {36: "5"}
    m2 = msgs[1]
    assert m2.get(43) == "Y" and m2.get(122) is not None and m2.get(37) == "O0"
    assert p.store.next_sender_seq == 6  # resends do not take new numbers


def test_a_long_resend_goes_out_in_parts_and_what_comes_meanwhile_waits_for_it() -> None:
    """A resend of more than RESEND_CHUNK messages is answered a part per resend_more() (the
    transport gives the event loop to other sessions in between); messages received meanwhile
    are handled after it, and messages the venue sends meanwhile go out after it."""
    chunk = session_module.RESEND_CHUNK
    p = logged_on()  # venue seq 1 = Logon
    _venue_sends(p, chunk - 3)  # 2 .. chunk-2
    p.timer(31)  # chunk-1 = Heartbeat
    p.send("0")
    p.timer(31)  # chunk = Heartbeat
    p.send("0")
    p.timer(31)  # chunk+1 = Heartbeat: a GapFill across the parts' boundary
    p.send("0")
    _venue_sends(p, chunk)  # chunk+2 .. 2*chunk+1
    last = 2 * chunk + 1
    data = client_msg("2", [(7, 1), (16, 0)], seq=p.seq) + client_msg(
        "1", [(112, "T1")], seq=p.seq + 1)
    p.seq += 2
    first = sent(p.session.on_bytes(data, p.now))
    assert p.session.is_resending and not p.session.has_more
    assert [m.get(34) for m in first] == ["1"] + [str(s) for s in range(2, chunk - 1)]
    assert p.session.on_timer(p.now + 3600 * SEC) == []  # no Heartbeat, TestRequest amid it
    assert p.session.on_bytes(client_msg("1", [(112, "T2")], seq=p.seq), p.now) == []  # held
    p.seq += 1
    assert p.session.send_app("8", [(37, "NEW"), (150, "0")], p.now) is None  # after it
    second = sent(p.session.resend_more(p.now))
    assert p.session.is_resending
    assert (second[0].msg_type, second[0].get(34), second[0].get(36)) == (
        "4", str(chunk - 1), str(chunk + 2))
    third = sent(p.session.resend_more(p.now))
    assert not p.session.is_resending
    every = first + second + third
    resent = [m for m in every if m.get(43) == "Y"]
    assert [m.msg_type for m in resent].count("4") == 2  # seq 1, and chunk-1 .. chunk+1
    assert [(m.msg_type, m.get(34), m.get(112) or m.get(37)) for m in third[-3:]] == [
        ("8", str(last + 1), "NEW"), ("0", str(last + 2), "T1"), ("0", str(last + 3), "T2")]
    numbers: list[int] = []
    for m in every:
        start = int(m.get(34))
        numbers += range(start, int(m.get(36))) if m.msg_type == "4" else [start]
    assert numbers == list(range(1, last + 4))  # every number once, in order
    assert p.store.next_target_seq == p.seq


def test_a_resend_in_parts_serves_loaded_messages_though_the_store_drops_old_ones(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The whole range is read at the first part: the preload (read by one get) and the
    messages the store drops while the venue sends new ones are all resent."""
    monkeypatch.setattr(session_module, "RESEND_CHUNK", 3)
    store = MemoryStore(T0, keep=4)
    p = logged_on(store=store)  # venue seq 1 = Logon
    first_sent: dict[int, bytes] = {}
    for i in range(8):  # 2..9: 1..4 dropped from memory
        send = p.session.send_app("8", [(37, f"O{i}"), (150, "0")], p.now)
        assert send is not None
        first_sent[send.seq] = send.raw
    assert store.first_kept_seq == 5
    request = client_msg("2", [(7, 2), (16, 0)], seq=2)
    assert p.session.on_bytes(request, p.now) == [LoadMessages(2, 4)]
    store.preload([(seq, first_sent[seq]) for seq in (2, 3, 4)])
    acts = p.session.resume(p.now)
    assert p.session.is_resending and [m.get(34) for m in sent(acts)] == ["2", "3", "4"]
    for i in range(8):  # sent meanwhile: the store drops 5..13
        assert p.session.send_app("8", [(37, f"N{i}"), (150, "0")], p.now) is None
    assert store.first_kept_seq > 9
    while p.session.is_resending:
        acts += p.session.resend_more(p.now)
    assert [(m.get(34), m.get(37), m.get(43)) for m in sent(acts)] == [
        (str(seq), f"O{seq - 2}", "Y") for seq in range(2, 10)
    ] + [(str(seq), f"N{seq - 10}", None) for seq in range(10, 18)]


def test_a_connection_lost_during_a_long_resend_ends_it() -> None:
    p = logged_on()
    _venue_sends(p, session_module.RESEND_CHUNK * 2)
    p.session.on_bytes(client_msg("2", [(7, 1), (16, 0)], seq=p.seq), p.now)
    assert p.session.is_resending
    p.session.on_disconnect(p.now)
    assert not p.session.is_resending and p.session.resend_more(p.now) == []


def test_resend_consecutive_admin_messages_collapse() -> None:
    p = logged_on()  # 1 = Logon
    p.timer(31)  # 2 = Heartbeat
    p.send("0")
    p.timer(31)  # 3 = Heartbeat
    p.send("0")
    _venue_sends(p, 1)  # 4
    msgs = sent(p.send("2", [(7, 1), (16, 3)]))
    assert [(m.msg_type, m.get(34), m.get(36)) for m in msgs] == [("4", "1", "4")]


@pytest.mark.parametrize(
    ("begin", "end", "tag", "text"),
    [
        (0, 0, "7", "BeginSeqNo must be at least 1"),
        (2, -1, "16", "EndSeqNo must be 0 (no limit) or at least 1"),
        (3, 2, "16", "EndSeqNo 2 is below BeginSeqNo 3"),
        (4, 0, "7", "BeginSeqNo 4 is beyond the last MsgSeqNum sent (3)"),
    ],
)
def test_a_resend_request_for_nothing_that_can_be_resent_is_rejected(
    begin: int, end: int, tag: str, text: str
) -> None:
    """It went unanswered: the counterparty waited for a resend that never came."""
    p = logged_on()  # 1 = Logon
    _venue_sends(p, 2)  # 2, 3
    [rej] = sent(p.send("2", [(7, begin), (16, end)]))
    assert tags(rej, 35, 45, 371, 372, 373, 58) == {
        35: "3", 45: "2", 371: tag, 372: "2", 373: "5", 58: text}
    assert p.store.next_target_seq == 3  # consumed once
    msgs = sent(p.send("2", [(7, 3), (16, 0)]))  # the session goes on
    assert [(m.msg_type, m.get(34)) for m in msgs] == [("8", "3"), ("4", "4")]  # 4: Reject


def test_resend_after_restart_from_restored_store() -> None:
    p = logged_on()
    _venue_sends(p, 3)
    store2 = MemoryStore.restore(p.store)
    q = Pair(store=store2)
    q.seq = p.seq
    q.logon()
    msgs = sent(q.send("2", [(7, 2), (16, 4)]))
    assert [m.get(37) for m in msgs] == ["O0", "O1", "O2"]
    assert all(m.get(43) == "Y" for m in msgs)


def test_resend_beyond_the_kept_window_loads_then_resumes_in_order() -> None:
    store = MemoryStore(T0, keep=4)
    p = logged_on(store=store)  # venue seq 1 = Logon
    first_sent: dict[int, bytes] = {}  # what the database holds
    for i in range(8):  # 2..9: 1..4 dropped from memory (9 > 4 + 1), 5..9 kept
        send = p.session.send_app("8", [(37, f"O{i}"), (150, "0")], p.now)
        assert send is not None
        first_sent[send.seq] = send.raw
    assert store.first_kept_seq == 5
    assert [s for s, _ in store.get(1, 9)] == [5, 6, 7, 8, 9]
    # a ResendRequest from 2, and a NewOrderSingle right behind it in the same read
    data = client_msg("2", [(7, 2), (16, 0)], seq=2) + client_msg("D", NOS_FIELDS, seq=3)
    assert p.feed(data) == [LoadMessages(2, 4)]
    assert p.feed(client_msg("0", [], seq=4)) == []  # held behind the resend, in order
    assert store.next_target_seq == 2  # nothing processed yet
    # the transport reads 2..4 from the database and resumes
    store.preload([(seq, first_sent[seq]) for seq in (2, 3, 4)])
    acts = p.go_on(p.session.resume(p.now))
    assert [(m.msg_type, m.get(34), m.get(37), m.get(43)) for m in sent(acts)] == [
        ("8", str(seq), f"O{seq - 2}", "Y") for seq in range(2, 10)
    ]
    assert len(delivered(acts)) == 1
    assert store.next_target_seq == 5  # Logon, ResendRequest, D, Heartbeat
    # a preload serves one resend; when loading fails the old part is gap-filled
    assert p.feed(client_msg("2", [(7, 3), (16, 6)], seq=5)) == [LoadMessages(3, 4)]
    store.preload([])
    msgs = sent(p.go_on(p.session.resume(p.now)))
    assert [(m.msg_type, m.get(34), m.get(36)) for m in msgs] == [
        ("4", "3", "5"),
        ("8", "5", None),
        ("8", "6", None),
    ]


def test_send_app_when_not_logged_on_is_stored() -> None:
    p = Pair(connect=False)
    assert p.session.send_app("8", [(37, "X")], T0) is None
    assert p.store.next_sender_seq == 2
    assert p.store.get(1, 1)[0][0] == 1
    with pytest.raises(LocalProtocolError):
        p.session.send_app("0", [], T0)


# -- session-level rejects -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "reason", "tag"),
    [
        ([f for f in NOS_FIELDS if f[0] != 55], 1, 55),  # 14b required tag missing
        ([*NOS_FIELDS, (36, 5)], 2, 36),  # 14c tag not defined for this message type
        ([*NOS_FIELDS, (4999, "x")], 0, 4999),  # 14a invalid tag number
        ([*NOS_FIELDS, (5001, "x")], 3, 5001),  # undefined (user-defined range) tag
        ([(54, "Z") if f[0] == 54 else f for f in NOS_FIELDS], 5, 54),  # 14e out of range
        ([(38, "ten") if f[0] == 38 else f for f in NOS_FIELDS], 6, 38),  # 14f bad format
        ([(59, "X") if f[0] == 59 else f for f in NOS_FIELDS], 5, 59),
        ([(40, "22") if f[0] == 40 else f for f in NOS_FIELDS], 6, 40),
        ([*NOS_FIELDS, (18, "1 Q ~")], 5, 18),  # ExecInst multiple char value
    ],
)
def test_14_invalid_message_rejected_and_seq_consumed(
    fields: list[tuple[int, str]], reason: int, tag: int
) -> None:
    p = logged_on()
    acts = p.send("D", fields)
    [rej] = sent(acts)
    assert tags(rej, 35, 45, 371, 372, 373) == {
        35: "3", 45: "2", 371: str(tag), 372: "D", 373: str(reason)}
    assert rej.get(58)
    assert delivered(acts) == []
    assert p.store.next_target_seq == 3


def test_exec_inst_valid_multiple_values_accepted() -> None:
    p = logged_on()
    assert delivered(p.send("D", [*NOS_FIELDS, (18, "1 G")]))


def test_14d_tag_without_value() -> None:
    p = logged_on()
    raw = encode_raw("FIX.4.4", [(35, "D"), (49, "CLIENT1"), (56, "VENUE"), (34, 2),
                                 (52, format_utc_timestamp(p.now)), *NOS_FIELDS, (58, "")])
    [rej] = sent(p.feed(raw))
    assert tags(rej, 45, 371, 373) == {45: "2", 371: "58", 373: "4"}


def test_14g_header_tag_after_a_body_tag_rejected() -> None:
    p = logged_on()
    raw = encode_raw("FIX.4.4", [(35, "1"), (49, "CLIENT1"), (56, "VENUE"), (34, 2),
                                 (112, "OOO"), (52, format_utc_timestamp(p.now))])
    acts = p.feed(raw)
    [rej] = sent(acts)
    assert tags(rej, 35, 45, 371, 372, 373) == {35: "3", 45: "2", 371: "52", 372: "1", 373: "14"}
    assert p.store.next_target_seq == 3


def test_2t_msg_type_not_third_is_garbled_and_ignored() -> None:
    p = logged_on()
    raw = encode_raw("FIX.4.4", [(49, "CLIENT1"), (35, "0"), (56, "VENUE"), (34, 2),
                                 (52, format_utc_timestamp(p.now))])
    assert p.feed(raw) == []  # FIX 4.4 2t: garbled, MsgSeqNum not consumed
    assert p.store.next_target_seq == 2
    assert any("MsgType are not the first three fields" in e for e in p.log.events)
    assert p.send("0", seq=2) == [] and p.store.next_target_seq == 3


def test_2t_body_length_not_second_is_garbled_and_ignored() -> None:
    p = logged_on()
    body = f"35=0\x0149=CLIENT1\x0156=VENUE\x0134=2\x0152={format_utc_timestamp(p.now)}\x01"
    head = f"8=FIX.4.4\x0134=2\x019={len(body) - 5}\x01"  # 34 before 9: the body is the rest
    text = head + body[5:]
    raw = text.encode() + b"10=%03d\x01" % (sum(text.encode()) % 256)
    assert p.feed(raw) == []
    assert p.store.next_target_seq == 2




def test_14h_repeated_tag() -> None:
    p = logged_on()
    [rej] = sent(p.send("D", [*NOS_FIELDS, (55, "MSFT")]))
    assert tags(rej, 371, 373) == {371: "55", 373: "13"}


def test_14a_non_numeric_tag() -> None:
    p = logged_on()
    raw = encode_raw("FIX.4.4", [(35, "D"), (49, "CLIENT1"), (56, "VENUE"), (34, 2),
                                 (52, format_utc_timestamp(p.now)), *NOS_FIELDS, ("x1", "a")])
    [rej] = sent(p.feed(raw))
    assert tags(rej, 45, 373) == {45: "2", 373: "0"}
    assert p.store.next_target_seq == 3


@pytest.mark.parametrize(
    ("tag", "reason"),
    [(150, "2"), (40, "2"), (20, "0"), (957, "0"), (4000, "0"), (5001, "3")],
)
def test_14a_14c_a_tag_fix_44_defines_is_not_defined_for_the_type_others_are_invalid(
    tag: int, reason: str
) -> None:
    """As QuickFIX with FIX44.xml: 150 (ExecType) on a Heartbeat is a FIX 4.4 tag this
    message may not carry (373=2); 20 is a number FIX 4.4 leaves out, 957 beyond its last
    (373=0); 5001 a user-defined tag the venue does not know (373=3)."""
    p = logged_on()
    [rej] = sent(p.send("0", [(tag, "1")]))
    assert tags(rej, 35, 45, 371, 372, 373) == {35: "3", 45: "2", 371: str(tag), 372: "0",
                                                 373: reason}  # fmt: skip


def test_a_logon_with_the_no_msg_types_group_is_accepted() -> None:
    p = Pair()
    acts = p.logon(extra=[(384, 2), (372, "D"), (385, "R"), (372, "8"), (385, "S")])
    assert any(isinstance(a, LoggedOn) for a in acts), sent(acts)


def test_2d_comp_id_problem_reject_then_logout() -> None:
    p = logged_on()
    acts = p.send("D", NOS_FIELDS, sender="MALLORY")
    rej, logout = sent(acts)
    assert tags(rej, 35, 45, 371, 373) == {35: "3", 45: "2", 371: "49", 373: "9"}
    assert logout.msg_type == "5"
    assert p.session.state is SessionState.AWAIT_LOGOUT


def test_2e_sending_time_accuracy_reject_then_logout() -> None:
    p = logged_on()
    acts = p.send("0", time_ns=p.now - 121 * SEC)
    rej, logout = sent(acts)
    assert tags(rej, 35, 45, 371, 373) == {35: "3", 45: "2", 371: "52", 373: "10"}
    assert logout.msg_type == "5"


def test_sending_time_check_disabled() -> None:
    p = logged_on(check_latency=False)
    assert sent(p.send("0", time_ns=p.now - 3600 * SEC)) == []


def test_max_latency_configurable() -> None:
    p = logged_on(max_latency=5)
    [rej, _] = sent(p.send("0", time_ns=p.now - 6 * SEC))
    assert rej.get(373) == "10"


def test_missing_sending_time_reason_1() -> None:
    p = logged_on()
    [rej] = sent(p.send("0", sending_time=""))
    assert tags(rej, 371, 373) == {371: "52", 373: "1"}


def test_invalid_msg_type_reason_11() -> None:
    p = logged_on()
    [rej] = sent(p.send("ZZ"))
    assert tags(rej, 35, 45, 372, 373) == {35: "3", 45: "2", 372: "ZZ", 373: "11"}
    assert p.store.next_target_seq == 3


def test_unsupported_msg_type_business_reject() -> None:
    p = logged_on()
    [bmr] = sent(p.send("R", [(131, "Q1")]))
    assert tags(bmr, 35, 45, 372, 380) == {35: "j", 45: "2", 372: "R", 380: "3"}
    assert p.store.next_target_seq == 3


def test_a_business_message_reject_is_logged_not_answered() -> None:
    """A reject answered with a reject: two engines would trade them forever."""
    p = logged_on()
    acts = p.send("j", [(45, "2"), (372, "8"), (380, "3"), (58, "Unsupported Message Type")])
    assert sent(acts) == [] and delivered(acts) == [] and events(acts) == []
    assert p.store.next_target_seq == 3
    assert p.log.events[-1] == ("Received BusinessMessageReject: Unsupported Message Type "
                                "(RefSeqNum 2, RefMsgType 8, reason 3)")


# -- application delivery ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("msg_type", "fields"),
    [
        ("D", NOS_FIELDS),
        ("F", [(41, "O1"), (11, "O2"), (55, "AAPL"), (54, "1"), (60, "20231114-22:13:20")]),
        ("G", [(41, "O1"), (11, "O2"), (55, "AAPL"), (54, "1"), (60, "20231114-22:13:20"),
               (40, "2"), (44, "1.5"), (38, "10")]),
        ("H", [(11, "O1"), (55, "AAPL"), (54, "2")]),
        ("q", [(11, "M1"), (530, "7"), (60, "20231114-22:13:20")]),
    ],
)
def test_supported_app_messages_delivered(msg_type: str, fields: list[tuple[int, str]]) -> None:
    p = logged_on()
    acts = p.send(msg_type, fields)
    assert [a.msg.msg_type for a in acts if isinstance(a, Deliver)] == [msg_type]
    assert sent(acts) == []


# -- logout ----------------------------------------------------------------------------------------


def test_13b_client_logout_answered_then_disconnect() -> None:
    p = logged_on()
    acts = p.send("5", [(58, "bye")])
    [logout] = sent(acts)
    assert logout.msg_type == "5"
    assert isinstance(acts[1], Disconnect)
    assert isinstance(acts[2], LoggedOut)


def test_13a_venue_logout_waits_for_reply() -> None:
    p = logged_on()
    [logout] = sent(p.session.logout("end of day", p.now))
    assert logout.get(58) == "end of day"
    assert p.session.state is SessionState.AWAIT_LOGOUT
    acts = p.send("5")
    assert sent(acts) == [] and disconnected(acts)


def test_venue_logout_times_out() -> None:
    p = logged_on()
    p.session.logout("bye", p.now)
    assert p.timer(1.9) == []
    assert disconnected(p.timer(0.2))


def test_reset_on_logout() -> None:
    p = logged_on(reset_on_logout=True)
    p.send("5")
    assert p.store.next_sender_seq == 1 and p.store.next_target_seq == 1


def test_reset_on_disconnect() -> None:
    p = logged_on(reset_on_disconnect=True)
    acts = p.session.on_disconnect(p.now)
    assert any(isinstance(a, LoggedOut) for a in acts)
    assert p.store.next_sender_seq == 1


def test_continues_sequence_after_reconnect() -> None:
    p = logged_on()
    p.send("5")
    p.session.connect(p.now)
    [reply] = sent(p.logon())
    assert reply.get(34) == "3"
    assert p.store.next_target_seq == 4


def test_operator_reset_and_set_seq() -> None:
    p = logged_on()
    acts = p.session.reset(p.now)
    assert disconnected(acts)
    assert p.store.next_sender_seq == 1
    p.session.set_seq(10, 20, p.now)
    assert (p.store.next_sender_seq, p.store.next_target_seq) == (10, 20)


# -- schedule -----------------------------------------------------------------------------


def _ns(y: int, mo: int, d: int, h: int, mi: int = 0) -> int:
    return int(dt.datetime(y, mo, d, h, mi, tzinfo=dt.UTC).timestamp()) * SEC


SCHED = {"start_time": dt.time(8), "end_time": dt.time(17)}


def test_logon_outside_schedule_refused() -> None:
    p = Pair(_cfg(**SCHED))
    p.now = _ns(2024, 1, 10, 18)
    [logout] = sent(p.logon())
    assert logout.get(58) == "Logon outside of session time"


def test_logged_on_session_logged_out_at_end_of_period() -> None:
    p = Pair(_cfg(**SCHED), store=MemoryStore(_ns(2024, 1, 10, 8)))
    p.now = _ns(2024, 1, 10, 16, 59)
    p.logon()
    assert sent(p.timer(10)) == []
    p.now = _ns(2024, 1, 10, 17, 1)
    [logout] = sent(p.timer())
    assert logout.get(58) == "Session period ended"


def test_sequence_reset_at_new_period() -> None:
    store = MemoryStore(_ns(2024, 1, 9, 8), next_sender_seq=50, next_target_seq=60)
    p = Pair(_cfg(**SCHED), store=store)
    p.now = _ns(2024, 1, 10, 9)
    [reply] = sent(p.logon(seq=1))
    assert reply.get(34) == "1"
    assert store.creation_time == p.now


def test_same_period_keeps_sequence() -> None:
    store = MemoryStore(_ns(2024, 1, 10, 8), next_sender_seq=50, next_target_seq=60)
    p = Pair(_cfg(**SCHED), store=store)
    p.now = _ns(2024, 1, 10, 9)
    [reply] = sent(p.logon(seq=60))
    assert reply.get(34) == "50"


LOGON_WINDOW = {**SCHED, "logon_time": dt.time(9), "logout_time": dt.time(16)}


def test_logon_outside_logon_time_refused_within_the_session_period() -> None:
    p = Pair(_cfg(**LOGON_WINDOW))
    p.now = _ns(2024, 1, 10, 8, 30)  # in the session (08:00-17:00), before LogonTime 09:00
    [logout] = sent(p.logon())
    assert tags(logout, 35, 58) == {35: "5", 58: "Logon outside of logon time"}
    p = Pair(_cfg(**LOGON_WINDOW))
    p.now = _ns(2024, 1, 10, 9)
    [reply] = sent(p.logon())
    assert reply.msg_type == "A"


def test_logged_on_session_logged_out_at_logout_time_keeps_its_sequence() -> None:
    store = MemoryStore(_ns(2024, 1, 10, 8))
    p = Pair(_cfg(**LOGON_WINDOW), store=store)
    p.now = _ns(2024, 1, 10, 15, 59)
    p.logon()
    assert sent(p.timer(10)) == []
    p.now = _ns(2024, 1, 10, 16) + SEC
    [logout] = sent(p.timer())
    assert tags(logout, 35, 58) == {35: "5", 58: "Logon period ended"}
    assert store.creation_time == _ns(2024, 1, 10, 8)  # same session period: no reset
    assert store.next_sender_seq == 3


def test_message_log_masks_new_password() -> None:
    p = Pair()
    p.logon(extra=[(925, "newsecret")])
    assert all("newsecret" not in line for line in p.log.messages)


def test_send_returns_raw_that_parses() -> None:
    p = logged_on()
    s = p.session.send_app("8", [(37, "O1")], p.now)
    assert isinstance(s, Send)
    assert parse(s.raw).get(34) == str(s.seq) == "2"


def test_standard_fields_the_venue_does_not_use_are_accepted() -> None:
    # Parties (453) is a FIX 4.4 repeating group of NewOrderSingle; SecurityExchange (207) and
    # HandlInst (21) are standard fields the venue ignores. None of them is a protocol error.
    p = logged_on()
    parties = [(453, 2), (448, "TRADER1"), (447, "D"), (452, 11),
               (448, "DESK9"), (447, "D"), (452, 3)]
    acts = p.send("D", [*NOS_FIELDS, (21, "1"), (207, "XNAS"), *parties])
    assert sent(acts) == []
    [msg] = delivered(acts)
    assert msg.get(11) == dict(NOS_FIELDS)[11]


def test_field_of_another_message_type_is_still_rejected() -> None:
    p = logged_on()
    [rej] = sent(p.send("D", [*NOS_FIELDS, (112, "TR1")]))  # TestReqID is not a D field
    assert tags(rej, 371, 373) == {371: "112", 373: "2"}


# -- values the store could not keep ---------------------------------------------------------


@pytest.mark.parametrize(
    ("tag", "value", "reason"),
    [
        (11, "L" * 201, "5"),
        (1, "A" * 201, "5"),
        (55, "S" * 33, "5"),
        (11, "nul\x00x", "6"),
        (55, "A\x00", "6"),
    ],
)
def test_a_stored_field_too_long_or_holding_a_nul_is_rejected(
    tag: int, value: str, reason: str
) -> None:
    p = logged_on()
    fields = [(t, value if t == tag else v) for t, v in NOS_FIELDS]
    acts = p.send("D", fields)
    [rej] = sent(acts)
    assert tags(rej, 35, 371, 373) == {35: "3", 371: str(tag), 373: reason}
    assert delivered(acts) == []
    longest = [(t, "L" * 200 if t == 11 else v) for t, v in NOS_FIELDS]
    assert len(delivered(p.send("D", longest))) == 1  # 200 characters are fine


def test_a_cancel_with_an_orig_cl_ord_id_too_long_is_rejected() -> None:
    p = logged_on()
    acts = p.send("F", [(41, "O" * 201), (11, "C2"), (55, "AAPL"), (54, "1"),
                        (60, "20231114-22:13:20.000")])
    [rej] = sent(acts)
    assert tags(rej, 35, 371, 373) == {35: "3", 371: "41", 373: "5"}
