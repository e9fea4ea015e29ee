"""A small in-process publish/subscribe bus through which services meet without imports."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping
from typing import Any

import structlog

Handler = Callable[[str, Mapping[str, Any]], None]
log = structlog.get_logger("shieldx.bus")


class EventBus:
    """Synchronous topics; a failing subscriber is logged and never breaks the publisher."""

    def __init__(self) -> None:
        self._handlers: defaultdict[str, list[Handler]] = defaultdict(list)
        # Handlers of every topic (the SIEM exporter), called after a topic's own handlers.
        self._everything: list[Handler] = []
        # Where local events of subscribed topics also go (the Redis bridge to the replicas).
        self.forwarders: list[Handler] = []

    def subscribe(self, topic: str, handler: Handler) -> None:
        """Call HANDLER(topic, payload) for every event published on TOPIC."""
        self._handlers[topic].append(handler)

    def subscribe_all(self, handler: Handler) -> None:
        """Call HANDLER(topic, payload) for every event published on any topic."""
        self._everything.append(handler)

    def wanted(self, topic: str) -> bool:
        """Whether anything listens to TOPIC (a publisher may skip building its payload)."""
        return bool(self._everything) or bool(self._handlers.get(topic))

    def publish(self, topic: str, payload: Mapping[str, Any]) -> int:
        """Deliver PAYLOAD to TOPIC's subscribers; return how many handled it."""
        delivered = 0
        own = self._handlers.get(topic, ())
        # Only topics someone subscribes to cross to the other replicas (which run the same
        # subscribers); the SIEM's everything-handler alone (decoy requests) stays local.
        forwarders = self.forwarders if own else ()
        for handler in (*own, *self._everything, *forwarders):
            try:
                handler(topic, payload)
                delivered += 1
            except Exception:
                log.exception("bus.subscriber_failed", topic=topic)
        return delivered

    def deliver_remote(self, topic: str, payload: Mapping[str, Any]) -> int:
        """Deliver an event another replica published to TOPIC's subscribers only (not to the
        handlers of every topic, which saw it on its own replica, nor back to the forwarders)."""
        delivered = 0
        for handler in self._handlers.get(topic, ()):
            try:
                handler(topic, payload)
                delivered += 1
            except Exception:
                log.exception("bus.subscriber_failed", topic=topic)
        return delivered
