"""Files for `shieldx shadow replay` and `corpus`: recorded traffic, rule files, the report.

The report is a pure function of the input bytes, the rule set and the frozen instant:
no wall-clock time, no paths, mappings in a fixed order. Run it twice, get the same bytes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import orjson
import yaml

from shieldx.shadow.experiments.results import counts_doc
from shieldx.shadow.experiments.tallies import VariantTally
from shieldx.shadow.replay.runner import ReplayResult, VerdictDiff
from shieldx.shadow.rules.domain import Action, ErrorPolicy, Rule, RuleSet
from shieldx.shadow.rules.records import Label, RecordError, TrafficRecord, normalize_record


class ReplayInputError(ValueError):
    """A traffic or rules file that cannot be read; the message names the line or rule."""


def read_traffic(data: bytes) -> list[TrafficRecord]:
    """Records from a JSON array or JSON lines (each may carry a label)."""
    text = data.lstrip()
    try:
        if text.startswith(b"["):
            raws: list[tuple[str, Any]] = [
                (f"record {i}", item) for i, item in enumerate(orjson.loads(text))
            ]
        else:
            raws = [
                (f"line {n}", orjson.loads(line))
                for n, line in enumerate(data.splitlines(), start=1)
                if line.strip()
            ]
    except orjson.JSONDecodeError as exc:
        raise ReplayInputError(f"not JSON (an array or JSON lines): {exc}") from None
    records = []
    for where, raw in raws:
        if not isinstance(raw, dict):
            raise ReplayInputError(f"{where}: a record must be a JSON object")
        try:
            record = normalize_record(raw)
            label = Label(raw["label"]) if raw.get("label") is not None else None
        except (RecordError, ValueError) as exc:
            raise ReplayInputError(f"{where}: {exc}") from None
        records.append(TrafficRecord(record, label))
    return records


def load_rules(data: bytes, default_name: str) -> RuleSet:
    """A rule set from a JSON or YAML file: {name?, on_error?, rules: [...]} or a bare list."""
    try:
        document = yaml.safe_load(data)
    except yaml.YAMLError as exc:
        raise ReplayInputError(f"rules file is neither JSON nor YAML: {exc}") from None
    if isinstance(document, list):
        document = {"rules": document}
    if not isinstance(document, dict) or not isinstance(document.get("rules"), list):
        raise ReplayInputError(
            "a rules file holds {name, on_error, rules: [...]} or a list of rules"
        )
    rules = []
    for i, item in enumerate(document["rules"]):
        if not isinstance(item, dict) or "id" not in item or "expression" not in item:
            raise ReplayInputError(f"rules[{i}] needs at least an id and an expression")
        rules.append(
            Rule(
                str(item["id"]),
                str(item["expression"]),
                item.get("action", "block"),
                item.get("priority", 0),
                str(item.get("description", "")),
            )
        )
    return RuleSet.compile(
        str(document.get("name", default_name)),
        int(document.get("version", 1)),
        rules,
        ErrorPolicy(document.get("on_error", "fail_open")),
    )


def rules_document(
    ruleset_name: str, on_error: ErrorPolicy, rules: Iterable[Rule]
) -> dict[str, Any]:
    """The POST /shadow/rulesets body for a list of rules."""
    return {
        "name": ruleset_name,
        "on_error": on_error.value,
        "rules": [
            {
                "id": r.id,
                "description": r.description,
                "expression": r.expression,
                "action": Action(r.action).value,
                "priority": r.priority,
            }
            for r in rules
        ],
    }


def diff_doc(diff: VerdictDiff) -> dict[str, Any]:
    """The verdict diff of two rule sets on the same records."""
    return {
        "matrix": {a: dict(row) for a, row in diff.matrix.items()},
        "new_blocks": dict(diff.new_blocks),
        "new_allows": dict(diff.new_allows),
        "blast_radius": {
            "requests": diff.blast_radius_requests,
            "clients": diff.blast_radius_clients,
        },
    }


def replay_doc(
    data: bytes,
    result: ReplayResult,
    *,
    diff: VerdictDiff | None = None,
    candidate: str | None = None,
    decisions: bool = False,
) -> dict[str, Any]:
    """The replay report."""
    summary = result.summary
    c = summary.counts
    tally = VariantTally(
        c.n,
        c.blocks,
        c.true_positives,
        c.false_positives,
        c.true_negatives,
        c.false_negatives,
        summary.records_with_errors,
    )
    doc: dict[str, Any] = {
        "ruleset": result.ruleset,
        "evaluated_at": _iso(result.evaluated_at),
        "input": {"records": summary.records, "sha256": hashlib.sha256(data).hexdigest()},
        "actions": dict(summary.actions),
        "decided_by": dict(summary.decided_by),
        "matches": dict(summary.matches),
        "records_with_errors": summary.records_with_errors,
        "rule_failures": dict(summary.rule_failures),
        "counts": counts_doc(tally),
    }
    if diff is not None:
        doc["candidate"] = candidate
        doc["diff"] = diff_doc(diff)
    if decisions:
        doc["decisions"] = [
            {"action": d.action.value, "rule_id": d.rule_id, "matched": list(d.matched)}
            for d in result.decisions
        ]
    return doc


def _iso(at: datetime) -> str:
    return at.isoformat()


def corpus_lines(items: Sequence[TrafficRecord]) -> Iterable[bytes]:
    """JSON lines of a corpus: the record, its label and attack type."""
    for item in items:
        row: dict[str, Any] = dict(item.record)
        row["label"] = item.label.value if item.label else None
        row["attack_type"] = item.attack_type.value if item.attack_type else None
        yield orjson.dumps(row) + b"\n"
