"""The local API under hostile or heavy requests: clear 4xx answers, never a dropped
connection, and /v1/health answering while a slow scan runs (scripted model)."""

from __future__ import annotations

import errno
import http.client
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from vulnsight.config import ScanConfig
from vulnsight.llm.fake import FakeBackend
from vulnsight.review.config_file import ProjectConfig
from vulnsight.review.server import ScanService, VulnsightServer

from .test_server import serve

CODE = "def run(x):\n    return eval(x)\n"
SAFE = {"vulnerability": False, "type": "none", "line_number": 0, "confidence": 0.9}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[VulnsightServer]:
    service = ScanService(
        ProjectConfig(root=tmp_path), ScanConfig(detectors=("llm",)), FakeBackend([SAFE] * 50)
    )
    yield from serve(service)


def call(server, method, path, body=None, timeout=10.0):
    conn = http.client.HTTPConnection(*server.server_address[:2], timeout=timeout)
    data = None if body is None else json.dumps(body).encode()
    conn.request(method, path, body=data, headers={"Content-Type": "application/json"})
    resp = conn.getresponse()
    payload = json.loads(resp.read() or b"null")
    headers = dict(resp.getheaders())
    conn.close()
    return resp.status, payload, headers


def files(*paths: str) -> dict[str, object]:
    return {"files": [{"path": p, "content": CODE} for p in paths]}


@pytest.mark.parametrize(
    ("paths", "message"),
    [
        (("a.py", "a.py"), "path given twice: 'a.py'"),
        (("a.py", "./a.py"), "path given twice: 'a.py'"),
        (("pkg/a.py", "pkg//a.py"), "path given twice: 'pkg/a.py'"),
        (("pkg", "pkg/a.py"), "'pkg' is a file but 'pkg/a.py' puts files under it"),
        (("x" * 300 + ".py",), "longer than 255 bytes"),
    ],
)
def test_duplicate_and_clashing_paths_are_refused_with_400(server, paths, message):
    status, payload, _ = call(server, "POST", "/v1/scan", files(*paths))
    assert status == 400
    assert message in payload["error"]


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (PermissionError(errno.EACCES, "Permission denied"), 403),
        (FileNotFoundError(errno.ENOENT, "No such file or directory"), 404),
        (OSError(errno.ENAMETOOLONG, "File name too long"), 400),
    ],
)
def test_file_system_errors_answer_4xx_with_a_json_body(server, monkeypatch, error, status):
    def fail(self, *args, **kwargs):
        raise error

    monkeypatch.setattr(Path, "write_text", fail)
    got, payload, _ = call(server, "POST", "/v1/scan", files("pkg/a.py"))
    assert got == status
    assert payload["error"].startswith("cannot write 'pkg/a.py': ")
    assert error.strerror in payload["error"]


def test_an_unexpected_failure_answers_500_instead_of_dropping(server, monkeypatch):
    import vulnsight.review.workflow as workflow

    def boom(*args, **kwargs):
        raise RuntimeError("secret detail")

    monkeypatch.setattr(workflow, "review_scan", boom)
    got, payload, _ = call(server, "POST", "/v1/scan", files("a.py"))
    assert got == 500
    assert payload == {"error": "internal error: RuntimeError"}
    assert call(server, "GET", "/v1/health")[0] == 200  # still serving


class _Gate:
    """A model that blocks until released (bounded), to hold a scan open."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()

    def __call__(self, prompt):
        self.entered.set()
        self.release.wait(20)
        return SAFE


def test_health_and_a_second_request_answer_while_a_slow_scan_runs(tmp_path):
    gate = _Gate()
    service = ScanService(
        ProjectConfig(root=tmp_path),
        ScanConfig(detectors=("llm",)),
        FakeBackend(responder=gate),
        max_scans=1,
        wait_seconds=0.2,
    )
    serving = serve(service)
    server = next(serving)
    slow: dict[str, object] = {}

    def run_slow() -> None:
        slow["result"] = call(server, "POST", "/v1/scan", files("slow.py"), timeout=30)

    worker = threading.Thread(target=run_slow, daemon=True)
    worker.start()
    try:
        assert gate.entered.wait(20), "the slow scan never reached the model"
        status, payload, _ = call(server, "GET", "/v1/health", timeout=5)
        assert (status, payload["status"]) == (200, "ok")
        # every slot is taken: a second scan is told to come back, not kept waiting
        status, payload, headers = call(server, "POST", "/v1/scan", files("b.py"), timeout=5)
        assert status == 503 and "busy" in payload["error"]
        assert headers["Retry-After"] == "1"
    finally:
        gate.release.set()
        worker.join(20)
    try:
        assert slow["result"][0] == 200  # type: ignore[index]
        # once it is done, the next scan is served
        assert call(server, "POST", "/v1/scan", files("c.py"))[0] == 200
    finally:
        serving.close()
