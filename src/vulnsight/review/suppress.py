"""Suppressions: inline `vulnsight: ignore[...]` comments and configured ignores.

A suppressed finding stays in the report with `suppressed` set and its reason, so SARIF
lists it under `suppressions` and nothing disappears silently; only the exit status and
the text output leave it out.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from vulnsight.languages import language_of
from vulnsight.pipeline import glob_match
from vulnsight.types import Finding, Report

#: Comment openers by language; an inline suppression must sit in one of them.
COMMENT_OPENERS: dict[str, tuple[str, ...]] = {
    "python": ("#",),
    "c": ("//", "/*"),
    "cpp": ("//", "/*"),
    "javascript": ("//", "/*"),
    "typescript": ("//", "/*"),
    "solidity": ("//", "/*", "///"),
}
_MARK = r"vulnsight:\s*ignore(?:\[(?P<ids>[^\]]*)\])?(?P<reason>.*)$"

#: Reads a scanned file's lines by its report path (empty when it cannot be read).
LineReader = Callable[[str], Sequence[str]]


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


def _patterns(language: str) -> tuple[re.Pattern[str], re.Pattern[str]]:
    """(mark anywhere after a comment opener, comment-only line) for a language."""
    openers = "|".join(re.escape(o) for o in COMMENT_OPENERS.get(language, ("//", "#")))
    return (
        re.compile(rf"(?:{openers})\s*{_MARK}"),
        re.compile(rf"^\s*(?:{openers})"),
    )


def parse_mark(line: str, language: str) -> InlineMark | None:
    """The suppression comment on a line, if any."""
    mark, _ = _patterns(language)
    found = mark.search(line)
    if found is None:
        return None
    ids = tuple(i.strip() for i in (found.group("ids") or "").split(",") if i.strip())
    reason = found.group("reason").strip().removesuffix("*/").strip(" -:")
    return InlineMark(ids, reason or "suppressed inline")


def inline_mark(finding: Finding, lines: Sequence[str]) -> InlineMark | None:
    """The mark suppressing a finding: on its line, or alone on the line above."""
    language = language_of(finding.file) or ""
    _, comment_only = _patterns(language)
    idx = finding.line_number - 1
    if 0 <= idx < len(lines):
        mark = parse_mark(lines[idx], language)
        if mark is not None and mark.covers(finding):
            return mark
    if 1 <= idx <= len(lines) and comment_only.match(lines[idx - 1]):
        mark = parse_mark(lines[idx - 1], language)
        if mark is not None and mark.covers(finding):
            return mark
    return None


def suppress(finding: Finding, reason: str) -> Finding:
    """The finding marked suppressed (an earlier reason wins)."""
    if finding.suppressed:
        return finding
    return replace(finding, suppressed=True, suppression_reason=reason)


def apply_suppressions(
    report: Report, read_lines: LineReader, ignores: Sequence[IgnoreRule] = ()
) -> Report:
    """Mark findings suppressed by inline comments or configured ignores."""
    out: list[Finding] = []
    cache: dict[str, Sequence[str]] = {}
    for f in report.findings:
        if f.file not in cache:
            cache[f.file] = read_lines(f.file)
        mark = inline_mark(f, cache[f.file])
        if mark is not None:
            f = suppress(f, f"inline: {mark.reason}")
        rule = next((r for r in ignores if r.matches(f)), None)
        if rule is not None:
            f = suppress(f, f"configuration: {rule.reason}")
        out.append(f)
    stats = dict(report.stats)
    stats["suppressed"] = sum(1 for f in out if f.suppressed)
    return replace(report, findings=tuple(out), stats=stats)
