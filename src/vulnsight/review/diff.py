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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from vulnsight.errors import ConfigError
from vulnsight.types import Finding, Function

#: A whole file (untracked or new): every line is changed.
WHOLE_FILE: tuple[int, int] = (1, 10**9)
_HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+(\d+)(?:,(\d+))? @@")
_ESCAPES = {"n": "\n", "t": "\t", '"': '"', "\\": "\\"}


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


def _git(cwd: Path, *args: str) -> str:
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
        )
    except FileNotFoundError as exc:
        raise ConfigError("--diff needs git, which is not installed") from exc
    if proc.returncode != 0:
        raise ConfigError(f"git {' '.join(args[:2])} failed: {proc.stderr.strip()[-500:]}")
    return proc.stdout


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


def changes_since(ref: str, cwd: Path) -> ChangeSet:
    """Changed line ranges of the working tree under `cwd` against `ref`.

    Raises `ConfigError` when `cwd` is not in a git repository or `ref` is unknown.
    """
    if ref.startswith("-"):
        raise ConfigError(f"--diff: not a git revision: {ref!r}")
    top = Path(_git(cwd, "rev-parse", "--show-toplevel").strip())
    _git(top, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    diff = _git(
        top,
        "diff",
        "-U0",
        "--no-color",
        "--no-ext-diff",
        "--no-textconv",
        "--no-renames",
        ref,
        "--",
    )
    ranges: dict[str, list[tuple[int, int]]] = {
        os.path.realpath(top / rel): spans for rel, spans in parse_unified_diff(diff).items()
    }
    untracked = _git(top, "ls-files", "--others", "--exclude-standard", "-z")
    for rel in filter(None, untracked.split("\0")):
        ranges[os.path.realpath(top / rel)] = [WHOLE_FILE]
    return ChangeSet(ref, {path: tuple(spans) for path, spans in ranges.items()})
