"""Running an external tool: found beside the interpreter or on PATH, bounded in time."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from vulnsight.bench.adapters.interface import AdapterError


def find_tool(name: str, env_var: str | None = None) -> str | None:
    """`$<env_var>` if set, else the tool beside this Python (a venv used without
    activation), else PATH."""
    if env_var and os.environ.get(env_var):
        return os.environ[env_var]
    beside = Path(sys.executable).parent / name
    if beside.is_file():
        return str(beside)
    return shutil.which(name)


def version_of(cmd: Sequence[str]) -> str:
    """First line of a tool's version output ('' when it cannot say)."""
    try:
        proc = subprocess.run(list(cmd), capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    text = (proc.stdout or proc.stderr).strip()
    return text.splitlines()[0] if text else ""


def run_tool(
    cmd: Sequence[str], timeout: int, cwd: Path | None = None, ok_codes: Sequence[int] = (0, 1)
) -> subprocess.CompletedProcess[str]:
    """Run a tool; raises `AdapterError` when it cannot start, times out, or exits with a
    code outside `ok_codes`."""
    try:
        proc = subprocess.run(
            list(cmd),
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=cwd,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except FileNotFoundError as exc:
        raise AdapterError(f"{cmd[0]} could not be started: {exc}") from exc
    except subprocess.TimeoutExpired as exc:
        raise AdapterError(f"{Path(cmd[0]).name} did not finish within {timeout} s") from exc
    if proc.returncode not in ok_codes:
        tail = (proc.stderr or proc.stdout or "").strip()[-500:]
        raise AdapterError(f"{Path(cmd[0]).name} exited {proc.returncode}: {tail}")
    return proc
