"""External services (PostgreSQL, Mosquitto, ...): a test that needs one that is missing is
skipped with a reason on a developer machine, and fails when CI=true."""

from __future__ import annotations

import os
import socket

import pytest

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def service_unavailable(reason: str) -> None:
    """Skip the test, or fail it under CI, where every service must be present."""
    if IN_CI:
        pytest.fail(f"service needed in CI is unavailable: {reason}")
    pytest.skip(reason)


def reachable(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def mqtt_broker_address() -> tuple[str, int]:
    """The shared broker (VENUE_TEST_MQTT_HOST / VENUE_TEST_MQTT_PORT, default
    127.0.0.1:1883); unreachable: skip, or fail when CI=true."""
    host = os.environ.get("VENUE_TEST_MQTT_HOST", "127.0.0.1")
    port = int(os.environ.get("VENUE_TEST_MQTT_PORT", "1883"))
    if not reachable(host, port):
        service_unavailable(f"no MQTT broker at {host}:{port} (set VENUE_TEST_MQTT_HOST/PORT)")
    return host, port
