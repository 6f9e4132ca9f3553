"""The command line: the only module that prints, exits or configures logging."""

from __future__ import annotations

import contextlib
import contextvars
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import click

from vulnsight import __version__
from vulnsight.config import parse_detectors
from vulnsight.errors import ConfigError, VulnsightError
from vulnsight.output import render_report
from vulnsight.pipeline import ProgressFn
from vulnsight.report_file import (
    OutputGuard,
    current_guard,
    prepare_output,
    start_guard,
    write_atomic,
)
from vulnsight.textsafe import safe_text
from vulnsight.types import Report

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


@contextmanager
def _progress(enabled: bool) -> Iterator[ProgressFn | None]:
    """A rich progress bar on stderr, one task per detector stage."""
    if not enabled:
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    bar = Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    tasks: dict[str, int] = {}

    def update(stage: str, done: int, total: int) -> None:
        if stage not in tasks:
            tasks[stage] = int(bar.add_task(stage, total=total))
        bar.update(tasks[stage], completed=done, total=total)  # type: ignore[arg-type]

    with bar:
        yield update


#: Subcommands that live in their own modules, as "module:attr", loaded only when used
#: so `vulnsight scan` never imports training or evaluation code.
LAZY_COMMANDS: dict[str, str] = {
    "train": "vulnsight.train.commands:train_command",
    "calibrate": "vulnsight.train.calibrate_command:calibrate_command",
    "harvest": "vulnsight.train.harvest_command:harvest_command",
    "eval": "vulnsight.bench.commands:eval_command",
    "baseline": "vulnsight.review.commands:baseline",
    "triage": "vulnsight.review.commands:triage",
    "feedback": "vulnsight.review.commands:feedback",
    "serve": "vulnsight.review.commands:serve",
    "lsp": "vulnsight.lsp.command:lsp_command",
}


