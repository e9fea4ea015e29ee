"""The camouflage service's Prometheus metrics (registered on the service app's registry)."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge

MAX_DECOY_LABELS = 100


class CamouflageMetrics:
    """Requests by decoy and attack type, live sessions, honeytoken uses, bandit choices."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "camouflage_requests_total",
            "Decoy requests recorded, by decoy and primary attack type",
            ["decoy", "attack_type"],
            registry=registry,
        )
        self.sessions_active = Gauge(
            "camouflage_sessions_active", "Attacker sessions currently live", registry=registry
        )
        self.sessions_closed = Counter(
            "camouflage_sessions_closed_total",
            "Attacker sessions closed, by reason (idle, evicted, shutdown, api)",
            ["reason"],
            registry=registry,
        )
        self.honeytokens_used = Counter(
            "camouflage_honeytokens_used_total",
            "Uses of planted honeytokens anywhere on the platform",
            registry=registry,
        )
        self.honeytokens_planted = Counter(
            "camouflage_honeytokens_planted_total",
            "Honeytokens planted in decoy and maze pages, by kind",
            ["kind"],
            registry=registry,
        )
        self.bandit_selections = Counter(
            "camouflage_bandit_selections_total",
            "Decoys chosen by the bandit",
            ["decoy"],
            registry=registry,
        )
        self.events_dropped = Gauge(
            "camouflage_events_dropped",
            "Events dropped because the writer queue was full (since start)",
            registry=registry,
        )
        self.writer_pending = Gauge(
            "camouflage_writer_pending", "Items waiting for the writer thread", registry=registry
        )
        self._children: dict[tuple[str, str], Counter] = {}
        self._decoys: set[str] = set()

    def request(self, decoy: str, attack_type: str) -> None:
        """Count one recorded request (label children cached: this runs per request)."""
        child = self._children.get((decoy, attack_type))
        if child is None:
            # External sensors name their own decoys: keep the label set bounded.
            label = decoy
            if decoy not in self._decoys and len(self._decoys) >= MAX_DECOY_LABELS:
                label = "other"
            self._decoys.add(label)
            child = self.requests.labels(decoy=label, attack_type=attack_type)
            self._children[(decoy, attack_type)] = child
        child.inc()

    def watch(
        self,
        *,
        live_sessions: Callable[[], int],
        dropped: Callable[[], int],
        pending: Callable[[], int],
    ) -> None:
        """Read the gauges from the live objects at scrape time."""
        self.sessions_active.set_function(live_sessions)
        self.events_dropped.set_function(dropped)
        self.writer_pending.set_function(pending)
