"""`vulnsight serve`: a small local HTTP API for editors and review bots.

`POST /v1/scan` takes files (`{"files": [{"path", "content"}]}`) or one snippet
(`{"snippet", "language"}`) and answers with the JSON report (or SARIF). The model is
loaded once per server; scans run side by side (model calls one at a time), bounded
per file, so `/v1/health` and other requests keep answering while one scan runs. The
server binds 127.0.0.1 by default; bound anywhere else it refuses to start without a
bearer token. Bodies over the size limit are refused before they are read, and on
loopback without a token the `Host` header must name loopback, so a web page cannot
reach the API through DNS rebinding.
"""

from __future__ import annotations

import errno
import hmac
import ipaddress
import json
import tempfile
import threading
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path, PurePosixPath
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from vulnsight import __version__
from vulnsight.config import ScanConfig
from vulnsight.errors import ConfigError, VulnsightError
from vulnsight.languages import CANONICAL_EXTENSION
from vulnsight.llm.interface import Backend
from vulnsight.review.config_file import ProjectConfig
from vulnsight.types import LANGUAGES, Report

MAX_FILES = 256
_LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1", "[::1]")


class FileIn(BaseModel):
    """One file of a scan request."""

    model_config = ConfigDict(extra="forbid")

    path: str = Field(min_length=1, max_length=1024)
    content: str


class ScanRequest(BaseModel):
    """The body of `POST /v1/scan`: files, or one snippet with its language."""

    model_config = ConfigDict(extra="forbid")

    files: list[FileIn] | None = Field(default=None, min_length=1, max_length=MAX_FILES)
    snippet: str | None = None
    language: str | None = None
    format: str = Field(default="json", pattern="^(json|sarif)$")

    @model_validator(mode="after")
    def _one_kind(self) -> ScanRequest:
        if (self.files is None) == (self.snippet is None):
            raise ValueError("give either 'files' or 'snippet' (with 'language')")
        if self.snippet is not None and self.language not in LANGUAGES:
            raise ValueError(f"'language' must be one of {', '.join(LANGUAGES)}")
        paths = [safe_path(f.path) for f in self.files or []]
        seen: set[PurePosixPath] = set()
        for p in paths:
            if p in seen:
                raise ValueError(f"path given twice: {str(p)!r}")
            seen.add(p)
        for p in paths:
            clash = next((parent for parent in p.parents if parent in seen), None)
            if clash is not None:
                raise ValueError(f"{str(clash)!r} is a file but {str(p)!r} puts files under it")
        return self


def safe_path(path: str) -> PurePosixPath:
    """A request path as a relative path that stays inside the scan directory
    (normalised: `./a.py` and `a.py` are the same path)."""
    p = PurePosixPath(path.replace("\\", "/"))
    if p.is_absolute() or ".." in p.parts or not p.parts or "\0" in path:
        raise ValueError(f"path must be relative and stay inside the project: {path!r}")
    if any(len(part.encode("utf-8", "surrogatepass")) > 255 for part in p.parts):
        raise ValueError(f"a path component is longer than 255 bytes: {path[:80]!r}...")
    return p


class RequestFailed(VulnsightError):
    """A scan request that cannot be served, with the HTTP status to answer."""

    def __init__(self, status: HTTPStatus, message: str, retry_after: int | None = None):
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


#: HTTP status for an OSError met while writing a request's files.
_ERRNO_STATUS = {
    errno.ENOENT: HTTPStatus.NOT_FOUND,
    errno.EACCES: HTTPStatus.FORBIDDEN,
    errno.EPERM: HTTPStatus.FORBIDDEN,
    errno.ENOSPC: HTTPStatus.INSUFFICIENT_STORAGE,
}


def fs_failure(exc: OSError, what: str) -> RequestFailed:
    """The answer to a file-system error: 4xx (5xx for a full disk), JSON body."""
    status = _ERRNO_STATUS.get(exc.errno or 0, HTTPStatus.BAD_REQUEST)
    return RequestFailed(status, f"{what}: {exc.strerror or exc}")


