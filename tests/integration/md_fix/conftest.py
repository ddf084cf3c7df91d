"""Market data over FIX: an in-process venue publishing to the shared Mosquitto, real
QuickFIX initiators (support.qfclient) trading."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from support.procs import sessions_cfg, write_venue_files
from support.services import mqtt_broker_address

VENUE_ID = "MDFX"
INSTRUMENTS = """\
symbol,tick_size,lot_size,min_qty,max_qty,price_band_pct,reference_price,status,description
MDX,0.01,1,1,100000,,,open,md over fix
"""
SESSIONS = sessions_cfg(VENUE_ID, 0, """\
[SESSION]
TargetCompID=MD1
Account=ACC-1
[SESSION]
TargetCompID=MD2
Account=ACC-2
""")


@pytest.fixture
def broker() -> tuple[str, int]:
    return mqtt_broker_address()


@pytest.fixture
def md_prefix() -> str:
    return f"mdfix-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def md_files(tmp_path: Path) -> Path:
    return write_venue_files(tmp_path, INSTRUMENTS, SESSIONS)
