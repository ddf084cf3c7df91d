"""A real venue started as a subprocess (`venue run`) and real QuickFIX initiators
(support.qfclient: they validate every message against QuickFIX's FIX 4.4 dictionary)."""

from __future__ import annotations

import contextlib
import gc
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.procs import free_port, kill, sessions_cfg, start_venue, venue_run_cmd, wait_admin
from support.qfclient import WAIT, Client

VENUE_ID = "ADMX"  # distinct from other suites: QuickFIX keeps a process-wide session registry
CLIENTS = ("CLIA", "CLIB", "CLIC")

INSTRUMENTS = """\
symbol,tick_size,lot_size,min_qty,max_qty,price_band_pct,reference_price,status,description
TEST,0.01,1,1,100000,,,open,test
OTHER,0.5,1,1,100000,,,open,other
"""


class VenueProcess:
    """`venue run` as a subprocess with its files in one folder."""

    def __init__(self, root: Path, dictionary: Path) -> None:
        self.root = root
        self.dictionary = dictionary
        self.port = free_port()
        self.config = root / "sessions.cfg"
        self.sock = root / "v.sock"
        self.db = root / "v.db"
        self.log = root / "venue.stderr"
        (root / "instruments.csv").write_text(INSTRUMENTS)
        self.config.write_text(sessions_cfg(VENUE_ID, self.port, CLIENTS))
        self.proc: subprocess.Popen[bytes] | None = None
        self.clients: list[Client] = []

    def start(self) -> None:
        self.proc = start_venue(
            venue_run_cmd(self.config, f"sqlite+aiosqlite:///{self.db}", self.sock),
            self.log, self.root,
        )
        wait_admin(self.proc, self.sock, WAIT, self.output)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def kill(self) -> None:
        kill(self.proc)

    def client(self, comp_id: str) -> Client:
        client = Client(comp_id, self.port, self.root, self.dictionary, VENUE_ID,
                        force_stop=True)
        self.clients.append(client)
        return client


@pytest.fixture
def venue_proc(tmp_path: Path, fix44_xml: Path) -> Iterator[VenueProcess]:
    vp = VenueProcess(tmp_path, fix44_xml)
    try:
        vp.start()
        yield vp
    finally:
        for client in vp.clients:
            if client.initiator is not None:
                with contextlib.suppress(Exception):
                    client.initiator.stop(True)
                client.initiator = None
        gc.collect()
        vp.kill()
