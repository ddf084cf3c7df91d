"""Configuration parsing and the CLI's error path (no broker needed)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from market_data.cli import _md_config, app
from market_data.config import ConfigError, MarketDataConfig, display_url, endpoint
from market_data.topics import Topics


def test_defaults() -> None:
    cfg = MarketDataConfig()
    assert (cfg.host, cfg.port, cfg.prefix, cfg.depth) == ("127.0.0.1", 1883, "venue", 10)
    assert cfg.tls_context() is None


def test_from_url_with_credentials_tls_and_query() -> None:
    cfg = MarketDataConfig.from_url(
        "mqtts://md%40venue:s3cr%2Ft@broker.example:8884?prefix=x/y&depth=5&buffer_size=10"
        "&publish_interval=0&client_id=v1&book_delta=no"
    )
    ep = endpoint(cfg.url)
    assert (ep.host, ep.port, ep.tls, ep.username, ep.password) == (
        "broker.example",
        8884,
        True,
        "md@venue",
        "s3cr/t",
    )
    assert (cfg.prefix, cfg.depth, cfg.buffer_size, cfg.publish_interval) == ("x/y", 5, 10, 0.0)
    assert (cfg.client_id, cfg.book_delta) == ("v1", False)
    assert endpoint("mqtts://h").port == 8883
    assert MarketDataConfig.from_url("mqtt://h", depth=3).depth == 3


@pytest.mark.parametrize(
    "url",
    [
        "http://h",
        "mqtt://",
        "mqtt://h:notaport",
        "mqtt://h/path",
        "mqtt://h?depth=0",
        "mqtt://h?depth=x",
        "mqtt://h?nope=1",
        "mqtt://h?prefix=a/%23",
    ],
)
def test_bad_urls(url: str) -> None:
    with pytest.raises(ConfigError):
        MarketDataConfig.from_url(url)


@pytest.mark.parametrize(
    ("query", "error"),
    [
        ("book_delta=maybe", "book_delta: invalid value 'maybe' (expected 1 or 0)"),
        ("prefix=", "invalid topic prefix ''"),
        ("prefix=$SYS/x", "invalid topic prefix '$SYS/x'"),
        ("prefix=a+b", "invalid topic prefix 'a+b'"),  # it was read as 'a b'
        ("publish_timeout=0", "publish_timeout must be > 0"),
        ("keepalive=-5", "keepalive must be from 1 to 65535 seconds"),
        ("keepalive=70000", "keepalive must be from 1 to 65535 seconds"),
        ("publish_interval=nan", "must be finite numbers of seconds"),
        ("reconnect_min=inf&reconnect_max=inf", "must be finite numbers of seconds"),
    ],
)
def test_market_data_url_values_that_cannot_work_are_refused(query: str, error: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(error)):
        MarketDataConfig.from_url(f"mqtt://h?{query}")


def test_a_ca_file_that_cannot_be_read_is_refused_when_the_url_is_read(tmp_path: Path) -> None:
    """Not when the publisher connects: its task ended with nobody to hear it."""
    with pytest.raises(ConfigError, match=re.escape(
        f"tls_ca_file {tmp_path}/none.pem: No such file or directory"
    )):
        MarketDataConfig.from_url(f"mqtts://h?tls_ca_file={tmp_path}/none.pem")
    (tmp_path / "bad.pem").write_text("not a certificate")
    with pytest.raises(ConfigError, match=re.escape(f"tls_ca_file {tmp_path}/bad.pem: ")):
        MarketDataConfig.from_url(f"mqtts://h?tls_ca_file={tmp_path}/bad.pem")


def test_a_command_line_url_keeps_its_own_prefix_and_depth_over_the_cfgs() -> None:
    """`venue run --mqtt 'mqtt://h?depth=3'` published MqttDepth's 10 levels."""
    given = "mqtt://h?depth=3&prefix=mine"
    assert MarketDataConfig.configured(given, "depth", 10) is None
    assert MarketDataConfig.configured(given, "prefix", "venue") is None
    assert MarketDataConfig.configured("mqtt://h", "depth", 10) == 10
    assert MarketDataConfig.configured(None, "prefix", "venue") == "venue"
    config = MarketDataConfig.from_url(given)
    assert (config.depth, config.prefix) == (3, "mine")


