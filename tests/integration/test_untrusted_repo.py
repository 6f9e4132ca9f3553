"""A hostile repository against the real CLI (a subprocess), in a real git repository:
its configuration cannot send code anywhere, planted or damaged state changes nothing,
its filters, thresholds and baseline cannot empty the report without it showing, marks
in string literals suppress nothing, and a scan leaves the tree untouched.

The model is the fake backend (`--model fake`: every function judged vulnerable,
CWE-20 on the function's first line, confidence 0.9) or a loopback fake endpoint, so
these tests need no model file.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import jsonschema
import pytest

import vulnsight
from vulnsight.review.cache import CACHE_FILE, function_key
from vulnsight.review.state import repo_key

SRC = Path(vulnsight.__file__).resolve().parents[1]

APP = """import os


def run(cmd):
    return os.system(cmd)


def add(a, b):
    return a + b
"""
LIB = """def calc(expr):
    return expr * 2


def name(user):
    return user.name
"""
# (file, line, cwe) of the fake model's findings on APP and LIB: one per function.
FAKE = [
    ("app.py", 4, "CWE-20"),
    ("app.py", 8, "CWE-20"),
    ("pkg/lib.py", 1, "CWE-20"),
    ("pkg/lib.py", 5, "CWE-20"),
]


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, check=True, capture_output=True, text=True
    ).stdout


def vulnsight_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """`vulnsight ARGS` in a subprocess, with this checkout's source first on the path.

    Scans judge every function (`--gate off`): these tests count what reaches the model."""
    if args[:1] == ("scan",) or args[:2] == ("baseline", "create"):
        args = (*args, "--gate", "off")
    full = dict(os.environ)
    full["PYTHONPATH"] = os.pathsep.join([str(SRC), full.get("PYTHONPATH", "")])
    full.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "vulnsight.cli", *args],
        capture_output=True,
        text=True,
        env=full,
        timeout=300,
    )


def fake_scan(repo: Path, *extra: str, fmt: str = "json", env: dict[str, str] | None = None):
    return vulnsight_cli(
        "scan",
        str(repo),
        "--detectors",
        "llm",
        "--model",
        "fake",
        "--no-progress",
        "--format",
        fmt,
        *extra,
        env=env,
    )


def shown(report: dict, suppressed: bool = False) -> list[tuple[str, int, str]]:
    return [
        (f["file"], f["line_number"], f["cwe"])
        for f in report["findings"]
        if f["suppressed"] == suppressed
    ]


def commit(repo: Path, files: dict[str, str | bytes]) -> None:
    for name, content in files.items():
        path = repo / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "change")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    git(repo, "config", "user.email", "dev@example.com")
    git(repo, "config", "user.name", "dev")
    commit(repo, {"app.py": APP, "pkg/lib.py": LIB})
    return repo


def clean(repo: Path) -> bool:
    return git(repo, "status", "--porcelain", "--ignored") == ""


class FakeEndpoint:
    """A loopback OpenAI-compatible endpoint that counts what it receives."""

    def __init__(self) -> None:
        self.requests: list[dict[str, str]] = []
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length", 0))
                self.rfile.read(length)
                endpoint.requests.append(dict(self.headers))
                verdict = {
                    "vulnerability": False,
                    "type": "none",
                    "line_number": 0,
                    "confidence": 0.9,
                }
                body = json.dumps(
                    {"choices": [{"message": {"content": json.dumps(verdict)}}]}
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1#x"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def endpoint() -> Iterator[FakeEndpoint]:
    server = FakeEndpoint()
    yield server
    server.close()


@pytest.mark.model
def test_repository_config_cannot_send_code_to_its_endpoint(repo: Path, endpoint: FakeEndpoint):
    # No --model flag: the refused endpoint gives way to the embedded default model
    # (which judges JavaScript; it is off in Python).
    commit(
        repo,
        {
            "vulnsight.toml": f'model = "{endpoint.url}"\n',
            "web.js": "function run(req) {\n  return eval(req.query.x);\n}\n",
        },
    )
    env = {"VULNSIGHT_API_KEY": "user-secret"}
    res = vulnsight_cli(
        "scan", str(repo), "--detectors", "llm", "--format", "json", "--no-progress", env=env
    )
    assert res.returncode in (0, 1), res.stderr
    assert endpoint.requests == []
    report = json.loads(res.stdout)
    assert report["stats"]["llm_functions"] == 1 and report["stats"]["model_loaded"] == 1
    (effect,) = [e for e in report["config"] if e["key"] == "model"]
    assert (effect["action"], effect["source"]) == ("refused", "vulnsight.toml")
    text = vulnsight_cli("scan", str(repo), "--detectors", "llm", "--no-progress", env=env)
    assert endpoint.requests == []
    assert "repository configuration changed (vulnsight.toml):" in text.stdout
    assert f"model: model '{endpoint.url}' refused" in text.stdout
    assert "--allow-repo-model [refused]" in text.stdout
    assert clean(repo)


def test_allowed_repository_endpoint_never_gets_the_api_key(repo: Path, endpoint: FakeEndpoint):
    commit(repo, {"vulnsight.toml": f'model = "{endpoint.url}"\n'})
    env = {"VULNSIGHT_API_KEY": "user-secret"}
    res = vulnsight_cli(
        "scan",
        str(repo),
        "--detectors",
        "llm",
        "--allow-repo-model",
        "--format",
        "json",
        "--no-progress",
        env=env,
    )
    assert res.returncode == 0, res.stderr
    assert len(endpoint.requests) == 4  # one per function
    assert all("Authorization" not in h for h in endpoint.requests)
    (effect,) = [e for e in json.loads(res.stdout)["config"] if e["key"] == "model"]
    assert effect["action"] == "applied" and "allowed by the user" in effect["message"]
    # Named by the user, the same endpoint gets the key.
    res = vulnsight_cli(
        "scan",
        str(repo),
        "--detectors",
        "llm",
        "--model",
        endpoint.url,
        "--format",
        "json",
        "--no-progress",
        "--no-cache",
        env=env,
    )
    assert res.returncode == 0, res.stderr
    assert len(endpoint.requests) == 8
    assert endpoint.requests[-1]["Authorization"] == "Bearer user-secret"
    assert clean(repo)


def test_user_config_can_allow_the_repository_model(repo, endpoint, tmp_path):
    commit(repo, {"pyproject.toml": f'[tool.vulnsight]\nmodel = "{endpoint.url}"\n'})
    user = tmp_path / "user.toml"
    user.write_text("allow_repo_model = true\n")
    res = vulnsight_cli(
        "scan",
        str(repo),
        "--detectors",
        "llm",
        "--format",
        "json",
        "--no-progress",
        env={"VULNSIGHT_CONFIG": str(user)},
    )
    assert res.returncode == 0, res.stderr
    assert len(endpoint.requests) == 4


def test_a_config_passed_with_config_inside_the_tree_is_untrusted(repo, endpoint, tmp_path):
    commit(repo, {"ci/vulnsight.toml": f'model = "{endpoint.url}"\nmin_confidence = 1.0\n'})
    res = fake_scan(repo, "--config", str(repo / "ci" / "vulnsight.toml"))
    report = json.loads(res.stdout)
    assert shown(report) == FAKE  # min_confidence limited to 0.3
    outside = tmp_path / "ci.toml"
    outside.write_text("min_confidence = 1.0\n")
    res = fake_scan(repo, "--config", str(outside))
    assert json.loads(res.stdout)["findings"] == [] and res.returncode == 0  # trusted


def test_planted_state_in_the_tree_changes_nothing(repo: Path, tmp_path: Path):
    first = fake_scan(repo, env={"VULNSIGHT_STATE_DIR": str(tmp_path / "a")})
    expected = json.loads(first.stdout)
    assert shown(expected) == FAKE and first.returncode == 1

    # A committed cache with forged "not vulnerable" verdicts for every function (the
    # keys are hashes of public inputs), and a triage database calling them false
    # positives.
    from vulnsight.parse import extract
    from vulnsight.review.cache import VerdictCache
    from vulnsight.review.interface import CachedVerdict
    from vulnsight.review.triage import Decision, TriageStore
    from vulnsight.types import SourceFile

    planted = tmp_path / "planted"
    cache = VerdictCache(planted / CACHE_FILE)
    functions = extract(SourceFile("app.py", "python", APP)) + extract(
        SourceFile("pkg/lib.py", "python", LIB)
    )
    cache.put_many("fake", {fn: CachedVerdict(0.0) for fn in functions})
    assert function_key("fake", functions[0])
    cache.close()
    store = TriageStore(planted / "triage.sqlite3")
    for f in expected["findings"]:
        store.save(
            Decision(
                f["fingerprint"],
                0,
                None,
                f["cwe"],
                f["file"],
                None,
                f["line_number"],
                "python",
                "",
                1,
                None,
                "forged",
                "2026",
                "x",
            )
        )
    store.close()
    for name in (CACHE_FILE, "triage.sqlite3"):
        data = (planted / name).read_bytes()
        (repo / ".vulnsight").mkdir(exist_ok=True)
        (repo / ".vulnsight" / name).write_bytes(data)
    git(repo, "add", "-f", ".vulnsight")
    git(repo, "commit", "-qm", "plant state")

    again = fake_scan(repo, env={"VULNSIGHT_STATE_DIR": str(tmp_path / "b")})
    report = json.loads(again.stdout)
    assert shown(report) == FAKE and again.returncode == 1
    assert report["stats"]["cache_hits"] == 0
    (legacy,) = [e for e in report["config"] if e["key"] == "state"]
    assert legacy["action"] == "ignored"
    assert clean(repo)
    # The state went to the state directory, outside the tree.
    assert (tmp_path / "b" / "repos" / repo_key(repo) / CACHE_FILE).is_file()


def test_damaged_and_unwritable_state_degrade_with_a_warning(repo: Path, tmp_path: Path):
    base = tmp_path / "state"
    env = {"VULNSIGHT_STATE_DIR": str(base)}
    expected = shown(json.loads(fake_scan(repo, env=env).stdout))
    assert expected == FAKE
    path = base / "repos" / repo_key(repo) / CACHE_FILE
    assert path.is_file()

    # Not a database at all.
    for suffix in ("-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    path.write_bytes(b"this is not a database" * 100)
    res = fake_scan(repo, env=env)
    report = json.loads(res.stdout)
    assert shown(report) == expected and res.returncode == 1
    (warning,) = [e for e in report["errors"] if e["detector"] == "state"]
    assert "unusable" in warning["reason"]
    text = fake_scan(repo, fmt="text", env=env).stdout
    assert "warning: verdict cache" in text

    # A corrupt page inside a real database.
    path.unlink()
    fake_scan(repo, env=env)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    data = bytearray(path.read_bytes())
    page = 4096
    data[page : 2 * page] = b"\xff" * page  # the verdicts table's first page
    path.write_bytes(bytes(data))
    res = fake_scan(repo, env=env)
    report = json.loads(res.stdout)
    assert shown(report) == expected and res.returncode == 1
    assert [e for e in report["errors"] if e["detector"] == "state"]

    # A state directory that cannot be created (a read-only file system).
    res = fake_scan(repo, env={"VULNSIGHT_STATE_DIR": "/proc/vulnsight-state"})
    report = json.loads(res.stdout)
    assert shown(report) == expected and res.returncode == 1
    assert [e for e in report["errors"] if e["detector"] == "state"]
    assert clean(repo)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through read-only modes")
def test_read_only_state_directory(repo: Path, tmp_path: Path):
    base = tmp_path / "state"
    env = {"VULNSIGHT_STATE_DIR": str(base)}
    expected = shown(json.loads(fake_scan(repo, env=env).stdout))
    commit(repo, {"pkg/more.py": "def more(x):\n    return x\n"})  # a cache miss
    for p in base.rglob("*"):
        p.chmod(0o500 if p.is_dir() else 0o400)
    try:
        res = fake_scan(repo, env=env)
    finally:
        for p in base.rglob("*"):
            p.chmod(0o700)
    report = json.loads(res.stdout)
    assert shown(report) == [*expected, ("pkg/more.py", 1, "CWE-20")]
    assert [e for e in report["errors"] if e["detector"] == "state"]


def test_repository_filters_and_thresholds_cannot_empty_the_report(repo: Path):
    commit(repo, {"vulnsight.toml": 'exclude = ["**"]\nmin_confidence = 1.0\n'})
    res = fake_scan(repo)
    report = json.loads(res.stdout)
    assert shown(report) == FAKE and res.returncode == 1
    actions = {(e["key"], e["action"]) for e in report["config"]}
    assert ("exclude", "refused") in actions and ("min_confidence", "limited") in actions
    text = fake_scan(repo, fmt="text").stdout
    assert "repository configuration changed (vulnsight.toml):" in text
    assert "min_confidence 1.0 limited to 0.3" in text
    assert "exclude ['**'] would drop the whole tree [refused]" in text

    # Filters that leave no file are dropped as a whole; a normal one applies, counted.
    commit(repo, {"vulnsight.toml": 'include = ["nothing/**"]\n'})
    report = json.loads(fake_scan(repo).stdout)
    assert shown(report) == FAKE
    (effect,) = [e for e in report["config"] if e["key"] == "include"]
    assert effect["action"] == "refused" and effect["count"] == 2
    commit(repo, {"vulnsight.toml": 'exclude = ["pkg/**"]\n'})
    report = json.loads(fake_scan(repo).stdout)
    assert shown(report) == FAKE[:2]
    (effect,) = [e for e in report["config"] if e["key"] == "exclude"]
    assert (effect["action"], effect["count"]) == ("applied", 1)
    assert clean(repo)


def test_repository_baseline_and_ignores_are_counted(repo: Path, tmp_path: Path, sarif_schema):
    baseline = tmp_path / "baseline.json"
    res = vulnsight_cli(
        "baseline",
        "create",
        str(repo),
        "--detectors",
        "llm",
        "--model",
        "fake",
        "-o",
        str(baseline),
    )
    assert res.returncode == 0, res.stderr
    commit(
        repo,
        {
            ".vulnsight-baseline.json": baseline.read_text(),
            "vulnsight.toml": 'baseline = ".vulnsight-baseline.json"\n'
            '[[ignore]]\npaths = ["**"]\nreason = "everything"\n',
            "new.py": "def fresh(x):\n    return x\n",
        },
    )
    res = fake_scan(repo, fmt="text")
    assert res.returncode == 1
    assert "new.py" in res.stdout and "app.py" not in res.stdout
    assert "4 findings hidden by baseline .vulnsight-baseline.json" in res.stdout
    assert "suppressed: 4 finding(s) not shown (baseline 4)" in res.stdout
    assert "1 ignore table(s) selecting every finding [refused]" in res.stdout

    report = json.loads(fake_scan(repo).stdout)
    assert shown(report) == [("new.py", 1, "CWE-20")]
    assert shown(report, suppressed=True) == FAKE
    assert report["stats"]["suppressed_baseline"] == 4
    (effect,) = [e for e in report["config"] if e["key"] == "baseline"]
    assert effect["count"] == 4

    sarif = json.loads(fake_scan(repo, fmt="sarif").stdout)
    jsonschema.validate(sarif, sarif_schema)
    run = sarif["runs"][0]
    states = sorted(
        (r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"], r["baselineState"])
        for r in run["results"]
    )
    assert states == [
        ("app.py", "unchanged"),
        ("app.py", "unchanged"),
        ("new.py", "new"),
        ("pkg/lib.py", "unchanged"),
        ("pkg/lib.py", "unchanged"),
    ]
    assert all(
        r["suppressions"][0]["kind"] == "external"
        for r in run["results"]
        if r["baselineState"] == "unchanged"
    )
    invocation = run["invocations"][0]
    assert invocation["properties"]["suppressed"]["baseline"] == 4
    notes = [n["message"]["text"] for n in invocation["toolExecutionNotifications"]]
    assert any("4 findings hidden by baseline" in n for n in notes)
    assert clean(repo)


@pytest.mark.semgrep
def test_marks_in_string_literals_suppress_nothing(repo: Path):
    commit(
        repo,
        {
            "calc.py": (
                "def calc(expr):\n"
                '    return eval(expr + "  # vulnsight: ignore[CWE-95]")\n'
                "\n\n"
                "def calc2(expr):\n"
                "    return eval(expr)  # vulnsight: ignore[CWE-95] trusted\n"
            ),
            "web.js": (
                'function run(req) {\n  return eval(req.query.x + "// vulnsight: ignore");\n}\n'
            ),
        },
    )
    res = vulnsight_cli(
        "scan", str(repo), "--detectors", "rules", "--format", "json", "--no-progress"
    )
    report = json.loads(res.stdout)
    found = {(f["file"], f["line_number"], f["suppressed"]) for f in report["findings"]}
    assert ("calc.py", 2, False) in found and ("web.js", 2, False) in found
    assert ("calc.py", 6, True) in found
    assert report["stats"]["suppressed_inline"] == 1
    text = vulnsight_cli("scan", str(repo), "--detectors", "rules", "--no-progress").stdout
    assert "suppressed: 1 finding(s) not shown (inline mark 1)" in text
    assert clean(repo)
