"""Read-only access to a git repository's history through the `git` command.

The repository is untrusted data. Git runs with a fixed argument vector (never a
shell), a minimal environment (no system or user configuration, no pager, no
prompts, no optional locks, no replace objects, no network), and command-line settings
that override whatever the repository's own configuration says about hooks, file
system monitors, signature checking, colour and external diff or text conversion
programs. Only plumbing-style reads are used: `rev-parse`, `log`, `diff-tree`,
`cat-file`. Nothing is written to the repository.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from vulnsight.errors import VulnsightError
from vulnsight.train.fix_commits import CommitInfo

_SHA_RE = re.compile(r"[0-9a-f]{40}(?:[0-9a-f]{24})?\Z")
_REGULAR_MODES = frozenset({"100644", "100755"})
_MAX_BLOB = 2_000_000


class GitError(VulnsightError):
    """git could not read the repository (not a repository, a bad revision, a timeout)."""


@dataclass(frozen=True)
class Change:
    """One file a commit changed: status (M, R, A, D...), blob ids and paths."""

    status: str
    old_blob: str
    new_blob: str
    old_path: str
    new_path: str
    regular: bool  # both sides are regular files (not links or submodules)


def _environment() -> dict[str, str]:
    env = {
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_OPTIONAL_LOCKS": "0",
        "GIT_NO_REPLACE_OBJECTS": "1",
        "GIT_NO_LAZY_FETCH": "1",
        "GIT_ATTR_NOSYSTEM": "1",
        "GIT_PAGER": "cat",
        "PAGER": "cat",
        "LC_ALL": "C",
        "HOME": os.devnull,
    }
    if "PATH" in os.environ:
        env["PATH"] = os.environ["PATH"]
    return env


def _overrides(safe: Sequence[str]) -> list[str]:
    settings = [
        "core.hooksPath=/dev/null",
        "core.fsmonitor=false",
        "core.pager=cat",
        "log.showSignature=false",
        "gpg.program=false",
        "color.ui=false",
        "diff.external=",
        "i18n.logOutputEncoding=UTF-8",
        "protocol.allow=never",
        "core.quotePath=false",
        *(f"safe.directory={path}" for path in safe),
    ]
    return [arg for s in settings for arg in ("-c", s)]


def _parse_log(out: bytes) -> Iterator[CommitInfo]:
    """The commits of `git log -z --format=%H%x1f%P%x1f%B` output."""
    for chunk in out.decode("utf-8", "replace").split("\0"):
        parts = chunk.split("\x1f", 2)
        if len(parts) != 3 or not _SHA_RE.match(parts[0]):
            continue
        parents = tuple(p for p in parts[1].split() if _SHA_RE.match(p))
        yield CommitInfo(parts[0], parents, parts[2])


class GitRepo:
    """A repository's history, read with `git`: commits, what each changed, blobs."""

    def __init__(self, path: Path, timeout: float = 300.0) -> None:
        """Locate the git directory of `path` (a work tree or a bare repository)."""
        self.timeout = timeout
        top = os.path.abspath(path)
        if not os.path.isdir(top):
            raise GitError(f"not a directory: {path}")
        self._safe = [top]
        found = self._git(["-C", top, "rev-parse", "--absolute-git-dir"], cwd=top)
        git_dir = found.decode("utf-8", "surrogateescape").strip()
        if not git_dir or not os.path.isdir(git_dir):
            raise GitError(f"not a git repository: {path}")
        self.git_dir = git_dir
        self._safe.append(git_dir)

    def _git(self, args: list[str], cwd: str | None = None, stdin: bytes | None = None) -> bytes:
        argv = ["git", *_overrides(self._safe), *args]
        try:
            done = subprocess.run(
                argv,
                input=stdin,
                capture_output=True,
                env=_environment(),
                cwd=cwd or self.git_dir,
                timeout=self.timeout,
                check=False,
            )
        except FileNotFoundError as exc:
            raise GitError("the git command is not installed") from exc
        except subprocess.TimeoutExpired as exc:
            raise GitError(f"git {args[0]} took longer than {self.timeout:.0f} s") from exc
        if done.returncode != 0:
            err = done.stderr.decode("utf-8", "replace").strip().splitlines()
            raise GitError(f"git {args[-1] if args else ''} failed: {err[-1] if err else '?'}")
        return done.stdout

    def _run(self, args: list[str], stdin: bytes | None = None) -> bytes:
        return self._git(["--git-dir", self.git_dir, *args], stdin=stdin)

    def resolve(self, rev: str) -> str:
        """The commit id a revision names (GitError when it names none)."""
        out = self._run(["rev-parse", "--verify", "--end-of-options", f"{rev}^{{commit}}"])
        sha = out.decode("ascii", "replace").strip()
        if not _SHA_RE.match(sha):
            raise GitError(f"cannot resolve revision {rev!r}")
        return sha

    def commits(self, rev: str = "HEAD", max_count: int | None = None) -> Iterator[CommitInfo]:
        """The commits reachable from `rev`, newest first (paths not filled in)."""
        sha = self.resolve(rev)
        args = ["log", "-z", "--no-color", "--no-show-signature", "--format=%H%x1f%P%x1f%B"]
        if max_count is not None:
            args.append(f"--max-count={int(max_count)}")
        out = self._run([*args, sha, "--"])
        yield from _parse_log(out)

    def named_commits(self, shas: Sequence[str]) -> Iterator[CommitInfo]:
        """The commits with the given full ids, in the order given (paths not filled in);
        GitError when one is not a full commit id or is missing from the repository."""
        for sha in shas:
            if not _SHA_RE.match(sha):
                raise GitError(f"not a commit id: {sha!r}")
        if not shas:
            return
        args = ["log", "-z", "--no-color", "--no-show-signature", "--no-walk=unsorted"]
        out = self._run([*args, "--format=%H%x1f%P%x1f%B", *shas, "--"])
        yield from _parse_log(out)

    def changes(self, parent: str, sha: str) -> list[Change]:
        """The files changed between two commits, renames detected."""
        for commit in (parent, sha):
            if not _SHA_RE.match(commit):
                raise GitError(f"not a commit id: {commit!r}")
        out = self._run(
            ["diff-tree", "-r", "-z", "-M", "--raw", "--no-abbrev", "--no-ext-diff",
             "--no-textconv", parent, sha]
        )  # fmt: skip
        fields = out.decode("utf-8", "surrogateescape").split("\0")
        changes: list[Change] = []
        i = 0
        while i < len(fields):
            head = fields[i]
            i += 1
            if not head.startswith(":"):
                continue
            parts = head[1:].split()
            if len(parts) < 5:
                continue
            old_mode, new_mode, old_blob, new_blob, status = parts[:5]
            if status[:1] in ("R", "C"):
                old_path, new_path = fields[i], fields[i + 1]
                i += 2
            else:
                old_path = new_path = fields[i]
                i += 1
            regular = old_mode in _REGULAR_MODES and new_mode in _REGULAR_MODES
            changes.append(Change(status[:1], old_blob, new_blob, old_path, new_path, regular))
        return changes

    def blobs(self, ids: Sequence[str], max_size: int = _MAX_BLOB) -> dict[str, bytes]:
        """The contents of the given blobs; missing, non-blob or larger ones are left out."""
        wanted = sorted({b for b in ids if _SHA_RE.match(b)})
        if not wanted:
            return {}
        query = "".join(f"{b}\n" for b in wanted).encode()
        sizes: dict[str, int] = {}
        for line in self._run(["cat-file", "--batch-check"], stdin=query).decode().splitlines():
            parts = line.split()
            if len(parts) == 3 and parts[1] == "blob" and int(parts[2]) <= max_size:
                sizes[parts[0]] = int(parts[2])
        if not sizes:
            return {}
        out = self._run(["cat-file", "--batch"], stdin="".join(f"{b}\n" for b in sizes).encode())
        contents: dict[str, bytes] = {}
        pos = 0
        while pos < len(out):
            end = out.index(b"\n", pos)
            header = out[pos:end].split()
            pos = end + 1
            if len(header) != 3:
                continue
            size = int(header[2])
            contents[header[0].decode()] = out[pos : pos + size]
            pos += size + 1
        return contents
