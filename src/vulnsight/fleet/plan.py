"""Which repositories a fleet run scans and where each one's outputs go (pure)."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from vulnsight.errors import ConfigError

#: Files of one repository's results, inside `OUT/repos/<slug>/`.
REPORT_JSON = "report.json"
REPORT_SARIF = "report.sarif"
#: Written last and atomically: a repository with this file is done (resume skips it).
DONE_MARKER = "done.json"


@dataclass(frozen=True)
class RepoSource:
    """One repository to scan: a working checkout (scanned in place, like `vulnsight
    scan`) or a bare mirror (its HEAD exported to a temporary directory first)."""

    path: str
    kind: str  # "checkout" or "bare"
    slug: str

    @property
    def name(self) -> str:
        """The repository's name as shown in summaries (its folder name)."""
        name = Path(self.path).name
        return name[:-4] if self.kind == "bare" and name.endswith(".git") else name


def repo_kind(path: Path) -> str:
    """ "bare" for a bare git repository (HEAD, objects/ and refs/ at the top), else
    "checkout" (any directory, git or not)."""
    bare = (path / "HEAD").is_file() and (path / "objects").is_dir() and (path / "refs").is_dir()
    return "bare" if bare and not (path / ".git").exists() else "checkout"


def slug_for(path: Path) -> str:
    """A folder name for a repository's outputs: readable, and unique per resolved path
    (two repositories both called `api` do not collide)."""
    resolved = str(path.resolve())
    digest = hashlib.sha256(resolved.encode("utf-8", "surrogateescape")).hexdigest()[:10]
    name = re.sub(r"[^A-Za-z0-9._-]", "_", path.resolve().name)[:40].strip("._") or "repo"
    return f"{name}-{digest}"


def read_listing(path: Path) -> list[str]:
    """Repository paths listed in a text file, one a line; blank lines and `#` comments
    are skipped, relative paths are relative to the file's folder."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the repository list {path}: {exc}") from exc
    out: list[str] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        entry = Path(line).expanduser()
        out.append(str(entry if entry.is_absolute() else path.parent / entry))
    return out


def expand_repos(args: Sequence[str | Path]) -> list[RepoSource]:
    """The repositories named on the command line: directories (checkouts or bare
    mirrors) and files listing them. Each repository once, in the order given."""
    paths: list[Path] = []
    for arg in args:
        p = Path(arg).expanduser()
        if p.is_file():
            paths.extend(Path(x) for x in read_listing(p))
        else:
            paths.append(p)
    missing = [str(p) for p in paths if not p.is_dir()]
    if missing:
        raise ConfigError(f"not a repository directory: {', '.join(missing[:5])}")
    seen: dict[Path, RepoSource] = {}
    for p in paths:
        key = p.resolve()
        if key not in seen:
            seen[key] = RepoSource(str(p.absolute()), repo_kind(p), slug_for(p))
    if not seen:
        raise ConfigError("no repository to scan")
    return list(seen.values())


def repo_dir(out: Path, repo: RepoSource) -> Path:
    """Where one repository's outputs go."""
    return out / "repos" / repo.slug


def is_done(out: Path, repo: RepoSource) -> bool:
    """Whether an earlier run finished this repository (its marker names the same
    source; a marker that cannot be read does not count)."""
    marker = repo_dir(out, repo) / DONE_MARKER
    try:
        data = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and data.get("source") == repo.path


def pending(out: Path, repos: Iterable[RepoSource]) -> tuple[list[RepoSource], list[RepoSource]]:
    """(repositories still to scan, repositories an earlier run finished)."""
    todo: list[RepoSource] = []
    done: list[RepoSource] = []
    for repo in repos:
        (done if is_done(out, repo) else todo).append(repo)
    return todo, done


@dataclass(frozen=True)
class Progress:
    """Where a fleet run stands, for the progress line on stderr."""

    repos_done: int
    repos_total: int
    functions: int
    elapsed_s: float
    repos_this_run: int

    def line(self) -> str:
        """`fleet: 3/10 repositories, 1,234 functions, 45.6 functions/s, ETA 0:01:23`."""
        rate = self.functions / self.elapsed_s if self.elapsed_s > 0 else 0.0
        left = self.repos_total - self.repos_done
        if left <= 0:
            eta = "done"
        elif self.repos_this_run:
            eta = _clock(self.elapsed_s / self.repos_this_run * left)
        else:
            eta = "?"
        return (
            f"fleet: {self.repos_done}/{self.repos_total} repositories, "
            f"{self.functions:,} functions, {rate:.1f} functions/s, ETA {eta}"
        )


def _clock(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"
