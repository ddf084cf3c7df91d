"""The venue as a subprocess (`venue run`), and the files it is started with."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from venue.admin import AdminError, call


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def venue_cmd(*args: str) -> list[str]:
    """The `venue` command line, run by this interpreter."""
    return [sys.executable, "-m", "venue.cli", *args]


def venue_run_cmd(config: Path, db_url: str, admin_socket: Path) -> list[str]:
    """`venue run` on ``config`` and the store ``db_url``, without MQTT."""
    return venue_cmd("run", "--config", str(config), "--db", db_url, "--mqtt", "none",
                     "--admin-socket", str(admin_socket))


def sessions_cfg(
    venue_id: str, port: int = 0, sessions: Iterable[str] | str = (), *, heartbeat: int = 1
) -> str:
    """A venue sessions.cfg: the [DEFAULT] section (SenderCompID ``venue_id``, listening on
    127.0.0.1:``port``, instruments.csv next to it), then either the text ``sessions`` as
    given or one plain [SESSION] a TargetCompID in ``sessions``."""
    if not isinstance(sessions, str):
        sessions = "".join(f"[SESSION]\nTargetCompID={c}\n" for c in sessions)
    return f"""\
[DEFAULT]
SenderCompID={venue_id}
SocketAcceptHost=127.0.0.1
SocketAcceptPort={port}
HeartBtInt={heartbeat}
InstrumentsFile=instruments.csv
{sessions}"""


def write_venue_files(root: Path, instruments: str, sessions: str) -> Path:
    """instruments.csv and sessions.cfg under ``root``; returns the sessions.cfg path."""
    (root / "instruments.csv").write_text(instruments)
    cfg = root / "sessions.cfg"
    cfg.write_text(sessions)
    return cfg


def start_venue(cmd: list[str], log: Path, cwd: Path) -> subprocess.Popen[bytes]:
    """Start ``cmd`` with stdout and stderr into the file ``log``."""
    with log.open("wb") as out:
        return subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=cwd)


def wait_admin(
    proc: subprocess.Popen[bytes], admin_socket: Path, timeout: float,
    output: Callable[[], str],
) -> None:
    """Wait until the venue answers `status` on its admin socket; fail with its ``output()``
    if it exits first or does not answer within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"venue exited {proc.returncode}: {output()}")
        with contextlib.suppress(AdminError, OSError):
            call(admin_socket, "status", timeout=1.0)
            return
        time.sleep(0.05)
    raise AssertionError(f"venue admin socket did not answer: {output()}")


def kill(proc: subprocess.Popen[bytes] | None, timeout: float = 5) -> None:
    """SIGKILL ``proc`` if it still runs, and reap it."""
    if proc is not None and proc.poll() is None:
        proc.kill()
        proc.wait(timeout)


def terminate(proc: subprocess.Popen[bytes], timeout: float = 15) -> None:
    """SIGTERM ``proc`` if it still runs; SIGKILL it if it has not exited after ``timeout``."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            kill(proc)
