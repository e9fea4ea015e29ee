"""Render a stored assessment (the dict AssessmentService.assess returns) in each format.

Pure functions of the assessment and the score history: the same inputs give the same bytes
(OSCAL uuids are derived from the assessment id, not drawn at random).
"""

from __future__ import annotations

import csv
import html
import io
import json
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

FORMATS = ("json", "csv", "html", "pdf", "oscal")
MEDIA_TYPES = {
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
    "html": "text/html; charset=utf-8",
    "pdf": "application/pdf",
    "oscal": "application/json",
}


class PdfUnavailable(Exception):
    """PDF rendering needs weasyprint (the `pdf` extra) and pango from the system."""


OSCAL_VERSION = "1.1.2"
_NAMESPACE = uuid.UUID("5f0c6a7e-3c1b-4d55-9a8e-2b7d1c0e9f41")
_COLOURS = ("#1f77b4", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2")


def select(assessment: Mapping[str, Any], framework: str) -> dict[str, Any]:
    """ASSESSMENT narrowed to FRAMEWORK ('all' keeps every one); KeyError if it is absent."""
    if framework == "all":
        return dict(assessment)
    return {**assessment, "frameworks": {framework: assessment["frameworks"][framework]}}


def select_history(history: Sequence[Mapping[str, Any]], framework: str) -> list[dict[str, Any]]:
    """HISTORY narrowed to FRAMEWORK's scores ('all' keeps every one)."""
    if framework == "all":
        return [dict(point) for point in history]
    return [
        {**point, "frameworks": {framework: point["frameworks"].get(framework, 0.0)}}
        for point in history
    ]


def render(fmt: str, assessment: Mapping[str, Any], history: Sequence[Mapping[str, Any]]) -> bytes:
    """ASSESSMENT in format FMT (one of FORMATS)."""
    if fmt == "json":
        return json.dumps({**assessment, "history": list(history)}, indent=2).encode()
    if fmt == "csv":
        return to_csv(assessment).encode()
    if fmt == "html":
        return to_html(assessment, history).encode()
    if fmt == "pdf":
        return to_pdf(to_html(assessment, history))
    if fmt == "oscal":
        return json.dumps(to_oscal(assessment), indent=2).encode()
    raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")


def to_csv(assessment: Mapping[str, Any]) -> str:
    """One row per control and check: the verdicts and the evidence digests."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(
        [
            "framework",
            "control",
            "title",
            "status",
            "score",
            "severity",
            "check",
            "check_status",
            "summary",
            "evidence_seq",
            "evidence_sha256",
        ]
    )
    for fid, framework in assessment["frameworks"].items():
        for control in framework["controls"]:
            for item in control["evidence"]:
                writer.writerow(
                    [
                        fid,
                        control["id"],
                        control["title"],
                        control["status"],
                        control["score"],
                        control["severity"] or "",
                        item["check"],
                        item["status"],
                        item["summary"],
                        item["seq"],
                        item["sha256"],
                    ]
                )
    return buffer.getvalue()


def trend_svg(history: Sequence[Mapping[str, Any]], width: int = 640, height: int = 220) -> str:
    """An inline SVG line chart of the overall and per-framework scores over HISTORY."""
    pad, legend = 36, 70  # left/top/bottom margin; room for the series names on the right
    series: dict[str, list[float]] = {"overall": [float(p["overall"]) for p in history]}
    for point in history:
        for name in point["frameworks"]:
            series.setdefault(name, [])
    for name in list(series)[1:]:
        series[name] = [float(p["frameworks"].get(name, 0.0)) for p in history]
    count = max(len(history), 1)

    def xy(index: int, value: float) -> str:
        x = pad + (width - pad - legend) * (index / (count - 1) if count > 1 else 0.5)
        y = height - pad - (height - 2 * pad) * value / 100
        return f"{x:.1f},{y:.1f}"

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'role="img" aria-label="score history">',
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="white"/>',
    ]
    for level in (0, 50, 100):
        y = height - pad - (height - 2 * pad) * level / 100
        parts.append(
            f'<line x1="{pad}" y1="{y:.1f}" x2="{width - legend}" y2="{y:.1f}" stroke="#ddd"/>'
            f'<text x="4" y="{y + 4:.1f}" font-size="10">{level}</text>'
        )
    for number, (name, values) in enumerate(series.items()):
        colour = _COLOURS[number % len(_COLOURS)]
        points = " ".join(xy(i, v) for i, v in enumerate(values))
        parts.append(
            f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{points}">'
            f"<title>{html.escape(name)}</title></polyline>"
            f'<text x="{width - legend + 4}" y="{14 + 12 * number}" font-size="10" '
            f'fill="{colour}">{html.escape(name)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def to_html(assessment: Mapping[str, Any], history: Sequence[Mapping[str, Any]]) -> str:
    """A self-contained page: the score trend and every control with its evidence."""
    e = html.escape
    rows = []
    for fid, framework in assessment["frameworks"].items():
        rows.append(
            f'<h2 id="{e(fid)}">{e(framework["title"])} ({e(fid)}): {framework["score"]:.1f}</h2>'
        )
        rows.append("<table><tr><th>control</th><th>status</th><th>evidence</th></tr>")
        for control in framework["controls"]:
            evidence = "".join(
                f'<details><summary class="{e(item["status"])}">{e(item["check"])}: '
                f"{e(item['summary'])}</summary><p>sha256 <code>{e(item['sha256'])}</code>, "
                f"chain position {item['seq']}</p>"
                f"<pre>{e(json.dumps(item['data'], indent=2, sort_keys=True))}</pre></details>"
                for item in control["evidence"]
            )
            advice = (
                f'<p class="advice">{e(control["recommendation"])}</p>'
                if control["status"] == "non_compliant"
                else ""
            )
            rows.append(
                f"<tr><td><b>{e(control['id'])}</b><br>{e(control['title'])}</td>"
                f'<td class="{e(control["status"])}">{e(control["status"])}'
                f"{' (' + e(control['severity']) + ')' if control['severity'] else ''}</td>"
                f"<td>{evidence}{advice}</td></tr>"
            )
        rows.append("</table>")
    return (
        '<!doctype html><html><head><meta charset="utf-8">'
        f"<title>ShieldX compliance report {e(assessment['id'])}</title><style>"
        "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;width:100%}"
        "td,th{border:1px solid #ccc;padding:4px;vertical-align:top;text-align:left}"
        ".compliant{color:#2ca02c}.non_compliant{color:#d62728}.not_applicable{color:#777}"
        "pre{font-size:11px;white-space:pre-wrap}code{word-break:break-all}</style></head><body>"
        f"<h1>ShieldX compliance report</h1><p>Assessment {e(assessment['id'])} at "
        f"{e(str(assessment['created_at']))}; overall score "
        f"<b>{assessment['overall']:.1f}</b></p><h2>Score history</h2>{trend_svg(history)}"
        + "".join(rows)
        + "</body></html>"
    )


def to_pdf(page: str) -> bytes:
    """The HTML report printed to PDF by WeasyPrint (evidence details shown open)."""
    try:
        from weasyprint import CSS, HTML  # type: ignore[import-untyped]
    except (ImportError, OSError) as exc:  # OSError: pango is missing
        raise PdfUnavailable(
            f"PDF reports need weasyprint and pango: pip install 'shieldx[pdf]' and "
            f"scripts/install-system-deps ({type(exc).__name__}: {exc})"
        ) from exc
    opened = page.replace("<details>", "<details open>")
    style = CSS(string="@page { size: A4; margin: 1.5cm } body { margin: 0; font-size: 10pt }")
    pdf: bytes = HTML(string=opened).write_pdf(stylesheets=[style])
    return pdf


def _uuid(*parts: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, "/".join(parts)))


def oscal_control_id(framework: str, control: str) -> str:
    """An OSCAL token for a control (tokens must start with a letter: '3.4' cannot)."""
    return f"{framework}-{control}".lower()


def to_oscal(assessment: Mapping[str, Any]) -> dict[str, Any]:
    """OSCAL Assessment Results: one result, an observation per check run and a finding per
    control (satisfied / not-satisfied); not-applicable controls are reviewed, not found."""
    rid = str(assessment["id"])
    at = str(assessment["created_at"])
    observations: dict[str, dict[str, Any]] = {}
    findings = []
    controls = []
    for fid, framework in assessment["frameworks"].items():
        for control in framework["controls"]:
            control_id = oscal_control_id(fid, control["id"])
            controls.append({"control-id": control_id})
            related = []
            for item in control["evidence"]:
                obs_uuid = _uuid(rid, "observation", str(item["seq"]))
                related.append({"observation-uuid": obs_uuid})
                observations[obs_uuid] = {
                    "uuid": obs_uuid,
                    "title": item["check"],
                    "description": f"{item['status']}: {item['summary']}",
                    "methods": ["TEST"],
                    "collected": at,
                    "relevant-evidence": [
                        {
                            "href": f"#evidence-{item['seq']}",
                            "description": f"sha256 {item['sha256']} (evidence chain "
                            f"position {item['seq']})",
                        }
                    ],
                }
            if control["status"] == "not_applicable":
                continue
            state = "satisfied" if control["status"] == "compliant" else "not-satisfied"
            findings.append(
                {
                    "uuid": _uuid(rid, "finding", control_id),
                    "title": f"{fid} {control['id']}: {control['title']}",
                    "description": control["recommendation"]
                    if state == "not-satisfied"
                    else f"{control['id']} is met ({control['score']:.0f}% of its checks).",
                    "target": {
                        "type": "objective-id",
                        "target-id": control_id,
                        "status": {"state": state},
                    },
                    "related-observations": related,
                }
            )
    return {
        "assessment-results": {
            "uuid": _uuid(rid, "assessment-results"),
            "metadata": {
                "title": f"ShieldX compliance assessment {rid}",
                "last-modified": at,
                "version": rid,
                "oscal-version": OSCAL_VERSION,
            },
            # No separate assessment plan document exists: the framework files are the plan.
            "import-ap": {"href": "#shieldx-framework-files"},
            "results": [
                {
                    "uuid": _uuid(rid, "result"),
                    "title": f"Automated assessment {rid}",
                    "description": "Controls checked against the running ShieldX platform.",
                    "start": at,
                    "end": at,
                    "reviewed-controls": {"control-selections": [{"include-controls": controls}]},
                    "observations": list(observations.values()),
                    "findings": findings,
                }
            ],
        }
    }
