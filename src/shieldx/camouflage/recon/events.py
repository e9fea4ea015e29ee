"""The camouflage event schema: stable dotted ids and the common fields, set in one place.

Every event the service emits (to the database, the JSON-lines file and the webhook) is a
flat JSON object that starts with the same fields:

    {"event": "camouflage.request", "time": "2026-01-02T03:04:05.123456Z", "sensor": "edge-1",
     "severity": "info", "session_id": "…", "decoy": "edge-web", …event-specific fields…}

``Stamper.stamp`` is the only place those fields are written (Cowrie's rule: one place
for the common fields, a stable dotted id per event kind).
"""

from __future__ import annotations

import time
from typing import Any, Final

REQUEST: Final = "camouflage.request"
SESSION_CLOSED: Final = "camouflage.session.closed"
HONEYTOKEN_PLANTED: Final = "camouflage.honeytoken.planted"
HONEYTOKEN_USED: Final = "camouflage.honeytoken.used"
EVENT_IDS: Final = (REQUEST, SESSION_CLOSED, HONEYTOKEN_PLANTED, HONEYTOKEN_USED)

SEVERITY: Final = {
    REQUEST: "info",
    SESSION_CLOSED: "info",
    HONEYTOKEN_PLANTED: "info",
    HONEYTOKEN_USED: "high",
}

Event = dict[str, Any]


class IsoClock:
    """Formats epoch seconds as RFC 3339 UTC with microseconds, caching the whole-second part."""

    __slots__ = ("_second", "_text")

    def __init__(self) -> None:
        self._second = -1
        self._text = ""

    def format(self, epoch: float) -> str:
        """``2026-01-02T03:04:05.123456Z`` for EPOCH."""
        second = int(epoch)
        if second != self._second:
            self._second = second
            self._text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        micros = round((epoch - second) * 1_000_000)
        if micros >= 1_000_000:
            return self.format(float(second + 1))
        return f"{self._text}.{micros:06d}Z"


def iso_time(epoch: float) -> str:
    """RFC 3339 UTC text for EPOCH (uncached; for occasional use)."""
    return IsoClock().format(epoch)


class Stamper:
    """Builds events with the common fields (event id, time, sensor, severity, session, decoy)."""

    __slots__ = ("_clock", "sensor")

    def __init__(self, sensor: str) -> None:
        self.sensor = sensor
        self._clock = IsoClock()

    def stamp(
        self,
        event_id: str,
        *,
        at: float,
        session_id: str | None,
        decoy: str | None,
        fields: dict[str, Any],
    ) -> Event:
        """The event EVENT_ID at epoch AT, with FIELDS after the common ones."""
        event: Event = {
            "event": event_id,
            "time": self._clock.format(at),
            "sensor": self.sensor,
            "severity": SEVERITY[event_id],
            "session_id": session_id,
            "decoy": decoy,
        }
        event.update(fields)
        return event
