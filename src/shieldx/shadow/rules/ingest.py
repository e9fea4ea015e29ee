"""Request bodies of the traffic and decision paths: JSON arrays, JSON lines, labels, limits."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Final

import orjson

from shieldx.platform.errors import Problem
from shieldx.shadow.rules.records import (
    AttackType,
    Label,
    RecordError,
    RequestRecord,
    TrafficRecord,
    normalize_record,
)

JSON_LINES: Final = frozenset(
    {"application/x-ndjson", "application/jsonl", "application/json-lines"}
)


def parse_label(value: object, where: str) -> Label | None:
    """A record's optional label; 422 naming WHERE when it is neither malicious nor benign."""
    if value is None:
        return None
    try:
        return Label(value)  # type: ignore[arg-type]
    except ValueError:
        raise Problem(
            422,
            f"{where}: label must be 'malicious' or 'benign' (got {value!r})",
            type="invalid-record",
        ) from None


def parse_record(raw: object, where: str, default_label: Label | None = None) -> TrafficRecord:
    """Normalise one raw record; 422 naming WHERE and the field at fault."""
    if not isinstance(raw, Mapping):
        raise Problem(422, f"{where}: a record must be a JSON object", type="invalid-record")
    try:
        record: RequestRecord = normalize_record(raw)
    except RecordError as exc:
        raise Problem(422, f"{where}: {exc}", type="invalid-record") from None
    label = parse_label(raw.get("label"), where) or default_label
    attack = raw.get("attack_type")
    attack_type = (
        AttackType(attack) if isinstance(attack, str) and attack in tuple(AttackType) else None
    )
    return TrafficRecord(record, label, attack_type)


def _json(text: bytes, where: str) -> object:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise Problem(400, f"{where} is not valid JSON: {exc}", type="malformed-json") from None


def _lines(body: bytes) -> Iterator[tuple[int, bytes]]:
    for number, line in enumerate(body.splitlines(), start=1):
        if line.strip():
            yield number, line


def parse_batch(
    body: bytes, content_type: str, *, max_records: int, default_label: Label | None = None
) -> list[TrafficRecord]:
    """A batch of records from a JSON array or JSON lines; the whole batch or a problem."""
    media = content_type.split(";", 1)[0].strip().lower()
    raws: list[tuple[str, object]] = []
    if media in JSON_LINES:
        for number, line in _lines(body):
            if len(raws) >= max_records:
                raise _too_many(max_records)
            raws.append((f"line {number}", _json(line, f"line {number}")))
    elif media == "application/json" or media.endswith("+json"):
        document = _json(body, "the request body")
        if not isinstance(document, list):
            raise Problem(
                422,
                "the body must be a JSON array of records (or send JSON lines with "
                "Content-Type: application/x-ndjson)",
                type="invalid-record",
            )
        if len(document) > max_records:
            raise _too_many(max_records)
        raws = [(f"record {i}", item) for i, item in enumerate(document)]
    else:
        raise Problem(
            415,
            f"send a JSON array (application/json) or JSON lines (application/x-ndjson or "
            f"application/jsonl), not {content_type or 'no Content-Type'!r}",
            type="unsupported-media-type",
        )
    return [parse_record(raw, where, default_label) for where, raw in raws]


def _too_many(limit: int) -> Problem:
    return Problem(
        413,
        f"a batch holds at most {limit} records (shadow.max_batch_records); split it",
        type="batch-too-large",
    )
