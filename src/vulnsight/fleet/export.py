"""A bare mirror's HEAD as files in a directory, without running anything of it.

`git archive` and `git worktree` apply the mirror's own filters (`.gitattributes` plus
`filter.*` commands in its config) and may start its fsmonitor: commands the scanned
repository chose. This reads the tree and the blobs as plain objects instead
(`git ls-tree` and `git cat-file --batch`), so no attribute, filter or hook applies.
Symbolic links and submodules are not exported (a scan of a checkout skips them too).
"""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path, PurePosixPath

from vulnsight.errors import ConfigError

#: Seconds one git command may take.
GIT_TIMEOUT_S = 600
_REGULAR = ("100644", "100755")


def _git(git_dir: Path) -> list[str]:
    return [
        "git",
        f"--git-dir={git_dir}",
        "-c",
        "core.fsmonitor=false",
        "-c",
        "core.hooksPath=/dev/null",
    ]


def _safe_relative(name: str) -> PurePosixPath | None:
    """The tree path as a relative path, or None when a crafted tree entry would leave
    the export directory or write into a `.git` folder."""
    path = PurePosixPath(name)
    parts = path.parts
    if not parts or path.is_absolute() or any(p in ("", ".", "..", ".git") for p in parts):
        return None
    return path


def head_commit_time(git_dir: Path) -> int | None:
    """HEAD's committer time (Unix seconds), or None (no commit, not a repository)."""
    try:
        proc = subprocess.run(
            [*_git(git_dir), "log", "-1", "--format=%ct", "HEAD"],
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = proc.stdout.strip()
    return int(text) if proc.returncode == 0 and text.isdigit() else None


def export_head(git_dir: Path, dest: Path) -> int:
    """Write the regular files of HEAD's tree under `dest`; returns how many.

    Raises ConfigError when the mirror has no HEAD commit or git fails.
    """
    listing = subprocess.run(
        [*_git(git_dir), "ls-tree", "-r", "-z", "--full-tree", "HEAD"],
        capture_output=True,
        timeout=GIT_TIMEOUT_S,
        check=False,
    )
    if listing.returncode != 0:
        reason = listing.stderr.decode("utf-8", "replace").strip()[-300:]
        raise ConfigError(f"{git_dir}: cannot read HEAD's tree: {reason}")
    entries: list[tuple[str, PurePosixPath]] = []
    for record in listing.stdout.split(b"\0"):
        if not record:
            continue
        meta, _, raw_name = record.partition(b"\t")
        mode, kind, sha = meta.decode("ascii", "replace").split(" ")[:3]
        rel = _safe_relative(raw_name.decode("utf-8", "surrogateescape"))
        if kind == "blob" and mode in _REGULAR and rel is not None:
            entries.append((sha, rel))
    _write_blobs(git_dir, dest, entries)
    return len(entries)


def _write_blobs(git_dir: Path, dest: Path, entries: list[tuple[str, PurePosixPath]]) -> None:
    proc = subprocess.Popen(
        [*_git(git_dir), "cat-file", "--batch"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert proc.stdin is not None and proc.stdout is not None
    stdin = proc.stdin

    def feed() -> None:  # a thread, so a full stdout pipe never blocks our writes
        try:
            for sha, _ in entries:
                stdin.write(sha.encode("ascii") + b"\n")
            stdin.close()
        except OSError:
            pass

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    root = dest.resolve()
    try:
        for sha, rel in entries:
            header = proc.stdout.readline().decode("ascii", "replace").split()
            if len(header) != 3 or header[0] != sha or header[1] != "blob":
                raise ConfigError(f"{git_dir}: unexpected object for {rel}: {header}")
            data = proc.stdout.read(int(header[2]))
            proc.stdout.read(1)  # the newline after each object
            target = root.joinpath(*rel.parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.parent.resolve() != target.parent or root not in target.parents:
                raise ConfigError(f"{git_dir}: refusing to export {rel} outside {dest}")
            target.write_bytes(data)
    finally:
        proc.stdout.close()
        proc.wait(timeout=GIT_TIMEOUT_S)
        writer.join(timeout=5)
