"""The exit status contract and the report file, through the real CLI.

0 clean, 1 findings, 2 error, for every command; an error is one line on stderr and
never leaves an older report at the `-o` path; `-o` never writes through a link or
onto scanned source; the rules see every file that is counted as scanned.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

import vulnsight

SRC = str(Path(vulnsight.__file__).resolve().parents[1])  # the copy under test
needs_semgrep = pytest.mark.skipif(
    shutil.which("semgrep") is None and not (Path(sys.executable).parent / "semgrep").is_file(),
    reason="no semgrep",
)
OLD = '{"runs": [], "note": "a report from an earlier run"}\n'
CMD_INJECTION = 'import os\n\n\ndef run(x):\n    os.system("ls " + x)\n'
EVAL_JS = "function g(req) {\n  return eval(req.query.x);\n}\n"


def vulnsight(*args: str, cwd: Path, env: dict[str, str] | None = None, prelude: str = ""):
    """Run the real CLI in a subprocess (`prelude`: Python run first, to break things)."""
    code = f"{prelude}\nfrom vulnsight.cli import main\nmain(prog_name='vulnsight')"
    full_env = {**os.environ, "PYTHONPATH": SRC}
    full_env.pop("VULNSIGHT_DEBUG", None)
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def git_repo(path: Path, files: dict[str, str]) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text(text)
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "init"]):
        subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
            cwd=path,
            check=True,
            capture_output=True,
        )
    return path


BOOM = (
    "import vulnsight.detectors.rules as r\n"
    "def boom(self, batch, progress=None):\n"
    "    raise RuntimeError('detector exploded\\nsecond line')\n"
    "r.RulesDetector.detect_all = boom\n"
)


def test_an_unexpected_crash_exits_2_in_one_line_and_removes_the_old_report(tmp_path):
    repo = git_repo(tmp_path / "repo", {"a.py": CMD_INJECTION})
    report = tmp_path / "vulnsight.sarif"
    report.write_text(OLD)
    res = vulnsight(
        "scan", str(repo), "--detectors", "rules", "--format", "sarif", "-o", str(report),
        cwd=tmp_path, prelude=BOOM,
    )  # fmt: skip
    assert res.returncode == 2
    lines = res.stderr.splitlines()
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith(
        "vulnsight: internal error: RuntimeError: detector exploded second line"
    )
    assert f"removed the old {report}" in lines[0]
    assert "Traceback" not in res.stderr
    assert not report.exists()
    assert res.stdout == ""


def test_debug_shows_the_traceback(tmp_path):
    repo = git_repo(tmp_path / "repo", {"a.py": CMD_INJECTION})
    for args, env in ((["--debug"], None), ([], {"VULNSIGHT_DEBUG": "1"})):
        res = vulnsight(
            *args, "scan", str(repo), "--detectors", "rules", cwd=tmp_path, env=env, prelude=BOOM
        )
        assert res.returncode == 2
        assert "Traceback (most recent call last)" in res.stderr
        assert "RuntimeError: detector exploded" in res.stderr


def test_a_corrupt_config_exits_2_and_the_old_report_is_not_left(tmp_path):
    repo = git_repo(tmp_path / "repo", {"a.py": CMD_INJECTION, "vulnsight.toml": "[scan\n"})
    report = tmp_path / "out.json"
    report.write_text(OLD)
    res = vulnsight("scan", str(repo), "--format", "json", "-o", str(report), cwd=tmp_path)
    assert res.returncode == 2
    assert len(res.stderr.splitlines()) == 1 and "removed the old" in res.stderr
    assert not report.exists()


@pytest.mark.parametrize(
    "command",
    [
        ["scan", "missing"],
        ["scan", "repo", "missing"],
        ["baseline", "create", "missing", "-o", "base.json"],
        ["triage", "missing", "--fingerprint", "deadbeef", "--label", "fp"],
        ["feedback", "export", "missing"],
    ],
)
def test_a_path_that_does_not_exist_exits_2(tmp_path, command):
    git_repo(tmp_path / "repo", {"a.py": "x = 1\n"})
    rules_only = ["--detectors", "rules"] if command[0] != "feedback" else []
    res = vulnsight(*command, *rules_only, cwd=tmp_path)
    assert res.returncode == 2, res.stderr
    assert res.stderr.strip() == "vulnsight: no such file or directory: missing"


def test_usage_errors_and_unknown_commands_exit_2(tmp_path):
    assert vulnsight("scan", cwd=tmp_path).returncode == 2
    assert vulnsight("nope", cwd=tmp_path).returncode == 2
    assert vulnsight("eval", "--no-such-flag", cwd=tmp_path).returncode == 2
    assert vulnsight("--version", cwd=tmp_path).returncode == 0


def test_report_through_a_symbolic_link_is_refused(tmp_path):
    repo = git_repo(tmp_path / "repo", {"a.py": "x = 1\n"})
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    link = repo / "vulnsight.sarif"
    os.symlink(victim, link)  # planted by the repository
    res = vulnsight("scan", str(repo), "--detectors", "rules", "-o", str(link), cwd=tmp_path)
    assert res.returncode == 2
    assert "refusing to write the report through symbolic link" in res.stderr
    assert victim.read_text() == "precious\n"
    assert not os.path.lexists(link)  # not left to pass for this run's report
    # a linked directory inside the scanned tree is refused too
    os.symlink(tmp_path, repo / "out")
    res = vulnsight(
        "scan", str(repo), "--detectors", "rules", "-o", str(repo / "out" / "victim.txt"),
        cwd=tmp_path,
    )  # fmt: skip
    assert res.returncode == 2 and "symbolic link" in res.stderr
    assert victim.read_text() == "precious\n"


def test_report_onto_a_scanned_source_file_is_refused(tmp_path):
    repo = git_repo(tmp_path / "repo", {"a.py": CMD_INJECTION})
    res = vulnsight(
        "scan", str(repo), "--detectors", "rules", "-o", str(repo / "a.py"), cwd=tmp_path
    )
    assert res.returncode == 2
    assert "refusing to overwrite scanned source file" in res.stderr
    assert (repo / "a.py").read_text() == CMD_INJECTION
    single = vulnsight("scan", "repo/a.py", "--detectors", "rules", "-o", "repo/a.py", cwd=tmp_path)
    assert single.returncode == 2
    assert (repo / "a.py").read_text() == CMD_INJECTION


@needs_semgrep
@pytest.mark.semgrep
def test_every_file_counted_as_scanned_gets_its_rule_findings(tmp_path, sarif_schema):
    repo = git_repo(
        tmp_path / "repo",
        {
            "a.py": CMD_INJECTION,
            "b.pyw": CMD_INJECTION,
            "C.PY": CMD_INJECTION,
            "app.js": EVAL_JS,
            "x.min.js": EVAL_JS,
        },
    )
    # a stray non-UTF-8 byte in a C comment, and a file name that is not UTF-8
    (repo / "c.c").write_bytes(
        b"#include <stdio.h>\n/* caf\xe9 */\nvoid f(char *b) {\n  gets(b);\n}\n"
    )
    with open(os.fsencode(repo) + b"/bad\xff.py", "wb") as handle:
        handle.write(CMD_INJECTION.encode())
    out = tmp_path / "r.json"
    res = vulnsight("scan", str(repo), "--detectors", "rules", "--format", "json", "-o", str(out),
                    cwd=tmp_path)  # fmt: skip
    assert res.returncode == 1, res.stderr
    report = json.loads(out.read_text())
    by_file: dict[str, set[tuple[int, str]]] = {}
    for f in report["findings"]:
        by_file.setdefault(f["file"], set()).add((f["line_number"], f["rule_id"]))
    assert by_file["a.py"] and (5, "vulnsight.python.os-command-non-constant") in by_file["a.py"]
    for name in ("b.pyw", "C.PY", "bad\udcff.py"):
        assert by_file.get(name) == by_file["a.py"], name
    assert by_file["app.js"] and by_file.get("x.min.js") == by_file["app.js"]
    assert (4, "vulnsight.c.gets") in by_file["c.c"]
    assert report["stats"]["files_scanned"] == 7 and report["errors"] == []
    assert report["stats"]["files_with_invalid_utf8"] == 1  # c.c: scanned, not dropped
    sarif_out = tmp_path / "r.sarif"
    res = vulnsight("scan", str(repo), "--detectors", "rules", "--format", "sarif",
                    "-o", str(sarif_out), cwd=tmp_path)  # fmt: skip
    assert res.returncode == 1, res.stderr
    sarif = json.loads(sarif_out.read_text(encoding="utf-8"))
    jsonschema.validate(sarif, sarif_schema)
    uris = {
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        for r in sarif["runs"][0]["results"]
    }
    assert "bad%FF.py" in uris
    text = vulnsight("scan", str(repo), "--detectors", "rules", cwd=tmp_path)
    assert text.returncode == 1 and "bad\\xff.py" in text.stdout


SLOW = (  # a long parse (the main thread's work)
    "import time, vulnsight.pipeline as p\n"
    "def slow(files):\n"
    "    print('started', flush=True)\n"
    "    time.sleep(60)\n"
    "p.parse_files = slow\n"
)


def test_a_terminated_scan_exits_2_and_removes_the_old_report(tmp_path):
    import signal

    repo = git_repo(tmp_path / "repo", {"a.py": CMD_INJECTION})
    report = tmp_path / "vulnsight.sarif"
    report.write_text(OLD)
    code = f"{SLOW}\nfrom vulnsight.cli import main\nmain(prog_name='vulnsight')"
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "scan", str(repo), "--detectors", "rules",
         "--format", "sarif", "-o", str(report)],
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": SRC},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "started"
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 2
    assert err.strip().startswith("vulnsight: interrupted; removed the old")
    assert len(err.strip().splitlines()) == 1
    assert not report.exists()


RULES_MISS = (
    "import vulnsight.detectors.rules as r\n"
    "from vulnsight.detectors.interface import DetectorResult\n"
    "from vulnsight.types import ScanError\n"
    "def missed(self, batch, progress=None):\n"
    "    return DetectorResult(errors=(ScanError('a.py', 'semgrep timed out', 'rules'),))\n"
    "r.RulesDetector.detect_all = missed\n"
)


def test_a_file_no_detector_could_read_is_not_a_clean_scan(tmp_path):
    # A line over the parse budget stops the parser; if the rules fail on the file too
    # (Semgrep timed out), nothing looked at it: exit 2, with the report still written.
    dense = "def f(x):\n    return eval(x)\ny = [" + "0," * 15000 + "]\n"
    repo = git_repo(tmp_path / "repo", {"a.py": dense, "b.py": "def g():\n    return 1\n"})
    out = tmp_path / "r.json"
    args = ("scan", str(repo), "--detectors", "rules", "--format", "json", "-o", str(out))
    res = vulnsight(*args, cwd=tmp_path, prelude=RULES_MISS)
    assert res.returncode == 2, res.stderr
    assert "1 file(s) could not be scanned by any detector" in res.stderr
    report = json.loads(out.read_text())
    assert report["stats"]["files_unscanned"] == 1
    assert {(e["file"], e["detector"]) for e in report["errors"]} >= {
        ("a.py", "rules"),
        ("a.py", "parser"),
    }
    # With the rules reading it, the same file is scanned: its finding, exit 1.
    res = vulnsight(*args, cwd=tmp_path)
    assert res.returncode == 1, res.stderr
    report = json.loads(out.read_text())
    assert report["stats"]["files_unscanned"] == 0
    assert [(f["file"], f["line_number"]) for f in report["findings"]] == [("a.py", 2)]
