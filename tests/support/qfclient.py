"""Real QuickFIX initiators (the C++ engine through its Python binding) for the tests.

The clients validate every message the venue sends against the FIX 4.4 data dictionary that
ships with QuickFIX (spec/FIX44.xml of the quickfix source package, fetched from PyPI once
and cached, see ``fetch_fix44``), so a message a stock engine would reject fails the test.

QuickFIX keeps a process-wide session registry: every suite uses its own venue and client
CompIDs. QuickFIX callbacks run on its own threads: results are handed over with queues and
events, awaited from the event loop with ``asyncio.to_thread``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import gc
import os
import queue
import subprocess
import sys
import tarfile
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import quickfix as fix

from fix_gateway.codec import HEADER_TAGS

WAIT = 10.0
# The C++ sessions hold references to the application and the factories: those must outlive
# the initiator (the binding crashes if an application dies before its initiator).
_ALIVE: list[object] = []
_CACHE = Path(os.environ.get("VENUE_TEST_CACHE", Path.home() / ".cache" / "fix-venue"))


def fetch_fix44() -> Path:
    """spec/FIX44.xml from the quickfix source distribution on PyPI (cached)."""
    target = _CACHE / "FIX44.xml"
    if target.exists():
        return target
    _CACHE.mkdir(parents=True, exist_ok=True)
    download = _CACHE / "sdist"
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:",
         "quickfix==1.15.1", "-d", str(download)],
        check=True,
        timeout=300,
    )
    archive = next(download.glob("quickfix-*.tar.gz"))
    with tarfile.open(archive) as tar:
        member = next(m for m in tar.getmembers() if m.name.endswith("spec/FIX44.xml"))
        extracted = tar.extractfile(member)
        assert extracted is not None
        target.write_bytes(extracted.read())
    return target


def fields_of(message: fix.Message) -> dict[int, str]:
    """Tag -> value of a received message (first occurrence of each tag)."""
    out: dict[int, str] = {}
    for part in message.toString().split("\x01"):
        if "=" in part:
            tag, value = part.split("=", 1)
            out.setdefault(int(tag), value)
    return out


def piped(message: fix.Message) -> str:
    """The raw message with ``|`` for SOH."""
    return str(message.toString()).replace("\x01", "|")


def now_utc() -> str:
    """A FIX UTCTimestamp (milliseconds) for TransactTime."""
    return dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H:%M:%S.%f")[:-3]


class ClientApp(fix.Application):  # type: ignore[misc]
    """Hands what arrives to the test: ``app``/``admin`` queues of decoded messages (as
    ``decode`` makes them, tag -> value by default), plus ``received``/``admin_log`` lists of
    everything and a count of logons."""

    def __init__(self, decode: Callable[[fix.Message], Any] = fields_of) -> None:
        super().__init__()
        self.decode = decode
        self.logged_on = threading.Event()
        self.logged_out = threading.Event()
        self.logons = 0
        self.app: queue.Queue[Any] = queue.Queue()
        self.admin: queue.Queue[Any] = queue.Queue()
        self.session_id: fix.SessionID | None = None
        self.lock = threading.Lock()
        self.received: list[Any] = []
        self.admin_log: list[Any] = []

    def onCreate(self, sessionID: fix.SessionID) -> None:  # noqa: N802, N803
        self.session_id = sessionID

    def onLogon(self, sessionID: fix.SessionID) -> None:  # noqa: N802, N803
        self.logons += 1
        self.logged_out.clear()
        self.logged_on.set()

    def onLogout(self, sessionID: fix.SessionID) -> None:  # noqa: N802, N803
        self.logged_on.clear()
        self.logged_out.set()

    def toAdmin(self, message: fix.Message, sessionID: fix.SessionID) -> None:  # noqa: N802, N803
        return None

    def fromAdmin(self, message: fix.Message, sessionID: fix.SessionID) -> None:  # noqa: N802, N803
        decoded = self.decode(message)
        self.admin.put(decoded)
        with self.lock:
            self.admin_log.append(decoded)

    def toApp(self, message: fix.Message, sessionID: fix.SessionID) -> None:  # noqa: N802, N803
        return None

    def fromApp(self, message: fix.Message, sessionID: fix.SessionID) -> None:  # noqa: N802, N803
        decoded = self.decode(message)
        with self.lock:
            self.received.append(decoded)
        self.app.put(decoded)


class Client:
    """One QuickFIX initiator session to ``venue_id`` at 127.0.0.1:``port``, driven from the
    test's event loop. Its config, file store and logs live under ``root``.

    ``dictionary``: the data dictionary to validate with (None: no validation).
    ``settings``: more [DEFAULT] settings (e.g. LogonTimeout, ResetOnLogon).
    ``force_stop``: stop the initiator without waiting for the logout exchange.
    """

    def __init__(
        self,
        comp_id: str,
        port: int,
        root: Path,
        dictionary: Path | None,
        venue_id: str,
        *,
        settings: Mapping[str, str] | None = None,
        force_stop: bool = False,
        decode: Callable[[fix.Message], Any] = fields_of,
    ) -> None:
        self.comp_id = comp_id
        self.venue_id = venue_id
        self.force_stop = force_stop
        if dictionary is None:
            validation = "UseDataDictionary=N\n"
        else:
            validation = (f"UseDataDictionary=Y\nDataDictionary={dictionary}\n"
                          "ValidateUserDefinedFields=Y\n")
        extra = "".join(f"{key}={value}\n" for key, value in (settings or {}).items())
        cfg = root / f"{comp_id}.cfg"
        cfg.write_text(
            f"""\
