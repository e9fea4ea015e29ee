"""Experiments in Chaos Toolkit's format, and the seed's short form turned into one.

Pure: no I/O. An experiment is a title, a steady-state hypothesis (probes, each with a
tolerance), a method (actions and probes, run in order) and rollbacks. ShieldX's engine runs
the python providers of `shieldx.chaos.actions` / `shieldx.chaos.probes` in process and http
providers over HTTP; anything else is refused with a message saying to use `chaos run`.
Settings ShieldX adds ride in Chaos Toolkit's `extensions` list, under `"name": "shieldx"`:
`duration` (how long to observe), `max_error_rate` (percent), `max_p99_ms`, `type`, and
`traffic_rate` / `traffic_path`: synthetic requests per second the engine sends to its own
service while it observes, so the halt conditions have traffic to judge even on an idle system.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from shieldx.chaos.faults.domain import FaultSpec, FaultSpecError, parse_fault

FAULT_TYPES = (
    "service_failure",
    "high_latency",
    "resource_exhaustion",
    "db_slow_query",
    "network_partition",
    "packet_loss",
    "cache_failure",
)
ACTIONS = frozenset({"inject_fault", "remove_faults"})
PROBES = frozenset({"service_ready", "active_fault_count", "error_rate", "p99_ms"})
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
GRACE_S = 5.0


class ExperimentError(ValueError):
    """An experiment cannot be run; `problems` lists every bad field with how to fix it."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def parse_seconds(value: object, where: str) -> float:
    """Seconds from a number or a duration such as '500ms', '30s', '1m'."""
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return float(value)
    match = _DURATION.match(value) if isinstance(value, str) else None
    if match is None or float(match.group(1)) <= 0:
        raise ExperimentError(
            [f"{where} must be a positive duration such as 500ms, 30s or 1m (got {value!r})"]
        )
    return float(match.group(1)) * _UNITS[match.group(2)]


@dataclass(frozen=True)
class Tolerance:
    """What a probe's value must be: a bool, an exact value, one of a list, or a range."""

    kind: str  # bool | exact | one_of | range
    value: Any

    def accepts(self, seen: object) -> bool:
        """Whether SEEN is within this tolerance."""
        if self.kind == "bool":
            return seen is self.value
        if self.kind == "exact":
            return bool(seen == self.value)
        if self.kind == "one_of":
            return seen in self.value
        low, high = self.value
        return isinstance(seen, int | float) and not isinstance(seen, bool) and low <= seen <= high


@dataclass(frozen=True)
class Activity:
    """An action or probe: its provider (python function or HTTP call) and arguments."""

    type: str  # action | probe
    name: str
    provider: str  # python | http
    func: str = ""
    arguments: Mapping[str, Any] = field(default_factory=dict)
    url: str = ""
    method: str = "GET"
    timeout_s: float = 5.0
    tolerance: Tolerance | None = None
    pause_before_s: float = 0.0
    pause_after_s: float = 0.0
    fault: FaultSpec | None = None  # for inject_fault: the parsed fault


@dataclass(frozen=True)
class Experiment:
    """A validated experiment ready for the engine."""

    title: str
    description: str
    fault_type: str
    hypothesis_title: str
    hypothesis: tuple[Activity, ...]
    method: tuple[Activity, ...]
    rollbacks: tuple[Activity, ...]
    duration_s: float
    max_error_rate: float | None = None
    max_p99_ms: float | None = None
    traffic_rate: float = 0.0
    traffic_path: str = "/ready"


