"""The batch writer: batches, flush, bounded queue, one line per event, failing sinks."""

from __future__ import annotations

from pathlib import Path

import orjson

from shieldx.camouflage.recon.events import EVENT_IDS, REQUEST, Stamper
from shieldx.camouflage.recon.sinks import BatchWriter, EventSink, ForwardSink, JsonlSink
from shieldx.camouflage.store import Batch


class Collect(EventSink):
    name = "collect"

    def __init__(self) -> None:
        self.batches: list[Batch] = []

    def write(self, batch: Batch) -> None:
        self.batches.append(batch)


class Broken(EventSink):
    name = "broken"

    def write(self, batch: Batch) -> None:
        raise RuntimeError("disk on fire")


def _event(stamper: Stamper, i: int) -> dict[str, object]:
    return stamper.stamp(
        REQUEST, at=1_700_000_000.25 + i, session_id="s1", decoy="web", fields={"path": f"/{i}"}
    )


def test_items_are_written_in_batches_and_flush_waits(tmp_path: Path) -> None:
    collect = Collect()
    jsonl = JsonlSink(tmp_path / "sub" / "events.jsonl")
    writer = BatchWriter(
        [Broken(), collect, jsonl], max_queue=1000, max_batch=100, flush_interval_s=60
    )
    writer.start()
    stamper = Stamper("sensor-1")
    for i in range(250):
        assert writer.submit_event(float(i), _event(stamper, i))
    writer.submit("state", ("cursor", "3"))
    writer.submit("state", ("cursor", "4"))
    assert writer.flush(10)
    assert writer.pending == 0
    written = [record for batch in collect.batches for record in batch.events]
    assert len(written) == 250
    assert all(len(batch) <= 100 for batch in collect.batches)
    assert collect.batches[-1].state == {"cursor": "4"}
    assert writer.failures["broken"] == len(collect.batches)
    writer.stop()
    lines = (tmp_path / "sub" / "events.jsonl").read_bytes().splitlines()
    assert len(lines) == 250
    first = orjson.loads(lines[0])
    assert list(first)[:6] == ["event", "time", "sensor", "severity", "session_id", "decoy"]
    assert first["event"] in EVENT_IDS
    assert first["time"] == "2023-11-14T22:13:20.250000Z"
    assert first["sensor"] == "sensor-1" and first["severity"] == "info"


def test_the_queue_is_bounded_for_events_only() -> None:
    collect = Collect()
    writer = BatchWriter([collect], max_queue=10, max_batch=5, flush_interval_s=60)
    stamper = Stamper("s")
    accepted = [writer.submit_event(0.0, _event(stamper, i)) for i in range(15)]
    assert accepted.count(True) == 10 and writer.dropped == 5
    assert writer.submit("sessions", {"id": "x"})
    writer.start()
    assert writer.flush(10)
    writer.stop()
    assert sum(len(b.events) for b in collect.batches) == 10
    assert sum(len(b.sessions) for b in collect.batches) == 1


def test_the_forward_sink_picks_its_event_ids() -> None:
    got: list[list[dict[str, object]]] = []
    sink = ForwardSink(["camouflage.session.closed"], got.append)
    stamper = Stamper("s")
    writer = BatchWriter([sink], max_queue=100, max_batch=100, flush_interval_s=60)
    writer.submit_event(1.0, _event(stamper, 1))
    writer.submit_event(
        2.0,
        stamper.stamp("camouflage.session.closed", at=2.0, session_id="s1", decoy="web", fields={}),
    )
    writer.start()
    writer.flush(10)
    writer.stop()
    assert [[e["event"] for e in chunk] for chunk in got] == [["camouflage.session.closed"]]
