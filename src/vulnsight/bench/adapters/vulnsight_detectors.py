"""vulnsight's own detectors (rules, llm, hybrid, any `--model` spec) through the real
pipeline: discovery, tree-sitter extraction, the detectors and the hybrid merge, exactly
as `vulnsight scan` runs them, with the model's per-function scores and timings kept."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import math
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from vulnsight.bench.adapters.interface import (
    AdapterError,
    AdapterOptions,
    Batch,
    Finding,
    Prediction,
    from_findings,
)
from vulnsight.bench.records import SEMGREP_FITTED_SOURCE, Record
from vulnsight.config import DETECTORS
from vulnsight.llm.interface import Backend, Completion, Decision
from vulnsight.llm.prompt import Prompt
from vulnsight.types import LANGUAGES
from vulnsight.types import Finding as ScanFinding


class CountingBackend:
    """Wraps a backend and records the tokens of every call, in call order."""

    def __init__(self, inner: Backend) -> None:
        self.inner = inner
        self.name = inner.name
        self.capabilities = inner.capabilities
        self.tokens_in = 0
        self.tokens_out = 0

    def generate(
        self, prompts: Sequence[Prompt], schema: dict[str, Any] | None = None
    ) -> list[Completion]:
        """Delegate and count."""
        out = self.inner.generate(prompts, schema)
        self.tokens_in += sum(c.prompt_tokens for c in out)
        self.tokens_out += sum(c.completion_tokens for c in out)
        return out

    def decide(self, prompts: Sequence[Prompt]) -> list[Decision]:
        """Delegate and count."""
        out = self.inner.decide(prompts)
        self.tokens_in += sum(d.prompt_tokens for d in out)
        return out

    def complete_flagged(self, prompts: Sequence[Prompt]) -> list[Completion]:
        """Delegate and count."""
        out = self.inner.complete_flagged(prompts)
        self.tokens_out += sum(c.completion_tokens for c in out)
        return out

    def count_tokens(self, text: str) -> int:
        """Delegate."""
        return self.inner.count_tokens(text)

    def __getattr__(self, name: str) -> Any:
        """Everything else (calibrated thresholds, spec, batch size) is the inner backend's."""
        if name == "inner":  # not set yet (e.g. while unpickling): no recursion
            raise AttributeError(name)
        return getattr(self.inner, name)

    def close(self) -> None:
        """Delegate."""
        self.inner.close()


#: eval mode -> the scan detectors it runs. "hybrid" is the shipped scan (`config.DETECTORS`,
#: with `scan`'s model gate); "rules+llm" is rule hits and model verdicts merged without
#: data flow (what "hybrid" meant before data flow joined the default scan).
MODES: dict[str, tuple[str, ...]] = {
    "rules": ("rules",),
    "llm": ("llm",),
    "llm+facts": ("llm",),
    "hybrid": DETECTORS,
    "rules+llm": ("rules", "llm"),
    "flow": ("flow",),
    "rules+flow": ("rules", "flow"),
}


def _to_local(f: ScanFinding) -> Finding:
    return Finding(
        line=f.line_number,
        cwe=f.cwe or None,
        confidence=f.confidence,
        rule=f.rule_id or f.model or f.detector,
    )