def parse_experiment(
    data: object, *, max_ttl_s: float, configuration: Mapping[str, str] | None = None
) -> Experiment:
    """An Experiment from a Chaos Toolkit document or the seed's short form.

    CONFIGURATION supplies ${name} values (the engine passes its own shieldx_url); the
    document's own `configuration` gives defaults. Raises ExperimentError listing every problem.
    """
    if not isinstance(data, Mapping):
        raise ExperimentError(["the experiment must be a JSON object"])
    if "type" in data and "method" not in data:
        data = short_form(data)
    problems: list[str] = []
    config = _configuration(data.get("configuration", {}), problems)
    config.update(configuration or {})
    title = data.get("title")
    if not isinstance(title, str) or not title.strip():
        problems.append("title must be a non-empty string")
    ext = _extension(data.get("extensions", []), problems)
    hypothesis = data.get("steady-state-hypothesis")
    probes: list[Activity] = []
    hyp_title = ""
    if hypothesis is not None:
        if not isinstance(hypothesis, Mapping):
            problems.append("steady-state-hypothesis must be an object with title and probes")
        else:
            hyp_title = str(hypothesis.get("title", ""))
            raw = hypothesis.get("probes", [])
            probes = _activities(raw, "steady-state-hypothesis.probes", config, max_ttl_s, problems)
            for probe in probes:
                if probe.type != "probe" or probe.tolerance is None:
                    problems.append(
                        f"steady-state-hypothesis probe {probe.name!r} must be a probe "
                        "with a tolerance"
                    )
    method_raw = data.get("method")
    if not isinstance(method_raw, list) or not method_raw:
        problems.append("method must be a non-empty list of actions and probes")
        method_raw = []
    method = _activities(method_raw, "method", config, max_ttl_s, problems)
    rollbacks = _activities(data.get("rollbacks", []), "rollbacks", config, max_ttl_s, problems)
    faults = [a.fault for a in method if a.fault is not None]
    fault_type = ext.get("type") or _type_of(faults)
    if fault_type not in FAULT_TYPES:
        problems.append(
            f"extensions[shieldx].type must be one of {', '.join(FAULT_TYPES)} (got {fault_type!r})"
        )
    duration = ext.get("duration_s") or max((f.ttl_s for f in faults), default=0.0)
    if not duration:
        problems.append("give extensions[shieldx].duration: the method injects no fault")
    if problems:
        raise ExperimentError(problems)
    return Experiment(
        title=str(title),
        description=str(data.get("description", "")),
        fault_type=str(fault_type),
        hypothesis_title=hyp_title,
        hypothesis=tuple(probes),
        method=tuple(method),
        rollbacks=tuple(rollbacks),
        duration_s=float(duration),
        max_error_rate=ext.get("max_error_rate"),
        max_p99_ms=ext.get("max_p99_ms"),
        traffic_rate=ext.get("traffic_rate", 0.0),
        traffic_path=ext.get("traffic_path", "/ready"),
    )


def _type_of(faults: Sequence[FaultSpec]) -> str:
    kinds = {f.kind for f in faults}
    if kinds & {"kill", "stop"}:
        return "service_failure"
    if kinds & {"cpu", "memory"}:
        return "resource_exhaustion"
    if "loss" in kinds:
        return "packet_loss"
    if "blackhole" in kinds or "reset" in kinds:
        return "network_partition"
    return "high_latency"


def _configuration(raw: object, problems: list[str]) -> dict[str, str]:
    """Chaos Toolkit configuration: plain values, or {type: env, key, default} (default used)."""
    if not isinstance(raw, Mapping):
        problems.append("configuration must be an object")
        return {}
    out: dict[str, str] = {}
    for name, value in raw.items():
        if isinstance(value, Mapping):
            if value.get("type") != "env" or "default" not in value:
                problems.append(
                    f"configuration.{name}: only plain values and env entries with a default "
                    "are understood"
                )
                continue
            value = value["default"]
        out[str(name)] = str(value)
    return out


def _extension(raw: object, problems: list[str]) -> dict[str, Any]:
    if not isinstance(raw, list):
        problems.append("extensions must be a list")
        return {}
    out: dict[str, Any] = {}
    for item in raw:
        if not isinstance(item, Mapping) or item.get("name") != "shieldx":
            continue
        for key, value in item.items():
            if key == "name":
                continue
            try:
                if key == "duration":
                    out["duration_s"] = parse_seconds(value, "extensions[shieldx].duration")
                elif key in ("max_error_rate", "max_p99_ms", "traffic_rate"):
                    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                        raise ExperimentError(
                            [f"extensions[shieldx].{key} must be a number >= 0 (got {value!r})"]
                        )
                    if key == "traffic_rate" and value > 200:
                        raise ExperimentError(
                            [
                                f"extensions[shieldx].traffic_rate must be at most 200 (got {value!r})"
                            ]
                        )
                    out[key] = float(value)
                elif key == "type":
                    out["type"] = value
                elif key == "traffic_path":
                    if not isinstance(value, str) or not value.startswith("/"):
                        raise ExperimentError(
                            [f"extensions[shieldx].traffic_path must start with / (got {value!r})"]
                        )
                    out[key] = value
                else:
                    raise ExperimentError(
                        [
                            f"extensions[shieldx].{key}: unknown (known: duration, "
                            "max_error_rate, max_p99_ms, type, traffic_rate, traffic_path)"
                        ]
                    )
            except ExperimentError as exc:
                problems.extend(exc.problems)
    return out


def _substitute(value: Any, config: Mapping[str, str], where: str, problems: list[str]) -> Any:
    if isinstance(value, str):

        def one(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in config:
                problems.append(f"{where}: ${{{name}}} is not in configuration")
                return match.group(0)
            return config[name]

        return _PLACEHOLDER.sub(one, value)
    if isinstance(value, Mapping):
        return {k: _substitute(v, config, where, problems) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, config, where, problems) for v in value]
    return value


