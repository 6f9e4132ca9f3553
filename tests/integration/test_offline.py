"""No data leaves the device: a default scan opens no network connection.

Checked twice: in-process (Python sockets guarded) and across every subprocess the scan
starts (Semgrep's engine included), by tracing connect(2) with strace.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys

import pytest
from click.testing import CliRunner

from vulnsight.cli import main

from ..conftest import EXAMPLE

pytestmark = [pytest.mark.model, pytest.mark.semgrep]

_INET = re.compile(
    r"connect\(\d+, \{sa_family=AF_INET6?, [^}]*?"
    r"(?:inet_addr\(\"([^\"]+)\"\)|inet_pton\(AF_INET6, \"([^\"]+)\")"
)


def test_default_scan_makes_no_python_socket_connection(no_network, tmp_path):
    res = CliRunner().invoke(
        main, ["scan", str(EXAMPLE), "--format", "json", "-o", str(tmp_path / "r.json")]
    )
    assert res.exit_code == 1, res.output
    assert no_network == []


def test_default_scan_and_its_subprocesses_connect_nowhere(tmp_path):
    strace = shutil.which("strace")
    if strace is None:
        pytest.skip("strace is not installed")
    log = tmp_path / "trace.log"
    proc = subprocess.run(
        [
            strace,
            "-f",
            "-qq",
            "-e",
            "trace=connect",
            "-o",
            str(log),
            sys.executable,
            "-m",
            "vulnsight.cli",
            "scan",
            str(EXAMPLE),
            "--format",
            "json",
            "-o",
            str(tmp_path / "r.json"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if "ptrace" in proc.stderr and "Operation not permitted" in proc.stderr:
        pytest.skip("ptrace is not permitted here")
    assert proc.returncode == 1, proc.stderr[-2000:]
    addresses = [a or b for a, b in _INET.findall(log.read_text())]
    remote = [a for a in addresses if a not in ("127.0.0.1", "::1")]
    assert remote == [], f"connections attempted to {remote}"
