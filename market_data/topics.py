"""Topic layout of the market data feed, and the QoS/retain flags of each topic.

::

    {prefix}/status                  venue status, retained, QoS 1 (Last Will: offline)
    {prefix}/{symbol}/status         trading status + instrument rules, retained, QoS 1
    {prefix}/{symbol}/trades         trade batches, QoS 1, not retained
    {prefix}/{symbol}/book           L2 snapshot (top N), retained, QoS 0
    {prefix}/{symbol}/book/delta     L2 increments, QoS 0, not retained
    {prefix}/{symbol}/bbo            best bid/offer, retained, QoS 0
    {prefix}/{symbol}/stats          session statistics, retained, QoS 0

A symbol may contain ``/`` (``EUR/USD``); in a topic it is written ``%2F``
(``venue/EUR%2FUSD/book``), as ``%`` cannot occur in a symbol.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote

TRADES_QOS = 1  # trades are not conflatable: the broker must acknowledge each batch
SNAPSHOT_QOS = 0  # book/bbo/stats: the next snapshot supersedes a lost one
STATUS_QOS = 1  # rare and important; retained


def segment(symbol: str) -> str:
    """The topic level that stands for ``symbol``."""
    return symbol.replace("/", "%2F")


@dataclass(frozen=True, slots=True)
class Topics:
    """Topic names under one prefix."""

    prefix: str

    @property
    def venue_status(self) -> str:
        return f"{self.prefix}/status"

    def symbol_status(self, symbol: str) -> str:
        return f"{self.prefix}/{segment(symbol)}/status"

    def trades(self, symbol: str) -> str:
        return f"{self.prefix}/{segment(symbol)}/trades"

    def book(self, symbol: str) -> str:
        return f"{self.prefix}/{segment(symbol)}/book"

    def book_delta(self, symbol: str) -> str:
        return f"{self.prefix}/{segment(symbol)}/book/delta"

    def bbo(self, symbol: str) -> str:
        return f"{self.prefix}/{segment(symbol)}/bbo"

    def stats(self, symbol: str) -> str:
        return f"{self.prefix}/{segment(symbol)}/stats"

    def symbol_filter(self, symbol: str) -> str:
        """Wildcard matching every topic of ``symbol``."""
        return f"{self.prefix}/{segment(symbol)}/#"

    def parse(self, topic: str) -> tuple[str | None, str]:
        """Split a topic into (symbol or None for the venue topic, kind), e.g.
        ``("AAPL", "book/delta")``; raises ValueError for a foreign topic."""
        head = self.prefix + "/"
        if not topic.startswith(head):
            raise ValueError(f"topic {topic!r} is not under {self.prefix!r}")
        rest = topic[len(head) :]
        if rest == "status":
            return None, "status"
        symbol, sep, kind = rest.partition("/")
        if not sep:
            raise ValueError(f"unexpected topic {topic!r}")
        return unquote(symbol), kind
