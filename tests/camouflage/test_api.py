"""The management API: templates, previews, roles, selection, sessions and sensor reports."""

from __future__ import annotations

import base64
from typing import Any

import httpx

from shieldx.camouflage.decoys import render

NGINX = "nginx-1.22.1-debian"


def _report(path: str, **extra: Any) -> dict[str, Any]:
    return {
        "decoy": "sensor-7",
        "source_ip": "198.51.100.40",
        "source_port": 40100,
        "method": "GET",
        "path": path,
        "headers": [["User-Agent", "sqlmap/1.8.4#stable (https://sqlmap.org)"]],
        "status": 404,
        **extra,
    }


def test_templates_and_previews(camouflage_ctx: Any, start_camouflage: Any) -> None:
    ctx = camouflage_ctx()
    with start_camouflage(ctx) as cam:
        listed = cam.api("GET", "/v1/camouflage/templates", "auditor").json()
        names = {t["name"]: t for t in listed}
        assert set(names) == {NGINX, "apache-2.4.71-debian", "iis-10.0", "tomcat-9.0.107"}
        assert names["iis-10.0"]["server"] == "Microsoft IIS httpd"
        assert names[NGINX]["version"] == "1.22.1" and names[NGINX]["description"]
        preview = cam.api("POST", f"/v1/camouflage/template/{NGINX}", "service",
                          json={"path": "/missing", "method": "GET"})  # fmt: skip
        assert preview.status_code == 200
        shown = preview.json()
        expected = render(NGINX, "GET", "/missing")
        assert shown["status"] == 404
        assert [h[0] for h in shown["headers"]] == [h[0] for h in expected.headers]
        assert base64.b64decode(shown["body_base64"]) == expected.body
        assert shown["body"].endswith("<hr><center>nginx/1.22.1</center>\r\n</body>\r\n</html>\r\n")
        head = cam.api("POST", "/v1/camouflage/template/apache-2.4.71-debian",
                       json={"path": "/", "method": "HEAD",
                             "context": {"server_name": "www.example.org", "port": 8080}}).json()  # fmt: skip
        assert head["status"] == 200 and head["body"] == ""
        unknown = cam.api("POST", "/v1/camouflage/template/nginx-9", json={"path": "/"})
        assert unknown.status_code == 404
        assert unknown.headers["content-type"] == "application/problem+json"
        assert unknown.json()["type"] == "https://shieldx.dev/problems/unknown-template"
        assert "nginx-1.22.1-debian" in unknown.json()["detail"]
        assert (
            cam.api("POST", f"/v1/camouflage/template/{NGINX}", json={"path": "x"}).status_code
            == 422
        )


def test_roles_and_tenant_scope(camouflage_ctx: Any, start_camouflage: Any) -> None:
    ctx = camouflage_ctx(decoys=[{"name": "web", "template": NGINX, "port": 0}])
    with start_camouflage(ctx) as cam:
        body = {"context": {"source_ip": "203.0.113.1"}}
        assert cam.api("POST", "/select", "auditor", json=body).status_code == 403
        assert cam.api("GET", "/v1/camouflage/sessions", "service").status_code == 403
        scoped = cam.api("GET", "/v1/camouflage/sessions", "scoped")
        assert scoped.status_code == 403 and "platform-wide" in scoped.json()["detail"]
        assert cam.api("GET", "/v1/camouflage/sessions", "operator").status_code == 200
        assert cam.api("POST", "/v1/camouflage/select", "operator", json=body).status_code == 200
        assert httpx.get(cam.url + "/graph").status_code == 401
        bad = cam.api("POST", "/select", json={"context": {"source_ip": "not-an-ip"}})
        assert bad.status_code == 422
        unknown = cam.api("POST", "/feedback", json={"session_id": "0" * 16, "reward": 1})
        assert unknown.status_code == 404
        assert (
            cam.api("POST", "/feedback", json={"session_id": "0" * 16, "reward": 2}).status_code
            == 422
        )


def test_selection_needs_decoys(camouflage_ctx: Any, start_camouflage: Any) -> None:
    with start_camouflage(camouflage_ctx()) as cam:
        answer = cam.api("POST", "/select", json={"context": {"source_ip": "203.0.113.1"}})
        assert answer.status_code == 409 and "camouflage.decoys" in answer.json()["detail"]
        assert cam.api("GET", "/graph").json()["decoys"] == []


