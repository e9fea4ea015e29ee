"""Recording recon: each decoy exchange or sensor report becomes a classified request event.

``ReconRecorder.observe`` is the decoys' exchange observer: it runs on the event loop once per
finished exchange, so it only caps, classifies (cached), updates the session in memory and
queues the event for the writer thread. Sensor reports (POST /v1/camouflage/log) take the same
path through ``record``.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from shieldx.camouflage.decoys import DecoyExchange
from shieldx.camouflage.metrics import CamouflageMetrics
from shieldx.camouflage.recon import events
from shieldx.camouflage.recon.classify import classify_request, header_value
from shieldx.camouflage.recon.fingerprints import ja4h
from shieldx.camouflage.recon.schemas import ReconReport
from shieldx.camouflage.recon.sinks import BatchWriter
from shieldx.camouflage.sessions.tracker import SessionTracker

Headers = tuple[tuple[str, str], ...]
_MAX_CACHED_PEERS = 4096


@dataclass(frozen=True)
class RecordingCaps:
    """How much of a request an event keeps."""

    max_body: int
    max_headers: int
    max_header_value: int
    max_path: int


class TrustedProxies:
    """Finds the client address behind trusted proxies (X-Forwarded-For, rightmost untrusted)."""

    def __init__(self, cidrs: Sequence[str]) -> None:
        self.networks = tuple(ipaddress.ip_network(c, strict=False) for c in cidrs)
        self._verdicts: dict[str, bool] = {}

    def trusted(self, address: str) -> bool:
        """Whether ADDRESS is one of the trusted proxies."""
        verdict = self._verdicts.get(address)
        if verdict is None:
            try:
                ip = ipaddress.ip_address(address)
            except ValueError:
                verdict = False
            else:
                verdict = any(ip in net for net in self.networks)
            if len(self._verdicts) >= _MAX_CACHED_PEERS:
                self._verdicts.clear()
            self._verdicts[address] = verdict
        return verdict

    def client(self, peer: str, headers: Headers) -> str:
        """The source address to record for a request from PEER."""
        if not self.networks or not self.trusted(peer):
            return peer
        forwarded = header_value(headers, "x-forwarded-for")
        if not forwarded:
            return peer
        for hop in reversed([h.strip() for h in forwarded.split(",") if h.strip()]):
            if not self.trusted(hop):
                return _address_or(hop, peer)
        return peer


def _address_or(text: str, fallback: str) -> str:
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return fallback


class ReconRecorder:
    """Turns requests into classified events and session updates."""

    def __init__(
        self,
        *,
        tracker: SessionTracker,
        writer: BatchWriter,
        stamper: events.Stamper,
        metrics: CamouflageMetrics,
        caps: RecordingCaps,
        proxies: TrustedProxies,
        maze_depth: Callable[[str, str], int],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.tracker = tracker
        self.writer = writer
        self.stamper = stamper
        self.metrics = metrics
        self.caps = caps
        self.proxies = proxies
        self.maze_depth = maze_depth
        self.clock = clock
        self.recorded = 0

    def observe(self, exchange: DecoyExchange) -> None:
        """The decoys' exchange observer (on the event loop, no I/O)."""
        self.record(
            at=exchange.time,
            decoy=exchange.decoy,
            template=exchange.template,
            source_ip=self.proxies.client(exchange.peer_host, exchange.headers),
            source_port=exchange.peer_port,
            method=exchange.method,
            target=exchange.target,
            path=exchange.path,
            query=exchange.query,
            http_version=exchange.http_version,
            headers=exchange.headers,
            headers_truncated=exchange.headers_truncated,
            body=exchange.body,
            body_length=exchange.body_length,
            status=exchange.status,
            bytes_sent=exchange.bytes_sent,
            malformed=exchange.malformed,
            reason=exchange.reason,
            via="decoy",
            ja4=exchange.ja4,
        )

    def cap_headers(self, headers: Headers) -> tuple[Headers, bool]:
        """Headers within the count and value caps, and whether any were cut."""
        caps = self.caps
        kept = headers[: caps.max_headers]
        cut = len(headers) > caps.max_headers
        limit = caps.max_header_value
        if any(len(v) > limit for _, v in kept):
            kept = tuple((n, v[:limit]) for n, v in kept)
            cut = True
        return kept, cut

    def record(
        self,
        *,
        at: float,
        decoy: str,
        template: str,
        source_ip: str,
        source_port: int,
        method: str,
        target: str,
        path: str,
        query: str,
        http_version: str,
        headers: Headers,
        headers_truncated: bool,
        body: bytes,
        body_length: int,
        status: int,
        bytes_sent: int,
        malformed: bool,
        reason: str,
        via: str,
        session_id: str | None = None,
        ja4: str | None = None,
    ) -> str:
        """Record one request; returns the id of the session it joined.

        JA4 is the client's TLS fingerprint when the request came over TLS; the JA4H HTTP
        fingerprint is computed here, from the headers as sent (before the recording caps).
        """
        caps = self.caps
        fingerprint = ja4h(method, http_version, headers) if method else None
        fingerprints: list[tuple[str, str]] = []
        if fingerprint is not None:
            fingerprints.append(("ja4h", fingerprint))
        if ja4:
            fingerprints.append(("ja4", ja4))
        headers, cut = self.cap_headers(headers)
        if len(path) > caps.max_path:
            path = path[: caps.max_path]
        if len(query) > caps.max_path:
            query = query[: caps.max_path]
        if len(target) > caps.max_path:
            target = target[: caps.max_path]
        body = body[: caps.max_body]
        user_agent = header_value(headers, "user-agent")
        verdict = classify_request(
            method=method,
            path=path,
            query=query,
            http_version=http_version,
            headers=headers,
            body=body,
            raw_target=target,
            user_agent=user_agent,
        )
        session = self.tracker.session_for(
            source_ip=source_ip,
            user_agent=user_agent,
            decoy=decoy,
            template=template,
            source_port=source_port,
            now=self.clock(),
            via=via,
            session_id=session_id,
        )
        depth = self.maze_depth(decoy, path)
        self.tracker.record(
            session,
            path=path,
            status=status,
            maze_depth=depth,
            request_class=verdict,
            at=at,
            fingerprints=fingerprints,
        )
        event = self.stamper.stamp(
            events.REQUEST,
            at=at,
            session_id=session.id,
            decoy=decoy,
            fields={
                "template": template,
                "source_ip": source_ip,
                "source_port": source_port,
                "method": method,
                "target": target,
                "path": path,
                "query": query,
                "http_version": http_version,
                "headers": headers,
                "headers_truncated": headers_truncated or cut,
                "body": body.decode("utf-8", "backslashreplace"),
                "body_length": body_length,
                "status": status,
                "bytes_sent": bytes_sent,
                "malformed": malformed,
                "reason": reason,
                "scanner": verdict.scanner.family,
                "tool": verdict.scanner.tool,
                "attack_types": verdict.attack_types,
                "maze_depth": depth,
                "via": via,
                "ja4h": fingerprint,
                # The client's TLS fingerprint (an HTTPS decoy, a sensor's report), else null.
                "ja4": ja4 or None,
            },
        )
        self.writer.submit_event(at, event)
        self.metrics.request(decoy, verdict.primary_attack)
        self.recorded += 1
        return session.id


def record_reports(
    *,
    recorder: ReconRecorder,
    tracker: SessionTracker,
    reports: Sequence[ReconReport],
    now: float,
) -> dict[str, Any]:
    """Record external sensor reports like decoy requests; NOW stamps those without a time."""
    sessions: dict[str, None] = {}
    for r in reports:
        live = r.session_id if r.session_id and tracker.get(r.session_id) else None
        session_id = recorder.record(
            at=r.time.timestamp() if r.time is not None else now,
            decoy=r.decoy,
            template=r.template,
            source_ip=r.source_ip,
            source_port=r.source_port,
            method=r.method,
            target=r.target or r.path + ("?" + r.query if r.query else ""),
            path=r.path,
            query=r.query,
            http_version=r.http_version,
            headers=tuple((n, v) for n, v in r.headers),
            headers_truncated=False,
            body=r.body.encode("utf-8", "surrogateescape"),
            body_length=r.body_length if r.body_length is not None else len(r.body),
            status=r.status,
            bytes_sent=r.bytes_sent,
            malformed=r.malformed,
            reason="",
            via="sensor",
            session_id=live,
            ja4=r.ja4,
        )
        sessions[session_id] = None
    return {"accepted": len(reports), "sessions": list(sessions)}
