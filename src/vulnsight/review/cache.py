"""The incremental verdict cache: SQLite in the per-user state directory (see
`review/state.py`, never inside the scanned tree), safe for concurrent scans.

A verdict is keyed by the model, the prompt version and the function's text with
comments stripped and whitespace collapsed, so reformatting, comment edits and line
shifts never invalidate it, while any change the model could see does; and by the
digest of the data-flow facts that touch the function and of its callees' summaries
(`dataflow/facts.py`), so a change in a callee that changes what flows into or out of
a function re-judges it although its own text did not change. WAL mode and a
busy timeout let two scans of the same tree read and write at once; every chunk of
verdicts is committed as soon as it is known, so an interrupted scan resumes there.

`GuardedCache` wraps it for scans: a damaged file (a corrupt page, not a database at
all) or a read-only one never stops a scan; the scan goes on without the cache (or
without storing into it) and says so.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import re
import sqlite3
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from vulnsight.errors import ConfigError
from vulnsight.llm.prompt import PROMPT_VERSION
from vulnsight.parse.comments import strip_comments
from vulnsight.review.interface import CachedVerdict
from vulnsight.types import Function, normalise_code

CACHE_FILE = "cache.sqlite3"
_CWE = re.compile(r"CWE-[0-9]{1,5}")
#: The farthest a cached flagged line may sit from its function's first line.
_MAX_OFFSET = 100_000
#: Milliseconds a writer waits for another scan's transaction before giving up.
BUSY_TIMEOUT_MS = 30_000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS verdicts (
    key TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    prompt_version TEXT NOT NULL,
    p_vulnerable REAL NOT NULL,
    cwe TEXT,
    line_offset INTEGER,
    created REAL NOT NULL
)
"""


def connect(path: Path) -> sqlite3.Connection:
    """Open (creating) a vulnsight SQLite file in WAL mode with a busy timeout."""
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        _switch_to_wal(conn)
        conn.execute("PRAGMA synchronous = NORMAL")
    except (OSError, sqlite3.Error) as exc:
        raise ConfigError(f"cannot open {path}: {exc}") from exc
    return conn


