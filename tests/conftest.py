"""Shared fixtures and the offline guard."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
EXAMPLE = ROOT / "examples" / "mixed"


@pytest.fixture(scope="session")
def sarif_schema() -> dict:
    return json.loads((FIXTURES / "sarif-schema-2.1.0.json").read_text())


@pytest.fixture(autouse=True)
def _isolated_user_state(tmp_path_factory, monkeypatch):
    """Every test gets its own scanner state directory and no user configuration, so a
    developer's ~/.config/vulnsight or ~/.local/state never changes a result (and
    subprocesses inherit the same through the environment)."""
    monkeypatch.setenv("VULNSIGHT_STATE_DIR", str(tmp_path_factory.mktemp("state")))
    monkeypatch.setenv("VULNSIGHT_CONFIG", "")


class NetworkAttempt(AssertionError):
    pass


@pytest.fixture
def no_network(monkeypatch):
    """Fail if this process connects anywhere but loopback or a local socket."""
    attempts: list[object] = []
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def allowed(address: object) -> bool:
        if isinstance(address, (str, bytes)):  # AF_UNIX
            return True
        host = str(address[0]) if isinstance(address, tuple) else ""
        return host in ("127.0.0.1", "::1", "localhost")

    def guarded(self, address):
        if not allowed(address):
            attempts.append(address)
            raise NetworkAttempt(f"network connection attempted: {address!r}")
        return real_connect(self, address)

    def guarded_ex(self, address):
        if not allowed(address):
            attempts.append(address)
            raise NetworkAttempt(f"network connection attempted: {address!r}")
        return real_connect_ex(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)
    monkeypatch.setattr(socket.socket, "connect_ex", guarded_ex)
    return attempts
