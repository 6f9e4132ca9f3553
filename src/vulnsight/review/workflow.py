"""One scan with the review workflow around it: cache, `--diff`, triage, suppressions,
baseline, and the account of what the scanned repository's configuration changed.
Prints nothing; the CLI, `vulnsight baseline` and the local API call it.

Scanner state (verdict cache, triage decisions) is read from and written to the
per-user state directory only (`review/state.py`), never the scanned tree; a damaged
or read-only store costs the scan its speed or its triage, never the scan: the report
carries a warning (a `ScanError` of detector "state").
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from vulnsight.config import ScanConfig
from vulnsight.detectors.interface import Detector
from vulnsight.llm.interface import Backend
from vulnsight.pipeline import ProgressFn
from vulnsight.review.config_file import ProjectConfig
from vulnsight.review.interface import VerdictStore
from vulnsight.review.lazy import LazyBackend
from vulnsight.types import ConfigEffect, Function, Report, ScanError, SourceFile


@dataclass(frozen=True)
class ReviewOptions:
    """What the review workflow adds to a scan."""

    diff_ref: str | None = None
    baseline: Path | None = None
    use_cache: bool = True
    apply_triage: bool = True


def read_text(root: Path, file: str) -> str | None:
    """A scanned file's text (None when it can no longer be read)."""
    try:
        return (root / file).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def read_lines(root: Path, file: str) -> list[str]:
    """A scanned file's lines (empty when it can no longer be read)."""
    text = read_text(root, file)
    return text.splitlines() if text is not None else []


def _state_dir(project: ProjectConfig, paths: Sequence[str | Path]) -> tuple[Path | None, str]:
    """The state directory, or None and why when it would lie in the scanned tree."""
    from vulnsight.review.state import inside

    state = project.state_dir
    roots = [project.repo_root or project.root, *(Path(p) for p in paths)]
    if any(inside(state, r) for r in roots):
        return None, f"state directory {state} lies inside the scanned tree: not used"
    return state, ""


def review_scan(
    paths: Sequence[str | Path],
    project: ProjectConfig,
    config: ScanConfig,
    options: ReviewOptions,
    backend: Backend | None = None,
    progress: ProgressFn | None = None,
    verdicts: VerdictStore | None = None,
) -> Report:
    """Scan `paths` and apply the workflow: only changed code with `diff_ref`, cached
    verdicts, triaged false positives, inline/config suppressions and the baseline's
    findings marked suppressed, and what the repository's configuration changed listed
    in `report.config`.

    `verdicts` replaces the per-repository verdict cache (a fleet run shares one store
    across repositories); the caller owns it."""
    from vulnsight.detectors import build_detectors
    from vulnsight.review.cache import CACHE_FILE, GuardedCache
    from vulnsight.review.suppress import apply_suppressions

    state, state_problem = _state_dir(project, paths)
    problems = [state_problem] if state_problem else []
    cache = None
    wanted = options.use_cache and project.settings.cache and "llm" in config.detectors
    if state is not None and wanted and verdicts is None:
        cache = GuardedCache(state / CACHE_FILE)
    model = backend
    if model is None and "llm" in config.detectors:
        model = LazyBackend(config.model, untrusted=config.untrusted_model)
    store: VerdictStore | None = cache
    if verdicts is not None and options.use_cache and "llm" in config.detectors:
        store = verdicts
    detectors = build_detectors(config, model, store)
    try:
        report = _scan(paths, project, config, options, detectors, progress)
    finally:
        if cache is not None:
            problems.extend(cache.problems)
            cache.close()
        if backend is None and model is not None:
            model.close()
    if isinstance(model, LazyBackend):
        report = replace(report, stats={**report.stats, "model_loaded": int(model.loaded)})
    root = Path(report.root)
    if options.apply_triage and state is not None:
        report = _apply_triage(report, state, problems)
    report = apply_suppressions(report, lambda f: read_text(root, f), project.ignores)
    report = _apply_baseline(report, project, options)
    report = _with_state_problems(report, problems)
    report = replace(report, config=_effects(report, project, config))
    return _with_rates(report)


