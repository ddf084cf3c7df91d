"""Framer, parser and encoder."""

from __future__ import annotations

import random

import pytest
import simplefix
from fixclient import NOS_FIELDS, T0, client_msg
from hypothesis import given
from hypothesis import strategies as st

from fix_gateway.codec import (
    EncodedBody,
    Encoder,
    Framer,
    checksum,
    encode_body,
    encode_raw,
    format_utc_timestamp,
    parse,
    parse_utc_timestamp,
)


def _msgs(n: int) -> list[bytes]:
    return [client_msg("D", NOS_FIELDS, seq=i) for i in range(1, n + 1)]


def test_framer_byte_by_byte() -> None:
    msgs = _msgs(3)
    f = Framer()
    out = []
    for b in b"".join(msgs):
        out += f.feed(bytes([b]))
    assert out == msgs
    assert f.garbled == []
    assert f.remainder() == b""


def test_framer_several_messages_in_one_read() -> None:
    msgs = _msgs(5)
    assert Framer().feed(b"".join(msgs)) == msgs


def test_framer_partial_then_rest() -> None:
    m = _msgs(2)
    data = b"".join(m)
    f = Framer()
    assert f.feed(data[:30]) == []
    assert f.feed(data[30 : len(m[0]) + 5]) == [m[0]]
    assert f.feed(data[len(m[0]) + 5 :]) == [m[1]]


def test_framer_skips_garbage_between_messages() -> None:
    m = _msgs(2)
    f = Framer()
    assert f.feed(b"xx\r\n" + m[0] + b"GARBAGE 8=" + m[1] + b"zz") == m
    assert f.garbled  # described for the event log
    assert f.remainder() == b"zz"


def test_framer_drops_bad_checksum() -> None:
    good = _msgs(2)
    wrong = b"001\x01" if good[0].endswith(b"000\x01") else b"000\x01"
    bad = good[0][:-4] + wrong
    f = Framer()
    assert f.feed(bad + good[1]) == [good[1]]
    assert any("CheckSum" in g for g in f.garbled)


@pytest.mark.parametrize("size", [0, 1, 255, 256, 257, 300, 511, 512, 513, 700, 768, 769, 2000])
def test_checksum_is_the_byte_sum_modulo_256(size: int) -> None:
    """Around the 256-byte spans it is summed in, with the largest bytes too (the sums that
    would wrap adler32's modulus if a span were longer)."""
    for data in (random.Random(size).randbytes(size), b"\xff" * size):
        assert checksum(data) == sum(data) % 256
        assert checksum(memoryview(data)[7:]) == sum(data[7:]) % 256


@given(st.binary(max_size=2000))
def test_checksum_of_any_bytes(data: bytes) -> None:
    assert checksum(data) == sum(data) % 256


@pytest.mark.parametrize("text_length", [10, 250, 400, 1200])
def test_framer_checks_the_checksum_of_long_messages(text_length: int) -> None:
    """Messages around and beyond the 256 and 512 bytes at which the CheckSum is summed in
    spans: the right one passes, one wrong byte in the body is caught."""
    good = client_msg("D", [*NOS_FIELDS, (58, "x" * text_length)], seq=1)
    assert int(parse(good)[10]) == sum(good[: good.rindex(b"10=")]) % 256
    assert Framer().feed(good) == [good]
    body_byte = good.index(b"58=x") + 3 + text_length // 2
    bad = good[:body_byte] + b"y" + good[body_byte + 1 :]
    f = Framer()
    assert f.feed(bad + good) == [good]
    assert any("CheckSum" in g for g in f.garbled)


def test_framer_drops_bad_body_length_too_small() -> None:
    good = _msgs(2)
    bad = good[0].replace(b"\x019=", b"\x019=1", 1)  # e.g. 9=135 -> 9=1135 (too large)
    bad2 = good[0].replace(b"\x019=1", b"\x019=", 1)  # 9=135 -> 9=35 (too small)
    f = Framer()
    assert f.feed(bad2 + good[1]) == [good[1]]
    assert any("BodyLength" in g for g in f.garbled)
    f = Framer()
    assert f.feed(bad + good[1]) == [good[1]]  # does not wait for bytes that never come


def test_framer_matches_simplefix_encoding() -> None:
    m = simplefix.FixMessage()
    m.append_pair(8, "FIX.4.4")
    m.append_pair(35, "0")
    m.append_pair(34, 7)
    raw = bytes(m.encode())
    assert Framer().feed(raw) == [raw]