[DEFAULT]
ConnectionType=initiator
ReconnectInterval=1
FileStorePath={root / "qf-store"}
FileLogPath={root / "qf-log"}
StartTime=00:00:00
EndTime=00:00:00
{validation}HeartBtInt=1
SocketConnectHost=127.0.0.1
SocketConnectPort={port}
{extra}[SESSION]
BeginString=FIX.4.4
SenderCompID={comp_id}
TargetCompID={venue_id}
"""
        )
        self.settings = fix.SessionSettings(str(cfg))
        self.application = ClientApp(decode)
        self.store = fix.FileStoreFactory(self.settings)
        self.logs = fix.FileLogFactory(self.settings)
        self.initiator: Any = fix.SocketInitiator(
            self.application, self.store, self.settings, self.logs
        )
        _ALIVE.extend([self.application, self.store, self.logs, self.settings])
        self._next_id = 0

    @property
    def session(self) -> Any:
        return fix.Session.lookupSession(self.application.session_id)

    def begin(self) -> None:
        """Start the initiator (it connects and logs on in the background)."""
        self.application.logged_on.clear()
        self.initiator.start()

    async def start(self) -> None:
        self.begin()
        await self.wait_logon()

    async def wait_logon(self, timeout: float = WAIT) -> None:
        ok = await asyncio.to_thread(self.application.logged_on.wait, timeout)
        assert ok, f"{self.comp_id} did not log on"

    async def wait_logout(self, timeout: float = WAIT) -> None:
        ok = await asyncio.to_thread(self.application.logged_out.wait, timeout)
        assert ok, f"{self.comp_id} did not see a logout"

    async def stop(self) -> None:
        if self.initiator is not None:
            await asyncio.to_thread(self.initiator.stop, self.force_stop)

    async def close(self) -> None:
        """Stop, then destroy the initiator (first) so that its SessionID leaves QuickFIX's
        registry; the application and factories it references stay alive in ``_ALIVE``."""
        await self.stop()
        self.initiator = None
        gc.collect()

    def new_id(self, prefix: str = "C") -> str:
        self._next_id += 1
        return f"{prefix}{self._next_id}"

    def send(self, msg_type: str, fields: list[tuple[int, str]]) -> None:
        message = fix.Message()
        message.getHeader().setField(fix.MsgType(msg_type))
        for tag, value in fields:  # a header tag (PossResend 97 ...) goes in the header
            part = message.getHeader() if tag in HEADER_TAGS else message
            part.setField(fix.StringField(tag, value))
        assert fix.Session.sendToTarget(message, self.application.session_id)

    def order(self, cl_ord_id: str, symbol: str, side: str, qty: int | str, price: str | None,
              *, ord_type: str = "2", extra: list[tuple[int, str]] | None = None) -> None:
        fields = [(11, cl_ord_id), (55, symbol), (54, side), (60, now_utc()), (38, str(qty)),
                  (40, ord_type)]
        if price is not None:
            fields.append((44, price))
        self.send("D", fields + (extra or []))

    async def next_app(self, timeout: float = WAIT) -> Any:
        try:
            return await asyncio.to_thread(self.application.app.get, True, timeout)
        except queue.Empty:
            raise AssertionError(f"{self.comp_id}: no application message in {timeout}s") from None

    async def expect_none(self, wait: float = 0.5) -> None:
        await asyncio.sleep(wait)
        assert self.application.app.empty(), self.application.app.get_nowait()

    async def next_admin(self, msg_type: str, timeout: float = WAIT) -> dict[int, str]:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                raise AssertionError(f"{self.comp_id}: no admin message 35={msg_type}")
            try:
                msg = await asyncio.to_thread(self.application.admin.get, True, left)
            except queue.Empty:
                continue
            if msg.get(35) == msg_type:
                return msg  # type: ignore[no-any-return]
