"""resource_exhaustion: CPU or memory pressure from a bounded helper process.

The helper arms its own SIGALRM with the fault's TTL and caps its address space, so it ends
by itself even if the engine that started it dies; rollback kills it sooner.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from dataclasses import dataclass

# Runs in the helper: argv = kind, seconds, amount (workers for cpu, MiB for memory).
_HELPER = r"""
import multiprocessing, os, resource, signal, sys, time
kind, seconds, amount, duty = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
signal.setitimer(signal.ITIMER_REAL, seconds)  # default SIGALRM action: terminate
def burn():
    while True:
        start = time.monotonic()
        while time.monotonic() - start < 0.01 * duty:
            pass
        time.sleep(0.01 * (1 - duty))
if kind == "cpu":
    for _ in range(amount - 1):
        if os.fork() == 0:
            signal.setitimer(signal.ITIMER_REAL, seconds)
            burn()
    burn()
else:
    limit = (amount + 64) * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    block = bytearray(amount * 1024 * 1024)
    for i in range(0, len(block), 4096):
        block[i] = 1  # touch every page so the memory is really resident
    while True:
        time.sleep(1)
"""


@dataclass
class PressureHelper:
    """A running pressure helper process."""

    process: subprocess.Popen[bytes]

    def stop(self) -> None:
        """Kill the helper and its workers (its own process group)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(5)


def start(kind: str, *, seconds: float, amount: int, duty_percent: float = 100) -> PressureHelper:
    """Start CPU (AMOUNT workers) or memory (AMOUNT MiB) pressure for at most SECONDS."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            _HELPER,
            kind,
            f"{seconds:.3f}",
            str(amount),
            f"{duty_percent / 100}",
        ],
        stdout=subprocess.DEVNULL,
        start_new_session=True,
    )
    return PressureHelper(process)
