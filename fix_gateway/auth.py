"""Password hashes for the ``PasswordHash`` key of sessions.cfg.

Format: ``pbkdf2_sha256$<iterations>$<salt, base64>$<hash, base64>`` (PBKDF2-HMAC-SHA256 from
hashlib, 16-byte random salt).  Make one with::

    python -m fix_gateway.auth            # asks twice with getpass, or reads one line from stdin
    echo 's3cret' | python -m fix_gateway.auth
"""

from __future__ import annotations

import base64
import binascii
import getpass
import hashlib
import hmac
import os
import sys
from typing import Final

ALGORITHM: Final = "pbkdf2_sha256"
DEFAULT_ITERATIONS: Final = 100_000


def hash_password(password: str, *, iterations: int = DEFAULT_ITERATIONS) -> str:
    """Salted PBKDF2-SHA256 hash of ``password`` in the PasswordHash format."""
    salt = os.urandom(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations)
    b64 = base64.b64encode
    return f"{ALGORITHM}${iterations}${b64(salt).decode()}${b64(digest).decode()}"


def _split(stored: str) -> tuple[int, bytes, bytes] | None:
    parts = stored.split("$")
    if len(parts) != 4 or parts[0] != ALGORITHM or not (parts[1].isascii() and parts[1].isdigit()):
        return None
    try:
        salt = base64.b64decode(parts[2], validate=True)
        digest = base64.b64decode(parts[3], validate=True)
    except (binascii.Error, ValueError):
        return None
    if int(parts[1]) < 1 or not salt or not digest:
        return None
    return int(parts[1]), salt, digest


def is_password_hash(stored: str) -> bool:
    """True when ``stored`` is well formed (checked when sessions.cfg is loaded)."""
    return _split(stored) is not None


def verify_password(password: str, stored: str) -> bool:
    """Constant-time check of ``password`` against a hash from :func:`hash_password`."""
    parts = _split(stored)
    if parts is None:
        return False
    iterations, salt, digest = parts
    candidate = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations)
    return hmac.compare_digest(candidate, digest)


def main() -> int:
    """Print the hash of a password read from the terminal (twice) or from stdin."""
    if sys.stdin.isatty():
        pw = getpass.getpass("Password: ")
        if pw != getpass.getpass("Again: "):
            print("passwords differ", file=sys.stderr)
            return 1
    else:
        pw = sys.stdin.readline().rstrip("\r\n")
    if not pw:
        print("empty password", file=sys.stderr)
        return 1
    print(hash_password(pw))
    return 0


if __name__ == "__main__":
    sys.exit(main())
