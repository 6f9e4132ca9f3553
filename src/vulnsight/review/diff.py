"""What a change touched: changed line ranges per file against a git ref.

`git diff -U0 REF` (working tree against REF, staged and unstaged) gives the new-side
line ranges of every hunk; untracked files count as changed throughout. A function is
changed when it overlaps a changed range; a finding is in changed code when it lies on a
changed line or inside a changed function.
"""

from __future__ import annotations

import functools
import os
import re
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from vulnsight.errors import ConfigError
from vulnsight.types import Finding, Function

#: A whole file (untracked or new): every line is changed.
WHOLE_FILE: tuple[int, int] = (1, 10**9)
_HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+(\d+)(?:,(\d+))? @@")
_ESCAPES = {"n": "\n", "t": "\t", '"': '"', "\\": "\\"}
#: Seconds one git command may take (a planted `include.path` naming a FIFO must not hang a scan).
GIT_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class ChangeSet:
    """Changed 1-based inclusive line ranges, by absolute file path."""

    ref: str
    ranges: Mapping[str, tuple[tuple[int, int], ...]] = field(default_factory=dict)

    def lines_of(self, root: Path, file: str) -> tuple[tuple[int, int], ...]:
        """The changed ranges of a scan-root-relative file."""
        return self.ranges.get(_real(root, file), ())

    def touches(self, root: Path, fn: Function) -> bool:
        """Whether a change overlaps the function (the `only` filter of a scan)."""
        return any(a <= fn.end_line and fn.start_line <= b for a, b in self.lines_of(root, fn.file))

    def holds(self, root: Path, finding: Finding, functions: Sequence[Function]) -> bool:
        """Whether a finding lies on a changed line or in a changed (non-toplevel) function."""
        ranges = self.lines_of(root, finding.file)
        if any(a <= finding.line_number <= b for a, b in ranges):
            return True
        return any(
            fn.file == finding.file
            and fn.kind != "toplevel"
            and fn.start_line <= finding.line_number <= fn.end_line
            for fn in functions
        )


@functools.lru_cache(maxsize=65536)
def _real(root: Path, file: str) -> str:
    return os.path.realpath(root / file)


def _git(cwd: Path, *args: str, env: Mapping[str, str] | None = None) -> str:
    try:
        proc = subprocess.run(
            # A scanned checkout's own .git/config must not run commands (fsmonitor
            # hooks, external diff or textconv drivers): scanned code is hostile.
            ["git", "-c", "core.quotepath=off", "-c", "core.fsmonitor=false", *args],
            cwd=cwd,
            capture_output=True,
            text=True,
            encoding="utf-8",
            errors="surrogateescape",
            check=False,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **env} if env else None,
            timeout=GIT_TIMEOUT_S,
        )
    except FileNotFoundError as exc:
        raise ConfigError("--diff needs git, which is not installed") from exc
    except subprocess.TimeoutExpired as exc:
        what = " ".join(args[:2])
        raise ConfigError(f"git {what} did not finish within {exc.timeout} s") from exc
    if proc.returncode != 0:
        raise ConfigError(f"git {' '.join(args[:2])} failed: {proc.stderr.strip()[-500:]}")
    return proc.stdout


def _filters_off(top: Path) -> dict[str, str]:
    """Environment that switches off every filter driver the checkout's config names.

    Comparing the working tree with a ref runs a file's `clean` filter (or its long-running
    `process`) from `.gitattributes` + `.git/config`: a command the checkout chose. Git has
    no switch to skip filters, but an empty command is no filter, so each named driver is
    overridden through `GIT_CONFIG_*` (exact keys, whatever the driver's name holds).
    """
    try:
        listed = _git(top, "config", "-z", "--name-only", "--get-regexp", r"^filter\.")
    except ConfigError:
        listed = ""  # git config exits 1 when no key matches
    drivers = {
        key[len("filter.") : key.rindex(".")]
        for key in filter(None, listed.split("\0"))
        if key.count(".") >= 2
    }
    pairs = [
        (f"filter.{name}.{var}", value)
        for name in sorted(drivers)
        for var, value in (("clean", ""), ("smudge", ""), ("process", ""), ("required", "false"))
    ]
    env = {"GIT_CONFIG_COUNT": str(len(pairs))}
    for i, (key, value) in enumerate(pairs):
        env[f"GIT_CONFIG_KEY_{i}"] = key
        env[f"GIT_CONFIG_VALUE_{i}"] = value
    return env


