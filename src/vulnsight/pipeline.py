"""`scan(paths, config, ...) -> Report`: discovery, parsing, detectors, hybrid merge.

Prints nothing and exits nothing; the CLI and the API wrap it.
"""

from __future__ import annotations

import fnmatch
import resource
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

from vulnsight.config import ScanConfig
from vulnsight.dataflow.scan import FlowResult, lazy_analysis
from vulnsight.detectors.hybrid import MergeStats, merge_with_stats
from vulnsight.detectors.interface import Detector, DetectorResult, ScanBatch
from vulnsight.discover import discover
from vulnsight.errors import ParseError
from vulnsight.llm.interface import model_stats
from vulnsight.parse import parse_source
from vulnsight.parse.callgraph import CallGraph
from vulnsight.types import Finding, Function, Report, ScanError, SourceFile

#: progress(stage, done, total): called as work finishes.
ProgressFn = Callable[[str, int, int], None]
#: only(root, function): whether detectors look at a function (e.g. `--diff`); every
#: function still serves as context (callers) and for locating findings.
SelectFn = Callable[[Path, Function], bool]


@dataclass(frozen=True)
class Widening:
    """What `widen` adds to a focused scan: functions the detectors look at besides
    those `only` selected (by `qualified_id`), and files it parsed to find them (their
    functions and parser errors, and the data-flow analysis of everything then parsed)."""

    ids: Collection[str]
    files: Sequence[SourceFile] = ()
    functions: Sequence[Function] = ()
    errors: Sequence[ScanError] = ()
    flow: FlowResult | None = None


#: widen(root, parsed files, every parsed function, the scan's data-flow analysis, the
#: files not parsed) -> what the detectors look at besides the functions `only` selected
WidenFn = Callable[
    [
        Path,
        Sequence[SourceFile],
        Sequence[Function],
        Callable[[], FlowResult],
        Sequence[SourceFile],
    ],
    Widening,
]


def glob_match(path: str, pattern: str) -> bool:
    """Whether a root-relative posix path matches a glob; `**/` may match nothing and a
    directory pattern matches everything under it."""
    pattern = pattern.strip()
    pattern = pattern[2:] if pattern.startswith("./") else pattern
    candidates = {pattern, pattern.rstrip("/") + "/**"}
    if pattern.startswith("**/"):
        candidates.add(pattern[3:])
    return any(fnmatch.fnmatchcase(path, p) for p in candidates)


def _wanted(path: str, config: ScanConfig) -> bool:
    if config.include and not any(glob_match(path, p) for p in config.include):
        return False
    return not any(glob_match(path, p) for p in config.exclude)


#: How a parser error begins when nothing of the file was parsed (`unscanned` reads it).
UNPARSED = "cannot parse"


def parse_files(files: Sequence[SourceFile]) -> tuple[list[Function], list[ScanError]]:
    """Functions of every file; syntax errors are noted and what parsed is kept."""
    functions: list[Function] = []
    errors: list[ScanError] = []
    for src in files:
        try:
            parsed = parse_source(src)  # bounded per file: see parse.grammars.ParseBudget
            functions.extend(parsed.functions)
            bad = parsed.error_count
        except (ParseError, ValueError, RecursionError) as exc:
            errors.append(ScanError(src.path, f"{UNPARSED}: {exc}", "parser"))
            continue
        except Exception as exc:  # a parser bug on one hostile file must not end the scan
            reason = f"{UNPARSED} (internal error {type(exc).__name__}: {exc})"
            errors.append(ScanError(src.path, reason, "parser"))
            continue
        if bad:
            errors.append(
                ScanError(src.path, f"syntax errors ({bad} regions); scanned what parsed", "parser")
            )
    return functions, errors


def unscanned(
    files: Sequence[SourceFile],
    parse_errors: Sequence[ScanError],
    detector_errors: Sequence[ScanError],
    detectors: Sequence[Detector],
) -> list[str]:
    """Files that no detector looked at: the rules failed on them (or did not run) and
    they could not be parsed, so the model and data flow saw nothing of them either. A
    hostile file built to defeat both must not pass for a clean one."""
    unparsed = {e.file for e in parse_errors if e.reason.startswith(UNPARSED)}
    if not unparsed:
        return []
    ran_rules = any(d.name == "rules" for d in detectors)
    rules_failed = {e.file for e in detector_errors if e.detector == "rules"}
    return sorted(
        f.path for f in files if f.path in unparsed and (not ran_rules or f.path in rules_failed)
    )


def _sort_key(f: Finding) -> tuple[str, int, str]:
    return (f.file, f.line_number, f.rule_id or f.cwe)


