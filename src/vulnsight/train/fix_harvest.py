"""`harvest --fixes`: a repository's security-fix history as vulnerable/fixed pairs.

The orchestrator receives the history it reads (`History`, implemented by
`gitread.GitRepo`), so the selection and pairing logic never touches a subprocess.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from vulnsight.errors import VulnsightError
from vulnsight.languages import language_of
from vulnsight.train.fix_commits import (
    CommitInfo,
    FixPolicy,
    Selection,
    is_code_path,
    select_commit,
)
from vulnsight.train.fix_pairs import FileVersions, commit_records, deduplicate


class Change(Protocol):
    """What the harvest needs to know of one changed file (see `gitread.Change`)."""

    @property
    def status(self) -> str: ...
    @property
    def old_blob(self) -> str: ...
    @property
    def new_blob(self) -> str: ...
    @property
    def old_path(self) -> str: ...
    @property
    def new_path(self) -> str: ...
    @property
    def regular(self) -> bool: ...


class History(Protocol):
    """Read access to a repository's commits, their changes and file contents."""

    def commits(self, rev: str = "HEAD", max_count: int | None = None) -> Iterator[CommitInfo]:
        """Commits reachable from `rev`, newest first."""
        ...

    def changes(self, parent: str, sha: str) -> Sequence[Change]:
        """Files changed between `parent` and `sha`."""
        ...

    def blobs(self, ids: Sequence[str]) -> dict[str, bytes]:
        """Contents of the given blobs (missing or oversized ones left out)."""
        ...


class NamedHistory(History, Protocol):
    """A history that can also read commits by id (see `gitread.GitRepo`)."""

    def named_commits(self, shas: Sequence[str]) -> Iterator[CommitInfo]:
        """The commits with the given ids, in the order given."""
        ...


@dataclass(frozen=True)
class ListedHistory:
    """Only the listed commits of a history, in the order listed, whatever revision is
    asked for: `harvest_fixes` over it mines exactly a recorded list of commits (what
    `data/fixes/commits.tsv` keeps), so the pairs are reproducible from that list."""

    history: NamedHistory
    shas: tuple[str, ...]

    def commits(self, rev: str = "HEAD", max_count: int | None = None) -> Iterator[CommitInfo]:
        """The listed commits (the first `max_count` of them); `rev` is ignored."""
        yield from self.history.named_commits(self.shas[:max_count])

    def changes(self, parent: str, sha: str) -> Sequence[Change]:
        """Files changed between `parent` and `sha`."""
        return self.history.changes(parent, sha)

    def blobs(self, ids: Sequence[str]) -> dict[str, bytes]:
        """Contents of the given blobs."""
        return self.history.blobs(ids)


@dataclass(frozen=True)
class UsedCommit:
    """A commit that yielded pairs: its id, the advisories it names, its pair count."""

    sha: str
    advisories: tuple[str, ...]
    reason: str
    pairs: int


@dataclass
class FixHarvest:
    """The records of a harvest, the commits they came from, and what was filtered."""

    records: list[dict[str, Any]] = field(default_factory=list)
    used: list[UsedCommit] = field(default_factory=list)
    commits_seen: int = 0
    commits_selected: int = 0
    skipped: Counter[str] = field(default_factory=Counter)  # commits, by reason
    dropped: Counter[str] = field(default_factory=Counter)  # functions or pairs, by reason

    @property
    def pairs(self) -> int:
        """How many vulnerable/fixed pairs were kept."""
        return len(self.records) // 2


def _decode(data: bytes | None) -> str | None:
    if data is None:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _file_versions(history: History, changes: Sequence[Change]) -> list[FileVersions]:
    usable = [
        c
        for c in changes
        if c.status in ("M", "R") and c.regular and is_code_path(c.new_path)
        and language_of(c.old_path) == language_of(c.new_path)
    ]  # fmt: skip
    contents = history.blobs([b for c in usable for b in (c.old_blob, c.new_blob)])
    files: list[FileVersions] = []
    for change in usable:
        before, after = (
            _decode(contents.get(change.old_blob)),
            _decode(contents.get(change.new_blob)),
        )
        language = language_of(change.new_path)
        if before is None or after is None or language is None:
            continue
        files.append(FileVersions(change.new_path, language, before, after))
    return files


def harvest_fixes(
    history: History,
    project: str,
    policy: FixPolicy | None = None,
    rev: str = "HEAD",
    max_commits: int | None = None,
    on_commit: Callable[[CommitInfo, Selection, int], None] | None = None,
) -> FixHarvest:
    """Walk the history from `rev` and turn each security-fix commit into pairs.

    Deterministic: commits are read newest first and records keep that order;
    repeated pairs and code seen with both labels are dropped at the end."""
    policy = policy or FixPolicy()
    result = FixHarvest()
    records: list[dict[str, Any]] = []
    for commit in history.commits(rev, max_commits):
        result.commits_seen += 1
        first = select_commit(replace(commit, paths=("?.c",)), policy)  # message checks only
        if not first.kept:
            result.skipped[first.reason] += 1
            continue
        try:
            changes = history.changes(commit.parents[0], commit.sha)
        except VulnsightError:  # objects missing from a partial copy: skip this commit
            result.skipped["unreadable commit"] += 1
            continue
        paths = tuple(dict.fromkeys(p for c in changes for p in (c.old_path, c.new_path)))
        commit = replace(commit, paths=paths)
        selection = select_commit(commit, policy)
        if not selection.kept:
            result.skipped[selection.reason.split(" (")[0]] += 1
            continue
        result.commits_selected += 1
        try:
            files = _file_versions(history, changes)
        except VulnsightError:
            result.skipped["unreadable commit"] += 1
            continue
        found = commit_records(commit, selection, files, policy, project, result.dropped)
        if on_commit is not None:
            on_commit(commit, selection, len(found) // 2)
        records.extend(found)
    result.records = deduplicate(records, result.dropped)
    kept_by_commit = Counter(str(r["meta"]["commit"]) for r in result.records if r["label"] == 1)
    seen: set[str] = set()
    for rec in result.records:
        sha = str(rec["meta"]["commit"])
        if sha in seen:
            continue
        seen.add(sha)
        result.used.append(
            UsedCommit(sha, tuple(rec["meta"]["advisories"]), rec["meta"]["selected_by"],
                       kept_by_commit[sha])
        )  # fmt: skip
    return result
