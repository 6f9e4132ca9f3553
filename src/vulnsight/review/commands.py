"""`vulnsight baseline|triage|feedback|serve`: the review workflow's commands.

The only review module that prints; the work is done by the pure modules beside it.
Errors are raised to the top-level group (`vulnsight.cli`), which keeps the exit
status contract (one line, status 2) and removes a stale report at a claimed `-o`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import click

from vulnsight.errors import ConfigError, VulnsightError
from vulnsight.types import Finding, Report

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2
F = TypeVar("F", bound=Callable[..., Any])


@contextmanager
def _errors() -> Iterator[None]:
    """Where a command's errors go: up to the top-level group (`vulnsight.cli`), which
    prints one line, exits 2 and removes a stale report at a claimed `-o` path. Only
    the exit status of SystemExit is kept to the contract here."""
    try:
        yield
    except SystemExit as exc:
        if exc.code not in (None, EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR):
            raise VulnsightError(str(exc.code)) from exc
        raise


def _scan_options(func: F) -> F:
    """--config, --detectors, --model, --no-cache, --allow-repo-model, --gate: the settings
    a workflow scan takes."""
    for option in reversed(
        [
            click.option(
                "--config",
                "config_file",
                type=click.Path(path_type=Path),
                help="vulnsight.toml or pyproject.toml (default: the nearest one).",
            ),
            click.option("--detectors", default=None, help="Comma-separated: rules, llm."),
            click.option("--model", default=None, help="Model spec, as for `vulnsight scan`."),
            click.option("--no-cache", is_flag=True, help="Do not use cached model verdicts."),
            click.option(
                "--allow-repo-model",
                is_flag=True,
                help="Let the repository's configuration choose the model.",
            ),
            click.option(
                "--gate",
                type=click.Choice(["safe", "lean", "sinks", "off"]),
                default=None,
                help="Which functions the model judges, as for `vulnsight scan` (default: safe).",
            ),
        ]
    ):
        func = option(func)
    return func


def _run_scan(
    paths: Sequence[Path],
    config_file: Path | None,
    detectors: str | None,
    model: str | None,
    no_cache: bool,
    apply_triage: bool = True,
    allow_repo_model: bool = False,
    gate: str | None = None,
) -> Report:
    from vulnsight.config import parse_detectors
    from vulnsight.review.config_file import discover_config
    from vulnsight.review.workflow import ReviewOptions, review_scan

    project = discover_config(config_file, paths[0], allow_repo_model)
    overrides: dict[str, Any] = {}
    if detectors:
        overrides["detectors"] = parse_detectors(detectors)
    if model:
        overrides["model"] = model
    if gate:
        overrides["gate"] = gate
    config = project.scan_config(overrides)
    options = ReviewOptions(use_cache=not no_cache, apply_triage=apply_triage)
    return review_scan(paths, project, config, options)


def _write(text: str, output: Path | None) -> None:
    """To stdout, or atomically to `output` (claimed before the command began)."""
    from vulnsight.report_file import write_atomic

    if output is None:
        click.echo(text, nl=False)
        return
    write_atomic(output, text)


# --- baseline ---------------------------------------------------------------------


@click.group()
def baseline() -> None:
    """Record today's findings so later scans (`scan --baseline FILE`) show only new ones."""


@baseline.command("create")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--output",
    "-o",
    type=click.Path(path_type=Path),
    default=Path("vulnsight-baseline.json"),
    show_default=True,
    help="Baseline file to write (commit it beside the code).",
)
@_scan_options
def baseline_create(
    paths: tuple[Path, ...],
    output: Path,
    config_file: Path | None,
    detectors: str | None,
    model: str | None,
    no_cache: bool,
    allow_repo_model: bool,
    gate: str | None,
) -> None:
    """Scan PATHS and record every finding (suppressed ones too) by fingerprint."""
    from vulnsight.report_file import prepare_output
    from vulnsight.review import baseline as baselines

    with _errors():
        prepare_output(output, paths)
        report = _run_scan(
            paths, config_file, detectors, model, no_cache, False, allow_repo_model, gate
        )
        _write(baselines.to_json(report), output)
    click.echo(f"baseline of {len(report.findings)} finding(s) written to {output}", err=True)