def detect(
    batch: ScanBatch, detectors: Sequence[Detector], progress: ProgressFn | None = None
) -> tuple[dict[str, DetectorResult], dict[str, float]]:
    """Run every detector over the batch: each one's result and seconds, by name.

    The rules detector mostly waits on its Semgrep subprocess: it starts first, in a
    thread, so Semgrep's start-up overlaps the model's work instead of adding to it; the
    model's gate may ask for its hits (functions holding one are judged).
    """
    done: dict[str, int] = {}
    seconds: dict[str, float] = {}

    def run(det: Detector, batch: ScanBatch) -> DetectorResult:
        total = det.units(batch)
        done[det.name] = 0

        def tick(n: int) -> None:
            done[det.name] += n
            if progress:
                progress(det.name, done[det.name], total)

        if progress:
            progress(det.name, 0, total)
        started = time.perf_counter()
        try:
            return det.detect_all(batch, tick)
        finally:
            seconds[det.name] = time.perf_counter() - started

    results: dict[str, DetectorResult] = {}
    background = [d for d in detectors if d.name == "rules"][:1]
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = {d.name: pool.submit(run, d, batch) for d in background}
        rules_future: Future[DetectorResult] | None = pending.get("rules")
        if rules_future is not None:
            batch = replace(batch, rule_hits=_findings_of(rules_future))
        for det in detectors:
            if det.name not in pending:
                results[det.name] = run(det, batch)
        for name, future in pending.items():
            results[name] = future.result()
    return results, seconds


def merge_results(
    results: Mapping[str, DetectorResult],
    functions: Sequence[Function],
    threshold: float,
    by_language: Mapping[str, float] | None = None,
    min_confidence: float = 0.0,
) -> tuple[list[Finding], MergeStats]:
    """The detectors' findings as one list, as a scan reports them: rule hits and model
    verdicts merged (`detectors.hybrid`), then the data-flow findings added (`combine`).

    `functions` locate findings in their enclosing function; `threshold` and
    `by_language` are the model's flagging thresholds; the model never lowers a rule hit
    below `min_confidence`.
    """
    rules = results.get("rules", DetectorResult())
    llm = results.get("llm", DetectorResult())
    findings, stats = merge_with_stats(
        rules.findings, llm.findings, llm.scores, functions, threshold, by_language, min_confidence
    )
    if "flow" in results:
        from vulnsight.detectors.flow import combine

        findings = combine(findings, results["flow"].findings)
    return findings, stats


def run_detectors(
    batch: ScanBatch,
    detectors: Sequence[Detector],
    threshold: float,
    progress: ProgressFn | None = None,
    all_functions: Sequence[Function] | None = None,
    by_language: Mapping[str, float] | None = None,
    min_confidence: float = 0.0,
) -> tuple[list[Finding], list[ScanError], dict[str, float | int | str]]:
    """Run every detector over the batch (`detect`) and merge their findings
    (`merge_results`), with the errors and the report's stats.

    `all_functions` (default: the batch's) locate findings in their enclosing function;
    `threshold` and `by_language` are the model's flagging thresholds for the merge;
    the model never lowers a rule hit below `min_confidence` (the floor the report
    filters by).
    """
    results, seconds = detect(batch, detectors, progress)
    llm = results.get("llm", DetectorResult())
    located = batch.functions if all_functions is None else all_functions
    started = time.perf_counter()
    findings, merge_stats = merge_results(results, located, threshold, by_language, min_confidence)
    errors = [e for r in results.values() for e in r.errors]
    stats: dict[str, float | int | str] = {}
    for r in results.values():
        stats.update(r.stats)
    if "llm" in results and "rules" in results:
        stats.update(merge_stats.as_stats())
    for det in detectors:  # name the model that answered (base, adapter, runtime)
        backend = getattr(det, "backend", None) if det.name == "llm" else None
        if backend is not None:
            stats.update(model_stats(backend))
    if llm.timings_ms:
        ordered = sorted(llm.timings_ms)
        stats["llm_ms_p95"] = round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], 1)
    for name, spent in seconds.items():
        stats[f"time_{_STAGE.get(name, name)}_s"] = round(spent, 3)
    stats["time_merge_s"] = round(time.perf_counter() - started, 3)
    return findings, errors, stats


def _findings_of(future: Future[DetectorResult]) -> Callable[[], Sequence[Finding]]:
    """A getter that waits for `future`'s findings (none if the detector failed)."""

    def get() -> Sequence[Finding]:
        try:
            return future.result().findings
        except Exception:  # the failure itself surfaces where the result is collected
            return ()

    return get


#: Stage names of detectors in the timing stats (the rules detector is Semgrep's run).
_STAGE = {"rules": "semgrep", "llm": "model_stage"}


def _parse_focused(
    files: Sequence[SourceFile], root: Path, focus: Callable[[Path, str], bool] | None
) -> tuple[list[Function], list[ScanError]]:
    """All files, or (with `focus`) the focused files plus those naming their functions."""
    if focus is None:
        return parse_files(files)
    first = [f for f in files if focus(root, f.path)]
    functions, errors = parse_files(first)
    names: set[str] = set()
    for fn in functions:
        names.add(fn.name.replace("::", ".").rsplit(".", 1)[-1])
        names.update(fn.calls)
    names.discard("")
    rest = [f for f in files if not focus(root, f.path) and any(name in f.text for name in names)]
    more, more_errors = parse_files(rest)
    return functions + more, errors + more_errors