class LazyGroup(click.Group):
    """A click group whose extra commands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(LAZY_COMMANDS))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in LAZY_COMMANDS:
            import importlib

            module, _, attr = LAZY_COMMANDS[cmd_name].partition(":")
            command: click.Command = getattr(importlib.import_module(module), attr)
            return command
        return super().get_command(ctx, cmd_name)


class ContractGroup(LazyGroup):
    """The top-level group: every command's exit status keeps the contract.

    0 clean, 1 findings, 2 error. Any error, expected or not, becomes one line on stderr
    and status 2 (the traceback too with `--debug` or VULNSIGHT_DEBUG=1), and a report
    path the failed command claimed is not left holding an older report.
    """

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, False, **extra)
        previous = _terminate_as_interrupt()
        try:
            self._main_under_contract(args, prog_name, complete_var, **extra)
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)

    def _main_under_contract(
        self,
        args: Sequence[str] | None,
        prog_name: str | None,
        complete_var: str | None,
        **extra: Any,
    ) -> NoReturn:
        guard = start_guard()
        _DEBUG.set(os.environ.get("VULNSIGHT_DEBUG", "") not in ("", "0"))
        try:
            code = super().main(args, prog_name, complete_var, False, **extra)
        except SystemExit as exc:
            status = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else None)
            if status in (EXIT_CLEAN, EXIT_FINDINGS):
                raise
            if status is None:  # sys.exit("message")
                _fail(str(exc.code), guard)
            _fail("", guard)
        except click.exceptions.Exit as exc:  # pragma: no cover - raised as a return
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            exc.show()
            _fail("", guard)
        except (click.Abort, KeyboardInterrupt, EOFError):
            _fail("vulnsight: interrupted", guard)
        except _OutputClosed as exc:
            _fail(f"vulnsight: {exc}", guard)
        except VulnsightError as exc:
            prefix = "vulnsight: " if isinstance(exc, ConfigError) else "vulnsight: error: "
            _fail(prefix + _one_line(str(exc)), guard)
        except Exception as exc:  # noqa: BLE001 - the contract: nothing escapes as a traceback
            detail = _one_line(str(exc))
            hint = "" if _DEBUG.get() else " (run with --debug for the traceback)"
            _fail(f"vulnsight: internal error: {type(exc).__name__}: {detail}{hint}", guard)
        sys.exit(code if isinstance(code, int) and code in (0, 1, 2) else EXIT_CLEAN)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BrokenPipeError as exc:
            # click would exit 1 ("findings") here; a reader that went away is an error
            with contextlib.suppress(OSError):
                sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - no flush error at exit
            raise _OutputClosed("the reader of the output went away before the end") from exc


def _terminate(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _terminate_as_interrupt() -> Any:
    """SIGTERM (a cancelled CI job, `timeout`) unwinds like Ctrl-C: temporary copies are
    removed, the stale report too, and the status is 2. Returns the previous handler
    (None when not on the main thread, where no handler can be set)."""
    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, _terminate)


class _OutputClosed(Exception):
    """stdout was closed (a broken pipe) before the report was written."""


_DEBUG: contextvars.ContextVar[bool] = contextvars.ContextVar("vulnsight_debug", default=False)


def _one_line(text: str) -> str:
    line = " ".join(text.split())
    return safe_text(line[:500] + ("..." if len(line) > 500 else ""))


def _fail(message: str, guard: OutputGuard | None = None) -> NoReturn:
    """Print `message` (plus what was done about a stale report) on one line, exit 2."""
    if _DEBUG.get() and sys.exc_info()[0] not in (None, SystemExit):
        traceback.print_exc()
    guard = guard if guard is not None else current_guard()
    notes = guard.discard_stale() if guard is not None else []
    line = "; ".join(_one_line(m) for m in [message, *notes] if m)
    if line:
        click.echo(line if line.startswith("vulnsight") else f"vulnsight: {line}", err=True)
    sys.exit(EXIT_ERROR)


@click.group(cls=ContractGroup)
@click.version_option(__version__, prog_name="vulnsight")
@click.option(
    "--debug",
    is_flag=True,
    help="On an error, print the full traceback (also VULNSIGHT_DEBUG=1).",
)
def main(debug: bool) -> None:
    """vulnsight: find vulnerabilities with a local model and static rules, offline.

    Exit status of every command: 0 clean, 1 findings, 2 error.
    """
    if debug:
        _DEBUG.set(True)


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "sarif"]),
    default="text",
    show_default=True,
    help="Report format.",
)
@click.option("--output", "-o", type=click.Path(path_type=Path), help="Write the report here.")
@click.option(
    "--min-confidence",
    type=float,
    default=0.0,
    show_default=True,
    help="Report only findings at or above this confidence (0-1).",
)
@click.option(
    "--detectors",
    default="rules,llm,flow",
    show_default=True,
    help="Comma-separated: rules, llm, flow (data flow); hybrid = all three.",
)
@click.option(
    "--model",
    default=None,
    help="'default' (embedded Gemma 3 270M), a .gguf path, a trained model directory, "
    "an OpenAI-compatible base URL (http://host:port/v1#model), or a hub id.",
)
@click.option("--llm-threshold", type=float, default=None, help="P(vulnerable) to flag.")
@click.option(
    "--budget",
    "budget_tokens",
    type=int,
    default=8192,
    show_default=True,
    help="Token budget of each function's model context.",
)
@click.option(
    "--max-file-size",
    "max_bytes",
    type=int,
    default=1_000_000,
    show_default=True,
    help="Skip files larger than this many bytes.",
)
@click.option(
    "--jobs",
    "-j",
    type=int,
    default=1,
    show_default=True,
    help="Parallel jobs: Semgrep, and model worker processes (at most one per core).",
)
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Progress bar on stderr (default: when stderr is a terminal).",
)
@click.option(
    "--diff",
    "diff_ref",
    metavar="REF",
    help="Scan only functions changed against git REF; report findings in changed code.",
)
@click.option(
    "--baseline",
    type=click.Path(path_type=Path),
    help="Report only findings not in this baseline (vulnsight baseline create).",
)
@click.option(
    "--config",
    "config_file",
    type=click.Path(path_type=Path),
    help="vulnsight.toml or pyproject.toml (default: the nearest one).",
)
@click.option("--no-cache", is_flag=True, help="Ask the model again; do not read the cache.")
@click.option(
    "--allow-repo-model",
    is_flag=True,
    help="Let the scanned repository's configuration choose the model (an endpoint URL, "
    "hub id or model file); refused by default.",
)
@click.option("--profile", is_flag=True, help="Print per-stage timings to stderr.")
@click.option(
    "--gate",
    type=click.Choice(["safe", "lean", "sinks", "off"]),
    default="safe",
    show_default=True,
    help="Which functions the model judges: all but trivial ones in C/C++/JS (safe), "
    "those with a risky API or a construct their weakness classes need (lean), "
    "only those reaching a risky API (sinks, faster, less recall), or all (off). "
    "Functions data flow touches (tainted parameters, sinks reached) are always judged.",
)
@click.option(
    "--callers",
    type=click.Choice(["all", "facts", "none", "alone"]),
    default="all",
    show_default=True,
    help="Which functions the model sees with their callers: all, only those whose "
    "parameters data flow taints (facts), none, or none and no callee signatures either "
    "(alone: the one-function view the shipped model was trained on).",
)
@click.option(
    "--window-over",
    type=int,
    default=0,
    show_default=True,
    help="Show a function longer than this many tokens as windows around its risky "
    "lines (0: always whole; the shipped model was trained on whole functions).",
)
@click.option(
    "--facts-in-prompt",
    "prompt_facts",
    is_flag=True,
    help="Show each function's data-flow facts (tainted parameters, sinks reached) in "
    "its model prompt; the shipped model was not trained with them.",
)
def scan(
    paths: tuple[Path, ...],
    fmt: str,
    output: Path | None,
    min_confidence: float,
    detectors: str,
    model: str | None,
    llm_threshold: float | None,
    budget_tokens: int,
    max_bytes: int,
    jobs: int,
    progress: bool | None,
    diff_ref: str | None,
    baseline: Path | None,
    config_file: Path | None,
    no_cache: bool,
    allow_repo_model: bool,
    profile: bool,
    gate: str,
    callers: str,
    window_over: int,
    prompt_facts: bool,
) -> None:
    """Scan files and directories for vulnerabilities.

    Settings come from flags, then the user configuration
    (~/.config/vulnsight/config.toml), then the scanned repository's `[tool.vulnsight]`
    (pyproject.toml or vulnsight.toml) within the limits a repository gets, then
    defaults. Exit status: 0 no unsuppressed finding at or above the threshold,
    1 findings, 2 error.
    """
    from vulnsight.review.config_file import discover_config
    from vulnsight.review.workflow import ReviewOptions, review_scan

    flags = {
        "detectors": parse_detectors(detectors),
        "model": model,
        "min_confidence": min_confidence,
        "llm_threshold": llm_threshold,
        "budget_tokens": budget_tokens,
        "max_file_bytes": max_bytes,
        "jobs": jobs,
        "gate": gate,
        "callers": callers,
        "window_over": window_over,
        "prompt_facts": prompt_facts,
    }
    try:
        prepare_output(output, paths)
        project = discover_config(config_file, paths[0], allow_repo_model)
        config = project.scan_config({k: v for k, v in flags.items() if _given(k)})
        show = sys.stderr.isatty() if progress is None else progress
        options = ReviewOptions(diff_ref=diff_ref, baseline=baseline, use_cache=not no_cache)
        with _progress(show) as tick:
            report = review_scan(paths, project, config, options, progress=tick)
        if fmt == "text":
            report = visible(report)
        started = time.perf_counter()
        text = render_report(report, fmt)
        if profile:
            _print_profile(report, started)
    except ConfigError as exc:
        _fail(f"vulnsight: {exc}")
    except VulnsightError as exc:
        _fail(f"vulnsight: error: {exc}")
    if output:
        try:
            write_atomic(output, text)
        except ConfigError as exc:
            _fail(f"vulnsight: {exc}")
        if fmt != "text":
            click.echo(f"{len(report.findings)} finding(s); report written to {output}", err=True)
    else:
        click.echo(text, nl=False)
    blind = int(report.stats.get("files_unscanned", 0))
    if blind:  # not clean: a file no detector could look at may hide anything
        click.echo(
            f"vulnsight: {blind} file(s) could not be scanned by any detector (see errors); "
            "exit status 2",
            err=True,
        )
        sys.exit(EXIT_ERROR)
    sys.exit(EXIT_FINDINGS if any(not f.suppressed for f in report.findings) else EXIT_CLEAN)


@main.command()
@click.argument("repos", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=Path("vulnsight-fleet"),
    show_default=True,
    help="Results: repos/<name>/report.{json,sarif} per repository, findings.jsonl, "
    "overview.md. Run again with the same --out to resume.",
)
@click.option(
    "--address",
    default=None,
    help="Ray cluster: 'auto' (a running cluster) or ray://host:10001; "
    "default: a local Ray instance on this machine.",
)
@click.option("--model", default=None, help="Model spec, as for `vulnsight scan`.")
@click.option(
    "--detectors",
    default=None,
    help="Comma-separated: rules, llm, flow (default: as `vulnsight scan`).",
)
@click.option(
    "--gate",
    type=click.Choice(["safe", "lean", "sinks", "off"]),
    default=None,
    help="As for scan.",
)
@click.option("--min-confidence", type=float, default=None, help="As for `vulnsight scan`.")
@click.option("--workers", type=int, default=1, show_default=True, help="Model actors.")
@click.option(
    "--threads-per-worker",
    type=int,
    default=1,
    show_default=True,
    help="llama.cpp threads (and CPUs reserved) per model actor.",
)
@click.option(
    "--gpus-per-worker",
    type=float,
    default=0.0,
    show_default=True,
    help="GPUs per model actor; when set, actors run the batched transformers backend.",
)
@click.option("--num-cpus", type=int, default=None, help="CPUs of the local Ray instance.")
def fleet(
    repos: tuple[Path, ...],
    out: Path,
    address: str | None,
    model: str | None,
    detectors: str | None,
    gate: str | None,
    min_confidence: float | None,
    workers: int,
    threads_per_worker: int,
    gpus_per_worker: float,
    num_cpus: int | None,
) -> None:
    """Scan many repositories (checkouts, bare mirrors, or files listing them) on Ray.

    Each repository gets the reports `vulnsight scan` writes for it; identical functions
    across repositories are judged once. Needs the `ray` extra. Exit status: 0 clean,
    1 findings, 2 a repository failed or a file could not be scanned.
    """
    try:
        import ray  # noqa: F401
    except ImportError:
        _fail("vulnsight: fleet needs Ray: pip install 'vulnsight[ray]'")
    from vulnsight.fleet.plan import expand_repos
    from vulnsight.fleet.runner import FleetOptions, Hooks, run_fleet

    given = {
        "model": model,
        "detectors": parse_detectors(detectors) if detectors else None,
        "gate": gate,
        "min_confidence": min_confidence,
    }
    if workers < 1 or threads_per_worker < 1 or gpus_per_worker < 0:
        _fail("vulnsight: --workers and --threads-per-worker must be at least 1")
    try:
        sources = expand_repos(repos)
        options = FleetOptions(
            out=out,
            flags={k: v for k, v in given.items() if v is not None},
            address=address,
            workers=workers,
            threads_per_worker=threads_per_worker,
            gpus_per_worker=gpus_per_worker,
            num_cpus=num_cpus,
        )
        result = run_fleet(sources, options, Hooks(say=lambda line: click.echo(line, err=True)))
    except ConfigError as exc:
        _fail(f"vulnsight: {exc}")
    click.echo(
        f"fleet: {len(result.scanned)} scanned, {len(result.skipped)} skipped (done before), "
        f"{len(result.failed)} failed; {result.findings} finding(s); summary in "
        f"{out / 'overview.md'}",
        err=True,
    )
    if result.failed or result.unscanned_files:
        sys.exit(EXIT_ERROR)
    sys.exit(EXIT_FINDINGS if result.findings else EXIT_CLEAN)


def _print_profile(report: Report, render_started: float) -> None:
    from vulnsight.output.profile import render_profile

    stats = {**report.stats, "time_output_s": round(time.perf_counter() - render_started, 3)}
    click.echo(render_profile(stats), err=True, nl=False)


#: ScanConfig fields and the scan parameters that set them, where the names differ.
_PARAMS = {"max_file_bytes": "max_bytes"}


def _given(field: str) -> bool:
    """Whether a scan flag was set on the command line (so it beats the config file)."""
    from click.core import ParameterSource

    source = click.get_current_context().get_parameter_source(_PARAMS.get(field, field))
    return source not in (None, ParameterSource.DEFAULT)


def visible(report: Report) -> Report:
    """The report without suppressed findings (for text output; SARIF and JSON keep them)."""
    from dataclasses import replace

    return replace(report, findings=tuple(f for f in report.findings if not f.suppressed))


if __name__ == "__main__":  # pragma: no cover
    main()
