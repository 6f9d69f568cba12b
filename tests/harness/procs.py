"""Small /proc and socket helpers shared by the harness (Linux only, no psutil)."""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import socket
import time
from collections.abc import Iterable

__all__ = [
    "free_port",
    "port_is_free",
    "pid_alive",
    "proc_cmdline",
    "proc_ppid",
    "proc_pgid",
    "child_pids",
    "descendant_pids",
    "group_pids",
    "wait_pids_gone",
    "signal_pids",
]


def free_port(host: str = "127.0.0.1", exclude: Iterable[int] = ()) -> int:
    """Return a TCP port that nobody listens on right now.

    The kernel picks the port; there is an unavoidable window between closing
    our probe socket and the real server binding it, so callers that can
    retry on "address in use" should do so.
    """
    excluded = set(exclude)
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((host, 0))
            port: int = sock.getsockname()[1]
        if port not in excluded:
            return port
    raise RuntimeError("could not find a free TCP port")


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _read_stat(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8", errors="replace") as fh:
            raw = fh.read()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # The command name is in parentheses and may itself contain spaces or
    # parentheses, so split after the *last* closing parenthesis.
    end = raw.rfind(")")
    if end < 0:
        return None
    return raw[end + 2:].split()


def pid_alive(pid: int) -> bool:
    """True if ``pid`` exists and is not a zombie.

    Processes we do not parent (e.g. the postmaster, re-parented to PID 1
    after pg_ctl exits) can linger as zombies when PID 1 does not reap; for
    our purposes a zombie is dead.
    """
    fields = _read_stat(pid)
    if fields is None:
        return False
    return fields[0] not in ("Z", "X")


def proc_ppid(pid: int) -> int | None:
    fields = _read_stat(pid)
    return int(fields[1]) if fields else None


def proc_pgid(pid: int) -> int | None:
    fields = _read_stat(pid)
    return int(fields[2]) if fields else None


def proc_cmdline(pid: int) -> list[str]:
    """argv of ``pid`` as the process currently shows it ([] if gone).

    setproctitle() may rewrite argv into a single space-separated string; we
    return whatever the kernel reports, split on NUL.
    """
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            raw = fh.read()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return []
    return [part.decode("utf-8", "replace") for part in raw.split(b"\0") if part]


def _all_pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def child_pids(pid: int) -> list[int]:
    """Live direct children of ``pid``."""
    result = []
    for candidate in _all_pids():
        fields = _read_stat(candidate)
        if fields and int(fields[1]) == pid and fields[0] not in ("Z", "X"):
            result.append(candidate)
    return sorted(result)


def descendant_pids(pid: int) -> list[int]:
    """Live children, grandchildren, ... of ``pid`` (one /proc scan)."""
    parent_of: dict[int, int] = {}
    for candidate in _all_pids():
        fields = _read_stat(candidate)
        if fields and fields[0] not in ("Z", "X"):
            parent_of[candidate] = int(fields[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parent_of.items() if parent in frontier} - found
        found |= frontier
    return sorted(found)


def group_pids(pgid: int) -> list[int]:
    """Live processes whose process group is ``pgid``."""
    result = []
    for candidate in _all_pids():
        fields = _read_stat(candidate)
        if fields and int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            result.append(candidate)
    return sorted(result)


def wait_pids_gone(pids: Iterable[int], timeout: float) -> list[int]:
    """Wait until none of ``pids`` is alive; return the survivors."""
    remaining = [pid for pid in pids if pid_alive(pid)]
    deadline = time.monotonic() + timeout
    while remaining and time.monotonic() < deadline:
        time.sleep(0.05)
        remaining = [pid for pid in remaining if pid_alive(pid)]
    return remaining


def signal_pids(pids: Iterable[int], sig: signal.Signals) -> None:
    """Send ``sig`` to each pid, ignoring the ones that already vanished."""
    for pid in pids:
        try:
            os.kill(pid, sig)
        except OSError as exc:
            if exc.errno != errno.ESRCH:
                raise


def _killpg(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, sig)