def _given(result: FlowResult) -> Callable[[], FlowResult]:
    """An analysis already run, in the shape `lazy_analysis` returns."""
    return lambda: result


def merge_thresholds(
    detectors: Sequence[Detector], given: float | None
) -> tuple[float, Mapping[str, float]]:
    """The threshold (and per-language ones) the merge judges model agreement by."""
    if given is not None:
        return given, {}
    for det in detectors:
        options = getattr(det, "options", None)
        if det.name == "llm" and options is not None:
            return float(options.threshold), dict(options.by_language)
    return 0.5, {}


def scan(
    paths: Sequence[str | Path],
    config: ScanConfig,
    detectors: Sequence[Detector],
    threshold: float | None = None,
    progress: ProgressFn | None = None,
    only: SelectFn | None = None,
    focus: Callable[[Path, str], bool] | None = None,
    widen: WidenFn | None = None,
) -> Report:
    """Scan files and directories with the given detectors.

    `threshold` is the model's flagging threshold used when merging; by default the
    model detector's own (which may come from a trained model's calibration).

    With `only`, detectors run on the selected functions and the files that hold them;
    the rest of the tree is parsed for context. `focus(root, path)` says which
    files can hold selected functions: then only those are parsed first, and of the rest
    only files whose text names one of their functions or callees (possible callers and
    callees) are parsed for context, which keeps `--diff` scans of large
    trees fast. `widen(root, files, functions, flow, unparsed)` (with `only`) names more
    functions the detectors look at (by `qualified_id`) and may parse more files to find
    them: `--diff` adds the unchanged functions whose data-flow facts the change altered,
    following callers of callers across files.
    """
    started = time.perf_counter()
    found = discover(paths, max_bytes=config.max_file_bytes, excludes=config.excludes)
    files = tuple(f for f in found.files if _wanted(f.path, config))
    excluded = len(found.files) - len(files)
    discovered = time.perf_counter()
    functions, parse_errs = _parse_focused(files, found.root, focus if only is not None else None)
    parsed = time.perf_counter()
    graph = CallGraph.build(functions)
    parsed_names = {f.file for f in functions}
    parsed_files = tuple(f for f in files if f.path in parsed_names)
    flow = lazy_analysis(parsed_files, functions, graph)
    selected = functions if only is None else [f for f in functions if only(found.root, f)]
    if only is not None and widen is not None:
        chosen = {f.qualified_id for f in selected}
        rest = tuple(f for f in files if f.path not in parsed_names)
        wider = widen(found.root, parsed_files, functions, flow, rest)
        if wider.files:
            functions = [*functions, *wider.functions]
            parse_errs = [*parse_errs, *wider.errors]
            graph = CallGraph.build(functions)
            parsed_names = {f.file for f in functions}
            parsed_files = tuple(f for f in files if f.path in parsed_names)
            flow = (
                _given(wider.flow) if wider.flow else lazy_analysis(parsed_files, functions, graph)
            )
        extra = set(wider.ids) - chosen
        selected = [f for f in functions if f.qualified_id in chosen or f.qualified_id in extra]
    if only is not None:
        holding = {f.file for f in selected}
        files = tuple(f for f in files if f.path in holding)
    batch = ScanBatch(
        root=found.root,
        files=files,
        functions=tuple(selected),
        graph=graph,
        changed=only is not None,
        flow=flow,
    )
    graphed = time.perf_counter()
    merge_at, by_language = merge_thresholds(detectors, threshold)
    findings, det_errors, det_stats = run_detectors(
        batch, detectors, merge_at, progress, functions, by_language, config.min_confidence
    )
    below = [f for f in findings if f.confidence < config.min_confidence]
    kept = sorted((f for f in findings if f.confidence >= config.min_confidence), key=_sort_key)
    blind = unscanned(files, parse_errs, det_errors, detectors)
    elapsed = time.perf_counter() - started
    stats: dict[str, float | int | str] = {
        "files_discovered": len(found.files),
        "files_scanned": len(files),
        "files_skipped": len(found.skipped),
        "files_ignored": found.ignored,
        "files_excluded": excluded,
        # scanned, with bytes that are not UTF-8 read as U+FFFD (line numbers kept)
        "files_with_invalid_utf8": len(found.replaced),
        # files no detector could look at (rules failed on them and they did not parse)
        "files_unscanned": len(blind),
        "functions": len(selected),
        "findings": len(kept),
        "below_min_confidence": len(below),
        "seconds": round(elapsed, 3),
        "functions_per_second": round(len(functions) / elapsed, 2) if elapsed else 0.0,
        "detectors": ",".join(d.name for d in detectors),
        "time_discovery_s": round(discovered - started, 3),
        "time_parsing_s": round(parsed - discovered, 3),
        "time_callgraph_s": round(graphed - parsed, 3),
    }
    # ru_maxrss is in KiB on Linux: the process's peak, model included.
    stats["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    stats.update(det_stats)
    return Report(
        findings=tuple(kept),
        errors=tuple(found.errors) + tuple(parse_errs) + tuple(det_errors),
        skipped=found.skipped,
        stats=stats,
        root=str(found.root),
    )