def test_adaptive_selects_renders_and_records(camouflage_ctx: Any, start_camouflage: Any) -> None:
    ctx = camouflage_ctx(decoys=[{"name": "iis", "template": "iis-10.0", "port": 0}])
    with start_camouflage(ctx) as cam:
        context = {"source_ip": "192.0.2.77", "user_agent": "curl/8.5.0", "path": "/.git/config"}
        answer = cam.api("POST", "/v1/camouflage/adaptive", "service", json={"context": context})
        assert answer.status_code == 200, answer.text
        shown = answer.json()
        assert shown["decoy"] == "iis" and shown["template"] == "iis-10.0"
        assert shown["response"]["status"] == 404
        assert ["Server", "Microsoft-IIS/10.0"] in shown["response"]["headers"]
        detail = cam.api("GET", f"/v1/camouflage/session/{shown['session_id']}").json()
        assert detail["session"]["via"] == "adaptive"
        assert detail["classification"]["attack_types"] == {"secrets_probe": 1}
        assert detail["events"][0]["path"] == "/.git/config"


def test_sensor_sessions_and_reports(camouflage_ctx: Any, start_camouflage: Any) -> None:
    ctx = camouflage_ctx(recording={"log_batch_max": 5})
    with start_camouflage(ctx) as cam:
        opened = cam.api(
            "POST",
            "/v1/camouflage/session",
            "service",
            json={"decoy": "sensor-7", "source_ip": "198.51.100.40",
                  "user_agent": "sqlmap/1.8.4#stable (https://sqlmap.org)"},
        )  # fmt: skip
        assert opened.status_code == 201
        session_id = opened.json()["session_id"]
        reports = [
            _report("/item.php", query="id=1 AND 4211=4211-- XyZq", session_id=session_id),
            _report("/item.php", query="id=1' UNION ALL SELECT NULL-- -"),
            _report("/login", method="POST", body="user=admin'--&pw=x",
                    time="2026-01-02T03:04:05Z"),
        ]  # fmt: skip
        logged = cam.api("POST", "/v1/camouflage/log", "service", json={"events": reports})
        assert logged.status_code == 200, logged.text
        assert logged.json() == {"accepted": 3, "sessions": [session_id]}
        detail = cam.api("GET", f"/v1/camouflage/session/{session_id}").json()
        assert detail["session"]["status"] == "live" and detail["session"]["via"] == "sensor"
        assert detail["classification"]["scanner"] == "sqlmap"
        assert detail["classification"]["attack_types"]["sql_injection"] == 3
        assert detail["engagement"]["requests"] == 3
        assert [e["via"] for e in detail["events"]] == ["sensor"] * 3
        assert detail["events"][2]["time"] == "2026-01-02T03:04:05.000000Z"
        other = cam.api("POST", "/v1/camouflage/log", "service",
                        json={"events": [_report("/", decoy="sensor-8", source_ip="192.0.2.1",
                                                 headers=[["User-Agent", "curl/8"]])]})  # fmt: skip
        assert other.status_code == 200
        found = cam.api("GET", "/v1/camouflage/sessions", params={"attack_type": "sql_injection"})
        assert [s["session_id"] for s in found.json()["sessions"]] == [session_id]
        by_decoy = cam.api("GET", "/v1/camouflage/sessions", params={"decoy": "sensor-8"}).json()
        assert [s["decoy"] for s in by_decoy["sessions"]] == ["sensor-8"]
        future = cam.api("GET", "/v1/camouflage/sessions", params={"since": "2100-01-01T00:00:00Z"})
        assert future.json()["sessions"] == []
        too_many = cam.api("POST", "/v1/camouflage/log", "service",
                           json={"events": [_report("/") for _ in range(6)]})  # fmt: skip
        assert too_many.status_code == 422 and "at most 5" in too_many.json()["detail"]
        assert cam.api("GET", "/v1/camouflage/session/" + "f" * 16).status_code == 404
        assert cam.api("GET", "/v1/camouflage/session/nope").status_code == 422
    # After a restart the sessions are stored (closed at shutdown) and still answer.
    with start_camouflage(ctx) as cam:
        detail = cam.api("GET", f"/v1/camouflage/session/{session_id}").json()
        assert detail["session"]["status"] == "closed"
        assert detail["session"]["close_reason"] == "shutdown"
        assert detail["engagement"]["requests"] == 3
        kinds = [e["event"] for e in detail["events"]]
        assert kinds == ["camouflage.request"] * 3 + ["camouflage.session.closed"]
        listed = cam.api("GET", "/v1/camouflage/sessions", params={"attack_type": "sql_injection"})
        assert [s["session_id"] for s in listed.json()["sessions"]] == [session_id]
