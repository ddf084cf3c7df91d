"""Exceptions of the FIX gateway.

Following h11: a fault of the peer raises :class:`RemoteProtocolError` (the session turns it into a
Reject(3) or a Logout); a misuse of the API by our own code raises :class:`LocalProtocolError`.
"""

from __future__ import annotations


class FixError(Exception):
    """Base class of the gateway's exceptions."""


class RemoteProtocolError(FixError):
    """The counterparty broke the FIX protocol.

    Attributes:
        reason: SessionRejectReason(373) to answer with, or None when no Reject applies.
        ref_tag: RefTagID(371) of the offending tag, or None.
    """

    def __init__(self, text: str, reason: int | None = None, ref_tag: int | None = None) -> None:
        super().__init__(text)
        self.text = text
        self.reason = reason
        self.ref_tag = ref_tag


class LocalProtocolError(FixError):
    """Our own code used the session API wrongly (e.g. sending while disconnected)."""


class ConfigError(FixError):
    """sessions.cfg is invalid; the message names file, line and key."""
