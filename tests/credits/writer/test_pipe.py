"""The commit process against a database server that never answers."""

from __future__ import annotations

import asyncio
import os
import socket

import pytest

from shieldx.credits.store.records import StoreUnavailable
from shieldx.credits.writer.pipe import ProcessCommitter


def test_a_commit_process_that_cannot_connect_is_given_up_on() -> None:
    # A listener that completes TCP handshakes (the kernel's backlog) but never speaks: what
    # a hung or firewalled PostgreSQL looks like to a client.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        config = {
            "backend": "postgresql",
            "target": f"postgresql://nobody@127.0.0.1:{port}/ledger",
            "synchronous": "",
            "busy_timeout_ms": 0,
            "project_interval": 0.05,
            "project_chunk": 1000,
            "start_timeout": 1,
            "connect_timeout": 60,
        }

        async def scenario() -> int:
            committer = ProcessCommitter(config, done=lambda b: None, projected=lambda p: None)
            with pytest.raises(StoreUnavailable, match="within 1 s"):
                await asyncio.wait_for(committer.start(), 30)
            assert not committer.running
            assert committer._transport is not None
            return committer._transport.get_pid()

        pid = asyncio.run(scenario())
    with pytest.raises(ProcessLookupError):  # killed and reaped, not left connecting
        os.kill(pid, 0)
