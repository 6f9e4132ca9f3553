"""Typed scan settings: flags, the user configuration and the scanned repository's
configuration (within limits, `review/trust.py`) are validated into this one type."""

from __future__ import annotations

from dataclasses import dataclass

from vulnsight.discover import DEFAULT_EXCLUDES
from vulnsight.errors import ConfigError

#: The default detectors, and every detector a config may name. `flow` (data flow) is
#: on by default: it flagged 8 of 11,833 held-out mature functions (benchmarks/RESULTS.md).
DETECTORS: tuple[str, ...] = ("rules", "llm", "flow")
KNOWN_DETECTORS: tuple[str, ...] = DETECTORS


def parse_detectors(value: str) -> tuple[str, ...]:
    """A comma-separated detector list (`rules,llm`; `hybrid` means every detector),
    deduplicated in order. Unknown names raise ConfigError."""
    names = tuple(dict.fromkeys(v.strip() for v in value.split(",") if v.strip()))
    if "hybrid" in names:
        names = tuple(n for n in names if n != "hybrid") + tuple(
            d for d in DETECTORS if d not in names
        )
    unknown = [n for n in names if n not in DETECTORS]
    if unknown:
        raise ConfigError(
            f"unknown detector(s) {', '.join(unknown)}; choose from {', '.join(DETECTORS)}"
        )
    return names


@dataclass(frozen=True)
class ScanConfig:
    """Everything a scan needs to know besides its paths."""

    detectors: tuple[str, ...] = DETECTORS
    model: str | None = None
    min_confidence: float = 0.0
    llm_threshold: float | None = None  # None: the model's calibrated default
    budget_tokens: int = 8192
    max_file_bytes: int = 1_000_000
    jobs: int = 1
    #: which functions the model judges: "safe", "lean", "sinks" or "off" (detectors/gate.py)
    gate: str = "safe"
    #: which functions the model sees with their callers: "all", "facts", "none", "alone"
    #: (context.callers_for; benchmarks/RESULTS.md "Fewer tokens per tree")
    callers: str = "all"
    #: tokens over which a function is shown as windows around its risky lines (0: never)
    window_over: int = 0
    #: show each function's data-flow facts in its model prompt (off: the shipped model
    #: was trained without them; benchmarks/RESULTS.md)
    prompt_facts: bool = False
    excludes: tuple[str, ...] = DEFAULT_EXCLUDES
    # Path globs relative to the scan root (configuration files set them): a file is
    # scanned when it matches an `include` (or none is given) and no `exclude`.
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    # The model was chosen by the scanned repository's configuration (and allowed by the
    # user): an endpoint then never receives the user's API key.
    untrusted_model: bool = False

    def __post_init__(self) -> None:
        unknown = [d for d in self.detectors if d not in KNOWN_DETECTORS]
        if unknown:
            raise ConfigError(
                f"unknown detector(s) {', '.join(unknown)}; "
                f"choose from {', '.join(KNOWN_DETECTORS)}"
            )
        if not self.detectors:
            raise ConfigError("at least one detector is needed")
        if self.gate not in ("safe", "lean", "sinks", "off"):
            raise ConfigError(f"unknown gate {self.gate!r}; choose from safe, lean, sinks, off")
        if self.callers not in ("all", "facts", "none", "alone"):
            raise ConfigError(
                f"unknown callers {self.callers!r}; choose from all, facts, none, alone"
            )
        if self.window_over < 0:
            raise ConfigError("window-over must be 0 (off) or a number of tokens")
        if not 0.0 <= self.min_confidence <= 1.0:
            raise ConfigError("min-confidence must be between 0 and 1")
        if self.llm_threshold is not None and not 0.0 <= self.llm_threshold <= 1.0:
            raise ConfigError("llm-threshold must be between 0 and 1")
        if self.budget_tokens < 256:
            raise ConfigError("the token budget must be at least 256")
        if self.max_file_bytes < 1:
            raise ConfigError("max-file-size must be positive")
        if self.jobs < 1:
            raise ConfigError("jobs must be at least 1")
