"""Planting honeytokens per session, and hearing when one is used anywhere on the platform.

Both go through the platform's registry (``ctx.honeytokens``), never through another
service's code: ``HoneytokenPlanter`` plants each credential a session is shown (only its
SHA-256 is stored, with the session and decoy); ``HoneytokenWatcher`` hears uses recorded in
this process on the bus (topic ``honeytoken.used``) and those recorded by other processes by
polling ``uses_since(cursor)``, and reports each use once.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Collection, Mapping
from datetime import datetime
from typing import Any

import anyio.to_thread
import structlog

from shieldx.camouflage.honeytokens import tokens as make
from shieldx.camouflage.sessions.tracker import LiveSession
from shieldx.platform.bus import EventBus
from shieldx.platform.honeytokens import USED_TOPIC, HoneytokenRegistry, HoneytokenUse

log = structlog.get_logger("shieldx.camouflage")

# (kind, value, token id)
Planted = tuple[str, str, str]
OnPlanted = Callable[[LiveSession, list[Planted], str], None]


class HoneytokenPlanter:
    """Gives each session its own credentials, each planted once."""

    def __init__(
        self,
        registry: HoneytokenRegistry,
        signer: make.DecoyTokenSigner,
        *,
        kinds: Collection[str],
        on_planted: OnPlanted,
    ) -> None:
        self.registry = registry
        self.signer = signer
        self.kinds = frozenset(kinds)
        self.on_planted = on_planted

    def _fresh(self, kind: str) -> list[tuple[str, str]]:
        if kind == "api_key":
            return [("api_key", make.api_key())]
        if kind == "jwt":
            return [("jwt", self.signer.token())]
        if kind == "password":
            return [("password", make.password())]
        key_id, secret = make.cloud_key()
        return [("cloud_key", key_id), ("cloud_secret", secret)]

    def _plant_all(self, fresh: list[tuple[str, str]], session: LiveSession) -> list[Planted]:
        return [
            (kind, value, self.registry.plant(
                token=value, kind=kind, session_id=session.id, decoy=session.decoy
            ))
            for kind, value in fresh
        ]  # fmt: skip

    async def tokens_for(
        self, session: LiveSession, wanted: Collection[str], *, path: str
    ) -> dict[str, str]:
        """The session's credentials of the WANTED kinds, planting the ones it has not seen.

        Kinds switched off in the settings get a random look-alike that is not planted.
        """
        fresh: list[tuple[str, str]] = []
        for kind in wanted:
            if kind in self.kinds and kind not in session.tokens:
                fresh += self._fresh(kind)
        if fresh:
            planted = await anyio.to_thread.run_sync(self._plant_all, fresh, session)
            kept = [p for p in planted if p[0] not in session.tokens]
            for kind, value, token_id in kept:
                session.tokens[kind] = (value, token_id)
            session.honeytokens_taken += len(kept)
            self.on_planted(session, kept, path)
        values = {kind: value for kind, (value, _) in session.tokens.items()}
        for kind in wanted:
            if kind not in self.kinds and kind not in values:
                for name, value in self._fresh(kind):
                    values[name] = value
        return values


def _use_from_payload(payload: Mapping[str, Any]) -> HoneytokenUse:
    data = dict(payload)
    data["used_at"] = datetime.fromisoformat(str(data["used_at"]))
    return HoneytokenUse(**data)


class HoneytokenWatcher:
    """Reports each honeytoken use once, whether it arrives on the bus or from the database."""

    def __init__(
        self,
        registry: HoneytokenRegistry,
        bus: EventBus,
        *,
        poll_interval_s: float,
        on_use: Callable[[HoneytokenUse], None],
        save_cursor: Callable[[int], None],
    ) -> None:
        self.registry = registry
        self.bus = bus
        self.poll_interval_s = poll_interval_s
        self.on_use = on_use
        self.save_cursor = save_cursor
        self.cursor = 0
        self._seen: set[int] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._subscribed = False

    async def start(self, cursor: int) -> None:
        """Listen on the bus and start polling after CURSOR (the last use already handled)."""
        self.cursor = cursor
        self._loop = asyncio.get_running_loop()
        if not self._subscribed:
            self.bus.subscribe(USED_TOPIC, self._on_bus)
            self._subscribed = True
        self._task = asyncio.create_task(self._poll_forever(), name="camouflage-honeytokens")

    async def stop(self) -> None:
        """Stop polling (a last poll first) and ignore the bus from now on."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
            with contextlib.suppress(Exception):
                await self.poll()
        self._loop = None

    def _on_bus(self, _topic: str, payload: Mapping[str, Any]) -> None:
        # The registry publishes from whichever loop started it; hop onto ours.
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        use = _use_from_payload(payload)
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._handle(use)
        else:
            loop.call_soon_threadsafe(self._handle, use)

    def _handle(self, use: HoneytokenUse) -> bool:
        # Every use at or below the cursor was handled by the poll that moved it there.
        if use.use_id <= self.cursor or use.use_id in self._seen:
            return False
        self._seen.add(use.use_id)
        self.on_use(use)
        return True

    async def poll(self) -> int:
        """Handle uses recorded after the cursor (by any process); return how many were new."""
        uses = await anyio.to_thread.run_sync(self.registry.uses_since, self.cursor)
        new = sum(1 for use in uses if self._handle(use))
        if uses:
            self.cursor = max(self.cursor, max(u.use_id for u in uses))
            self._seen = {i for i in self._seen if i > self.cursor}
            self.save_cursor(self.cursor)
        return new

    async def _poll_forever(self) -> None:
        while True:
            await asyncio.sleep(self.poll_interval_s)
            try:
                await self.poll()
            except Exception:
                log.exception("camouflage.honeytoken_poll_failed")