def test_parse_fields_and_helpers() -> None:
    raw = client_msg("D", NOS_FIELDS, seq=12)
    msg = parse(raw)
    assert msg.msg_type == "D"
    assert msg.get(55) == "AAPL"
    assert msg.get_int(34) == 12
    assert msg.has(44) and not msg.has(99)
    assert msg.fields[0] == (8, "FIX.4.4")
    assert msg.fields[-1][0] == 10
    assert msg.raw == raw
    assert msg.error is None
    assert (55, "AAPL") in msg.body()
    assert all(t not in (8, 9, 35, 34, 49, 52, 56, 10) for t, _ in msg.body())


def test_parse_value_with_equals_sign() -> None:
    msg = parse(client_msg("D", [*NOS_FIELDS, (58, "a=b=c")], seq=1))
    assert msg.get(58) == "a=b=c"
    assert msg.error is None


def test_parse_records_structural_errors() -> None:
    assert parse(client_msg("D", [(55, "X"), (55, "Y")], seq=1)).error[:2] == (13, 55)
    assert parse(client_msg("D", [(55, "")], seq=1)).error[:2] == (4, 55)
    raw = encode_raw("FIX.4.4", [(35, "D"), (34, 1), ("abc", "1")])
    assert parse(raw).error[0] == 0


def test_encoder_roundtrip_and_checksum() -> None:
    enc = Encoder("FIX.4.4", "VENUE", "CLIENT1")
    raw = enc.encode("8", 5, format_utc_timestamp(T0), [(37, "O1"), (150, "0")])
    assert Framer().feed(raw) == [raw]
    msg = parse(raw)
    assert [msg.get(t) for t in (35, 34, 49, 56, 37)] == ["8", "5", "VENUE", "CLIENT1", "O1"]
    assert int(msg[9]) == len(raw) - raw.index(b"35=") - 7
    assert int(msg[10]) == sum(raw[: raw.rindex(b"10=")]) % 256
    long = enc.encode("8", 6, format_utc_timestamp(T0), [(37, "O1"), (58, "é" * 700)])
    assert int(parse(long)[10]) == sum(long[: long.rindex(b"10=")]) % 256


def test_encoded_body_is_sent_as_is_under_each_sessions_header() -> None:
    fields = [(37, "O1"), (17, 42), (58, "a=b")]
    body = encode_body(fields)
    assert body == "37=O1\x0117=42\x0158=a=b\x01"
    for target in ("CLIENT1", "DROPCOPY"):
        enc = Encoder("FIX.4.4", "VENUE", target)
        now = format_utc_timestamp(T0)
        assert enc.encode("8", 9, now, body) == enc.encode("8", 9, now, fields)
        assert parse(enc.encode("8", 9, now, body)).get(56) == target
    # a plain str is not taken for encoded fields
    assert not isinstance("37=O1\x01", EncodedBody)


def test_encoder_poss_dup() -> None:
    enc = Encoder("FIX.4.4", "VENUE", "CLIENT1")
    orig = "20240101-00:00:00.000"
    msg = parse(enc.encode("8", 5, "20240101-00:00:01.000", orig_sending_time=orig))
    assert msg.get(43) == "Y"
    assert msg.get(122) == "20240101-00:00:00.000"


def test_timestamps() -> None:
    assert format_utc_timestamp(T0 + 123_456_789) == "20231114-22:13:20.123"
    # the same millisecond, the next, the next second, back, a day later: the caches follow
    stamps = [
        format_utc_timestamp(T0 + ns)
        for ns in (123_999_999, 124_000_000, 1_000_000_000, -1, 123_000_000, 86_400 * 10**9)
    ]
    assert stamps == [
        "20231114-22:13:20.123",
        "20231114-22:13:20.124",
        "20231114-22:13:21.000",
        "20231114-22:13:19.999",
        "20231114-22:13:20.123",
        "20231115-22:13:20.000",
    ]
    assert parse_utc_timestamp("20231114-22:13:20.123") == T0 + 123_000_000
    assert parse_utc_timestamp("20231114-22:13:20") == T0
    assert parse_utc_timestamp("20231114-22:13:20.123456") == T0 + 123_456_000
    assert parse_utc_timestamp("2023-11-14 22:13:20") is None
    assert parse_utc_timestamp("20231114-22:13:20.") is None
    assert parse_utc_timestamp("20231399-22:13:20") is None
