"""A real venue (in-process, real TCP, SQLite store) and real QuickFIX initiators
(support.qfclient: they validate every message against QuickFIX's FIX 4.4 dictionary)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from support.procs import sessions_cfg as venue_sessions_cfg
from support.procs import write_venue_files
from support.qfclient import Client

from fix_gateway.config import parse_config
from venue.runtime import RuntimeOptions, Venue

VENUE_ID = "EXCH"  # distinct from other suites: QuickFIX keeps a process-wide session registry

INSTRUMENTS = """\
symbol,tick_size,lot_size,min_qty,max_qty,price_band_pct,reference_price,status,description
TEST,0.01,1,1,100000,,,open,test
BAND,0.01,1,1,100000,10,100.00,open,banded
LOTS,0.5,10,10,1000,,,open,lots of ten
HALT,0.01,1,1,100000,,,halted,halted at start
"""

SESSIONS = venue_sessions_cfg(VENUE_ID, 0, """\
[SESSION]
TargetCompID=BUYER
Account=ACC-B
PermittedAccounts=ACC-B,ACC-B2
CancelOnDisconnect=Y
MaxOrderQty=5000
MaxOrderNotional=100000
[SESSION]
TargetCompID=SELLER
Account=ACC-S
MaxMessagesPerSecond=1000
[SESSION]
TargetCompID=COPY
SessionRole=DropCopy
[SESSION]
TargetCompID=SLOW
MaxMessagesPerSecond=2
""")


class VenueHarness:
    def __init__(self, venue: Venue, root: Path, dictionary: Path) -> None:
        self.venue = venue
        self.root = root
        self.dictionary = dictionary
        self.clients: list[Client] = []

    @property
    def port(self) -> int:
        assert self.venue.acceptor is not None
        return self.venue.acceptor.port

    async def client(self, comp_id: str) -> Client:
        client = Client(comp_id, self.port, self.root, self.dictionary, VENUE_ID,
                        settings={"LogonTimeout": "2"})
        self.clients.append(client)
        await client.start()
        return client


@pytest.fixture
async def make_harness(
    tmp_path: Path, fix44_xml: Path
) -> AsyncIterator[Callable[[str], Any]]:
    """A factory: ``await make_harness(store_url)`` starts a venue on that store."""
    started: list[VenueHarness] = []

    async def make(store_url: str) -> VenueHarness:
        cfg_path = write_venue_files(tmp_path, INSTRUMENTS, SESSIONS)
        config = parse_config(cfg_path.read_text(), cfg_path)
        options = RuntimeOptions(
            store_url=store_url, mqtt_url=None, admin_socket=tmp_path / "venue.sock"
        )
        venue = Venue(config, options)
        await venue.start()
        h = VenueHarness(venue, tmp_path, fix44_xml)
        started.append(h)
        return h

    try:
        yield make
    finally:
        for h in started:
            for client in h.clients:
                await client.close()
            await h.venue.stop()


@pytest.fixture
async def harness(tmp_path: Path, make_harness: Callable[[str], Any]) -> VenueHarness:
    """A venue on a SQLite file, with QuickFIX clients to come."""
    return await make_harness(f"sqlite+aiosqlite:///{tmp_path / 'venue.db'}")
