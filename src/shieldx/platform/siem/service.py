"""The exporter: bus events in, per-destination bounded queues, batches sent by one thread each.

The bus calls ``SiemExporter.offer`` on whichever thread published (the event loop, the
camouflage writer thread, a worker thread): it normalises the event once, encodes it per
destination and appends it to that destination's bounded queue, never blocking; a full queue
drops the event and counts it. Each destination's thread takes up to ``siem.batch_size``
messages (waiting at most ``siem.flush_interval`` for a batch to fill), sends them, and on a
failure that may pass retries with exponential backoff and jitter; a batch still undelivered
after ``siem.retries`` attempts (or refused outright: a bad HEC token) is counted as failed.
"""

from __future__ import annotations

import os
import queue
import random
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import anyio.to_thread
import structlog
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from shieldx.platform.siem.domain import (
    SecurityEvent,
    ecs_json,
    hec_record,
    normalize,
    syslog_message,
    to_cef,
)
from shieldx.platform.siem.settings import FACILITIES, SiemSettings
from shieldx.platform.siem.transports import (
    DeliveryFailed,
    SplunkHec,
    StreamSyslog,
    Transport,
    UdpSyslog,
)

log = structlog.get_logger("shieldx.siem")
Encoder = Callable[[SecurityEvent], bytes]
MAX_BACKOFF_S = 30.0


class Destination:
    """One SIEM destination: its encoder, its bounded queue, its sender thread and counters."""

    def __init__(
        self,
        transport: Transport,
        encode: Encoder,
        *,
        max_queue: int,
        batch_size: int,
        flush_interval_s: float,
        retries: int,
        backoff_s: float,
    ) -> None:
        self.name = transport.name
        self.transport = transport
        self.encode = encode
        self.batch_size = batch_size
        self.flush_interval_s = flush_interval_s
        self.retries = retries
        self.backoff_s = backoff_s
        self.queue: queue.Queue[bytes] = queue.Queue(max_queue)
        self.sent = 0
        self.dropped = 0
        self.failed = 0
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def offer(self, event: SecurityEvent) -> None:
        """Queue EVENT for sending, or count it as dropped (queue full) or failed (too large)."""
        message = self.encode(event)
        limit = self.transport.max_message
        if limit is not None and len(message) > limit:
            self.failed += 1
            log.warning("siem.too_large", destination=self.name, event=event.id, size=len(message))
            return
        try:
            self.queue.put_nowait(message)
        except queue.Full:
            self.dropped += 1

    def start(self) -> None:
        """Start the sender thread."""
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name=f"siem-{self.name}", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float) -> None:
        """Send what is queued (one attempt per batch), then stop the thread and disconnect."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None
        self.transport.close()

    def _take(self) -> list[bytes]:
        try:
            batch = [self.queue.get(timeout=self.flush_interval_s)]
        except queue.Empty:
            return []
        deadline = time.monotonic() + self.flush_interval_s
        while len(batch) < self.batch_size:
            remaining = deadline - time.monotonic()
            try:
                if self._stopping.is_set() or remaining <= 0:
                    batch.append(self.queue.get_nowait())
                else:
                    batch.append(self.queue.get(timeout=remaining))
            except queue.Empty:
                break
        return batch

    def _run(self) -> None:
        while not (self._stopping.is_set() and self.queue.empty()):
            batch = self._take()
            if batch:
                self._deliver(batch)

    def _deliver(self, batch: Sequence[bytes]) -> None:
        attempt = 0
        while True:
            try:
                self.transport.send(batch)
            except DeliveryFailed as exc:
                last = attempt >= self.retries or not exc.retryable or self._stopping.is_set()
                if last:
                    self.failed += len(batch)
                    log.warning(
                        "siem.delivery_failed",
                        destination=self.name,
                        reason=str(exc),
                        events=len(batch),
                        attempts=attempt + 1,
                    )
                    return
                delay = min(MAX_BACKOFF_S, self.backoff_s * 2**attempt)
                attempt += 1
                # Full jitter on the upper half, so replicas that failed together spread out.
                if self._stopping.wait(delay * (0.5 + random.random() / 2)):
                    continue  # stopping: one more attempt right away, then give up
            else:
                self.sent += len(batch)
                return


class SiemExporter:
    """Subscribed to every bus topic; exports the security events chosen by siem.events."""

    def __init__(
        self,
        destinations: Sequence[Destination],
        *,
        events: Sequence[str] = (),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.destinations = list(destinations)
        self.events = frozenset(events)
        self.clock = clock
        self._users = 0
        self._lock = threading.Lock()

    def offer(self, topic: str, payload: Mapping[str, Any]) -> None:
        """The bus handler: normalise, encode and queue the event for every destination."""
        if self.events and topic not in self.events:
            return
        event = normalize(topic, payload, received_at=self.clock())
        for destination in self.destinations:
            destination.offer(event)

    async def start(self) -> None:
        """Start the sender threads (once per process, however many apps share the exporter)."""
        with self._lock:
            self._users += 1
            if self._users > 1:
                return
        for destination in self.destinations:
            destination.start()
        log.info("siem.started", destinations=[d.name for d in self.destinations])

    async def stop(self, timeout_s: float = 10.0) -> None:
        """Flush and stop when the last app using the exporter stops."""
        with self._lock:
            self._users -= 1
            if self._users > 0:
                return

        def stop_all() -> None:
            for destination in self.destinations:
                destination.stop(timeout_s)

        await anyio.to_thread.run_sync(stop_all)


class SiemCollector(Collector):
    """siem_events_total{destination,result} and siem_queue_depth{destination}."""

    def __init__(self, exporter: SiemExporter) -> None:
        self.exporter = exporter

    def collect(self) -> Iterator[Metric]:
        """The exporter's counters as Prometheus samples."""
        events = CounterMetricFamily(
            "siem_events",
            "Security events by SIEM destination and result (sent, dropped: queue full, "
            "failed: refused or retries exhausted).",
            labels=["destination", "result"],
        )
        depth = GaugeMetricFamily(
            "siem_queue_depth", "Events waiting to be sent, by destination.", labels=["destination"]
        )
        for d in self.exporter.destinations:
            events.add_metric([d.name, "sent"], d.sent)
            events.add_metric([d.name, "dropped"], d.dropped)
            events.add_metric([d.name, "failed"], d.failed)
            depth.add_metric([d.name], d.queue.qsize())
        yield events
        yield depth