@functools.cache
def source_digest() -> str:
    """A short SHA-256 of the vulnsight package's files that decide a prediction (code,
    rule pack, data-flow specs, prompts): it changes with any edit, not only a release."""
    import vulnsight

    root = Path(vulnsight.__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.suffix in _DIGESTED and "__pycache__" not in path.parts:
            digest.update(path.relative_to(root).as_posix().encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:12]


_DIGESTED = frozenset({".py", ".toml", ".yaml", ".yml", ".json", ".scm", ".txt"})


class VulnsightAdapter:
    """One of vulnsight's detector configurations.

    A record is flagged when any finding falls in its file; its score is the highest
    of the findings' confidences and (with a model) the model's P(vulnerable) of the
    functions in it, so unflagged records still rank for the threshold sweep.
    """

    kind = "vulnsight"
    languages = frozenset(LANGUAGES)
    compute = "cpu"

    def __init__(
        self,
        mode: str,
        options: AdapterOptions | None = None,
        model: str | None = None,
        name: str | None = None,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown vulnsight mode {mode!r}")
        opts = options or AdapterOptions()
        self.mode = mode
        self.model = model if model is not None else opts.model
        self.threshold = opts.threshold
        self.jobs = opts.jobs
        self.name = name or (mode if model is None else f"{mode}[{model}]")
        self.detectors = MODES[mode]
        uses_rules = "rules" in self.detectors
        self.excluded_sources = frozenset({SEMGREP_FITTED_SOURCE}) if uses_rules else frozenset()
        self.chunk_size = 40 if self._uses_model() else 0
        self.backend_name = ""

    def _uses_model(self) -> bool:
        return "llm" in self.detectors

    def available(self) -> str | None:
        """Semgrep for the rules; a resolvable model spec for the model."""
        from vulnsight.errors import VulnsightError

        if "rules" in self.detectors:
            from vulnsight.rules.engine import semgrep_command

            try:
                semgrep_command([], [], 1, 1)
            except VulnsightError as exc:
                return str(exc)
        if self._uses_model():
            from vulnsight.llm.models import resolve

            try:
                spec = resolve(self.model)
            except VulnsightError as exc:
                return str(exc)
            if spec.backend == "llamacpp":
                try:
                    import llama_cpp  # noqa: F401
                except ImportError:
                    return "llama-cpp-python is not installed"
        return None

    def fingerprint(self) -> str:
        """The installed vulnsight's code, rules and data-flow specs (`source_digest`):
        `vulnsight eval` resumes only from predictions the same code made."""
        return source_digest()

    def describe(self) -> dict[str, Any]:
        """Mode, model spec and thresholds (the user's, else the model's calibrated ones)."""
        from vulnsight import __version__
        from vulnsight.detectors import effective_thresholds
        from vulnsight.errors import VulnsightError
        from vulnsight.review.lazy import LazyBackend

        calibrated = None  # what the spec says it was calibrated for, without loading it
        if self._uses_model() and self.threshold is None:
            with contextlib.suppress(VulnsightError):
                calibrated = LazyBackend(self.model)
        threshold, by_language = effective_thresholds(self.threshold, calibrated)
        described: dict[str, Any] = {
            "vulnsight": __version__,
            "mode": self.mode,
            "detectors": list(self.detectors),
            "model": (self.model or "default") if self._uses_model() else None,
            "backend": self.backend_name or None,
            "llm_threshold": threshold,
        }
        if by_language:  # JSON has no infinity: null means the model reports nothing there
            described["llm_thresholds"] = {
                k: (v if math.isfinite(v) else None) for k, v in sorted(by_language.items())
            }
        return described

    def run(self, batch: Batch, records: Sequence[Record]) -> list[Prediction]:
        """Run the scan's own stages over the batch directory: discovery, parsing, the
        detectors a scan with this mode's `--detectors` builds (`build_detectors`), and
        the scan's merge (`pipeline.merge_results`)."""
        from vulnsight.config import ScanConfig
        from vulnsight.dataflow.scan import lazy_analysis
        from vulnsight.detectors import build_detectors
        from vulnsight.detectors.interface import DetectorResult, ScanBatch
        from vulnsight.discover import discover
        from vulnsight.errors import VulnsightError
        from vulnsight.llm.models import load
        from vulnsight.parse.callgraph import CallGraph
        from vulnsight.pipeline import detect, merge_results, merge_thresholds, parse_files

        started = time.perf_counter()
        found = discover([batch.root])
        functions, _ = parse_files(found.files)
        graph = CallGraph.build(functions)
        analysis = lazy_analysis(found.files, functions, graph)
        scan_batch = ScanBatch(found.root, found.files, tuple(functions), graph, flow=analysis)
        setup_ms = (time.perf_counter() - started) * 1000
        backend: CountingBackend | None = None
        # calibration's "model off" is an infinite threshold, which a scan's config (a
        # user's [0, 1] flag) cannot carry: it is set on the model detector below
        beyond = self.threshold is not None and self.threshold > 1.0
        config = ScanConfig(
            detectors=self.detectors,
            model=self.model,
            llm_threshold=None if beyond else self.threshold,
            jobs=self.jobs,
            prompt_facts=self.mode == "llm+facts",
            # only the shipped scan gates the model as `scan` does; the model alone is
            # asked about every function, as it was measured before the gate existed
            gate=ScanConfig.gate if self.mode == "hybrid" else "off",
        )
        try:
            if self._uses_model():
                backend = CountingBackend(load(self.model))
                self.backend_name = backend.name
            detectors = build_detectors(config, backend)
            for det in detectors:
                options = getattr(det, "options", None)
                if beyond and det.name == "llm" and options is not None:
                    options = replace(options, threshold=self.threshold, by_language={})
                    det.options = options  # type: ignore[attr-defined]
            # the merge judges agreement as `scan` does: by the model detector's thresholds
            threshold, by_language = merge_thresholds(detectors, None)
            results, seconds = detect(scan_batch, detectors)
        except VulnsightError as exc:
            raise AdapterError(str(exc)) from exc
        finally:
            if backend is not None:
                backend.close()
        fatal = [e for e in results.get("rules", DetectorResult()).errors if e.file == "."]
        if fatal:
            raise AdapterError(fatal[0].reason)
        findings, _ = merge_results(results, functions, threshold, by_language)
        llm = results.get("llm", DetectorResult())

        by_file: dict[str, list[Finding]] = defaultdict(list)
        for f in findings:
            by_file[f.file].append(_to_local(f))
        p_by_file: dict[str, float] = {}
        ms_by_file: dict[str, float] = defaultdict(float)
        aligned = len(llm.timings_ms) == len(functions)
        for i, fn in enumerate(functions):
            p = llm.scores.get(fn.qualified_id)
            if p is not None:
                p_by_file[fn.file] = max(p, p_by_file.get(fn.file, 0.0))
            if aligned:
                ms_by_file[fn.file] += llm.timings_ms[i]
        errors_by_file = {e.file: e.reason for e in llm.errors}
        n = max(1, len(records))
        # what is not timed per function is spread evenly: parsing, Semgrep, data flow,
        # and the model's time when its gate skipped functions (timings then unaligned)
        shared_s = sum(t for name, t in seconds.items() if name != "llm" or not aligned)
        shared_ms = (setup_ms + shared_s * 1000) / n
        measured = self._uses_model()
        out = []
        for r in records:
            path = batch.paths[r.id]
            pred = from_findings(r.id, by_file.get(path, []))
            score = max(pred.score, p_by_file.get(path, 0.0))
            out.append(
                Prediction(
                    r.id,
                    pred.predicted,
                    score,
                    pred.lines,
                    pred.cwes,
                    latency_ms=shared_ms + ms_by_file.get(path, 0.0),
                    latency_measured=measured,
                    error=errors_by_file.get(path),
                    rules=pred.rules,
                )
            )
        if backend is not None and out:
            # Tokens are known per run; spread evenly (reported as totals anyway).
            per_in, per_out = backend.tokens_in // len(out), backend.tokens_out // len(out)
            out = [_with_tokens(p, per_in, per_out) for p in out]
        return out


def _with_tokens(p: Prediction, tokens_in: int, tokens_out: int) -> Prediction:

    return replace(p, tokens_in=tokens_in, tokens_out=tokens_out)


def rules_adapter(options: AdapterOptions | None = None, arg: str = "") -> VulnsightAdapter:
    """vulnsight's Semgrep rule pack alone."""
    return VulnsightAdapter("rules", options)


def llm_adapter(options: AdapterOptions | None = None, arg: str = "") -> VulnsightAdapter:
    """The model alone; `arg` is a model spec (`llm:DIR`), else `--model`."""
    return VulnsightAdapter("llm", options, model=arg or None)


def llm_facts_adapter(options: AdapterOptions | None = None, arg: str = "") -> VulnsightAdapter:
    """The model alone, its prompts showing each function's data-flow facts
    (`scan --facts-in-prompt`); `arg` is a model spec, else `--model`."""
    return VulnsightAdapter("llm+facts", options, model=arg or None)


def hybrid_adapter(options: AdapterOptions | None = None, arg: str = "") -> VulnsightAdapter:
    """The shipped scan: rules, model and data flow merged, as `vulnsight scan` runs by
    default (its model gate included)."""
    return VulnsightAdapter("hybrid", options, model=arg or None)


def rules_llm_adapter(options: AdapterOptions | None = None, arg: str = "") -> VulnsightAdapter:
    """Rule hits and model verdicts merged, without data flow (`--detectors rules,llm`)."""
    return VulnsightAdapter("rules+llm", options, model=arg or None)


def flow_adapter(options: AdapterOptions | None = None, arg: str = "") -> VulnsightAdapter:
    """vulnsight's data-flow detector alone."""
    return VulnsightAdapter("flow", options)


def rules_flow_adapter(options: AdapterOptions | None = None, arg: str = "") -> VulnsightAdapter:
    """The rule pack and the data-flow detector together (`--detectors rules,flow`)."""
    return VulnsightAdapter("rules+flow", options)
