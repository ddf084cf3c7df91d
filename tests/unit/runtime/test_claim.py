"""One venue per store: the claim on a SQLite file."""

from __future__ import annotations

from pathlib import Path

import pytest

from venue.claim import ClaimError, VenueClaim


def test_a_second_claim_on_the_same_file_is_refused_whatever_link_names_it(
    tmp_path: Path,
) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    real = tmp_path / "a" / "venue.db"
    real.touch()
    (tmp_path / "b" / "venue.db").symlink_to(real)
    first = VenueClaim(f"sqlite+aiosqlite:///{real}", None)
    first.take()
    try:
        for url in (f"sqlite+aiosqlite:///{real}", f"sqlite+aiosqlite:///{tmp_path}/b/venue.db",
                    f"sqlite+aiosqlite:///{tmp_path}/b/../a/venue.db"):
            with pytest.raises(ClaimError, match="another venue is already running"):
                VenueClaim(url, None).take()
    finally:
        first.release()
    again = VenueClaim(f"sqlite+aiosqlite:///{tmp_path}/b/venue.db", None)
    again.take()  # released: free again
    again.release()
