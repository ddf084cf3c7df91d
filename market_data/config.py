"""Market data configuration, and parsing it from an ``mqtt://`` URL."""

from __future__ import annotations

import math
import ssl
from dataclasses import dataclass, replace
from typing import Final, TypeVar
from urllib.parse import parse_qs, unquote, urlsplit

T = TypeVar("T")

DEFAULT_URL = "mqtt://127.0.0.1:1883"
DEFAULT_PREFIX = "venue"


class ConfigError(ValueError):
    """The market data configuration is invalid (the message says which part)."""


#: book_delta= in a URL
_TRUE: Final = frozenset({"1", "true", "yes", "on"})
_FALSE: Final = frozenset({"0", "false", "no", "off"})


@dataclass(frozen=True, slots=True)
class MarketDataConfig:
    """Where and how the venue publishes market data.

    Attributes:
        url: ``mqtt://[user[:password]@]host[:port]`` or ``mqtts://...`` for TLS.
        client_id: MQTT client identifier ("": ``venue-<epoch in hex>``, one per run, kept
            across reconnects).
        prefix: Topic prefix; every topic is under ``{prefix}/``.
        depth: Price levels per side in book snapshots.
        tls_ca_file: CA bundle for ``mqtts://`` (None: the system's trust store).
        buffer_size: Maximum trades waiting to be published (all symbols); beyond it new
            trades are dropped, counted, logged and announced to subscribers.
        publish_interval: Minimum seconds between two publish cycles; trades and book
            changes arriving in between are batched and conflated into the next cycle.
        max_trades_per_message: Largest trades array in one message.
        book_delta: Also publish ``{prefix}/{symbol}/book/delta`` increments.
        reconnect_min: First reconnect delay in seconds (doubles per failure).
        reconnect_max: Reconnect delay cap in seconds.
        keepalive: MQTT keepalive in seconds (the broker fires the Last Will after 1.5x).
        publish_timeout: Seconds to wait for the broker to acknowledge a QoS 1 publish.
    """

    url: str = DEFAULT_URL
    client_id: str = ""
    prefix: str = DEFAULT_PREFIX
    depth: int = 10
    tls_ca_file: str | None = None
    buffer_size: int = 65_536
    publish_interval: float = 0.005
    max_trades_per_message: int = 1_000
    book_delta: bool = True
    reconnect_min: float = 0.1
    reconnect_max: float = 5.0
    keepalive: int = 10
    publish_timeout: float = 10.0

    def __post_init__(self) -> None:
        endpoint(self.url)  # validates
        prefix = self.prefix
        if (
            not prefix
            or any(c in prefix for c in "#+\x00")
            or prefix[-1] == "/"
            or prefix[0] == "$"  # $-topics are the broker's own ($SYS): it refuses publishes
        ):
            raise ConfigError(f"invalid topic prefix {prefix!r}")
        if self.depth < 1:
            raise ConfigError("depth must be >= 1")
        if self.buffer_size < 1 or self.max_trades_per_message < 1:
            raise ConfigError("buffer_size and max_trades_per_message must be >= 1")
        seconds = (self.publish_interval, self.reconnect_min, self.reconnect_max,
                   self.publish_timeout)
        if not all(math.isfinite(x) for x in seconds):
            raise ConfigError("publish_interval, reconnect_min, reconnect_max and "
                              "publish_timeout must be finite numbers of seconds")
        if self.publish_interval < 0 or self.reconnect_min <= 0:
            raise ConfigError("publish_interval must be >= 0 and reconnect_min > 0")
        if self.reconnect_max < self.reconnect_min:
            raise ConfigError("reconnect_max must be >= reconnect_min")
        if self.publish_timeout <= 0:
            raise ConfigError("publish_timeout must be > 0")
        if not 1 <= self.keepalive <= 65_535:  # MQTT's keepalive is a 16-bit number
            raise ConfigError("keepalive must be from 1 to 65535 seconds")
        if self.tls_ca_file is not None and endpoint(self.url).tls:
            try:  # now, not when the publisher connects (its task would end, unheard)
                self.tls_context()
            except (OSError, ssl.SSLError) as exc:
                reason = getattr(exc, "strerror", None) or exc
                raise ConfigError(f"tls_ca_file {self.tls_ca_file}: {reason}") from None

    @staticmethod
    def configured(given_url: str | None, key: str, config_value: T) -> T | None:
        """The value to override a URL's ``key`` with: sessions.cfg's (MqttTopicPrefix,
        MqttDepth), unless the URL was given on the command line (``given_url``) with a
        ``?key=`` of its own."""
        if given_url is not None and key in _query(given_url):
            return None
        return config_value

    @classmethod
    def from_url(cls, url: str, **overrides: object) -> MarketDataConfig:
        """Build a config from a URL; query parameters set the other fields.

        ``mqtt://user:pw@host:1883?prefix=venue&depth=10&client_id=v1&buffer_size=65536
        &publish_interval=0.005&tls_ca_file=/path/ca.pem&book_delta=1``. Keyword
        ``overrides`` win over the query.
        """
        parts = urlsplit(url)
        query = _query(url)
        base = parts._replace(query="").geturl()
        values: dict[str, object] = {}
        converters: dict[str, type] = {
            "client_id": str,
            "prefix": str,
            "tls_ca_file": str,
            "depth": int,
            "buffer_size": int,
            "max_trades_per_message": int,
            "keepalive": int,
            "publish_interval": float,
            "reconnect_min": float,
            "reconnect_max": float,
            "publish_timeout": float,
        }
        for key, text in query.items():
            if key == "book_delta":
                flag = text.lower()
                if flag not in _TRUE | _FALSE:
                    raise ConfigError(f"book_delta: invalid value {text!r} (expected 1 or 0)")
                values[key] = flag in _TRUE
            elif key in converters:
                try:
                    values[key] = converters[key](text)
                except ValueError:
                    raise ConfigError(f"{key}: invalid value {text!r}") from None
            else:
                raise ConfigError(f"unknown market data URL parameter {key!r}")
        values.update(overrides)
        return replace(cls(url=base), **values)  # type: ignore[arg-type]

    @property
    def host(self) -> str:
        return endpoint(self.url).host

    @property
    def port(self) -> int:
        return endpoint(self.url).port

    def tls_context(self) -> ssl.SSLContext | None:
        """An SSL context for ``mqtts://`` URLs, None for plain ``mqtt://``."""
        if not endpoint(self.url).tls:
            return None
        return ssl.create_default_context(cafile=self.tls_ca_file)


