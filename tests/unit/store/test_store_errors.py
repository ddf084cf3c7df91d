"""What the store's errors say."""

from __future__ import annotations

from venue.store.errors import describe


def test_an_error_without_text_is_described_by_what_it_is() -> None:
    """A database that stops answering raises a TimeoutError with no message: the log line
    said "database unavailable: " and nothing more."""
    assert describe(TimeoutError()) == "no answer in time (TimeoutError)"
    assert describe(ConnectionResetError()) == "ConnectionResetError"
    assert describe(OSError(28, "No space left on device")) == "[Errno 28] No space left on device"
