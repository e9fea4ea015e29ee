"""service_failure: signal a process (SIGKILL, or SIGSTOP resumed by a dead-man helper).

The credits commit process is found as a child of this process whose command line runs
`python -m shieldx.credits.writer.process` (the credits service starts it; the supervisor
restarts it). Chaos may not import credits, so the module is named here as a string.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")
COMMIT_MODULE = "shieldx.credits.writer.process"


class ProcessNotFound(LookupError):
    """The process a fault targets does not exist (the message says which)."""


def children(parent: int) -> list[tuple[int, str]]:
    """(pid, command line) of PARENT's live children, read from /proc."""
    found = []
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
        except OSError:
            continue  # exited while we looked
        # The command name in field 2 may hold spaces and parentheses: split after its end.
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[1]) == parent and fields[0] != "Z":
            found.append((int(entry.name), cmdline))
    return found


def commit_process_pid() -> int:
    """The pid of this process's credits commit process."""
    for pid, cmdline in children(os.getpid()):
        if COMMIT_MODULE in cmdline.split():
            return pid
    raise ProcessNotFound(
        "no credits commit process runs under this server (credits.commit_process may be "
        "false, or the credits service is not served here)"
    )


def resolve(target: str, pid: int) -> int:
    """The pid a process fault acts on: 'credits-commit' or an explicit pid."""
    if target == "credits-commit":
        return commit_process_pid()
    if target not in ("", "pid"):
        raise ProcessNotFound(f"unknown process target {target!r}: use 'credits-commit' or a pid")
    if pid <= 1 or pid == os.getpid():
        raise ProcessNotFound(f"refusing to signal pid {pid} (init or this server itself)")
    if not (PROC / str(pid)).exists():
        raise ProcessNotFound(f"no process with pid {pid}")
    return pid


@dataclass
class StoppedProcess:
    """A process held by SIGSTOP; a detached helper sends SIGCONT when the TTL runs out."""

    pid: int
    helper: subprocess.Popen[bytes]

    def resume(self) -> None:
        """Send SIGCONT now and retire the helper."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGCONT)
        with contextlib.suppress(ProcessLookupError):
            self.helper.kill()
        self.helper.wait(5)


def kill(pid: int) -> None:
    """SIGKILL PID (its supervisor, if any, is what the experiment then watches)."""
    os.kill(pid, signal.SIGKILL)


def stop(pid: int, ttl_s: float) -> StoppedProcess:
    """SIGSTOP PID; it is resumed after TTL_S even if this process dies meanwhile."""
    # Own session: the helper outlives a SIGKILL of this server, which is the point.
    helper = subprocess.Popen(
        ["/bin/sh", "-c", f"sleep {ttl_s:.3f}; kill -CONT {pid}"], start_new_session=True
    )
    os.kill(pid, signal.SIGSTOP)
    return StoppedProcess(pid, helper)