def _query(url: str) -> dict[str, str]:
    """A URL's query parameters, the last of each; "?prefix=" is an (invalid) empty prefix,
    not no prefix, and a '+' is itself, not a space (a topic prefix may not hold one)."""
    query = urlsplit(url).query.replace("+", "%2B")
    return {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}


@dataclass(frozen=True, slots=True)
class Endpoint:
    host: str
    port: int
    tls: bool
    username: str | None
    password: str | None


def endpoint(url: str) -> Endpoint:
    """Parse ``mqtt[s]://[user[:password]@]host[:port]``; raises ConfigError."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ConfigError(f"invalid MQTT URL {url!r}: {exc}") from None
    if parts.scheme not in {"mqtt", "mqtts"}:
        raise ConfigError(f"invalid MQTT URL {url!r}: scheme must be mqtt:// or mqtts://")
    if not parts.hostname:
        raise ConfigError(f"invalid MQTT URL {url!r}: no host")
    if parts.path not in {"", "/"}:
        raise ConfigError(f"invalid MQTT URL {url!r}: unexpected path {parts.path!r}")
    tls = parts.scheme == "mqtts"
    return Endpoint(
        host=parts.hostname,
        port=port if port is not None else (8883 if tls else 1883),
        tls=tls,
        username=unquote(parts.username) if parts.username is not None else None,
        password=unquote(parts.password) if parts.password is not None else None,
    )


def display_url(url: str) -> str:
    """The broker's URL for logs and status: scheme, host and port, no credentials."""
    ep = endpoint(url)
    return f"{'mqtts' if ep.tls else 'mqtt'}://{ep.host}:{ep.port}"
