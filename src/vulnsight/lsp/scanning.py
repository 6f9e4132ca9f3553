"""Scanning an editor's document through the review workflow, from memory.

The document's text (saved or not) is written to a private temporary directory under
its path relative to the project root, so `include`/`exclude`, configured ignores, the
baseline's fingerprints and inline suppressions match as in `vulnsight scan`; nothing is
written into the user's tree by the scan itself.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import Any

from vulnsight.config import ScanConfig
from vulnsight.languages import CANONICAL_EXTENSION, language_of
from vulnsight.llm.interface import Backend
from vulnsight.review.config_file import ProjectConfig, discover_config
from vulnsight.types import Report

#: LSP language ids vulnsight scans, by its own language names.
LANGUAGE_IDS: dict[str, str] = {
    "c": "c",
    "cpp": "cpp",
    "python": "python",
    "javascript": "javascript",
    "javascriptreact": "javascript",
    "typescript": "typescript",
    "typescriptreact": "typescript",
    "solidity": "solidity",
}


@dataclass(frozen=True)
class Snapshot:
    """One version of an open document, as it was when a scan was asked for."""

    uri: str
    version: int
    text: str
    path: Path | None  # None for an unsaved, untitled document
    language_id: str = ""


@dataclass(frozen=True)
class LspSettings:
    """How `vulnsight lsp` scans: the command line's choices over the project's."""

    detectors: tuple[str, ...] | None = None  # None: the project's (default rules, llm)
    model: str | None = None
    config_file: Path | None = None
    use_cache: bool = True
    workspace: Path | None = None  # where untitled documents find their project

    def overrides(self) -> dict[str, Any]:
        """ScanConfig fields set on the command line."""
        given = {"detectors": self.detectors, "model": self.model}
        return {k: v for k, v in given.items() if v is not None}


@dataclass(frozen=True)
class Target:
    """Where a document's scan looks for its project and what it calls the file."""

    project: ProjectConfig
    config: ScanConfig
    relative: str
    language: str


def target(snapshot: Snapshot, settings: LspSettings) -> Target | None:
    """The project, effective settings and project-relative path of a document, or
    None when vulnsight does not scan its language. Raises ConfigError."""
    anchor = snapshot.path or settings.workspace or Path.cwd()
    project = discover_config(settings.config_file, anchor)
    config = project.scan_config(settings.overrides())
    relative = _relative(snapshot, project.root)
    language = language_of(relative)
    if language is None:
        language = LANGUAGE_IDS.get(snapshot.language_id)
        if language is None:
            return None
        relative += CANONICAL_EXTENSION[language]
    return Target(project, config, relative, language)


def _relative(snapshot: Snapshot, root: Path) -> str:
    if snapshot.path is None:
        name = PurePosixPath(snapshot.uri.replace("\\", "/")).name or "untitled"
        return "".join(c if c.isalnum() or c in "._-" else "_" for c in name)
    path = snapshot.path.resolve()
    try:
        return path.relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.name


def scan_snapshot(
    snapshot: Snapshot,
    where: Target,
    detectors: tuple[str, ...],
    backend: Backend | None = None,
    use_cache: bool = True,
) -> Report:
    """Scan the snapshot's text with `detectors` (those of the project's config that are
    also asked for) through the review workflow."""
    from vulnsight.review.workflow import ReviewOptions, review_scan

    chosen = tuple(d for d in where.config.detectors if d in detectors)
    config = replace(where.config, detectors=chosen)
    with tempfile.TemporaryDirectory(prefix="vulnsight-lsp-") as tmp:
        root = Path(tmp)
        file = root / where.relative
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(snapshot.text, encoding="utf-8", errors="surrogatepass")
        options = ReviewOptions(use_cache=use_cache)
        return review_scan([root], where.project, config, options, backend)
