"""Suppressions: inline `vulnsight: ignore[...]` comments and configured ignores.

A suppressed finding stays in the report with `suppressed` set, its reason and what
suppressed it, so SARIF lists it under `suppressions` and nothing disappears silently;
only the exit status and the text output leave it out (the text output counts it).

Scanned code is hostile: a mark counts only inside a real comment, as tree-sitter parses
the file. `x = "# vulnsight: ignore"` (a string literal) or a docstring suppresses
nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from vulnsight.errors import ParseError
from vulnsight.languages import language_of
from vulnsight.pipeline import glob_match
from vulnsight.types import Finding, Report

#: Comment openers by language, for `parse_mark` on a single line.
COMMENT_OPENERS: dict[str, tuple[str, ...]] = {
    "python": ("#",),
    "c": ("//", "/*"),
    "cpp": ("//", "/*"),
    "javascript": ("//", "/*"),
    "typescript": ("//", "/*"),
    "solidity": ("//", "/*", "///"),
}
_MARK = r"vulnsight:\s*ignore(?:\[(?P<ids>[^\]]*)\])?(?P<reason>.*)$"
#: A mark at the start of a comment's text (after its opener, or a `*` continuation).
_COMMENT_MARK = re.compile(r"^\s*(?:#|//+|/\*+!?|\*+)?\s*" + _MARK)

#: Reads a scanned file's text by its report path (None when it cannot be read; a
#: sequence of lines is accepted too).
TextReader = Callable[[str], str | Sequence[str] | None]
#: What suppressed a finding, in the order they are applied.
KINDS: tuple[str, ...] = ("triage", "inline", "config", "baseline")


@dataclass(frozen=True)
class IgnoreRule:
    """A configured ignore: findings in matching paths, of matching CWEs and rules.

    An empty selector matches everything, so `paths=("tests/**",)` ignores every
    finding under tests/ and `cwes=("CWE-20",)` ignores one weakness everywhere.
    """

    paths: tuple[str, ...] = ()
    cwes: tuple[str, ...] = ()
    rules: tuple[str, ...] = ()
    reason: str = "ignored by configuration"
    origin: str = "repository"  # "repository" or "user": whose configuration it is
    source: str = ""  # the file it came from

    def matches(self, finding: Finding) -> bool:
        """Whether this rule ignores the finding."""
        if self.paths and not any(glob_match(finding.file, p) for p in self.paths):
            return False
        if self.cwes and finding.cwe.upper() not in {c.upper() for c in self.cwes}:
            return False
        return not self.rules or _rule_matches(finding, self.rules)


@dataclass(frozen=True)
class InlineMark:
    """A parsed `vulnsight: ignore[ids] reason` comment."""

    ids: tuple[str, ...]  # empty: every finding
    reason: str

    def covers(self, finding: Finding) -> bool:
        """Whether the mark names this finding's CWE or rule (or names nothing)."""
        if not self.ids or "*" in self.ids:
            return True
        cwes = {i.upper() for i in self.ids if i.upper().startswith("CWE-")}
        return finding.cwe.upper() in cwes or _rule_matches(finding, self.ids)


def _rule_matches(finding: Finding, ids: Sequence[str]) -> bool:
    rid = finding.rule_id or ""
    return bool(rid) and any(i == rid or rid.endswith("." + i) for i in ids)


def _patterns(language: str) -> re.Pattern[str]:
    openers = "|".join(re.escape(o) for o in COMMENT_OPENERS.get(language, ("//", "#")))
    return re.compile(rf"(?:{openers})\s*{_MARK}")


def _mark_of(found: re.Match[str]) -> InlineMark:
    ids = tuple(i.strip() for i in (found.group("ids") or "").split(",") if i.strip())
    reason = found.group("reason").strip().removesuffix("*/").strip(" -:")
    return InlineMark(ids, reason or "suppressed inline")


def parse_mark(line: str, language: str) -> InlineMark | None:
    """The mark in one line of comment text (after a comment opener), if any.

    This reads text only: whether the text is really a comment is `file_marks`' job."""
    found = _patterns(language).search(line)
    return _mark_of(found) if found is not None else None


