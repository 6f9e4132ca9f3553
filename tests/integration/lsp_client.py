"""A minimal LSP client for tests: Content-Length framed JSON-RPC over two byte streams
(a subprocess's pipes, or pipes to a server running in a thread)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any, BinaryIO


class LspClient:
    """Sends requests and notifications; a reader thread collects what the server sends
    and answers the server's own requests (registerCapability...) with null."""

    def __init__(self, to_server: BinaryIO, from_server: BinaryIO) -> None:
        self._out = to_server
        self._in = from_server
        self._next_id = 0
        self._lock = threading.Condition()
        self.responses: dict[int, dict[str, Any]] = {}
        self.notifications: list[dict[str, Any]] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _send(self, message: dict[str, Any]) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode("utf-8")
        self._out.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self._out.flush()

    def _read(self) -> None:
        while True:
            headers: dict[str, str] = {}
            while True:
                line = self._in.readline()
                if not line:
                    return
                line = line.strip()
                if not line:
                    break
                name, _, value = line.decode("ascii").partition(":")
                headers[name.strip().lower()] = value.strip()
            body = self._in.read(int(headers["content-length"]))
            message = json.loads(body)
            if "method" in message and "id" in message:  # a request from the server
                self._send({"id": message["id"], "result": None})
            with self._lock:
                if "method" in message:
                    self.notifications.append(message)
                else:
                    self.responses[message["id"]] = message
                self._lock.notify_all()

    def notify(self, method: str, params: Any) -> None:
        """Send a notification."""
        self._send({"method": method, "params": params})

    def request(self, method: str, params: Any, timeout: float = 60) -> Any:
        """Send a request and wait for its result."""
        self._next_id += 1
        rid = self._next_id
        self._send({"id": rid, "method": method, "params": params})
        with self._lock:
            if not self._lock.wait_for(lambda: rid in self.responses, timeout):
                raise TimeoutError(f"no answer to {method} within {timeout} s")
            answer = self.responses.pop(rid)
        if "error" in answer:
            raise RuntimeError(f"{method} failed: {answer['error']}")
        return answer.get("result")

    def mark(self) -> int:
        """A position in the notification log, for `since`."""
        with self._lock:
            return len(self.notifications)

    def since(self, mark: int, method: str | None = None) -> list[dict[str, Any]]:
        """Notifications received after `mark` (of one method)."""
        with self._lock:
            got = self.notifications[mark:]
        return [n for n in got if method is None or n["method"] == method]

    def wait_for(
        self,
        method: str,
        where: Callable[[dict[str, Any]], bool],
        after: int = 0,
        timeout: float = 120,
    ) -> dict[str, Any]:
        """The first notification of `method` after `after` whose params satisfy `where`."""
        deadline = time.monotonic() + timeout

        def found() -> dict[str, Any] | None:
            for n in self.notifications[after:]:
                if n["method"] == method and where(n["params"]):
                    return n["params"]  # type: ignore[no-any-return]
            return None

        with self._lock:
            while True:
                hit = found()
                if hit is not None:
                    return hit
                left = deadline - time.monotonic()
                if left <= 0:
                    shown = [n["method"] for n in self.notifications[after:]]
                    raise TimeoutError(f"no {method} as wanted within {timeout} s; got {shown}")
                self._lock.wait(left)


def initialize(client: LspClient, root_uri: str) -> Any:
    """The initialize handshake."""
    result = client.request(
        "initialize",
        {
            "processId": None,
            "rootUri": root_uri,
            "capabilities": {
                "textDocument": {
                    "publishDiagnostics": {"versionSupport": True},
                    "synchronization": {"didSave": True},
                }
            },
        },
    )
    client.notify("initialized", {})
    return result