def _scan(
    paths: Sequence[str | Path],
    project: ProjectConfig,
    config: ScanConfig,
    options: ReviewOptions,
    detectors: Sequence[Detector],
    progress: ProgressFn | None,
) -> Report:
    """The scan; again without the repository's include/exclude when those left no file."""
    from vulnsight.pipeline import scan

    def run(cfg: ScanConfig) -> Report:
        if options.diff_ref is None:
            return scan(paths, cfg, detectors, None, progress)
        return _diff_scan(paths, project, cfg, options.diff_ref, detectors, progress)

    report = run(config)
    filters = [
        k
        for k in ("include", "exclude")
        if getattr(config, k) and project.origin_of(k) == "repository"
    ]
    st = report.stats
    if (
        filters
        and st.get("files_discovered", 0)
        and st.get("files_excluded") == st.get("files_discovered")
    ):
        dropped = st.get("files_excluded", 0)
        include = () if "include" in filters else config.include
        exclude = () if "exclude" in filters else config.exclude
        report = run(replace(config, include=include, exclude=exclude))
        stats = {**report.stats, "repository_filters_dropped": 1, "files_excluded_refused": dropped}
        report = replace(report, stats=stats)
    return report


def _diff_scan(
    paths: Sequence[str | Path],
    project: ProjectConfig,
    config: ScanConfig,
    ref: str,
    detectors: Sequence[Detector],
    progress: ProgressFn | None,
) -> Report:
    from vulnsight.dataflow import FlowResult
    from vulnsight.pipeline import Widening, scan
    from vulnsight.review.diff import changes_since, reader_at
    from vulnsight.review.facts_diff import facts_changed

    first = Path(paths[0]) if paths else Path(".")
    changes = changes_since(ref, first if first.is_dir() else first.parent)
    touched: list[Function] = []

    def only(root: Path, fn: Function) -> bool:
        if changes.touches(root, fn):
            touched.append(fn)
            return True
        return False

    def focus(root: Path, path: str) -> bool:
        return bool(changes.lines_of(root, path))

    widened: list[Function] = []
    grown: dict[str, int] = {"facts_diff_files_parsed": 0, "facts_diff_rounds": 0}

    def widen(
        root: Path,
        files: Sequence[SourceFile],
        functions: Sequence[Function],
        flow: Callable[[], FlowResult],
        unparsed: Sequence[SourceFile],
    ) -> Widening:
        """Unchanged functions whose data-flow facts the change altered, callers of
        callers included (files parsed to follow them come back with them)."""
        if "flow" not in config.detectors and "llm" not in config.detectors:
            return Widening(())
        found = facts_changed(changes, root, files, functions, flow, reader_at(ref, root), unparsed)
        widened.extend(fn for fn in [*functions, *found.functions] if fn.qualified_id in found.ids)
        grown["facts_diff_files_parsed"] = len(found.files)
        grown["facts_diff_rounds"] = found.rounds
        return Widening(found.ids, found.files, found.functions, found.errors, found.flow)

    report = scan(paths, config, detectors, None, progress, only, focus, widen)
    root = Path(report.root)
    kept = tuple(f for f in report.findings if changes.holds(root, f, [*touched, *widened]))
    stats = dict(report.stats)
    stats.update(
        {
            "diff_ref": ref,
            "changed_files": len({fn.file for fn in touched}),
            "changed_functions": len(touched),
            # unchanged functions judged because the change altered their data-flow facts
            "facts_changed_functions": len(widened),
            # files parsed beyond the changed ones and their neighbours to follow callers
            # of callers, and the analyses (as it is / as it was) that took
            **grown,
            "outside_change": len(report.findings) - len(kept),
            "findings": len(kept),
        }
    )
    return replace(report, findings=kept, stats=stats)


