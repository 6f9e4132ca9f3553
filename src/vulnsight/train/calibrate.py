"""Per-language flagging thresholds for a trained model (pure functions).

A model's scores are not equally calibrated across languages, and what users can bear
is a flag rate on *their ordinary code*, not a rate on a benchmark's fixed twins. So a
threshold is chosen per language: the one with the best Youden's J on labelled data
among those that flag at most `max_flag_rate` of the presumed-clean functions of that
language. A language where no such threshold has positive J gets none: the model then
reports nothing there on its own (its score still weighs rule hits in the hybrid
merge). A language with too few vulnerable examples to judge takes the pooled
threshold, raised until its clean flag rate fits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from vulnsight.train.metrics import confusion

#: fewest vulnerable examples of a language to choose its own threshold
MIN_POSITIVES = 5


@dataclass(frozen=True)
class Scored:
    """One scored function: its language, label (0 for presumed-clean code) and score."""

    language: str
    label: int
    score: float


@dataclass(frozen=True)
class LanguageThreshold:
    """The threshold chosen for one language and what it does on the tuning data."""

    language: str
    threshold: float | None  # None: the model reports nothing in this language
    how: str
    positives: int
    negatives: int
    clean: int
    recall: float
    fpr: float
    clean_flag_rate: float
    youden_j: float

    def to_json(self) -> dict[str, Any]:
        """Rounded, for the manifest."""
        row = asdict(self)
        for key in ("recall", "fpr", "clean_flag_rate", "youden_j"):
            row[key] = round(row[key], 4)
        if self.threshold is not None:
            row["threshold"] = round(self.threshold, 4)
        return row


def _rate(scores: Sequence[float], threshold: float) -> float:
    return sum(s >= threshold for s in scores) / len(scores) if scores else 0.0


def _smallest_fitting(clean: Sequence[float], max_flag_rate: float) -> float:
    """The lowest threshold (an observed score, or just above the highest) that flags at
    most `max_flag_rate` of `clean`."""
    for t in sorted(set(clean)):
        if _rate(clean, t) <= max_flag_rate:
            return t
    return max(clean, default=0.0) + 1e-6


def _best(
    labelled: Sequence[Scored], clean: Sequence[float], max_flag_rate: float
) -> tuple[float, float] | None:
    """(J, threshold) maximising J on `labelled` subject to the clean flag rate; ties go
    to the higher threshold. None when no candidate fits."""
    labels = [s.label for s in labelled]
    scores = [s.score for s in labelled]
    floor = _smallest_fitting(clean, max_flag_rate) if clean else 0.0
    candidates = sorted({s for s in scores if s >= floor} | ({floor} if clean else set()))
    best: tuple[float, float] | None = None
    for t in candidates:
        j = confusion(labels, scores, t).youden_j
        if best is None or j >= best[0]:
            best = (j, t)
    return best


def choose_thresholds(
    labelled: Sequence[Scored],
    clean: Sequence[Scored],
    max_flag_rate: float,
    min_positives: int = MIN_POSITIVES,
) -> tuple[float, list[LanguageThreshold]]:
    """The pooled threshold and one `LanguageThreshold` per language seen.

    `labelled` are scored functions with known labels; `clean` are presumed-clean
    functions (their flag rate is what `max_flag_rate` bounds). A language without clean
    functions is bounded by its labelled negatives instead.
    """
    if not 0.0 <= max_flag_rate <= 1.0:
        raise ValueError("max_flag_rate must be between 0 and 1")
    pooled_clean = [s.score for s in clean] or [s.score for s in labelled if not s.label]
    pooled = _best(labelled, pooled_clean, max_flag_rate)
    pooled_t = pooled[1] if pooled is not None else 0.5
    out: list[LanguageThreshold] = []
    for lang in sorted({s.language for s in labelled} | {s.language for s in clean}):
        mine = [s for s in labelled if s.language == lang]
        cl = [s.score for s in clean if s.language == lang]
        bound = cl or [s.score for s in mine if not s.label]
        positives = sum(s.label for s in mine)
        threshold: float | None
        if positives >= min_positives:
            best = _best(mine, bound, max_flag_rate)
            if best is None or best[0] <= 0.0:
                threshold, how = None, "off: no threshold within the flag rate has J > 0"
            else:
                threshold, how = best[1], "best J within the clean flag rate"
        else:
            threshold = max(pooled_t, _smallest_fitting(bound, max_flag_rate) if bound else 0.0)
            how = f"pooled (fewer than {min_positives} vulnerable examples)"
        at = threshold if threshold is not None else float("inf")
        c = confusion([s.label for s in mine], [s.score for s in mine], at)
        out.append(
            LanguageThreshold(
                language=lang,
                threshold=threshold,
                how=how,
                positives=positives,
                negatives=len(mine) - positives,
                clean=len(cl),
                recall=c.recall,
                fpr=c.fpr,
                clean_flag_rate=_rate(cl, at),
                youden_j=c.youden_j,
            )
        )
    return pooled_t, out
