"""A bare FIX client over TCP: exact sequence numbers in, every message out."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from fix_gateway.codec import Framer, Message, encode_raw, format_utc_timestamp, parse

WAIT = 5.0


class RawClient:
    """One connection to 127.0.0.1:``port`` as ``sender`` to the venue ``target``."""

    def __init__(self, port: int, sender: str, target: str, seq: int = 1) -> None:
        self.port = port
        self.sender = sender
        self.target = target
        self.seq = seq
        self.framer = Framer()
        self.inbox: list[Message] = []

    async def connect(self) -> None:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)

    def send(self, fields: list[tuple[int, Any]]) -> None:
        """Send ``fields``, MsgType(35) first; the header is added here."""
        self.writer.write(self.frame(fields))

    def frame(self, fields: list[tuple[int, Any]]) -> bytes:
        """The next message as bytes (MsgType(35) first in ``fields``), numbered, not sent:
        several can go in one write."""
        header = [
            fields[0],
            (34, self.seq),
            (49, self.sender),
            (52, format_utc_timestamp(time.time_ns())),
            (56, self.target),
        ]
        self.seq += 1
        return encode_raw("FIX.4.4", header + fields[1:])

    async def receive(self, n: int, wait: float = WAIT) -> list[Message]:
        """The next ``n`` messages (an AssertionError if the venue closes first)."""
        while len(self.inbox) < n:
            data = await asyncio.wait_for(self.reader.read(65536), wait)
            assert data, "venue closed the connection"
            self.inbox.extend(parse(raw) for raw in self.framer.feed(data))
        got, self.inbox = self.inbox[:n], self.inbox[n:]
        return got

    async def close(self) -> None:
        self.writer.close()
        await self.writer.wait_closed()
