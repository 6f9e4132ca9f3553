"""`vulnsight harvest --fixes` on a small git repository built here: a vulnerable commit,
a fix commit naming a CVE, and noise (a version bump, a refactor, a comment-only
"security fix", a test-only CVE commit), run as the real CLI in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SRC = str(Path(__file__).resolve().parents[2] / "src")

DB_V1 = """import sqlite3


def find_user(conn, name):
    cur = conn.cursor()
    cur.execute("SELECT * FROM users WHERE name = '%s'" % name)
    return cur.fetchone()


def count_users(conn):
    return conn.execute("SELECT COUNT(*) FROM users").fetchone()[0]
"""
DB_FIXED = DB_V1.replace(
    """cur.execute("SELECT * FROM users WHERE name = '%s'" % name)""",
    """cur.execute("SELECT * FROM users WHERE name = ?", (name,))""",
).replace(
    '    return conn.execute("SELECT COUNT(*)',
    '    # the number of rows\n    return conn.execute("SELECT COUNT(*)',
)
COPY_V1 = """#include <string.h>

void copy_name(char *dst, const char *src) {
    char buf[16];
    strcpy(buf, src);
    strcpy(dst, buf);
}

int add(int a, int b) {
    return a + b;
}
"""
COPY_FIXED = COPY_V1.replace(
    "    strcpy(buf, src);\n",
    "    strncpy(buf, src, sizeof buf - 1);\n    buf[sizeof buf - 1] = '\\0';\n",
)
TEST_V1 = (
    "from app.db import find_user\n\n\ndef test_find(conn):\n    assert find_user(conn, 'a')\n"
)


def git(repo: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.invalid",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.invalid",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
    }
    done = subprocess.run(
        ["git", "-c", "init.defaultBranch=main", "-c", "commit.gpgSign=false", *args],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def commit(repo: Path, message: str, files: dict[str, str]) -> str:
    for name, text in files.items():
        path = repo / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


@pytest.fixture
def history(tmp_path):
    repo = tmp_path / "shop"
    repo.mkdir()
    git(repo, "init", "-q")
    shas = {}
    shas["vulnerable"] = commit(
        repo,
        "Add user lookup and name copy",
        {"app/__init__.py": '__version__ = "1.0.0"\n', "app/db.py": DB_V1, "src/copy.c": COPY_V1},
    )
    shas["test"] = commit(
        repo, "Add a regression test for CVE-2024-12345", {"tests/test_db.py": TEST_V1}
    )
    shas["fix"] = commit(
        repo,
        "Fix SQL injection in find_user and a buffer overflow in copy_name\n\n"
        "CVE-2024-12345. Reported by a friendly researcher.",
        {"app/db.py": DB_FIXED, "src/copy.c": COPY_FIXED,
         "tests/test_db.py": TEST_V1 + "\n\ndef test_quote(conn):\n    pass\n"},
    )  # fmt: skip
    shas["bump"] = commit(
        repo, "Bump version to 1.0.1", {"app/__init__.py": '__version__ = "1.0.1"\n'}
    )
    shas["refactor"] = commit(
        repo,
        "Refactor add",
        {"src/copy.c": COPY_FIXED.replace("return a + b;", "int s = a + b;\n    return s;")},
    )
    shas["cosmetic"] = commit(
        repo,
        "Security fix: clarify a comment",
        {"app/db.py": DB_FIXED.replace("# the number of rows", "# how many users")},
    )
    return repo, shas


def harvest(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    code = "from vulnsight.cli import main\nmain(prog_name='vulnsight')"
    env = {**os.environ, "PYTHONPATH": SRC}
    return subprocess.run(
        [sys.executable, "-c", code, "harvest", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_harvest_fixes_yields_exactly_the_fix_pairs(history, tmp_path):
    repo, shas = history
    out = tmp_path / "pairs.jsonl"
    proc = harvest("--fixes", str(repo), "-o", str(out), "--project", "acme/shop", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    records = [json.loads(line) for line in out.read_text().splitlines()]
    got = {(r["path"], r["meta"]["function"], r["label"]) for r in records}
    assert got == {
        ("app/db.py", "find_user", 1),
        ("app/db.py", "find_user", 0),
        ("src/copy.c", "copy_name", 1),
        ("src/copy.c", "copy_name", 0),
    }
    by = {(r["path"], r["label"]): r for r in records}
    for path, bad_line, cwe in (
        ("app/db.py", """cur.execute("SELECT * FROM users WHERE name = '%s'" % name)""", "CWE-89"),
        ("src/copy.c", "strcpy(buf, src);", None),  # "SQL injection" and "buffer overflow":
    ):  # both can be C, so the C pair's CWE stays unknown
        before, after = by[(path, 1)], by[(path, 0)]
        lines = before["code"].split("\n")
        assert [lines[n - 1].strip() for n in before["lines"]] == [bad_line]
        assert after["lines"] == [] and bad_line not in after["code"]
        assert before["meta"]["pair_id"] == after["meta"]["pair_id"]
        assert before["cwe"] == after["cwe"] == cwe
        for rec in (before, after):
            assert rec["source"] == "fixes" and rec["project"] == "acme/shop"
            assert rec["meta"]["commit"] == shas["fix"]
            assert rec["meta"]["parent"] == shas["test"]
            assert rec["meta"]["cve"] == "CVE-2024-12345"
            assert rec["language"] == ("python" if path.endswith(".py") else "c")
    assert by[("app/db.py", 1)]["code"].startswith("def find_user(conn, name):")
    # selected: the fix and the comment-only "security fix" (which yields nothing)
    assert "2 pairs from 1 of 2 security-fix commits (6 commits read)" in proc.stderr
    assert (
        "commits skipped: no code changed: 1, "
        "no security wording: 2, root commit: 1;" in proc.stderr
    )
    assert "functions filtered out: whitespace or comments only: 2;" in proc.stderr


def test_harvest_refuses_a_reserved_project_and_a_non_repository(history, tmp_path):
    repo, _ = history
    out = tmp_path / "pairs.jsonl"
    proc = harvest(
        "--fixes", str(repo), "-o", str(out), "--project", "expressjs/express", cwd=tmp_path
    )
    assert proc.returncode == 2 and "reserved" in proc.stderr
    plain = tmp_path / "plain"
    plain.mkdir()
    proc = harvest("--fixes", str(plain), "-o", str(out), cwd=tmp_path)
    assert proc.returncode == 2 and "git" in proc.stderr
    assert not out.exists()


def test_the_repository_configuration_runs_nothing(history, tmp_path):
    """Hooks, a file-system monitor, a signature program and an external diff planted in
    the repository's own configuration are never run by a harvest."""
    repo, _ = history
    marker = tmp_path / "ran"
    evil = tmp_path / "evil.sh"
    evil.write_text(f"#!/bin/sh\ntouch {marker}\nexit 1\n")
    evil.chmod(0o755)
    for key in ("core.fsmonitor", "gpg.program", "diff.external", "core.pager", "core.sshCommand"):
        git(repo, "config", key, str(evil))
    git(repo, "config", "log.showSignature", "true")
    git(repo, "config", "core.hooksPath", str(tmp_path))
    for hook in ("post-checkout", "post-index-change", "reference-transaction"):
        (repo / ".git" / "hooks" / hook).write_text(evil.read_text())
        (repo / ".git" / "hooks" / hook).chmod(0o755)
    out = tmp_path / "pairs.jsonl"
    proc = harvest("--fixes", str(repo), "-o", str(out), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert not marker.exists()
    assert len(out.read_text().splitlines()) == 4
    assert json.loads(out.read_text().splitlines()[0])["project"] == "shop"