class _SerialBackend:
    """The server's one model behind a lock: scans run side by side, model calls one at
    a time (llama.cpp contexts are not thread-safe)."""

    def __init__(self, backend: Backend) -> None:
        self._backend = backend
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._backend, name)

    def generate(self, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            return self._backend.generate(*args, **kwargs)

    def decide(self, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            return self._backend.decide(*args, **kwargs)

    def complete_flagged(self, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            return self._backend.complete_flagged(*args, **kwargs)

    def count_tokens(self, text: str) -> int:
        with self._lock:
            return self._backend.count_tokens(text)

    def close(self) -> None:
        with self._lock:
            self._backend.close()


def is_loopback(host: str) -> bool:
    """Whether a bind address only accepts connections from this machine."""
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class ServerOptions:
    """Where the API listens and what it accepts."""

    host: str = "127.0.0.1"
    port: int = 8765
    token: str | None = None
    max_request_bytes: int = 2_000_000

    def __post_init__(self) -> None:
        if not is_loopback(self.host) and not self.token:
            raise ConfigError(
                f"refusing to serve on {self.host} without a token: "
                "pass --token (or set VULNSIGHT_API_TOKEN), or bind 127.0.0.1"
            )


class ScanService:
    """Runs API scans with one loaded model.

    Up to `max_scans` scans run at once (parsing and rules side by side, model calls
    one at a time); a request that finds them all busy waits at most `wait_seconds`
    and is then answered 503 with Retry-After. Health checks never wait. Each file of a
    scan is bounded by the parser's budget, so no request holds the model for long.
    """

    def __init__(
        self,
        project: ProjectConfig,
        config: ScanConfig,
        backend: Backend | None = None,
        max_scans: int = 2,
        wait_seconds: float = 10.0,
    ) -> None:
        self.project = project
        self.config = config
        self.backend: Backend | None = _SerialBackend(backend) if backend is not None else None
        self.wait_seconds = wait_seconds
        self._slots = threading.BoundedSemaphore(max(1, max_scans))

    @classmethod
    def start(cls, project: ProjectConfig, config: ScanConfig) -> ScanService:
        """Load the model (when the llm detector is on) once for the server's life."""
        backend = None
        if "llm" in config.detectors:
            from vulnsight.llm.models import load

            backend = load(config.model)
        return cls(project, config, backend)

    def scan(self, request: ScanRequest, use_cache: bool = True) -> Report:
        """Write the request's files to a private directory and scan it.

        Raises RequestFailed (with the HTTP status) when the files cannot be written or
        every scan slot stays busy.
        """
        from vulnsight.review.workflow import ReviewOptions, review_scan

        if not self._slots.acquire(timeout=self.wait_seconds):
            raise RequestFailed(
                HTTPStatus.SERVICE_UNAVAILABLE,
                f"every scan slot is busy (waited {self.wait_seconds:g} s); retry later",
                retry_after=max(1, int(self.wait_seconds)),
            )
        try:
            with tempfile.TemporaryDirectory(prefix="vulnsight-api-") as tmp:
                root = Path(tmp)
                if request.snippet is not None:
                    lang = request.language or "python"
                    files = [("snippet" + CANONICAL_EXTENSION[lang], request.snippet)]
                else:
                    files = [(str(safe_path(f.path)), f.content) for f in request.files or []]
                for rel, content in files:
                    target = root / rel
                    try:
                        target.parent.mkdir(parents=True, exist_ok=True)
                        target.write_text(content, encoding="utf-8", errors="surrogatepass")
                    except OSError as exc:
                        raise fs_failure(exc, f"cannot write {rel!r}") from exc
                options = ReviewOptions(use_cache=use_cache)
                return review_scan([root], self.project, self.config, options, self.backend)
        finally:
            self._slots.release()

    def close(self) -> None:
        """Release the model."""
        if self.backend is not None:
            self.backend.close()


def openapi() -> dict[str, Any]:
    """The OpenAPI 3.1 description of the API."""
    scan_schema = ScanRequest.model_json_schema(ref_template="#/components/schemas/{model}")
    defs = scan_schema.pop("$defs", {})
    bearer: list[dict[str, list[str]]] = [{"bearer": []}]
    error = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "vulnsight local API",
            "version": __version__,
            "description": "Scan files or snippets with vulnsight's rules and local model.",
        },
        "servers": [{"url": "http://127.0.0.1:8765"}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "ScanRequest": scan_schema,
                **defs,
                "Error": {
                    "type": "object",
                    "properties": {"error": {"type": "string"}},
                    "required": ["error"],
                },
            },
        },
        "paths": {
            "/v1/health": {
                "get": {
                    "summary": "Liveness and version",
                    "responses": {"200": {"description": "The server is up"}},
                }
            },
            "/v1/openapi.json": {
                "get": {
                    "summary": "This description",
                    "security": bearer,
                    "responses": {"200": {"description": "OpenAPI 3.1 document"}},
                }
            },
            "/v1/scan": {
                "post": {
                    "summary": "Scan files or a snippet",
                    "security": bearer,
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/ScanRequest"}
                            }
                        },
                    },
                    "responses": {
                        "200": {
                            "description": "The vulnsight JSON report, or SARIF 2.1.0 when "
                            "format is sarif; suppressed findings are kept and marked",
                        },
                        "400": {"description": "Invalid request", **error},
                        "401": {"description": "Missing or wrong bearer token", **error},
                        "413": {"description": "Body over the size limit", **error},
                        "415": {"description": "Body is not application/json", **error},
                        "403": {"description": "A file could not be written", **error},
                        "500": {"description": "The scan failed", **error},
                        "503": {"description": "Every scan slot is busy", **error},
                    },
                }
            },
        },
    }


