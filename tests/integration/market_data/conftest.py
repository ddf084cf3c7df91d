"""Fixtures for market data tests against a real Mosquitto.

``mqtt_broker`` is the shared broker (VENUE_TEST_MQTT_HOST / VENUE_TEST_MQTT_PORT, default
127.0.0.1:1883): skipped with a reason when unreachable, a failure when CI=true.
``private_broker`` starts a mosquitto of the test's own on a free port, which the test may
kill and restart (same port).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from support.procs import free_port
from support.services import mqtt_broker_address, reachable, service_unavailable

MOSQUITTO = os.environ.get("VENUE_TEST_MOSQUITTO", "/usr/sbin/mosquitto")


@dataclass
class Broker:
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"


@pytest.fixture
def mqtt_broker() -> Broker:
    return Broker(*mqtt_broker_address())


@pytest.fixture
def prefix() -> str:
    """A topic prefix no other test uses."""
    return f"test-{uuid.uuid4().hex[:12]}"


class PrivateBroker(Broker):
    """A mosquitto process owned by one test."""

    def __init__(self, port: int, workdir: Path) -> None:
        super().__init__("127.0.0.1", port)
        self._conf = workdir / "mosquitto.conf"
        self._conf.write_text(
            f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
        )
        self._log = workdir / "mosquitto.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self._log.open("ab") as log:
            self.proc = subprocess.Popen(
                [MOSQUITTO, "-c", str(self._conf)], stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + 10
        while not reachable(self.host, self.port, 0.2):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"mosquitto did not start: {self._log.read_text()}")
            time.sleep(0.05)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        self.proc = None


@pytest.fixture
def private_broker(tmp_path: Path) -> Iterator[PrivateBroker]:
    if not (os.path.exists(MOSQUITTO) or shutil.which(MOSQUITTO)):
        service_unavailable(f"mosquitto binary not found at {MOSQUITTO}")
    broker = PrivateBroker(free_port(), tmp_path)
    broker.start()
    try:
        yield broker
    finally:
        broker.kill()
