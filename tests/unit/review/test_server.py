"""The local API over a real socket on 127.0.0.1 (scripted model, no Semgrep)."""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Iterator

import pytest

from vulnsight.config import ScanConfig
from vulnsight.errors import ConfigError
from vulnsight.llm.fake import FakeBackend
from vulnsight.review.config_file import ProjectConfig
from vulnsight.review.server import ScanService, ServerOptions, VulnsightServer

EVAL = "def run(x):\n    return eval(x)\n\n\ndef ok(x):\n    return x\n"


def responder(prompt):
    if "eval(" in prompt.body:
        return {"vulnerability": True, "type": "CWE-95", "line_number": 2, "confidence": 0.9}
    return {"vulnerability": False, "type": "none", "line_number": 0, "confidence": 0.9}


def _start(tmp_path, **opts) -> Iterator[VulnsightServer]:
    project = ProjectConfig(root=tmp_path)
    config = ScanConfig(detectors=("llm",), gate="off")  # every function asked: cache counts
    yield from serve(ScanService(project, config, FakeBackend(responder=responder)), **opts)


def serve(service: ScanService, **opts) -> Iterator[VulnsightServer]:
    """A running server for `service` on a free loopback port, shut down afterwards."""
    server = VulnsightServer(service, ServerOptions(port=0, **opts))
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def server(tmp_path):
    yield from _start(tmp_path, max_request_bytes=4096)


@pytest.fixture
def secured(tmp_path):
    yield from _start(tmp_path, token="s3cret")


def call(server, method, path, body=None, headers=None):
    conn = http.client.HTTPConnection(*server.server_address[:2], timeout=10)
    data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    hdrs = {"Content-Type": "application/json", **(headers or {})}
    conn.request(method, path, body=data, headers=hdrs)
    resp = conn.getresponse()
    payload = json.loads(resp.read() or b"null")
    conn.close()
    return resp.status, payload


def test_health_and_openapi(server):
    assert call(server, "GET", "/v1/health") == (200, {"status": "ok", "version": "0.1.0"})
    status, doc = call(server, "GET", "/v1/openapi.json")
    assert status == 200 and doc["openapi"] == "3.1.0"
    assert set(doc["paths"]) == {"/v1/health", "/v1/openapi.json", "/v1/scan"}
    assert "ScanRequest" in doc["components"]["schemas"]


def test_scan_files_and_snippet(server):
    status, report = call(
        server, "POST", "/v1/scan", {"files": [{"path": "pkg/a.py", "content": EVAL}]}
    )
    assert status == 200
    assert [(f["file"], f["line_number"], f["cwe"]) for f in report["findings"]] == [
        ("pkg/a.py", 2, "CWE-95")
    ]
    status, report = call(server, "POST", "/v1/scan", {"snippet": EVAL, "language": "python"})
    assert status == 200 and [f["file"] for f in report["findings"]] == ["snippet.py"]
    assert report["stats"]["cache_hits"] == 2  # the same functions, asked once


def test_sarif_and_inline_suppressions(server):
    code = EVAL.replace("eval(x)", "eval(x)  # vulnsight: ignore[CWE-95] sandboxed")
    status, sarif = call(
        server, "POST", "/v1/scan", {"snippet": code, "language": "python", "format": "sarif"}
    )
    assert status == 200 and sarif["version"] == "2.1.0"
    result = sarif["runs"][0]["results"][0]
    assert result["suppressions"] == [{"kind": "inSource", "justification": "inline: sandboxed"}]


@pytest.mark.parametrize(
    ("body", "headers", "status"),
    [
        ({"files": [{"path": "../x.py", "content": ""}]}, {}, 400),
        ({"files": [{"path": "/etc/x.py", "content": ""}]}, {}, 400),
        ({"snippet": "x", "language": "cobol"}, {}, 400),
        ({"snippet": "x", "files": []}, {}, 400),
        ({"snippet": "x", "language": "python", "extra": 1}, {}, 400),
        (b"not json", {}, 400),
        ({"snippet": "x" * 5000, "language": "python"}, {}, 413),
        ({"snippet": "x", "language": "python"}, {"Content-Type": "text/plain"}, 415),
        ({"snippet": "x", "language": "python"}, {"Host": "evil.example:80"}, 403),
    ],
)
def test_bad_requests_are_refused(server, body, headers, status):
    got, payload = call(server, "POST", "/v1/scan", body, headers)
    assert got == status and payload["error"]


def test_token_required_when_set(secured):
    body = {"snippet": EVAL, "language": "python"}
    assert call(secured, "POST", "/v1/scan", body)[0] == 401
    assert call(secured, "POST", "/v1/scan", body, {"Authorization": "Bearer nope"})[0] == 401
    ok = call(secured, "POST", "/v1/scan", body, {"Authorization": "Bearer s3cret"})
    assert ok[0] == 200
    assert call(secured, "GET", "/v1/openapi.json")[0] == 401
    assert call(secured, "GET", "/v1/health")[0] == 200


def test_non_loopback_needs_a_token():
    with pytest.raises(ConfigError, match="without a token"):
        ServerOptions(host="0.0.0.0")
    assert ServerOptions(host="0.0.0.0", token="t").token == "t"
    assert ServerOptions(host="::1").host == "::1"