def _unquote(path: str) -> str:
    """Undo git's C-style quoting of unusual file names."""
    if not (path.startswith('"') and path.endswith('"')):
        return path
    out, i, body = [], 0, path[1:-1]
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            nxt = body[i + 1]
            if nxt in "01234567" and i + 3 < len(body):
                out.append(chr(int(body[i + 1 : i + 4], 8)))
                i += 4
                continue
            out.append(_ESCAPES.get(nxt, nxt))
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def parse_unified_diff(text: str) -> dict[str, list[tuple[int, int]]]:
    """New-side changed ranges by repository-relative path from `git diff -U0` output.

    A pure deletion marks the lines on both sides of the gap it left.
    """
    ranges: dict[str, list[tuple[int, int]]] = {}
    current: str | None = None
    for line in text.splitlines():
        if line.startswith("+++ "):
            target = _unquote(line[4:].rstrip("\t"))
            current = None if target == "/dev/null" else target.removeprefix("b/")
            if current is not None:
                ranges.setdefault(current, [])
            continue
        match = _HUNK.match(line)
        if match and current is not None:
            start, count = int(match.group(1)), int(match.group(2) or "1")
            if count == 0:
                ranges[current].append((max(1, start), start + 1))
            else:
                ranges[current].append((start, start + count - 1))
    return ranges


def _work_tree_holds(top: Path, cwd: Path) -> None:
    """Refuse a work tree that does not contain the scanned directory.

    A checkout's own `.git` (a `gitdir:` file, `core.worktree`, `GIT_WORK_TREE`-style
    config) can point git at another tree; the diff of that tree would match no scanned
    file, and a `--diff` scan would then pass with no findings. That must be an error.
    """
    real_top, real_cwd = os.path.realpath(top), os.path.realpath(cwd)
    if os.path.commonpath([real_top, real_cwd]) != real_top:
        raise ConfigError(
            f"--diff: git's work tree for {cwd} is {top}, which does not contain it "
            "(a .git file or core.worktree points elsewhere); refusing to diff another tree"
        )


def changes_since(ref: str, cwd: Path) -> ChangeSet:
    """Changed line ranges of the working tree under `cwd` against `ref`.

    Raises `ConfigError` when `cwd` is not in a git repository or `ref` is unknown.
    """
    if ref.startswith("-"):
        raise ConfigError(f"--diff: not a git revision: {ref!r}")
    top = Path(_git(cwd, "rev-parse", "--show-toplevel").strip())
    _work_tree_holds(top, cwd)
    _git(top, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    diff = _git(
        top,
        "diff",
        "-U0",
        "--no-color",
        "--no-ext-diff",
        "--no-textconv",
        "--no-renames",
        # A submodule's dirty check runs git in it, under its own config and filters.
        "--ignore-submodules=all",
        ref,
        "--",
        env=_filters_off(top),
    )
    ranges: dict[str, list[tuple[int, int]]] = {
        os.path.realpath(top / rel): spans for rel, spans in parse_unified_diff(diff).items()
    }
    untracked = _git(top, "ls-files", "--others", "--exclude-standard", "-z")
    for rel in filter(None, untracked.split("\0")):
        ranges[os.path.realpath(top / rel)] = [WHOLE_FILE]
    return ChangeSet(ref, {path: tuple(spans) for path, spans in ranges.items()})


def old_text(top: Path, ref: str, path: Path) -> str | None:
    """A file's text at `ref` in the repository at `top` (None when it did not exist
    there, lies outside the repository or cannot be read)."""
    try:
        rel = os.path.relpath(os.path.realpath(path), os.path.realpath(top))
    except ValueError:
        return None
    if rel.startswith(".."):
        return None
    try:
        # `cat-file blob` reads the object as stored: no filter, textconv or hook runs
        return _git(top, "cat-file", "blob", f"{ref}:{Path(rel).as_posix()}")
    except ConfigError:
        return None


def reader_at(ref: str, root: Path) -> Callable[[str], str | None]:
    """Scan-root-relative file path -> its text at `ref` (see `old_text`)."""
    top = Path(_git(root, "rev-parse", "--show-toplevel").strip())
    return lambda path: old_text(top, ref, root / path)
