"""Attacks by a hostile repository author, each found by the red team and fixed.

Each test builds a small git repository, runs the real CLI in a subprocess and checks
that the attack changes nothing the README promises.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import vulnsight

SRC = Path(vulnsight.__file__).resolve().parents[1]


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, check=True, capture_output=True, text=True
    ).stdout


def vulnsight_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """`vulnsight ARGS` in a subprocess, with this checkout's source first on the path."""
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


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    return repo


@pytest.mark.semgrep
def test_nosemgrep_comments_hide_nothing(repo: Path):
    """Semgrep drops a hit on a line with a `nosemgrep` comment, and says nothing: only
    vulnsight's own marks suppress (counted), so a planted `nosemgrep` changes nothing."""
    (repo / "a.py").write_text(
        "def f(x):\n"
        "    return eval(x)  # nosemgrep\n"
        "\n\n"
        "def g(x):\n"
        "    # nosemgrep: vulnsight.python.eval-injection\n"
        "    return eval(x)  # nosem\n"
    )
    res = vulnsight_cli(
        "scan", str(repo), "--detectors", "rules", "--format", "json", "--no-progress"
    )
    assert res.returncode == 1, res.stderr
    report = json.loads(res.stdout)
    found = sorted((f["line_number"], f["cwe"], f["suppressed"]) for f in report["findings"])
    assert found == [(2, "CWE-95", False), (7, "CWE-95", False)]


@pytest.mark.semgrep
def test_diff_runs_no_filter_driver_of_the_checkout(repo: Path, tmp_path: Path):
    """`scan --diff` on a checkout whose .git/config and .gitattributes name a clean filter:
    the filter's command does not run, and the changed function's finding is reported."""
    git(repo, "config", "user.email", "dev@example.com")
    git(repo, "config", "user.name", "dev")
    (repo / "a.py").write_text("def f(x):\n    return x\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "init")
    pwned = tmp_path / "pwned"
    (repo / ".gitattributes").write_text("*.py filter=evil\n")
    git(repo, "config", "filter.evil.clean", f"touch {pwned}; cat")
    (repo / "a.py").write_text("def f(x):\n    return eval(x)\n")
    res = vulnsight_cli(
        "scan", str(repo), "--detectors", "rules", "--diff", "HEAD", "--format", "json",
        "--no-progress",
    )  # fmt: skip
    assert res.returncode == 1, res.stderr
    report = json.loads(res.stdout)
    assert [(f["file"], f["line_number"], f["cwe"]) for f in report["findings"]] == [
        ("a.py", 2, "CWE-95")
    ]
    assert not pwned.exists()
