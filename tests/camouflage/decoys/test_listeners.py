"""Decoy listeners from the settings: caps that only tighten, a clear error for a taken port."""

from __future__ import annotations

import asyncio
import socket

import pytest

from shieldx.camouflage.decoys import DecoyOptions, load_template
from shieldx.camouflage.decoys.dialects import build_dialect
from shieldx.camouflage.decoys.listeners import open_decoy
from shieldx.camouflage.decoys.server import tightened
from shieldx.camouflage.maze.markers import MazeKeys
from shieldx.camouflage.settings import CamouflageSettings, DecoySpec


def test_caps_tighten_the_templates_limits_and_never_loosen_them() -> None:
    nginx = build_dialect(load_template("nginx-1.22.1-debian"), server_name="x", port=80).limits
    capped = tightened(
        nginx,
        DecoyOptions(
            max_request_line=1024, max_header_count=20, max_body=10**9, max_header_line=None
        ),
    )
    assert capped.request_line == 1024  # 8192 tightened
    assert capped.header_count == 20  # nginx counts none: the cap applies
    assert capped.body == nginx.body  # 1 MiB is already below the cap
    assert capped.header_line == nginx.header_line
    assert tightened(nginx, DecoyOptions()) == nginx


def test_a_taken_port_is_a_clear_error() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        spec = DecoySpec(name="web", template="iis-10.0", port=port)

        async def attempt() -> None:
            class NoMaze:
                keys = MazeKeys(b"k" * 32)
                anchor = 0.0

                def routes(self) -> tuple[()]:
                    return ()

            await open_decoy(
                spec,
                settings=CamouflageSettings(),
                default_host="127.0.0.1",
                site=NoMaze(),  # type: ignore[arg-type]
                observer=lambda exchange: None,
            )

        with pytest.raises(RuntimeError, match=rf"'web': cannot listen on 127.0.0.1:{port}"):
            asyncio.run(attempt())