@dataclass(frozen=True)
class FileMarks:
    """The suppression marks of one file, by 1-based line, as tree-sitter sees comments;
    `comment_only` holds the lines with nothing but comments on them."""

    marks: dict[int, InlineMark] = field(default_factory=dict)
    comment_only: frozenset[int] = frozenset()


def file_marks(text: str, path: str) -> FileMarks:
    """Every mark inside a real comment of a file (none for unknown languages)."""
    language = language_of(path)
    if language is None or "vulnsight" not in text:
        return FileMarks()
    from vulnsight.parse.comments import iter_nodes
    from vulnsight.parse.grammars import grammar_name, parse_text

    try:
        tree, data = parse_text(text, grammar_name(language, path))
    except (ParseError, ValueError, RecursionError):
        return FileMarks()
    lines = data.split(b"\n")
    marks: dict[int, InlineMark] = {}
    only: set[int] = set()
    for node in iter_nodes(tree.root_node):
        if not node.type.endswith("comment"):
            continue
        (row0, col0), (row1, col1) = node.start_point, node.end_point
        body = data[node.start_byte : node.end_byte].decode("utf-8", "replace")
        first: InlineMark | None = None
        for i, segment in enumerate(body.split("\n")):
            row = row0 + i
            found = _COMMENT_MARK.match(segment)
            if found is not None:
                first = first or _mark_of(found)
                marks.setdefault(row + 1, _mark_of(found))
            line = lines[row] if row < len(lines) else b""
            before = line[:col0] if row == row0 else b""
            after = line[col1:] if row == row1 else b""
            if not before.strip() and not after.strip():
                only.add(row + 1)
        if first is not None and row1 > row0:
            # A block comment holding a mark covers the line after its last line too.
            marks.setdefault(row1 + 1, first)
    return FileMarks(marks, frozenset(only))


def inline_mark(finding: Finding, marks: FileMarks) -> InlineMark | None:
    """The mark suppressing a finding: on its line, or on a comment-only line above."""
    line = finding.line_number
    mark = marks.marks.get(line)
    if mark is not None and mark.covers(finding):
        return mark
    above = marks.marks.get(line - 1)
    if above is not None and line - 1 in marks.comment_only and above.covers(finding):
        return above
    return None


def suppress(finding: Finding, reason: str, kind: str | None = None) -> Finding:
    """The finding marked suppressed by `kind` (see `KINDS`); an earlier one wins."""
    if finding.suppressed:
        return finding
    return replace(finding, suppressed=True, suppression_reason=reason, suppressed_by=kind)


def count_by_kind(findings: Sequence[Finding]) -> dict[str, int]:
    """Suppressed findings by what suppressed them, as report stats."""
    stats: dict[str, int] = {"suppressed": sum(1 for f in findings if f.suppressed)}
    for kind in KINDS:
        stats[f"suppressed_{kind}"] = sum(1 for f in findings if f.suppressed_by == kind)
    return stats


def apply_suppressions(
    report: Report, read_text: TextReader, ignores: Sequence[IgnoreRule] = ()
) -> Report:
    """Mark findings suppressed by inline comment marks or configured ignores; the
    stats count them by kind (and `ignored_by_<origin>` counts each origin's ignores)."""
    out: list[Finding] = []
    cache: dict[str, FileMarks] = {}
    by_origin: dict[str, int] = {}
    for f in report.findings:
        if f.file not in cache:
            text = read_text(f.file) or ""
            text = text if isinstance(text, str) else "\n".join(text)
            cache[f.file] = file_marks(text, f.file)
        mark = inline_mark(f, cache[f.file])
        if mark is not None:
            f = suppress(f, f"inline: {mark.reason}", "inline")
        rule = None if f.suppressed else next((r for r in ignores if r.matches(f)), None)
        if rule is not None:
            f = suppress(f, f"configuration: {rule.reason}", "config")
            by_origin[rule.origin] = by_origin.get(rule.origin, 0) + 1
        out.append(f)
    stats = dict(report.stats)
    stats.update(count_by_kind(out))
    stats.update({f"ignored_by_{origin}_config": n for origin, n in by_origin.items()})
    return replace(report, findings=tuple(out), stats=stats)
