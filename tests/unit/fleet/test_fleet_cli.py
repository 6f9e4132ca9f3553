"""`vulnsight fleet`'s command line: a bad repository list is an error before Ray starts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import vulnsight

SRC = Path(vulnsight.__file__).resolve().parents[1]


def fleet(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(SRC), env.get("PYTHONPATH", "")])
    return subprocess.run(
        [sys.executable, "-m", "vulnsight.cli", "fleet", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_missing_repository_exits_2_with_its_name(tmp_path: Path) -> None:
    pytest.importorskip("ray")
    listing = tmp_path / "repos.txt"
    listing.write_text("gone\n")
    res = fleet(str(listing), "--out", str(tmp_path / "out"))
    assert res.returncode == 2
    assert res.stderr.strip() == f"vulnsight: not a repository directory: {tmp_path / 'gone'}"
    assert not (tmp_path / "out").exists()


def test_help_names_the_cluster_options() -> None:
    res = fleet("--help")
    assert res.returncode == 0
    for option in ("--address", "--out", "--workers", "--gpus-per-worker", "--model"):
        assert option in res.stdout
