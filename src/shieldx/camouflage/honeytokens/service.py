"""Planting honeytokens per session, and hearing when one is used anywhere on the platform.

Both go through the platform's registry (``ctx.honeytokens``), never through another
service's code: ``HoneytokenPlanter`` plants each credential a file shows (only its SHA-256
is stored, with the decoy and, for maze files, the session); ``HoneytokenWatcher`` hears uses recorded in
this process on the bus (topic ``honeytoken.used``) and those recorded by other processes by
polling ``uses_since(cursor)``, and reports each use once.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import OrderedDict
from collections.abc import Callable, Collection, Mapping
from datetime import datetime
from typing import Any

import anyio.to_thread
import structlog

from shieldx.camouflage.honeytokens import tokens as make
from shieldx.camouflage.sessions.tracker import LiveSession
from shieldx.platform.bus import EventBus
from shieldx.platform.honeytokens import USED_TOPIC, HoneytokenRegistry, HoneytokenUse
from shieldx.platform.honeytokens import token_hash as make_hash

log = structlog.get_logger("shieldx.camouflage")

# (kind, value, token id)
Planted = tuple[str, str, str]
OnPlanted = Callable[[LiveSession, list[Planted], str], None]


class HoneytokenPlanter:
    """Plants the credentials a file shows and notes which session saw which token.

    Values come from a seed (tokens.seeded_tokens), so a file is the same bytes each time it
    is served. A bait file's seed is per decoy and path: its tokens are planted without a
    session (``shared``) and every session that fetches it is linked to them through
    ``on_planted`` (once per session and token). A maze file's seed includes the session's
    marker: its tokens are planted with that session. Kinds switched off in the settings are
    written into the file but not planted.
    """

    def __init__(
        self,
        registry: HoneytokenRegistry,
        *,
        kinds: Collection[str],
        on_planted: OnPlanted,
        issuer: str | None = None,
        cache_size: int = 10_000,
    ) -> None:
        self.registry = registry
        self.kinds = frozenset(kinds)
        self.on_planted = on_planted
        self.issuer = issuer
        self._ids: OrderedDict[str, str] = OrderedDict()
        self._cache_size = cache_size

    def values(
        self, seed: bytes, wanted: Collection[str], *, audience: str, now: float
    ) -> dict[str, str]:
        """The token values a file with SEED shows (pure: nothing planted)."""
        issuer = self.issuer or f"https://auth.{audience}"
        return make.seeded_tokens(
            seed, tuple(wanted), issuer=issuer, audience=f"https://{audience}", now=now
        )

    def _plant_all(self, fresh: list[tuple[str, str]], owner: str | None, decoy: str) -> list[str]:
        return [
            self.registry.plant(token=value, kind=kind, session_id=owner, decoy=decoy)
            for kind, value in fresh
        ]

    async def show(
        self,
        session: LiveSession,
        values: Mapping[str, str],
        *,
        path: str,
        shared: bool,
    ) -> None:
        """Plant VALUES (once) and link the ones SESSION has not seen yet to it."""
        plantable = [
            (kind, value)
            for kind, value in values.items()
            if (kind if kind != "cloud_secret" else "cloud_key") in self.kinds
        ]
        unknown = [(k, v) for k, v in plantable if make_hash(v) not in self._ids]
        if unknown:
            owner = None if shared else session.id
            ids = await anyio.to_thread.run_sync(self._plant_all, unknown, owner, session.decoy)
            for (_, value), token_id in zip(unknown, ids, strict=True):
                self._remember(make_hash(value), token_id)
        seen: list[Planted] = []
        for kind, value in plantable:
            token_id = self._ids.get(make_hash(value), "")
            key = f"{kind}@{path}"
            if token_id and key not in session.tokens:
                session.tokens[key] = (value, token_id)
                seen.append((kind, value, token_id))
        if seen:
            session.honeytokens_taken += len(seen)
            self.on_planted(session, seen, path)

    def _remember(self, digest: str, token_id: str) -> None:
        self._ids[digest] = token_id
        self._ids.move_to_end(digest)
        while len(self._ids) > self._cache_size:
            self._ids.popitem(last=False)


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
