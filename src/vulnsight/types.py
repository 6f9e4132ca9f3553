"""Core value types shared by every subsystem.

Frozen dataclasses only: the core passes these around and never mutates them.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from enum import StrEnum

LANGUAGES: tuple[str, ...] = ("c", "cpp", "python", "javascript", "typescript", "solidity")


class Severity(StrEnum):
    """How bad a finding is if it is real."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"

    def sarif_level(self) -> str:
        """The SARIF `level` this severity maps to."""
        return {"low": "note", "medium": "warning", "high": "error"}[self.value]


@dataclass(frozen=True)
class SourceFile:
    """A file read from disk (or given as a snippet) together with its language.

    `path` is the path shown to the user: relative to the scan root when the file was
    found by walking a directory, or as given on the command line.
    """

    path: str
    language: str
    text: str


@dataclass(frozen=True)
class Function:
    """One unit of code the model judges: a function, method, modifier, or top-level code.

    Line numbers are 1-based and refer to the original file. `calls` lists the names
    this function calls (resolved against the scanned tree later, in the call graph).
    """

    file: str
    language: str
    name: str
    start_line: int
    end_line: int
    code: str
    signature: str
    calls: tuple[str, ...] = ()
    kind: str = "function"  # function | method | modifier | constructor | toplevel

    @property
    def qualified_id(self) -> str:
        """A key unique within a scan: file, name and start line."""
        return f"{self.file}:{self.name}:{self.start_line}"


@dataclass(frozen=True)
class PathStep:
    """One step of a data-flow path: where a value was, and what happened to it there."""

    file: str
    line: int
    function: str
    description: str


@dataclass(frozen=True)
class Finding:
    """A reported weakness at one location.

    `detectors` lists every detector that agrees on this location (hybrid merging
    fills it); `detector` is the one that produced the finding first. `path` is the
    data-flow path from a source to this location (empty when the detector has none).
    """

    file: str
    line_number: int
    cwe: str
    message: str
    detector: str
    confidence: float
    severity: Severity = Severity.MEDIUM
    function: str | None = None
    rule_id: str | None = None
    model: str | None = None
    end_line: int | None = None
    snippet: str = ""
    detectors: tuple[str, ...] = ()
    fingerprint: str = ""
    suppressed: bool = False
    suppression_reason: str | None = None
    # What suppressed it: "inline" (a comment mark), "config" (an ignore table),
    # "triage" (a reviewer's false positive) or "baseline" (a known finding).
    suppressed_by: str | None = None
    path: tuple[PathStep, ...] = ()

    @property
    def type(self) -> str:
        """A readable name of the CWE."""
        from vulnsight.cwe import cwe_name

        return cwe_name(self.cwe)


@dataclass(frozen=True)
class ScanError:
    """A file (or function) that could not be processed, with the reason."""

    file: str
    reason: str
    detector: str | None = None


@dataclass(frozen=True)
class Skipped:
    """A file deliberately not scanned (binary, too large, unknown language...)."""

    file: str
    reason: str


@dataclass(frozen=True)
class ConfigEffect:
    """One thing a configuration file changed in a scan, or tried to and was refused.

    `action` is "applied" (honoured), "limited" (honoured within the limits a scanned
    repository gets), "refused" or "ignored"; `count` is how many findings or files it
    affected, when that is known; `origin` is "repository" or "user".
    """

    key: str
    action: str
    message: str
    source: str = ""
    count: int | None = None
    origin: str = "repository"


@dataclass(frozen=True)
class Report:
    """Everything a scan produced. Formatters turn it into text, JSON or SARIF.

    `config` lists what configuration files changed (reviewers must see what a
    scanned repository's own configuration hid or changed).
    """

    findings: tuple[Finding, ...]
    errors: tuple[ScanError, ...] = ()
    skipped: tuple[Skipped, ...] = ()
    stats: dict[str, float | int | str] = field(default_factory=dict)
    root: str = "."
    config: tuple[ConfigEffect, ...] = ()


_WS = re.compile(r"\s+")


def normalise_code(code: str) -> str:
    """Collapse whitespace so that reformatting and line shifts do not change a hash."""
    return _WS.sub(" ", code).strip()


def fingerprint(rule: str, file: str, function: str | None, snippet: str) -> str:
    """A stable identity for a finding: independent of its line number.

    Built from the rule (or CWE for model findings), the file, the enclosing function
    name and the normalised text of the flagged line, so the same finding matches after
    code above it moves.
    """
    h = hashlib.sha256()
    for part in (rule, file, function or "", normalise_code(snippet)):
        h.update(part.encode("utf-8", "replace"))
        h.update(b"\0")
    return h.hexdigest()[:32]
