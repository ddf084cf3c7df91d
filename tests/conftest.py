"""Shared fixtures. Service fixtures (PostgreSQL, Mosquitto) skip with a reason on a
developer machine without the service, and fail when CI=true (support.services).

The helpers shared by the suites live in the package ``support`` (tests/support/), made
importable here: the test directories are not packages and pytest runs with
--import-mode=importlib, so tests and conftests import ``support.*``, never each other.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from support.pg import fresh_database


@pytest.fixture(scope="session")
def fix44_xml() -> Path:
    """The FIX 4.4 data dictionary of QuickFIX, for the QuickFIX initiators."""
    from support.qfclient import fetch_fix44  # imports the QuickFIX binding: only if used

    return fetch_fix44()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """The URL of a fresh, empty database: a SQLite file under tmp_path, or a new database
    ``venue_test_<random>`` on the PostgreSQL server of VENUE_TEST_PG_URL, dropped after
    the test. PostgreSQL unreachable: skip, or fail when CI=true."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path}/venue.db"
        return
    async with fresh_database("venue_test_") as url:
        yield url
