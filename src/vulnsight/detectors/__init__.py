"""Detectors, built by name from a `ScanConfig`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from vulnsight.config import ScanConfig
from vulnsight.detectors.interface import Detector
from vulnsight.llm.interface import Backend

if TYPE_CHECKING:
    from vulnsight.review.interface import VerdictStore

#: P(vulnerable) at which the untuned embedded model flags a function on its own.
#: Chosen on development data so that the model alone adds few false positives
#: (see benchmarks/RESULTS.md); a trained model directory carries its own.
DEFAULT_LLM_THRESHOLD = 0.5


def build_detectors(
    config: ScanConfig, backend: Backend | None = None, cache: VerdictStore | None = None
) -> list[Detector]:
    """The detectors a config asks for, rules first (they are cheap and never dropped).

    `cache` keeps model verdicts between scans (the review workflow's incremental cache).
    """
    detectors: list[Detector] = []
    if "rules" in config.detectors:
        from vulnsight.detectors.rules import RulesDetector

        detectors.append(RulesDetector(jobs=config.jobs))
    if "flow" in config.detectors:
        from vulnsight.detectors.flow import FlowDetector

        detectors.append(FlowDetector())
    if "llm" in config.detectors:
        from vulnsight.detectors.llm import LLMDetector, LLMOptions
        from vulnsight.llm.models import load

        model = backend if backend is not None else load(config.model)
        same_model = backend is None or getattr(backend, "spec", object()) == config.model
        threshold, by_language = effective_thresholds(config.llm_threshold, model)
        options = LLMOptions(
            threshold=threshold,
            budget_tokens=config.budget_tokens,
            by_language=by_language,
            gate=config.gate,
            # workers load the model themselves: only when it is the config's own spec
            workers=model_workers(config.jobs, config.model) if same_model else 1,
            model_spec=config.model,
            facts=config.prompt_facts,
            callers=config.callers,
            window_over=config.window_over,
        )
        detectors.append(LLMDetector(model, options, cache=cache))
    return detectors


def model_workers(jobs: int, spec: str | None, cores: int | None = None) -> int:
    """Model worker processes for `--jobs`: at most one per core, and only for a model
    spec every worker can load on its own (embedded, GGUF, model directory, fake)."""
    import os

    from vulnsight.llm.models import resolve

    if jobs <= 1 or resolve(spec).backend not in ("llamacpp", "hub", "fake"):
        return 1
    return max(1, min(jobs, cores or os.cpu_count() or 1))


def effective_thresholds(
    given: float | None, model: object | None = None
) -> tuple[float, dict[str, float]]:
    """The flagging threshold and per-language ones: the user's `given` threshold for every
    language, else those the model was calibrated for, else `DEFAULT_LLM_THRESHOLD`."""
    if given is not None:
        return given, {}
    default = getattr(model, "default_threshold", None)
    by_language = dict(getattr(model, "language_thresholds", None) or {})
    return (default if default is not None else DEFAULT_LLM_THRESHOLD), by_language