def _activities(
    raw: object, where: str, config: Mapping[str, str], max_ttl_s: float, problems: list[str]
) -> list[Activity]:
    if not isinstance(raw, list):
        problems.append(f"{where} must be a list")
        return []
    out = []
    for index, item in enumerate(raw):
        here = f"{where}[{index}]"
        try:
            out.append(_activity(item, here, config, max_ttl_s, problems))
        except ExperimentError as exc:
            problems.extend(exc.problems)
    return out


def _activity(
    item: object, where: str, config: Mapping[str, str], max_ttl_s: float, problems: list[str]
) -> Activity:
    if not isinstance(item, Mapping):
        raise ExperimentError([f"{where} must be an object"])
    kind = item.get("type")
    if kind not in ("action", "probe"):
        raise ExperimentError([f"{where}.type must be 'action' or 'probe' (got {kind!r})"])
    name = item.get("name")
    if not isinstance(name, str) or not name:
        raise ExperimentError([f"{where}.name must be a non-empty string"])
    provider = item.get("provider")
    if not isinstance(provider, Mapping):
        raise ExperimentError([f"{where}.provider must be an object with a type"])
    pauses = item.get("pauses", {})
    pause_before = (
        parse_seconds(pauses.get("before"), f"{where}.pauses.before")
        if isinstance(pauses, Mapping) and pauses.get("before")
        else 0.0
    )
    pause_after = (
        parse_seconds(pauses.get("after"), f"{where}.pauses.after")
        if isinstance(pauses, Mapping) and pauses.get("after")
        else 0.0
    )
    tolerance = _tolerance(item["tolerance"], where) if "tolerance" in item else None
    ptype = provider.get("type")
    if ptype == "http":
        url = _substitute(provider.get("url"), config, f"{where}.provider.url", problems)
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ExperimentError([f"{where}.provider.url must be an http(s) URL (got {url!r})"])
        method = str(provider.get("method", "GET")).upper()
        timeout = provider.get("timeout", 5)
        return Activity(
            kind,
            name,
            "http",
            url=url,
            method=method,
            timeout_s=parse_seconds(timeout, f"{where}.provider.timeout"),
            tolerance=tolerance,
            pause_before_s=pause_before,
            pause_after_s=pause_after,
        )
    if ptype != "python":
        raise ExperimentError([f"{where}.provider.type must be 'python' or 'http' (got {ptype!r})"])
    module, func = provider.get("module"), provider.get("func")
    allowed = ACTIONS if module == "shieldx.chaos.actions" else PROBES
    if module not in ("shieldx.chaos.actions", "shieldx.chaos.probes") or func not in allowed:
        raise ExperimentError(
            [
                f"{where}.provider: ShieldX runs shieldx.chaos.actions ({', '.join(sorted(ACTIONS))})"
                f" and shieldx.chaos.probes ({', '.join(sorted(PROBES))}) in process (got "
                f"{module}.{func}); run other providers with chaostoolkit's `chaos run`"
            ]
        )
    arguments = provider.get("arguments", {})
    if not isinstance(arguments, Mapping):
        raise ExperimentError([f"{where}.provider.arguments must be an object"])
    arguments = _substitute(arguments, config, f"{where}.provider.arguments", problems)
    fault = None
    if func == "inject_fault":
        fault = fault_from_arguments(arguments, max_ttl_s=max_ttl_s, where=f"{where}.provider")
    return Activity(
        kind,
        name,
        "python",
        func=str(func),
        arguments=arguments,
        tolerance=tolerance,
        pause_before_s=pause_before,
        pause_after_s=pause_after,
        fault=fault,
    )


def fault_from_arguments(
    arguments: Mapping[str, Any], *, max_ttl_s: float, where: str = "arguments"
) -> FaultSpec:
    """The fault inject_fault(kind, target, duration, options) describes."""
    options = arguments.get("options", {}) or {}
    if not isinstance(options, Mapping):
        raise ExperimentError([f"{where}.arguments.options must be an object"])
    unknown = set(arguments) - {"kind", "target", "duration", "options", "path"}
    if unknown:
        raise ExperimentError(
            [f"{where}.arguments: unknown {sorted(unknown)} (use kind, target, duration, options)"]
        )
    ttl = parse_seconds(arguments.get("duration", "30s"), f"{where}.arguments.duration")
    spec = {**options, "kind": arguments.get("kind"), "target": arguments.get("target", "")}
    spec["ttl_s"] = ttl
    if "path" in arguments:
        spec["path"] = arguments["path"]
    try:
        return parse_fault(spec, max_ttl_s=max_ttl_s, where=f"{where}.arguments")
    except FaultSpecError as exc:
        raise ExperimentError([str(exc)]) from exc