def build_exporter(settings: SiemSettings, *, version: str) -> SiemExporter | None:
    """The exporter for the configured destinations, or None when none is configured."""
    if not settings.enabled:
        return None
    host = socket.gethostname()
    pid = str(os.getpid())
    destinations: list[Destination] = []

    def add(transport: Transport, encode: Encoder) -> None:
        destinations.append(
            Destination(
                transport,
                encode,
                max_queue=settings.max_queue,
                batch_size=settings.batch_size,
                flush_interval_s=settings.flush_interval.total_seconds(),
                retries=settings.retries,
                backoff_s=settings.retry_backoff.total_seconds(),
            )
        )

    syslog = settings.syslog
    if syslog.host is not None:
        transport: Transport
        if syslog.protocol == "udp":
            transport = UdpSyslog(syslog.host, syslog.port, max_message=syslog.max_message_bytes)
        else:
            transport = StreamSyslog(
                syslog.host,
                syslog.port,
                tls=syslog.protocol == "tls",
                ca_file=syslog.ca_file,
                server_name=syslog.server_name,
            )
        facility = FACILITIES[syslog.facility]
        body = to_cef if syslog.format == "cef" else ecs_json

        def encode_syslog(event: SecurityEvent) -> bytes:
            text = body(event, host=host, version=version)
            return syslog_message(text, event=event, facility=facility, host=host, procid=pid)

        add(transport, encode_syslog)
    splunk = settings.splunk
    if splunk.url is not None and splunk.token is not None:
        hec = SplunkHec(
            splunk.url,
            splunk.token.get_secret_value(),
            ca_file=splunk.ca_file,
            timeout_s=splunk.timeout.total_seconds(),
        )

        def encode_hec(event: SecurityEvent) -> bytes:
            return hec_record(
                event,
                host=host,
                version=version,
                source=splunk.source,
                sourcetype=splunk.sourcetype,
                index=splunk.index,
            )

        add(hec, encode_hec)
    return SiemExporter(destinations, events=settings.events)
