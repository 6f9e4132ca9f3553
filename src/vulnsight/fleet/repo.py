"""One repository of a fleet run: exactly the scan `vulnsight scan REPO` runs, with the
model and the verdict store handed in. No Ray here; `runner.py` runs this as a task.

The repository is untrusted like any scanned tree: its configuration is read under the
same trust rules as `vulnsight scan` (no `--config`, no `--allow-repo-model`), and a bare
mirror is exported without running anything of it (`export.py`).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from vulnsight.errors import ConfigError
from vulnsight.fleet.export import GIT_TIMEOUT_S, export_head, head_commit_time
from vulnsight.fleet.plan import RepoSource
from vulnsight.llm.interface import Backend
from vulnsight.review.interface import VerdictStore
from vulnsight.types import Report

#: Files with findings whose last commit time is looked up (one `git log` each).
MAX_TIMED_FILES = 200


@dataclass(frozen=True)
class RepoResult:
    """What one repository's scan produced: its reports as `vulnsight scan` writes
    them, and the figures the organisation summary needs."""

    slug: str
    json_text: str
    sarif_text: str
    meta: dict[str, Any] = field(default_factory=dict)


def scan_repository(
    repo: RepoSource,
    flags: Mapping[str, Any],
    backend: Backend | None,
    verdicts: VerdictStore | None,
    model: str | None = None,
) -> RepoResult:
    """Scan one repository with the fleet's flags (ScanConfig field names, as
    `vulnsight scan` passes the flags given on its command line). `backend` runs the
    fleet's `model` spec; a repository whose settings resolve to another model is an
    error (its scan would not be the one `vulnsight scan` runs)."""
    started = time.time()
    temp: Path | None = None
    try:
        if repo.kind == "bare":
            temp = Path(tempfile.mkdtemp(prefix="vulnsight-fleet-"))
            export_head(Path(repo.path), temp)
            root = temp
        else:
            root = Path(repo.path)
        report = _scan(root, flags, backend, verdicts, model)
        if temp is not None:  # name the mirror, not a folder that is gone after the run
            report = replace(report, root=repo.path)
        return _result(repo, report, started)
    finally:
        if temp is not None:
            shutil.rmtree(temp, ignore_errors=True)


def _scan(
    root: Path,
    flags: Mapping[str, Any],
    backend: Backend | None,
    verdicts: VerdictStore | None,
    model: str | None,
) -> Report:
    from vulnsight.review.config_file import discover_config
    from vulnsight.review.workflow import ReviewOptions, review_scan

    project = discover_config(None, root, allow_repo_model=False)
    config = project.scan_config(dict(flags))
    if backend is not None and "llm" in config.detectors and config.model != model:
        raise ConfigError(
            f"the scan of {root} resolves to model {config.model!r}, the fleet runs {model!r}"
        )
    return review_scan([root], project, config, ReviewOptions(), backend, verdicts=verdicts)


def _result(repo: RepoSource, report: Report, started: float) -> RepoResult:
    from vulnsight.output import render_report

    files = sorted({f.file for f in report.findings})[:MAX_TIMED_FILES]
    git_dir = Path(repo.path) if repo.kind == "bare" else Path(repo.path) / ".git"
    meta: dict[str, Any] = {
        "source": repo.path,
        "slug": repo.slug,
        "name": repo.name,
        "kind": repo.kind,
        "functions": int(report.stats.get("functions", 0)),
        "findings": sum(1 for f in report.findings if not f.suppressed),
        "suppressed": sum(1 for f in report.findings if f.suppressed),
        "errors": len(report.errors),
        "files_unscanned": int(report.stats.get("files_unscanned", 0)),
        "cache_hits": int(report.stats.get("cache_hits", 0)),
        "cache_misses": int(report.stats.get("cache_misses", 0)),
        "model_functions_judged": int(report.stats.get("model_functions_judged", 0)),
        "head_time": head_commit_time(git_dir) if git_dir.exists() else None,
        "file_times": file_times(git_dir, files) if git_dir.exists() else {},
        "seconds": round(time.time() - started, 3),
    }
    return RepoResult(
        repo.slug, render_report(report, "json"), render_report(report, "sarif"), meta
    )


def file_times(git_dir: Path, files: list[str]) -> dict[str, int]:
    """Each file's last commit time (Unix seconds) on HEAD; files git does not know
    are left out. Runs git with the repository's fsmonitor and hooks off."""
    out: dict[str, int] = {}
    base = [
        "git",
        "--literal-pathspecs",
        f"--git-dir={git_dir}",
        "-c",
        "core.fsmonitor=false",
        "-c",
        "core.hooksPath=/dev/null",
    ]
    for name in files:
        try:
            proc = subprocess.run(
                [*base, "log", "-1", "--format=%ct", "HEAD", "--", name],
                capture_output=True,
                text=True,
                timeout=GIT_TIMEOUT_S,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired):
            continue
        text = proc.stdout.strip()
        if proc.returncode == 0 and text.isdigit():
            out[name] = int(text)
    return out
