"""The local admin channel between the ``venue`` CLI and a running venue.

A Unix domain socket, owner-only (mode 0600) by default, so nothing is reachable from
another host or another local user. The protocol is one JSON object per line each way:

    request:  {"cmd": "sessions.list", "args": {...}}
    response: {"ok": true, "result": ...}  or  {"ok": false, "error": "why"}

Every request is logged (who: the peer's uid and pid, what, when) before it is executed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import struct
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson

log = logging.getLogger("venue.admin")

Handler = Callable[[dict[str, Any]], Awaitable[Any]]
_MAX_LINE = 1 << 20


class AdminError(Exception):
    """The venue refused an admin request; the message says why."""


class VenueNotRunningError(AdminError):
    """No venue answers on the admin socket."""


def _peer(writer: asyncio.StreamWriter) -> str:
    sock = writer.get_extra_info("socket")
    if sock is None or not hasattr(socket, "SO_PEERCRED"):
        return "unknown"
    try:
        creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    except OSError:
        return "unknown"
    pid, uid, _gid = struct.unpack("3i", creds)
    return f"uid={uid} pid={pid}"


class AdminServer:
    """Serves admin requests on a Unix socket with the given handlers."""

    def __init__(self, path: Path, handlers: dict[str, Handler]) -> None:
        self.path = path
        self._handlers = handlers
        self._server: asyncio.AbstractServer | None = None

    async def start(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.exists():
            if answers(self.path):
                raise AdminError(f"another venue is already running (admin socket {self.path})")
            self.path.unlink()
        old_umask = os.umask(0o177)
        try:
            self._server = await asyncio.start_unix_server(
                self._serve, path=str(self.path), limit=_MAX_LINE
            )
        finally:
            os.umask(old_umask)
        os.chmod(self.path, 0o600)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 1.0)
            self._server = None
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        who = _peer(writer)
        try:
            while line := await reader.readline():
                response = await self._answer(line, who)
                writer.write(json.dumps(response, default=str).encode() + b"\n")
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            pass
        finally:
            writer.close()

    async def _answer(self, line: bytes, who: str) -> dict[str, Any]:
        try:
            # orjson: it refuses what cannot be stored, e.g. a lone surrogate ("\udc80")
            request = orjson.loads(line)
            cmd = request["cmd"]
            args = request.get("args") or {}
            if not isinstance(cmd, str) or not isinstance(args, dict):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            return {"ok": False, "error": "malformed admin request"}
        handler = self._handlers.get(cmd)
        if handler is None:
            return {"ok": False, "error": f"unknown admin command {cmd!r}"}
        log.info("admin %s by %s: %s", cmd, who, json.dumps(args, default=str))
        try:
            return {"ok": True, "result": await handler(args)}
        except AdminError as exc:
            log.warning("admin %s by %s refused: %s", cmd, who, exc)
            return {"ok": False, "error": str(exc)}
        except Exception as exc:
            log.exception("admin %s by %s failed", cmd, who)
            return {"ok": False, "error": f"internal error: {exc}"}


def answers(path: Path) -> bool:
    """True when a venue is listening on the admin socket ``path``."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(1.0)
        try:
            sock.connect(str(path))
        except OSError:
            return False
    return True


def call(path: Path, cmd: str, timeout: float = 10.0, **args: Any) -> Any:
    """Send one admin request and return its result (blocking; for the CLI)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.connect(str(path))
        except (FileNotFoundError, ConnectionRefusedError) as exc:
            raise VenueNotRunningError(
                f"no venue is running (no answer on {path}); start one with `venue run`"
            ) from exc
        except PermissionError as exc:
            raise AdminError(f"not allowed to use the admin socket {path}") from exc
        sock.sendall(json.dumps({"cmd": cmd, "args": args}).encode() + b"\n")
        buf = b""
        while not buf.endswith(b"\n"):
            chunk = sock.recv(65536)
            if not chunk:
                raise AdminError("the venue closed the admin connection")
            buf += chunk
    response = json.loads(buf)
    if not response.get("ok"):
        raise AdminError(response.get("error", "request failed"))
    return response.get("result")