def _tolerance(raw: object, where: str) -> Tolerance:
    if isinstance(raw, bool):
        return Tolerance("bool", raw)
    if isinstance(raw, int | float | str):
        return Tolerance("exact", raw)
    if isinstance(raw, list):
        return Tolerance("one_of", list(raw))
    if isinstance(raw, Mapping) and raw.get("type") == "range":
        bounds = raw.get("range")
        if (
            isinstance(bounds, list)
            and len(bounds) == 2
            and all(isinstance(b, int | float) and not isinstance(b, bool) for b in bounds)
            and bounds[0] <= bounds[1]
        ):
            return Tolerance("range", (float(bounds[0]), float(bounds[1])))
    raise ExperimentError(
        [
            f"{where}.tolerance must be a bool, a value, a list of values or "
            '{"type": "range", "range": [low, high]} (got ' + repr(raw) + ")"
        ]
    )


def short_form(data: Mapping[str, Any]) -> dict[str, Any]:
    """The seed's {"type", "duration", "target", "intensity"} as a Chaos Toolkit experiment.

    intensity is 0..1: latency up to 1 s, loss up to 100 %, CPU workers up to 2, memory up to
    512 MiB. Targets name a proxy from chaos.proxies (database and redis by default), a path
    ("/credits" makes high_latency an HTTP delay), or 'credits-commit' / 'pid:N'.
    """
    kind = data.get("type")
    if kind not in FAULT_TYPES:
        raise ExperimentError([f"type must be one of {', '.join(FAULT_TYPES)} (got {kind!r})"])
    unknown = set(data) - {"type", "duration", "target", "intensity", "title"}
    if unknown:
        raise ExperimentError(
            [
                f"unknown fields {sorted(unknown)} in the short form (type, duration, target, intensity)"
            ]
        )
    duration = parse_seconds(data.get("duration", "30s"), "duration")
    intensity = data.get("intensity", 0.5)
    if (
        isinstance(intensity, bool)
        or not isinstance(intensity, int | float)
        or not 0 <= intensity <= 1
    ):
        raise ExperimentError([f"intensity must be a number from 0 to 1 (got {intensity!r})"])
    target = data.get("target")
    if target is not None and not isinstance(target, str):
        raise ExperimentError([f"target must be a string (got {target!r})"])
    args: dict[str, Any] = {"duration": f"{duration}s"}
    if kind in ("high_latency", "db_slow_query"):
        where = target or "database"
        ms = round(1000 * intensity)
        if where.startswith("/"):
            args |= {"kind": "http_delay", "path": where, "options": {"delay_ms": ms}}
        else:
            args |= {
                "kind": "latency",
                "target": where,
                "options": {"latency_ms": ms, "jitter_ms": round(ms / 10)},
            }
    elif kind == "packet_loss":
        args |= {
            "kind": "loss",
            "target": target or "database",
            "options": {"percent": round(100 * intensity, 1)},
        }
    elif kind == "network_partition":
        args |= {"kind": "blackhole", "target": target or "database"}
    elif kind == "cache_failure":
        args |= {"kind": "blackhole", "target": target or "redis"}
    elif kind == "service_failure":
        where = target or "credits-commit"
        if where.startswith("pid:") and where[4:].isdigit():
            args |= {"kind": "kill", "target": "pid", "options": {"pid": int(where[4:])}}
        else:
            args |= {"kind": "kill", "target": where}
    else:
        if target == "memory":
            args |= {"kind": "memory", "options": {"megabytes": max(1, round(512 * intensity))}}
        else:
            args |= {"kind": "cpu", "options": {"workers": max(1, round(2 * intensity))}}
    return {
        "title": data.get("title") or f"{kind} ({target or 'default target'})",
        "steady-state-hypothesis": {
            "title": "ShieldX is ready",
            "probes": [
                {
                    "type": "probe",
                    "name": "service-ready",
                    "tolerance": True,
                    "provider": {
                        "type": "python",
                        "module": "shieldx.chaos.probes",
                        "func": "service_ready",
                    },
                },
            ],
        },
        "method": [
            {
                "type": "action",
                "name": f"inject-{kind}",
                "provider": {
                    "type": "python",
                    "module": "shieldx.chaos.actions",
                    "func": "inject_fault",
                    "arguments": args,
                },
            },
        ],
        "rollbacks": [
            {
                "type": "action",
                "name": "remove-faults",
                "provider": {
                    "type": "python",
                    "module": "shieldx.chaos.actions",
                    "func": "remove_faults",
                },
            },
        ],
        "extensions": [{"name": "shieldx", "type": kind, "duration": f"{duration}s"}],
    }
