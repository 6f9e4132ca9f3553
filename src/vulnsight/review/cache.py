"""The incremental verdict cache: SQLite under `.vulnsight/`, safe for concurrent scans.

A verdict is keyed by the model, the prompt version and the function's text with
comments stripped and whitespace collapsed, so reformatting, comment edits and line
shifts never invalidate it, while any change the model could see does. WAL mode and a
busy timeout let two scans of the same tree read and write at once; every chunk of
verdicts is committed as soon as it is known, so an interrupted scan resumes there.
"""

from __future__ import annotations

import hashlib
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
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
    except (OSError, sqlite3.Error) as exc:
        raise ConfigError(f"cannot open {path}: {exc}") from exc
    return conn


def function_key(model: str, fn: Function, prompt_version: str = PROMPT_VERSION) -> str:
    """The cache key of one function: what the model would be shown, and by whom."""
    text = normalise_code(strip_comments(fn.code, fn.language, fn.file))
    h = hashlib.sha256()
    for part in (model, prompt_version, fn.language, text):
        h.update(part.encode("utf-8", "surrogatepass"))
        h.update(b"\0")
    return h.hexdigest()


class VerdictCache:
    """A `VerdictStore` in one SQLite file."""

    def __init__(self, path: Path, prompt_version: str = PROMPT_VERSION) -> None:
        self.path = path
        self.prompt_version = prompt_version
        self._conn = connect(path)
        try:
            self._conn.execute(_SCHEMA)
        except sqlite3.Error as exc:
            raise ConfigError(f"cannot use the cache {path}: {exc}") from exc

    @classmethod
    def in_dir(cls, directory: Path) -> VerdictCache:
        """The cache file inside a `.vulnsight` directory."""
        return cls(directory / CACHE_FILE)

    def get_many(self, model: str, functions: Sequence[Function]) -> dict[str, CachedVerdict]:
        """Cached verdicts by `Function.qualified_id`, for the functions that have one."""
        keys = {fn.qualified_id: function_key(model, fn, self.prompt_version) for fn in functions}
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
                rows[key] = CachedVerdict(float(p), cwe, offset)
        for qid, key in keys.items():
            if key in rows:
                found[qid] = rows[key]
        return found

    def put_many(self, model: str, verdicts: Mapping[Function, CachedVerdict]) -> None:
        """Store verdicts in one committed transaction."""
        if not verdicts:
            return
        now = time.time()
        rows = [
            (
                function_key(model, fn, self.prompt_version),
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