class _Handler(BaseHTTPRequestHandler):
    server: VulnsightServer
    protocol_version = "HTTP/1.1"
    timeout = 60  # seconds a client may take to send its request

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib name
        if self.server.log is not None:
            self.server.log(f"{self.address_string()} {format % args}")

    def _send(
        self, status: HTTPStatus, body: dict[str, Any] | str, retry_after: int | None = None
    ) -> None:
        text = body if isinstance(body, str) else json.dumps(body)
        data = text.encode("utf-8", "backslashreplace")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        if retry_after is not None:
            self.send_header("Retry-After", str(retry_after))
        self.end_headers()
        self.wfile.write(data)

    def _fail(self, status: HTTPStatus, message: str, retry_after: int | None = None) -> None:
        self.close_connection = True
        self._send(status, {"error": message}, retry_after)

    def _allowed(self, needs_token: bool = True) -> bool:
        opts = self.server.options
        if opts.token is None and is_loopback(opts.host):
            host = (self.headers.get("Host") or "").rsplit(":", 1)[0]
            if host and host not in _LOOPBACK_NAMES:
                self._fail(HTTPStatus.FORBIDDEN, "Host header must name loopback")
                return False
        if needs_token and opts.token is not None:
            given = self.headers.get("Authorization") or ""
            expected = f"Bearer {opts.token}"
            if not hmac.compare_digest(given.encode(), expected.encode()):
                self._fail(HTTPStatus.UNAUTHORIZED, "a valid bearer token is required")
                return False
        return True

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        if self.path == "/v1/health":
            if self._allowed(needs_token=False):
                self._send(HTTPStatus.OK, {"status": "ok", "version": __version__})
        elif self.path == "/v1/openapi.json":
            if self._allowed():
                self._send(HTTPStatus.OK, openapi())
        else:
            self._fail(HTTPStatus.NOT_FOUND, f"no such endpoint: GET {self.path}")

    def do_POST(self) -> None:  # noqa: N802 - stdlib name
        if self.path != "/v1/scan":
            self._fail(HTTPStatus.NOT_FOUND, f"no such endpoint: POST {self.path}")
            return
        if not self._allowed():
            return
        if (self.headers.get("Content-Type") or "").split(";")[0].strip() != "application/json":
            self._fail(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "send application/json")
            return
        try:
            length = int(self.headers.get("Content-Length") or "")
        except ValueError:
            self._fail(HTTPStatus.LENGTH_REQUIRED, "Content-Length is required")
            return
        limit = self.server.options.max_request_bytes
        if length < 0 or length > limit:
            self._fail(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"body over {limit} bytes")
            return
        try:
            request = ScanRequest.model_validate_json(self.rfile.read(length))
        except ValidationError as exc:
            detail = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors()
            )
            self._fail(HTTPStatus.BAD_REQUEST, detail)
            return
        try:
            report = self.server.service.scan(request, self.server.use_cache)
            body = render(report, request.format)
        except RequestFailed as exc:
            self._fail(exc.status, str(exc), exc.retry_after)
            return
        except OSError as exc:
            failure = fs_failure(exc, "file-system error")
            self._fail(failure.status, str(failure))
            return
        except VulnsightError as exc:
            self._fail(HTTPStatus.INTERNAL_SERVER_ERROR, str(exc))
            return
        except Exception as exc:  # noqa: BLE001 - answer, never drop the connection
            self._fail(HTTPStatus.INTERNAL_SERVER_ERROR, f"internal error: {type(exc).__name__}")
            if self.server.log is not None:
                self.server.log(f"internal error on POST /v1/scan: {exc!r}")
            return
        self._send(HTTPStatus.OK, body)


def render(report: Report, fmt: str) -> str:
    """The response body: the JSON report, or SARIF."""
    if fmt == "sarif":
        from vulnsight.output import render_report

        return render_report(report, "sarif")
    from vulnsight.output.json_format import render as json_render

    return json_render(report)


class VulnsightServer(ThreadingHTTPServer):
    """The HTTP server, holding the scan service and its options."""

    daemon_threads = True

    def __init__(
        self,
        service: ScanService,
        options: ServerOptions,
        use_cache: bool = True,
        log: Any = None,
    ) -> None:
        self.service = service
        self.options = options
        self.use_cache = use_cache
        self.log = log
        family_v6 = ":" in options.host
        if family_v6:
            import socket

            self.address_family = socket.AF_INET6
        super().__init__((options.host.strip("[]"), options.port), _Handler)

    @property
    def url(self) -> str:
        """The base URL the server answers on."""
        host, port = self.server_address[:2]
        name = host.decode() if isinstance(host, bytes) else str(host)
        shown = f"[{name}]" if ":" in name else name
        return f"http://{shown}:{port}"