def _switch_to_wal(conn: sqlite3.Connection) -> None:
    """`PRAGMA journal_mode = WAL`, retried: two processes opening a new file at once can
    get "database is locked" from it at once, as SQLite's busy handler does not cover
    the journal-mode change (seen with two scans of one tree starting together)."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def function_key(
    model: str, fn: Function, prompt_version: str = PROMPT_VERSION, salt: str = ""
) -> str:
    """The cache key of one function: what the model would be shown, and by whom.

    `salt` (the facts digest) is left out when empty, so a function no data-flow fact
    touches keeps the key it had before facts existed."""
    text = normalise_code(strip_comments(fn.code, fn.language, fn.file))
    h = hashlib.sha256()
    for part in (model, prompt_version, fn.language, text, *((salt,) if salt else ())):
        h.update(part.encode("utf-8", "surrogatepass"))
        h.update(b"\0")
    return h.hexdigest()


class VerdictCache:
    """A `VerdictStore` in one SQLite file."""

    def __init__(
        self, path: Path, prompt_version: str = PROMPT_VERSION, read_only: bool = False
    ) -> None:
        self.path = path
        self.prompt_version = prompt_version
        if read_only:  # a read-only state directory: no WAL files, no writes
            uri = path.absolute().as_uri() + "?mode=ro&immutable=1"
            try:
                self._conn = sqlite3.connect(uri, uri=True, isolation_level=None)
            except sqlite3.Error as exc:
                raise ConfigError(f"cannot open {path}: {exc}") from exc
            return
        self._conn = connect(path)
        try:
            self._conn.execute(_SCHEMA)
        except sqlite3.Error as exc:
            raise ConfigError(f"cannot use the cache {path}: {exc}") from exc

    @classmethod
    def in_dir(cls, directory: Path) -> VerdictCache:
        """The cache file inside a `.vulnsight` directory."""
        return cls(directory / CACHE_FILE)

    def get_many(
        self,
        model: str,
        functions: Sequence[Function],
        salts: Mapping[str, str] | None = None,
    ) -> dict[str, CachedVerdict]:
        """Cached verdicts by `Function.qualified_id`, for the functions that have one
        (`salts`: the facts digests by `qualified_id`)."""
        salt = salts or {}
        keys = {
            fn.qualified_id: function_key(
                model, fn, self.prompt_version, salt.get(fn.qualified_id, "")
            )
            for fn in functions
        }
        found: dict[str, CachedVerdict] = {}
        wanted = sorted(set(keys.values()))
        rows: dict[str, CachedVerdict] = {}
        for i in range(0, len(wanted), 500):
            part = wanted[i : i + 500]
            marks = ",".join("?" * len(part))
            cur = self._conn.execute(
                f"SELECT key, p_vulnerable, cwe, line_offset FROM verdicts WHERE key IN ({marks})",
                part,
            )
            for key, p, cwe, offset in cur:
                verdict = _valid(p, cwe, offset)
                if verdict is not None:
                    rows[key] = verdict
        for qid, key in keys.items():
            if key in rows:
                found[qid] = rows[key]
        return found

    def put_many(
        self,
        model: str,
        verdicts: Mapping[Function, CachedVerdict],
        salts: Mapping[str, str] | None = None,
    ) -> None:
        """Store verdicts in one committed transaction."""
        if not verdicts:
            return
        now = time.time()
        salt = salts or {}
        rows = [
            (
                function_key(model, fn, self.prompt_version, salt.get(fn.qualified_id, "")),
                model,
                self.prompt_version,
                v.p_vulnerable,
                v.cwe,
                v.line_offset,
                now,
            )
            for fn, v in verdicts.items()
        ]
        with self._conn:
            self._conn.execute("BEGIN IMMEDIATE")
            self._conn.executemany("INSERT OR REPLACE INTO verdicts VALUES (?,?,?,?,?,?,?)", rows)

    def __len__(self) -> int:
        return int(self._conn.execute("SELECT COUNT(*) FROM verdicts").fetchone()[0])

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()


def _valid(p: object, cwe: object, offset: object) -> CachedVerdict | None:
    """A stored row as a verdict, or None when it is not one this cache could have written."""
    if not isinstance(p, int | float) or not 0.0 <= float(p) <= 1.0 or math.isnan(float(p)):
        return None
    if cwe is not None and not (isinstance(cwe, str) and _CWE.fullmatch(cwe)):
        return None
    if offset is not None and not (isinstance(offset, int) and 0 <= offset <= _MAX_OFFSET):
        return None
    return CachedVerdict(float(p), cwe, offset)


class GuardedCache:
    """A `VerdictStore` that never fails a scan: a cache that cannot be opened or read is
    dropped, one that cannot be written is only read, and `problems` says what happened
    (the workflow puts it in the report as a warning)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.problems: list[str] = []
        self._store: VerdictCache | None = None
        self._writable = True
        try:
            self._store = VerdictCache(path)
            self._store.get_many("", [])  # touch the file: a non-database fails here
            len(self._store)
        except (ConfigError, sqlite3.Error, OSError) as exc:
            self._close()
            self._store = self._read_only(path, exc)

    def _read_only(self, path: Path, first: Exception) -> VerdictCache | None:
        """The cache opened read-only (a read-only state directory), else None."""
        if path.is_file():
            try:
                store = VerdictCache(path, read_only=True)
                len(store)
            except (ConfigError, sqlite3.Error, OSError):
                pass
            else:
                self._writable = False
                self.problems.append(
                    f"verdict cache {path} is read-only ({_reason(first)}): "
                    "cached verdicts are used, new ones are not stored"
                )
                return store
        self.problems.append(
            f"verdict cache {path} is unusable ({_reason(first)}): scanned without it"
        )
        return None

    def _close(self) -> None:
        if self._store is not None:
            with contextlib.suppress(sqlite3.Error):
                self._store.close()
        self._store = None

    def get_many(
        self,
        model: str,
        functions: Sequence[Function],
        salts: Mapping[str, str] | None = None,
    ) -> dict[str, CachedVerdict]:
        """Cached verdicts; nothing (and the cache dropped) when it cannot be read."""
        if self._store is None:
            return {}
        try:
            return self._store.get_many(model, functions, salts)
        except sqlite3.Error as exc:
            self.problems.append(
                f"verdict cache {self.path} is damaged ({_reason(exc)}): "
                "scanned the rest without it"
            )
            self._close()
            return {}

    def put_many(
        self,
        model: str,
        verdicts: Mapping[Function, CachedVerdict],
        salts: Mapping[str, str] | None = None,
    ) -> None:
        """Store verdicts; a failed write turns storing off for the rest of the scan."""
        if self._store is None or not self._writable:
            return
        try:
            self._store.put_many(model, verdicts, salts)
        except sqlite3.Error as exc:
            self._writable = False
            self.problems.append(
                f"verdict cache {self.path} cannot be written ({_reason(exc)}): "
                "new verdicts are not stored"
            )

    def close(self) -> None:
        """Close the underlying cache."""
        self._close()


def _reason(exc: BaseException) -> str:
    text = str(exc)
    return text.split(": ", 1)[1] if text.startswith("cannot ") and ": " in text else text
