"""Per-language flagging thresholds for a trained model (pure functions).

A model's scores are not equally calibrated across languages, and what users can bear
is a flag rate on *their ordinary code*, not a rate on a benchmark's fixed twins. So a
threshold is chosen per language: the one with the best Youden's J on labelled data
among those that flag at most `max_flag_rate` of the presumed-clean functions of that
language. A language where no such threshold has positive J gets none: the model is
then off there (not asked; rule hits stand on their own). A language with too few
vulnerable examples to judge takes the pooled threshold, raised until its clean flag
rate fits.

When the rules' verdicts on the labelled data are known (`Scored.rule_hit`), the model
is what the scan adds *to* the rules, so a language keeps its threshold only if rules
plus model beat the rules alone there in both Youden's J and F1; a language with too
few vulnerable examples to show that borrows its family's threshold (TypeScript from
JavaScript) or is turned off.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from vulnsight.train.metrics import confusion

#: fewest vulnerable examples of a language to choose its own threshold
MIN_POSITIVES = 5
#: a language with too few examples of its own borrows its family's threshold
FAMILY = {"typescript": "javascript"}


@dataclass(frozen=True)
class Scored:
    """One scored function: its language, label (0 for presumed-clean code) and score."""

    language: str
    label: int
    score: float
    rule_hit: bool | None = None  # whether the rules flag it (None: not known)


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


def _hybrid_gain(mine: Sequence[Scored], threshold: float) -> tuple[float, float]:
    """(J, F1) of rules plus model at `threshold` minus those of the rules alone."""
    labels = [s.label for s in mine]
    rules = confusion(labels, [float(bool(s.rule_hit)) for s in mine], 0.5)
    both = [1.0 if s.rule_hit or s.score >= threshold else 0.0 for s in mine]
    hybrid = confusion(labels, both, 0.5)
    return hybrid.youden_j - rules.youden_j, hybrid.f1 - rules.f1


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
    gated = any(s.rule_hit is not None for s in labelled)
    languages = sorted({s.language for s in labelled} | {s.language for s in clean})
    # families' own languages first, so a borrower sees its family's final decision
    languages.sort(key=lambda lang: lang in FAMILY)
    chosen: dict[str, float | None] = {}
    out: list[LanguageThreshold] = []
    for lang in languages:
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
            if gated and threshold is not None:
                dj, df1 = _hybrid_gain(mine, threshold)
                if dj <= 0.0 or df1 < 0.0:
                    threshold = None
                    how = f"off: rules + model do not beat the rules (J {dj:+.2f}, F1 {df1:+.2f})"
        elif gated:
            family = chosen.get(FAMILY.get(lang, ""))
            if family is None:
                threshold, how = None, f"off: fewer than {min_positives} vulnerable examples"
            else:
                floor = _smallest_fitting(bound, max_flag_rate) if bound else 0.0
                threshold, how = max(family, floor), f"from {FAMILY[lang]} (few examples)"
        else:
            threshold = max(pooled_t, _smallest_fitting(bound, max_flag_rate) if bound else 0.0)
            how = f"pooled (fewer than {min_positives} vulnerable examples)"
        chosen[lang] = threshold
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
