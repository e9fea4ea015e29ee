"""The camouflage service: decoy listeners, recording, sessions, maze, honeytokens, bandit.

``CamouflageService`` wires the parts together and owns their lifecycle: ``start`` (from the
component's on_startup, on the serving event loop) loads the decoy secret and the bandit,
starts the writer thread, the webhook sender, the honeytoken watcher, the idle-session sweeper
and one listener per configured decoy; ``stop`` undoes it in the reverse order and writes out
every live session. Everything that touches sessions runs on that one event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import socket
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import anyio.to_thread
import numpy as np
import structlog

from shieldx.camouflage.decoys import DecoyServer, DynamicRequest, load_template
from shieldx.camouflage.decoys.listeners import MazeParts, maze_site, open_decoy
from shieldx.camouflage.decoys.tls import server_context, snakeoil
from shieldx.camouflage.honeytokens.service import HoneytokenPlanter, HoneytokenWatcher, Planted
from shieldx.camouflage.maze.markers import MazeKeys, load_decoy_secret
from shieldx.camouflage.maze.site import CpuBudget, MazeSite, Tarpit
from shieldx.camouflage.metrics import CamouflageMetrics
from shieldx.camouflage.recon import events
from shieldx.camouflage.recon.classify import header_value
from shieldx.camouflage.recon.service import ReconRecorder, RecordingCaps, TrustedProxies
from shieldx.camouflage.recon.sinks import (
    BatchWriter,
    DatabaseSink,
    EventSink,
    ForwardSink,
    JsonlSink,
)
from shieldx.camouflage.recon.webhooks import WebhookSender
from shieldx.camouflage.selection.domain import ThompsonSelector
from shieldx.camouflage.selection.service import DecoySelector
from shieldx.camouflage.sessions.tracker import EngagementThreshold, LiveSession, SessionTracker
from shieldx.camouflage.settings import CamouflageSettings, DecoySpec
from shieldx.camouflage.store import CamouflageStore, session_row
from shieldx.camouflage.synth import Synthesizer
from shieldx.platform.context import PlatformContext
from shieldx.platform.honeytokens import HoneytokenUse

log = structlog.get_logger("shieldx.camouflage")
CURSOR_STATE_KEY = "honeytoken_use_cursor"
#: When this install first started: the maze's and bait files' dates are anchored on it.
ANCHOR_STATE_KEY = "install_anchor"
_MAX_VIEWERS = 16
_MAX_SERVED_LOG = 256


def jsonl_path(ctx: PlatformContext) -> Path:
    """Where the JSON-lines event file goes."""
    configured = ctx.settings.camouflage.recording.jsonl_path
    return configured or ctx.settings.data_dir / "camouflage" / "events.jsonl"


class CamouflageService:
    """Every moving part of the camouflage service, built from the settings."""

    def __init__(
        self,
        ctx: PlatformContext,
        metrics: CamouflageMetrics,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.ctx = ctx
        self.settings: CamouflageSettings = ctx.settings.camouflage
        self.metrics = metrics
        self.clock = clock
        self.store = CamouflageStore(ctx.db)
        s = self.settings
        self.webhook: WebhookSender | None = None
        sinks: list[EventSink] = [DatabaseSink(self.store)]
        if s.recording.jsonl:
            sinks.append(JsonlSink(jsonl_path(ctx)))
        if s.webhook.urls and s.webhook.secret is not None:
            self.webhook = WebhookSender(
                s.webhook.urls,
                s.webhook.secret.get_secret_value().encode(),
                timeout_s=s.webhook.timeout.total_seconds(),
                max_queue=s.webhook.max_queue,
                batch_size=s.webhook.batch_size,
                retries=s.webhook.retries,
                allow_private=s.webhook.allow_private_targets,
            )
            sinks.append(ForwardSink(s.webhook.events, self.webhook.offer))
        if ctx.bus.wanted(events.REQUEST):
            # Recon on the platform bus (the SIEM exporter): decoy requests and closed sessions.
            def publish(chosen: list[dict[str, Any]]) -> None:
                for event in chosen:
                    ctx.bus.publish(event["event"], event)

            sinks.append(ForwardSink((events.REQUEST, events.SESSION_CLOSED), publish))
        self.writer = BatchWriter(
            sinks,
            max_queue=s.recording.max_queue,
            max_batch=s.recording.max_batch,
            flush_interval_s=s.recording.flush_interval.total_seconds(),
        )
        self.stamper = events.Stamper(s.sensor or socket.gethostname())
        self.threshold = EngagementThreshold(
            min_requests=s.sessions.engaged_min_requests,
            min_duration_s=s.sessions.engaged_min_duration.total_seconds(),
            min_maze_depth=s.sessions.engaged_min_maze_depth,
        )
        self.templates = {d.name: d.template for d in s.decoys}
        self.selector: DecoySelector | None = None
        if s.decoys:
            bandit = ThompsonSelector(
                list(self.templates),
                prior_alpha=s.bandit.prior_alpha,
                prior_beta=s.bandit.prior_beta,
                rng=np.random.default_rng(s.bandit.seed),
            )
            self.selector = DecoySelector(
                bandit=bandit,
                templates=self.templates,
                store=self.store,
                writer=self.writer,
                metrics=metrics,
                monte_carlo_samples=s.bandit.monte_carlo_samples,
                monte_carlo_seed=s.bandit.seed or 0,
                cache_size=s.bandit.sticky_cache,
                clock=clock,
            )
        self.tracker = SessionTracker(
            idle_timeout_s=s.sessions.idle_timeout.total_seconds(),
            max_live=s.sessions.max_live,
            max_tracked_paths=s.sessions.max_tracked_paths,
            on_close=self._session_closed,
            claim_assigned=self.selector.claim if self.selector is not None else None,
        )
        self.proxies = TrustedProxies(s.recording.trusted_proxies)
        self.recorder = ReconRecorder(
            tracker=self.tracker,
            writer=self.writer,
            stamper=self.stamper,
            metrics=metrics,
            caps=RecordingCaps(
                max_body=s.recording.max_body_bytes,
                max_headers=s.recording.max_headers,
                max_header_value=s.recording.max_header_value,
                max_path=s.recording.max_path_chars,
            ),
            proxies=self.proxies,
            maze_depth=self.maze_depth,
            clock=clock,
        )
        self.planter = HoneytokenPlanter(
            ctx.honeytokens,
            kinds=s.honeytokens.kinds,
            on_planted=self._planted,
            issuer=s.honeytokens.jwt_issuer,
        )
        # Sessions that fetched each shared (bait-file) token, newest last, for attribution.
        self.viewers: OrderedDict[str, list[str]] = OrderedDict()
        self.watcher = HoneytokenWatcher(
            ctx.honeytokens,
            ctx.bus,
            poll_interval_s=s.honeytokens.poll_interval.total_seconds(),
            on_use=self._honeytoken_used,
            save_cursor=self._save_cursor,
        )
        self.synthesizer = Synthesizer()
        self.sites: dict[str, MazeSite] = {}
        self.decoys: dict[str, DecoyServer] = {}
        self.ports: dict[str, int] = {}
        self.keys: MazeKeys | None = None
        self.anchor = 0.0
        self.loop: asyncio.AbstractEventLoop | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self._budget = CpuBudget(s.maze.cpu_budget)
        self._tarpit = Tarpit(s.maze.tarpit_max_concurrent)
        metrics.watch(
            live_sessions=lambda: len(self.tracker),
            dropped=lambda: self.writer.dropped,
            pending=lambda: self.writer.pending,
        )

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Load state, start the background work, then open the decoy listeners."""
        self.loop = asyncio.get_running_loop()
        s = self.settings
        configured = s.maze.secret.get_secret_value() if s.maze.secret is not None else None
        secret = await anyio.to_thread.run_sync(
            lambda: load_decoy_secret(
                configured=configured, store=self.store, keyring=self.ctx.keyring
            )
        )
        self.keys = MazeKeys(secret)
        self.anchor = float(
            await anyio.to_thread.run_sync(
                self.store.put_state_if_absent, ANCHOR_STATE_KEY, str(int(self.clock()))
            )
        )
        if self.selector is not None:
            await self.selector.load()
        cursor = await anyio.to_thread.run_sync(self.store.get_state, CURSOR_STATE_KEY)
        self.writer.start()
        if self.webhook is not None:
            await self.webhook.start()
        await self.watcher.start(int(cursor or 0))
        self._sweeper = asyncio.create_task(self._sweep_forever(), name="camouflage-sweeper")
        await anyio.to_thread.run_sync(self.store.prepare)
        if s.decoys and s.maze.enabled:
            await anyio.to_thread.run_sync(self._warm_synthesizer)
        try:
            for spec in s.decoys:
                await self._start_decoy(spec)
        except BaseException:
            await self.stop()
            raise
        log.info("camouflage.started", decoys=dict(self.ports))

    def _warm_synthesizer(self) -> None:
        for kind in ("users", "transactions", "traffic"):
            self.synthesizer.generator(kind)

    async def _start_decoy(self, spec: DecoySpec) -> None:
        assert self.keys is not None
        parts = MazeParts(
            keys=self.keys,
            synthesizer=self.synthesizer,
            planter=self.planter,
            resolve_session=self._session_for_dynamic,
            log_generated=self._generated,
            budget=self._budget,
            tarpit=self._tarpit,
            anchor=self.anchor,
        )
        site = maze_site(spec, self.settings, parts)
        tls = None
        if spec.tls:
            cert, key = await anyio.to_thread.run_sync(self._certificate, spec)
            flavor = load_template(spec.template).info.dialect
            tls = server_context(flavor, cert, key)
        server, port = await open_decoy(
            spec,
            settings=self.settings,
            default_host=self.ctx.settings.server.host,
            site=site,
            observer=self.recorder.observe,
            tls=tls,
        )
        self.ports[spec.name] = port
        self.decoys[spec.name] = server
        self.sites[spec.name] = site

    def _certificate(self, spec: DecoySpec) -> tuple[bytes, bytes]:
        """The decoy's certificate and key: made once per install (stored sealed), then kept."""
        name = f"{spec.name}\0{spec.server_name}".encode()
        state_key = "tls:" + hashlib.sha256(name).hexdigest()[:32]
        context = "camouflage.decoy_tls"
        sealed = self.store.get_state(state_key)
        if sealed is None:
            cert, key = snakeoil(spec.server_name, not_before=self.anchor)
            fresh = self.ctx.keyring.encrypt(cert + b"\0" + key, context)
            sealed = self.store.put_state_if_absent(state_key, fresh)
        cert, _, key = self.ctx.keyring.decrypt(sealed, context).partition(b"\0")
        return cert, key

    async def stop(self) -> None:
        """Close the listeners, write out every session and event, stop the background work."""
        for server in self.decoys.values():
            await server.stop()
        self.decoys.clear()
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None
        await self.watcher.stop()
        self.tracker.close_all("shutdown")
        await anyio.to_thread.run_sync(self.writer.stop)
        if self.webhook is not None:
            await self.webhook.stop()
        report = (
            log.warning if self.writer.dropped or any(self.writer.failures.values()) else log.info
        )
        report(
            "camouflage.stopped",
            recorded=self.recorder.recorded,
            dropped=self.writer.dropped,
            sink_failures=self.writer.failures,
            batches=self.writer.batches,
        )

    async def flush(self, timeout_s: float = 30.0) -> bool:
        """Wait until every event queued so far is written (call on the service's loop)."""
        return await anyio.to_thread.run_sync(self.writer.flush, timeout_s)

    def flush_threadsafe(self, timeout_s: float = 30.0) -> bool:
        """flush() from another thread (tests): runs after callbacks already on the loop."""
        assert self.loop is not None
        future = asyncio.run_coroutine_threadsafe(self.flush(timeout_s), self.loop)
        return future.result(timeout_s + 5)

    async def _sweep_forever(self) -> None:
        interval = self.settings.sessions.sweep_interval.total_seconds()
        while True:
            await asyncio.sleep(interval)
            try:
                self.tracker.sweep(self.clock())
            except Exception:
                log.exception("camouflage.sweep_failed")

    # -- callbacks from the parts ----------------------------------------------------------

    def maze_depth(self, decoy: str, path: str) -> int:
        """How deep in the maze a decoy path is (0 outside it)."""
        site = self.sites.get(decoy)
        return site.depth(path) if site is not None else 0

    def _session_for_dynamic(self, request: DynamicRequest, marked: str | None) -> LiveSession:
        headers, _ = self.recorder.cap_headers(request.headers)
        return self.tracker.session_for(
            source_ip=self.proxies.client(request.peer_host, request.headers),
            user_agent=header_value(headers, "user-agent"),
            decoy=request.decoy,
            template=request.template,
            source_port=request.peer_port,
            now=self.clock(),
            session_id=marked,
        )

    def _session_closed(self, session: LiveSession, reason: str) -> None:
        now = self.clock()
        engaged = session.engaged(self.threshold)
        reward = self.selector.session_closed(session, engaged) if self.selector else None
        summary = session.summary()
        fields = {k: v for k, v in summary.items() if k not in ("session_id", "decoy")}
        fields["started"] = events.iso_time(session.started)
        fields["last_seen"] = events.iso_time(session.last_seen)
        fields.update(close_reason=reason, engaged=engaged, reward=reward)
        event = self.stamper.stamp(
            events.SESSION_CLOSED,
            at=now,
            session_id=session.id,
            decoy=session.decoy,
            fields=fields,
        )
        self.writer.submit_event(now, event)
        row = session_row(summary, ended_at=now, reason=reason, engaged=engaged)
        self.writer.submit("sessions", row)
        self.metrics.sessions_closed.labels(reason=reason).inc()

    def _planted(self, session: LiveSession, planted: list[Planted], path: str) -> None:
        now = self.clock()
        for kind, _value, token_id in planted:
            seen = self.viewers.setdefault(token_id, [])
            if session.id not in seen:
                seen.append(session.id)
                del seen[:-_MAX_VIEWERS]
            self.viewers.move_to_end(token_id)
            while len(self.viewers) > 10_000:
                self.viewers.popitem(last=False)
            link = {
                "token_id": token_id,
                "session_id": session.id,
                "decoy": session.decoy,
                "kind": kind,
                "path": path[:512],
                "planted_at": now,
                "uses": 0,
                "last_used_at": None,
            }
            self.writer.submit("honeytoken_links", link)
            event = self.stamper.stamp(
                events.HONEYTOKEN_PLANTED,
                at=now,
                session_id=session.id,
                decoy=session.decoy,
                fields={"token_id": token_id, "kind": kind, "path": path},
            )
            self.writer.submit_event(now, event)
            self.metrics.honeytokens_planted.labels(kind=kind).inc()

    def _honeytoken_used(self, use: HoneytokenUse) -> None:
        # A bait file's token is planted for the decoy, not a session: the sessions that
        # fetched it are the candidates (one in practice; all of them are named).
        seen_by = list(self.viewers.get(use.token_id, []))
        if use.session_id is None and len(seen_by) == 1:
            use = replace(use, session_id=seen_by[0])
        session = self.tracker.get(use.session_id) if use.session_id else None
        if session is not None:
            session.honeytokens_used += 1
        at = use.used_at.timestamp()
        fields: dict[str, Any] = {
            "use_id": use.use_id,
            "token_id": use.token_id,
            "kind": use.kind,
            "location": use.location,
            "source": use.source,
            "session_live": session is not None,
            "seen_by": seen_by,
        }
        if session is not None:
            fields.update(session_source_ip=session.source_ip, user_agent=session.user_agent)
        event = self.stamper.stamp(
            events.HONEYTOKEN_USED, at=at, session_id=use.session_id, decoy=use.decoy, fields=fields
        )
        self.writer.submit_event(at, event)
        if use.session_id:
            self.writer.submit(
                "honeytoken_uses",
                {
                    "token_id": use.token_id,
                    "session_id": use.session_id,
                    "at": at,
                    "closed_session": session is None,
                },
            )
        self.metrics.honeytokens_used.inc()
        log.critical(
            "camouflage.honeytoken.used",
            severity="high",
            session=use.session_id,
            decoy=use.decoy,
            use_id=use.use_id,
            planted_id=use.token_id,
            kind=use.kind,
            location=use.location,
            source=use.source,
        )

    def _save_cursor(self, cursor: int) -> None:
        self.writer.submit("state", (CURSOR_STATE_KEY, str(cursor)))

    def _generated(self, session: LiveSession, path: str, kind: str, seed: int, count: int) -> None:
        if path in session.served or len(session.served) >= _MAX_SERVED_LOG:
            return
        session.served.add(path)
        row = {
            "at": self.clock(),
            "session_id": session.id,
            "decoy": session.decoy,
            "path": path[:512],
            "kind": kind,
            "seed": seed,
            "count": count,
        }
        self.writer.submit("generated", row)
