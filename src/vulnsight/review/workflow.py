"""One scan with the review workflow around it: cache, `--diff`, triage, suppressions,
baseline. Prints nothing; the CLI, `vulnsight baseline` and the local API call it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from vulnsight.config import ScanConfig
from vulnsight.detectors.interface import Detector
from vulnsight.llm.interface import Backend
from vulnsight.pipeline import ProgressFn
from vulnsight.review.config_file import ProjectConfig
from vulnsight.review.lazy import LazyBackend
from vulnsight.types import Function, Report


@dataclass(frozen=True)
class ReviewOptions:
    """What the review workflow adds to a scan."""

    diff_ref: str | None = None
    baseline: Path | None = None
    use_cache: bool = True
    apply_triage: bool = True


def read_lines(root: Path, file: str) -> list[str]:
    """A scanned file's lines (empty when it can no longer be read)."""
    try:
        return (root / file).read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []


def review_scan(
    paths: Sequence[str | Path],
    project: ProjectConfig,
    config: ScanConfig,
    options: ReviewOptions,
    backend: Backend | None = None,
    progress: ProgressFn | None = None,
) -> Report:
    """Scan `paths` and apply the workflow: only changed code with `diff_ref`, cached
    verdicts, triaged false positives and inline/config suppressions marked, and the
    baseline's findings removed."""
    from vulnsight.detectors import build_detectors
    from vulnsight.pipeline import scan
    from vulnsight.review.cache import VerdictCache
    from vulnsight.review.suppress import apply_suppressions

    cache = None
    if options.use_cache and project.settings.cache and "llm" in config.detectors:
        cache = VerdictCache.in_dir(project.state_dir)
    model = backend
    if model is None and "llm" in config.detectors:
        model = LazyBackend(config.model)
    detectors = build_detectors(config, model, cache)
    try:
        if options.diff_ref is None:
            report = scan(paths, config, detectors, None, progress)
        else:
            report = _diff_scan(paths, project, config, options.diff_ref, detectors, progress)
    finally:
        if cache is not None:
            cache.close()
        if backend is None and model is not None:
            model.close()
    if isinstance(model, LazyBackend):
        report = replace(report, stats={**report.stats, "model_loaded": int(model.loaded)})
    root = Path(report.root)
    if options.apply_triage:
        report = _apply_triage(report, project)
    report = apply_suppressions(report, lambda f: read_lines(root, f), project.ignores)
    baseline = options.baseline or project.baseline
    if baseline is not None and (options.baseline is not None or baseline.is_file()):
        from vulnsight.review import baseline as baselines

        report = baselines.new_findings(report, baselines.load(baseline))
    return _with_rates(report)


def _diff_scan(
    paths: Sequence[str | Path],
    project: ProjectConfig,
    config: ScanConfig,
    ref: str,
    detectors: Sequence[Detector],
    progress: ProgressFn | None,
) -> Report:
    from vulnsight.pipeline import scan
    from vulnsight.review.diff import changes_since

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

    report = scan(paths, config, detectors, None, progress, only, focus)
    root = Path(report.root)
    kept = tuple(f for f in report.findings if changes.holds(root, f, touched))
    stats = dict(report.stats)
    stats.update(
        {
            "diff_ref": ref,
            "changed_files": len({fn.file for fn in touched}),
            "changed_functions": len(touched),
            "outside_change": len(report.findings) - len(kept),
            "findings": len(kept),
        }
    )
    return replace(report, findings=kept, stats=stats)


def _apply_triage(report: Report, project: ProjectConfig) -> Report:
    from vulnsight.review.triage import TRIAGE_FILE, TriageStore, suppress_false_positives

    if not (project.state_dir / TRIAGE_FILE).is_file():
        return report
    store = TriageStore.in_dir(project.state_dir)
    try:
        return suppress_false_positives(report, store.false_positives())
    finally:
        store.close()


def _with_rates(report: Report) -> Report:
    hits, misses = report.stats.get("cache_hits"), report.stats.get("cache_misses")
    if not isinstance(hits, int) or not isinstance(misses, int):
        return report
    stats = dict(report.stats)
    stats["cache_hit_rate"] = round(hits / (hits + misses), 4) if hits + misses else 0.0
    return replace(report, stats=stats)
