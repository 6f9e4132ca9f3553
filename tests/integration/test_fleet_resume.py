"""An interrupted `vulnsight fleet` (the real CLI, SIGINT once the first repository is
marked done) resumes with the same --out: finished repositories are not scanned again."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.integration.fleet_repos import cli_env, make_repos

pytest.importorskip("ray")

pytestmark = [pytest.mark.ray, pytest.mark.semgrep, pytest.mark.timeout(900)]


def fleet_cmd(repos: list[Path], out: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "vulnsight.cli",
        "fleet",
        *map(str, repos),
        "--model",
        "fake",
        "--out",
        str(out),
        "--num-cpus",
        "2",
    ]


def markers(out: Path) -> dict[str, int]:
    return {p.parent.name: p.stat().st_mtime_ns for p in out.glob("repos/*/done.json")}


def test_interrupted_run_resumes_without_rescanning_finished_repositories(tmp_path):
    repos = make_repos(tmp_path / "org")
    listing = tmp_path / "repos.txt"
    listing.write_text("# the organisation\n" + "".join(f"org/{r.name}\n" for r in repos))
    out = tmp_path / "out"
    env = cli_env({"RAY_USAGE_STATS_ENABLED": "0"})
    first = subprocess.Popen(
        fleet_cmd([listing], out),
        env=env,
        stderr=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 600
    while not markers(out) and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    first.send_signal(signal.SIGINT)
    _, err = first.communicate(timeout=120)
    assert first.returncode == 2, err
    assert "interrupted" in err
    before = markers(out)
    assert 1 <= len(before) < len(repos), "the run must stop part-way"
    reports = {slug: (out / "repos" / slug / "report.json").stat().st_mtime_ns for slug in before}

    second = subprocess.run(
        fleet_cmd([listing], out), env=env, capture_output=True, text=True, timeout=600
    )
    assert second.returncode == 1, second.stderr  # findings
    assert f"{len(before)} repositories already done" in second.stderr
    run = json.loads((out / "run.json").read_text())
    assert sorted(run["skipped"]) == sorted(before)
    assert len(run["scanned"]) == len(repos) - len(before)
    assert not set(run["scanned"]) & set(before)
    after = markers(out)
    assert len(after) == len(repos)
    for slug, mtime in before.items():  # finished repositories were left alone
        assert after[slug] == mtime
        assert (out / "repos" / slug / "report.json").stat().st_mtime_ns == reports[slug]
    rows = [json.loads(line) for line in (out / "findings.jsonl").open()]
    assert {r["repository"] for r in rows} == {"alpha", "beta", "gamma"}
