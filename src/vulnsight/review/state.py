"""Where scanner state (the verdict cache, triage decisions) lives: outside the scanned
tree, per user, one directory per repository.

The scanned tree is hostile: a committed `.vulnsight/cache.sqlite3` with forged verdicts
or a committed triage database must change nothing, and a scan must write nothing into
the tree. So state lives in

    $VULNSIGHT_STATE_DIR/repos/<name>-<hash>/        when the variable is set,
    <state_dir of the user config>/repos/<...>/      else, when the user config names one,
    $XDG_STATE_HOME/vulnsight/repos/<...>/           else (~/.local/state/vulnsight/...),

where `<hash>` is a SHA-256 prefix of the repository root's resolved path. A state
directory that would lie inside the scanned tree is refused.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

STATE_ENV = "VULNSIGHT_STATE_DIR"
#: The folder older versions kept state in, inside the scanned tree. Never read now.
LEGACY_DIR = ".vulnsight"


def state_base(configured: str | None = None) -> Path:
    """The per-user folder holding every repository's state."""
    env = os.environ.get(STATE_ENV)
    if env:
        return Path(env).expanduser()
    if configured:
        return Path(configured).expanduser()
    xdg = os.environ.get("XDG_STATE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".local" / "state") / "vulnsight"


def repo_key(root: Path) -> str:
    """A readable, collision-safe folder name for a repository root."""
    resolved = root.resolve()
    raw = os.fsencode(resolved)
    digest = hashlib.sha256(raw).hexdigest()[:16]
    name = re.sub(r"[^A-Za-z0-9._-]", "_", resolved.name)[:40].strip(".") or "root"
    return f"{name}-{digest}"


def state_dir_for(root: Path, configured: str | None = None) -> Path:
    """The state directory of the repository rooted at `root`."""
    return state_base(configured).absolute() / "repos" / repo_key(root)


def inside(path: Path, root: Path) -> bool:
    """Whether `path` (as given, or with links resolved) lies in `root` (either way)."""
    candidates = {path.absolute(), path.resolve()}
    roots = {root.absolute(), root.resolve()}
    return any(c == r or r in c.parents for c in candidates for r in roots)


def legacy_state(root: Path) -> Path | None:
    """The in-tree `.vulnsight/` of older versions, when the tree has one (never read)."""
    legacy = root / LEGACY_DIR
    try:
        return legacy if legacy.is_dir() and not legacy.is_symlink() else None
    except OSError:
        return None