def test_the_displayed_broker_url_has_no_credentials() -> None:
    assert display_url("mqtt://bob:s3cretPW@127.0.0.1:1883?prefix=v") == "mqtt://127.0.0.1:1883"
    assert display_url("mqtts://bob:pw@broker") == "mqtts://broker:8883"


@pytest.mark.parametrize(("text", "value"), [("1", True), ("off", False), ("TRUE", True)])
def test_book_delta_takes_the_usual_flags(text: str, value: bool) -> None:
    assert MarketDataConfig.from_url(f"mqtt://h?book_delta={text}").book_delta is value


def test_topics_round_trip() -> None:
    t = Topics("venue")
    assert t.book("EUR/USD") == "venue/EUR%2FUSD/book"
    assert t.parse(t.book_delta("EUR/USD")) == ("EUR/USD", "book/delta")
    assert t.parse("venue/status") == (None, "status")
    with pytest.raises(ValueError, match="not under"):
        t.parse("other/AAPL/book")


def test_watch_unreachable_broker_is_one_line_error() -> None:
    result = CliRunner().invoke(app, ["watch", "AAPL", "--mqtt", "mqtt://127.0.0.1:1", "--once"])
    assert result.exit_code == 1
    assert result.output.strip().startswith("error: cannot connect to MQTT broker")
    assert len(result.output.strip().splitlines()) == 1


def test_watch_bad_url() -> None:
    result = CliRunner().invoke(app, ["watch", "AAPL", "--mqtt", "http://x"])
    assert result.exit_code == 1
    assert "mqtt://" in result.output


@pytest.mark.parametrize("symbol", ["A/#", "+", "#", ""])
def test_watch_of_what_cannot_be_a_symbol_is_one_line_error(symbol: str) -> None:
    result = CliRunner().invoke(app, ["watch", symbol, "--mqtt", "mqtt://127.0.0.1:1", "--once"])
    assert result.exit_code == 1
    assert result.output.strip() == f"error: {symbol!r} is not an instrument symbol"


def test_watch_negative_timeout_refused() -> None:
    result = CliRunner().invoke(app, ["watch", "AAPL", "--timeout", "-1"])
    assert result.exit_code == 2
    assert "greater than or equal to 0" in result.output


def _cfg(tmp_path: Path, lines: str) -> Path:
    path = tmp_path / "sessions.cfg"
    path.write_text(f"[DEFAULT]\nSenderCompID=V\nSocketAcceptPort=1\n{lines}[SESSION]\n"
                    "TargetCompID=A\n")
    return path


@pytest.mark.parametrize(
    ("lines", "mqtt", "prefix", "expected"),
    [
        ("", None, None, ("mqtt://127.0.0.1:1883", "venue")),
        ("MqttURL=mqtt://broker:1884\nMqttTopicPrefix=x1\n", None, None,
         ("mqtt://broker:1884", "x1")),
        ("MqttURL=mqtt://broker:1884?prefix=q\nMqttTopicPrefix=x1\n", None, None,
         ("mqtt://broker:1884", "x1")),  # as venue run: the file's prefix key wins
        ("MqttURL=mqtt://broker:1884?prefix=q\n", None, None, ("mqtt://broker:1884", "q")),
        ("MqttURL=none\nMqttTopicPrefix=x1\n", None, None, ("mqtt://127.0.0.1:1883", "x1")),
        ("MqttTopicPrefix=x1\n", "mqtt://h:1?prefix=cli", None, ("mqtt://h:1", "cli")),
        ("MqttTopicPrefix=x1\n", "mqtt://h:1", None, ("mqtt://h:1", "x1")),
        ("MqttTopicPrefix=x1\n", "mqtt://h:1?prefix=cli", "opt", ("mqtt://h:1", "opt")),
    ],
)
def test_watch_takes_broker_and_prefix_as_venue_run_does(
    tmp_path: Path, lines: str, mqtt: str | None, prefix: str | None, expected: tuple[str, str]
) -> None:
    config = _md_config(_cfg(tmp_path, lines), mqtt, prefix)
    assert (config.url, config.prefix) == expected


def test_watch_with_a_missing_config_is_one_line_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["watch", "AAPL", "-c", str(tmp_path / "nope.cfg")])
    assert result.exit_code == 1
    assert result.output.startswith("error: ")
    assert len(result.output.strip().splitlines()) == 1
