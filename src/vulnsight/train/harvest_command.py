"""`vulnsight harvest --fixes REPO`: a repository's own security-fix history as training
records (JSONL, the shared datasets' schema), so a team can retrain on its own code."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from vulnsight.errors import ConfigError
from vulnsight.report_file import check_target, claim, write_atomic
from vulnsight.textsafe import safe_text
from vulnsight.train.fix_commits import DEFAULT_PATTERNS, FixPolicy


def default_project(repo: Path) -> str:
    """A project name for `repo`: its directory name (a bare `x.git` gives `x`)."""
    name = os.path.basename(os.path.abspath(repo))
    return name[:-4] if name.endswith(".git") and len(name) > 4 else name


@click.command("harvest")
@click.option(
    "--fixes",
    "repo",
    required=True,
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    help="A git repository (work tree or bare) whose security-fix commits become "
    "vulnerable/fixed function pairs. Read only; its hooks and configuration never run.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    required=True,
    help="The JSONL file to write (atomically).",
)
@click.option("--project", default=None, help="Project name in the records [the directory name].")
@click.option("--rev", default="HEAD", show_default=True, help="Walk the history from here.")
@click.option("--max-commits", type=int, default=None, help="Read at most this many commits.")
@click.option(
    "--pattern",
    "patterns",
    multiple=True,
    help="Extra security-fix wording (a case-insensitive regular expression), added to "
    "the built-in CVE/GHSA ids and wording. Repeatable.",
)
@click.option(
    "--max-files",
    type=int,
    default=FixPolicy.max_files,
    show_default=True,
    help="Skip commits that change more files than this.",
)
@click.option(
    "--max-functions",
    type=int,
    default=FixPolicy.max_functions,
    show_default=True,
    help="Skip commits that change more functions than this (refactors).",
)
@click.option(
    "--max-changed-lines",
    type=int,
    default=FixPolicy.max_changed_lines,
    show_default=True,
    help="Skip a function whose change spans more deleted + added lines than this.",
)
def harvest_command(
    repo: Path,
    output: Path,
    project: str | None,
    rev: str,
    max_commits: int | None,
    patterns: tuple[str, ...],
    max_files: int,
    max_functions: int,
    max_changed_lines: int,
) -> None:
    """Turn a repository's security-fix history into labelled training records.

    Commits whose message names a CVE or GHSA id or plainly says it fixes a security
    weakness give, for each function they change, the version before (label 1, with
    the changed lines) and after (label 0, the fixed twin). Merges, reverts, large or
    test-only commits and cosmetic changes are skipped. Train on the result with
    `vulnsight train --data OUTPUT`.
    """
    from vulnsight.bench.records import is_reserved
    from vulnsight.train.fix_harvest import harvest_fixes
    from vulnsight.train.gitread import GitRepo

    name = project or default_project(repo)
    if is_reserved(name):
        raise ConfigError(f"{name} is reserved for evaluation; never train on it")
    try:
        policy = FixPolicy(
            patterns=(*DEFAULT_PATTERNS, *patterns),
            max_files=max_files,
            max_functions=max_functions,
            max_changed_lines=max_changed_lines,
        )
    except (ValueError, TypeError) as exc:  # re.error is a ValueError
        raise ConfigError(f"bad harvest option: {exc}") from exc
    check_target(output, [repo])
    claim(output)
    result = harvest_fixes(GitRepo(repo), name, policy, rev=rev, max_commits=max_commits)
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in result.records)
    write_atomic(output, text)
    dropped = ", ".join(f"{k}: {v}" for k, v in sorted(result.dropped.items())) or "none"
    skipped = ", ".join(f"{k}: {v}" for k, v in sorted(result.skipped.items())) or "none"
    click.echo(
        f"{result.pairs} pairs from {len(result.used)} of {result.commits_selected} "
        f"security-fix commits ({result.commits_seen} commits read); "
        f"commits skipped: {skipped}; functions filtered out: {dropped}; "
        f"written to {safe_text(str(output))}",
        err=True,
    )
