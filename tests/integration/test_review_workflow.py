"""The review workflow end to end in a real git repository: first scan, baseline, a new
vulnerable change reported alone by `--diff`, an inline suppression listed in SARIF,
a triage decision exported as a training record, and the same scan through the API."""

from __future__ import annotations

import http.client
import json
import subprocess
import threading
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from vulnsight.cli import main
from vulnsight.config import ScanConfig
from vulnsight.review.config_file import discover_config
from vulnsight.review.server import ScanService, ServerOptions, VulnsightServer

pytestmark = [pytest.mark.semgrep]

APP = """import os
import sqlite3


def find_user(conn, name):
    cur = conn.cursor()
    cur.execute("SELECT * FROM users WHERE name = '" + name + "'")
    return cur.fetchall()


def total(items):
    return sum(i.price for i in items)
"""
VIEW = """function greet(name) {
  return "hello " + name;
}
"""
CHANGE = """

def ping(host):
    return os.system("ping -c 1 " + host)


def calc(expr):
    return eval(expr)  # vulnsight: ignore[CWE-95] expr comes from our own config
"""


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, check=True, capture_output=True, text=True
    ).stdout


def cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout


def found(report: dict) -> list[tuple[str, int, str, bool]]:
    return [(f["file"], f["line_number"], f["cwe"], f["suppressed"]) for f in report["findings"]]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    git(repo, "config", "user.email", "dev@example.com")
    git(repo, "config", "user.name", "dev")
    (repo / "app.py").write_text(APP)
    (repo / "web").mkdir()
    (repo / "web" / "view.js").write_text(VIEW)
    (repo / "vulnsight.toml").write_text('detectors = ["rules"]\n')
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "init")
    return repo


def test_review_workflow(repo: Path, tmp_path: Path, sarif_schema: dict) -> None:
    # 1. First scan: the known SQL injection.
    code, out = cli("scan", str(repo), "--format", "json", "--no-progress")
    first = json.loads(out)
    assert code == 1 and found(first) == [("app.py", 7, "CWE-89", False)]

    # 2. Baseline of today's findings.
    baseline = repo / "vulnsight-baseline.json"
    code, _ = cli("baseline", "create", str(repo), "-o", str(baseline))
    assert code == 0 and json.loads(baseline.read_text())["findings"][0]["line"] == 7

    # 3. A change: code above the old finding moves it down; a new vulnerable function
    #    and a suppressed one are added; the untouched file stays out of the diff.
    (repo / "app.py").write_text('"""Users."""\n\n' + APP + CHANGE)
    code, out = cli(
        "scan", str(repo), "--diff", "HEAD", "--baseline", str(baseline), "--format", "json"
    )
    diffed = json.loads(out)
    assert found(diffed) == [("app.py", 18, "CWE-78", False), ("app.py", 22, "CWE-95", True)]
    assert code == 1
    assert diffed["stats"]["changed_files"] == 1
    assert diffed["stats"]["outside_change"] == 1  # the SQL injection: not in changed code

    # Without --diff the baseline alone still hides the moved finding (listed as
    # suppressed by the baseline, so JSON and SARIF show what it hid).
    _, out = cli("scan", str(repo), "--baseline", str(baseline), "--format", "json")
    assert json.loads(out)["stats"]["baseline_matched"] == 1  # moved from line 7 to 9
    assert found(json.loads(out)) == [
        ("app.py", 9, "CWE-89", True),
        ("app.py", 18, "CWE-78", False),
        ("app.py", 22, "CWE-95", True),
    ]
    assert json.loads(out)["findings"][0]["suppressed_by"] == "baseline"

    # 4. SARIF lists the suppressed finding under `suppressions`.
    _, out = cli("scan", str(repo), "--diff", "HEAD", "--format", "sarif")
    sarif = json.loads(out)
    jsonschema.validate(sarif, sarif_schema)
    by_line = {
        r["locations"][0]["physicalLocation"]["region"]["startLine"]: r
        for r in sarif["runs"][0]["results"]
    }
    assert by_line[22]["suppressions"] == [
        {"kind": "inSource", "justification": "inline: expr comes from our own config"}
    ]
    assert "suppressions" not in by_line[18]

    # 5. Triage: the new finding is real; export it as a training record.
    ping = next(f for f in diffed["findings"] if f["cwe"] == "CWE-78")
    code, _ = cli(
        "triage",
        str(repo),
        "--fingerprint",
        ping["fingerprint"][:12],
        "--label",
        "tp",
        "--note",
        "host is user input",
        "--project",
        "demo",
    )
    assert code == 0
    records = tmp_path / "feedback.jsonl"
    code, _ = cli("feedback", "export", str(repo), "-o", str(records))
    (record,) = [json.loads(line) for line in records.read_text().splitlines()]
    assert record["label"] == 1 and record["cwe"] == "CWE-78"
    assert record["code"] == 'def ping(host):\n    return os.system("ping -c 1 " + host)'
    assert record["lines"] == [2] and record["path"] == "app.py"
    assert record["source"] == "vulnsight-feedback" and record["project"] == "demo"
    assert record["meta"]["fingerprint"] == ping["fingerprint"]
    assert record["meta"]["note"] == "host is user input"

    # 6. The same scan through the local API, over a real socket.
    _, out = cli("scan", str(repo), "--format", "json")
    expected = found(json.loads(out))
    project = discover_config(None, repo)
    service = ScanService(project, ScanConfig(detectors=("rules",)))
    server = VulnsightServer(service, ServerOptions(port=0))
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        files = [
            {"path": p.relative_to(repo).as_posix(), "content": p.read_text()}
            for p in sorted(repo.rglob("*.[pj]y")) + sorted(repo.rglob("*.js"))
        ]
        conn = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=60)
        conn.request(
            "POST",
            "/v1/scan",
            json.dumps({"files": files}),
            {"Content-Type": "application/json"},
        )
        resp = conn.getresponse()
        assert resp.status == 200
        assert found(json.loads(resp.read())) == expected
        conn.close()
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