# --- triage -----------------------------------------------------------------------


def _load_report(path: Path) -> list[Finding]:
    from vulnsight.review.triage import findings_from_json

    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"cannot read report {path}: {exc}") from exc
    if not isinstance(doc, dict):
        raise ConfigError(f"{path}: not a vulnsight JSON report")
    return list(findings_from_json(doc))


def _pick(findings: Sequence[Finding], fingerprint: str) -> Finding:
    if len(fingerprint) < 8:
        raise ConfigError(f"fingerprint {fingerprint!r}: give at least 8 characters")
    matches = [f for f in findings if f.fingerprint.startswith(fingerprint)]
    if not matches:
        raise ConfigError(f"no finding has fingerprint {fingerprint}")
    if len({f.fingerprint for f in matches}) > 1:
        raise ConfigError(f"fingerprint {fingerprint} is ambiguous; give more characters")
    return matches[0]


def _show(f: Finding) -> str:
    where = f" in {f.function}" if f.function else ""
    return (
        f"{f.file}:{f.line_number}  {f.cwe}  {f.rule_id or f.model or f.detector}{where}\n"
        f"  {f.message}\n  > {f.snippet}\n  fingerprint {f.fingerprint}"
    )


@click.command()
@click.argument("path", type=click.Path(path_type=Path), default=Path("."))
@click.option(
    "--report",
    type=click.Path(path_type=Path),
    help="Triage the findings of this `scan --format json` report (paths relative to PATH) "
    "instead of scanning PATH.",
)
@click.option(
    "--fingerprint",
    "fingerprints",
    multiple=True,
    help="Decide on this finding without prompting (repeatable; a prefix of 8+ characters).",
)
@click.option("--label", help="tp (true positive) or fp (false positive), with --fingerprint.")
@click.option("--note", default="", help="Why: kept with the decision and exported.")
@click.option("--project", "project_name", default="", help="Project name in exported records.")
@_scan_options
def triage(
    path: Path,
    report: Path | None,
    fingerprints: tuple[str, ...],
    label: str | None,
    note: str,
    project_name: str,
    config_file: Path | None,
    detectors: str | None,
    model: str | None,
    no_cache: bool,
    allow_repo_model: bool,
    gate: str | None,
) -> None:
    """Mark findings under PATH as true or false positives.

    Interactive by default; with --fingerprint and --label, for scripts. False positives
    are suppressed in later scans; `vulnsight feedback export` turns every decision into
    a training record.
    """
    from vulnsight.report_file import prepare_output
    from vulnsight.review.config_file import discover_config
    from vulnsight.review.triage import TriageStore, decide, parse_label

    with _errors():
        prepare_output(None, [path] if report is None else [])
        if fingerprints and label is None:
            raise ConfigError("--fingerprint needs --label tp or --label fp")
        value = parse_label(label) if label is not None else None
        project = discover_config(config_file, path, allow_repo_model)
        if report is not None:
            findings = _load_report(report)
            root = path.resolve() if path.is_dir() else path.resolve().parent
        else:
            scanned = _run_scan(
                [path], config_file, detectors, model, no_cache, False, allow_repo_model, gate
            )
            findings, root = list(scanned.findings), Path(scanned.root)
        store = TriageStore.in_dir(project.state_dir)
        try:
            if fingerprints:
                assert value is not None
                for fp in fingerprints:
                    decision = decide(_pick(findings, fp), root, value, note, project_name)
                    store.save(decision)
                    kind = "true" if value else "false"
                    click.echo(f"{decision.fingerprint}: {kind} positive", err=True)
                return
            _interactive(findings, root, store, note, project_name)
        finally:
            store.close()