def _apply_triage(report: Report, state: Path, problems: list[str]) -> Report:
    import sqlite3

    from vulnsight.errors import ConfigError
    from vulnsight.review.triage import TRIAGE_FILE, TriageStore, suppress_false_positives

    path = state / TRIAGE_FILE
    if not path.is_file():
        return report
    try:
        store = TriageStore(path, read_only=True)
        try:
            false_positives = store.false_positives()
        finally:
            store.close()
    except (ConfigError, sqlite3.Error, OSError) as exc:
        problems.append(f"triage decisions {path} are unusable ({exc}): not applied")
        return report
    return suppress_false_positives(report, false_positives)


def _apply_baseline(report: Report, project: ProjectConfig, options: ReviewOptions) -> Report:
    from vulnsight.review import baseline as baselines

    path = options.baseline or project.baseline
    if path is None or (options.baseline is None and not path.is_file()):
        return report
    label = str(path)
    if options.baseline is None and project.origin_of("baseline") == "repository":
        label = project.settings.baseline or label
    return baselines.mark_known(report, baselines.load(path), label)


def _with_state_problems(report: Report, problems: list[str]) -> Report:
    if not problems:
        return report
    errors = tuple(ScanError("(state)", p, "state") for p in dict.fromkeys(problems))
    stats = {**report.stats, "state_warnings": len(errors)}
    return replace(report, errors=report.errors + errors, stats=stats)


def _effects(
    report: Report, project: ProjectConfig, config: ScanConfig
) -> tuple[ConfigEffect, ...]:
    """What configuration changed in this scan: the static effects of the trust boundary
    plus what the repository's filters, thresholds, ignores and baseline hid."""
    from vulnsight.review.state import legacy_state

    source = project.source_label
    st = report.stats
    out = list(project.effects_for(config))

    def add(key: str, action: str, message: str, count: int | None = None) -> None:
        out.append(ConfigEffect(key, action, message, source, count))

    filters = [
        k
        for k in ("include", "exclude")
        if getattr(config, k) and project.origin_of(k) == "repository"
    ]
    if st.get("repository_filters_dropped"):
        n = int(st.get("files_excluded_refused", 0))
        add(
            "/".join(filters), "refused", f"include/exclude would exclude all {n} files: ignored", n
        )
    elif filters:
        n, total = int(st.get("files_excluded", 0)), int(st.get("files_discovered", 0))
        add("/".join(filters), "applied", f"{n} of {total} files excluded by include/exclude", n)
    repo_floor = project.origin_of("min_confidence") == "repository"
    floor = project.settings.min_confidence
    if repo_floor and floor and config.min_confidence == floor:
        n = int(st.get("below_min_confidence", 0))
        add("min_confidence", "applied", f"{n} findings below min_confidence {floor} hidden", n)
    ignored = int(st.get("ignored_by_repository_config", 0))
    if any(r.origin == "repository" for r in project.ignores):
        add("ignore", "applied", f"{ignored} findings suppressed by ignore tables", ignored)
    if "baseline_matched" in st and project.origin_of("baseline") == "repository":
        n = int(st.get("suppressed_baseline", 0))
        add(
            "baseline", "applied", f"{n} findings hidden by baseline {project.settings.baseline}", n
        )
    legacy = legacy_state(project.repo_root or project.root)
    if legacy is not None:
        out.append(
            ConfigEffect(
                "state",
                "ignored",
                f"{legacy.name}/ in the scanned tree is not read (scanner state lives in "
                f"{project.state_dir}; move your own triage.sqlite3 there to keep it)",
                legacy.name,
            )
        )
    return tuple(out)


def _with_rates(report: Report) -> Report:
    hits, misses = report.stats.get("cache_hits"), report.stats.get("cache_misses")
    if not isinstance(hits, int) or not isinstance(misses, int):
        return report
    stats = dict(report.stats)
    stats["cache_hit_rate"] = round(hits / (hits + misses), 4) if hits + misses else 0.0
    return replace(report, stats=stats)