def _interactive(
    findings: Sequence[Finding], root: Path, store: Any, note: str, project_name: str
) -> None:
    from vulnsight.review.triage import decide

    done = {d.fingerprint for d in store.decisions()}
    todo = [f for f in findings if f.fingerprint not in done and not f.suppressed]
    if not todo:
        click.echo("nothing to triage", err=True)
        return
    for n, f in enumerate(todo, start=1):
        click.echo(f"\n[{n}/{len(todo)}] {_show(f)}")
        choice = click.prompt(
            "true positive, false positive, skip or quit",
            type=click.Choice(["t", "f", "s", "q"]),
            default="s",
        )
        if choice == "q":
            break
        if choice == "s":
            continue
        why = click.prompt("note", default=note, show_default=bool(note))
        store.save(decide(f, root, 1 if choice == "t" else 0, why, project_name))


# --- feedback ---------------------------------------------------------------------


@click.group()
def feedback() -> None:
    """Triage decisions as training data."""


@feedback.command("export")
@click.argument("path", type=click.Path(path_type=Path), default=Path("."))
@click.option(
    "--output", "-o", type=click.Path(path_type=Path), help="JSONL file (default: stdout)."
)
@click.option("--config", "config_file", type=click.Path(path_type=Path))
def feedback_export(path: Path, output: Path | None, config_file: Path | None) -> None:
    """Write the triage decisions of the project at PATH as JSONL training records
    (the shared schema, source "vulnsight-feedback"), ready for `vulnsight train --resume`."""
    from vulnsight.report_file import prepare_output
    from vulnsight.review.config_file import discover_config
    from vulnsight.review.triage import TRIAGE_FILE, TriageStore, to_jsonl

    with _errors():
        prepare_output(output, [path])
        project = discover_config(config_file, path)
        if not (project.state_dir / TRIAGE_FILE).is_file():
            raise ConfigError(f"no triage decisions under {project.state_dir}")
        store = TriageStore.in_dir(project.state_dir)
        try:
            decisions = store.decisions()
        finally:
            store.close()
        _write(to_jsonl(decisions), output)
    if output is not None:
        click.echo(f"{len(decisions)} record(s) written to {output}", err=True)


# --- serve ------------------------------------------------------------------------


@click.command()
@click.option("--host", default=None, help="Bind address (default 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (default 8765; 0 picks one).")
@click.option(
    "--token",
    default=None,
    help="Bearer token clients must send (default: $VULNSIGHT_API_TOKEN). "
    "Required when binding anything but loopback.",
)
@click.option("--max-request-bytes", type=int, default=None, help="Largest accepted body.")
@_scan_options
def serve(
    host: str | None,
    port: int | None,
    token: str | None,
    max_request_bytes: int | None,
    config_file: Path | None,
    detectors: str | None,
    model: str | None,
    no_cache: bool,
    allow_repo_model: bool,
    gate: str | None,
) -> None:
    """Serve the local HTTP API (POST /v1/scan, GET /v1/openapi.json, GET /v1/health)."""
    from vulnsight.config import parse_detectors
    from vulnsight.review.config_file import discover_config
    from vulnsight.review.server import ScanService, ServerOptions, VulnsightServer

    with _errors():
        project = discover_config(config_file, Path("."), allow_repo_model)
        defaults = project.settings.server
        options = ServerOptions(
            host=host or defaults.host,
            port=defaults.port if port is None else port,
            token=token or os.environ.get("VULNSIGHT_API_TOKEN") or None,
            max_request_bytes=max_request_bytes or defaults.max_request_bytes,
        )
        overrides: dict[str, Any] = {}
        if detectors:
            overrides["detectors"] = parse_detectors(detectors)
        if model:
            overrides["model"] = model
        if gate:
            overrides["gate"] = gate
        config = project.scan_config(overrides)
        if config.untrusted_model and "llm" in config.detectors:
            # The repository's own (user-allowed) model: never with the user's API key.
            from vulnsight.review.lazy import LazyBackend

            service = ScanService(project, config, LazyBackend(config.model, untrusted=True))
        else:
            service = ScanService.start(project, config)
        try:
            server = VulnsightServer(
                service, options, use_cache=not no_cache, log=lambda m: click.echo(m, err=True)
            )
        except OSError as exc:
            service.close()
            raise ConfigError(f"cannot listen on {options.host}:{options.port}: {exc}") from exc
    click.echo(f"vulnsight API on {server.url} (Ctrl-C to stop)", err=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        service.close()
