"""A learned combiner: one small calibrated model per language over rule hits, data-flow
facts and the model's score, in place of a fixed merge.

The product rule holds by construction: a rule (or data-flow) hit stays a finding. The
combiner decides only whether the model may *add* a finding where nothing fired, and
it gives every finding its calibrated confidence, which for a rule hit may be lower
than the rule's own, never below the user's floor. The threshold at which the model
adds findings is chosen on training data under a cap on how many clean records it may
add (``clean_flag_cap``); where no threshold both respects the cap and raises Youden's
J over the hits alone, the model adds nothing in that language (threshold = inf).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from vulnsight.llm.head import fit_head
from vulnsight.types import Finding

#: Rule families by CWE (a rule's CWE says what kind of weakness it matched).
FAMILIES: dict[str, frozenset[str]] = {
    "injection": frozenset(
        f"CWE-{n}" for n in (22, 23, 77, 78, 79, 89, 94, 95, 134, 502, 601, 611, 918, 943, 1333)
    ),
    "memory": frozenset(
        f"CWE-{n}"
        for n in (119, 120, 121, 122, 125, 131, 170, 190, 191, 369, 401, 415, 416, 457, 476)
    )
    | frozenset(f"CWE-{n}" for n in (676, 680, 787)),
    "crypto": frozenset(f"CWE-{n}" for n in (259, 295, 321, 326, 327, 328, 330, 338, 798)),
}
#: The combiner's feature names, in row order.
FEATURES: tuple[str, ...] = (
    "rule_hit",
    "rule_count",
    "family_injection",
    "family_memory",
    "family_crypto",
    "family_other",
    "flow_hit",
    "model_logit",
)


def family_of(cwe: str | None) -> str:
    """The rule family of a CWE id: injection, memory, crypto or other."""
    for name, members in FAMILIES.items():
        if cwe in members:
            return name
    return "other"


@dataclass(frozen=True)
class CombinerInput:
    """What is known about one function (or record) before the combiner decides."""

    rule_cwes: tuple[str, ...] = ()
    rule_count: int = 0
    flow_hit: bool = False
    #: the model's P(vulnerable); None when no model ran
    model_p: float | None = None

    @property
    def hit(self) -> bool:
        """A rule or data-flow hit: a finding whatever the combiner says."""
        return self.rule_count > 0 or self.flow_hit


def feature_row(inp: CombinerInput) -> list[float]:
    """The feature vector of `FEATURES` for one input."""
    fams = {family_of(c) for c in inp.rule_cwes}
    p = 0.5 if inp.model_p is None else min(max(inp.model_p, 1e-6), 1 - 1e-6)
    return [
        float(inp.rule_count > 0),
        math.log1p(inp.rule_count),
        float("injection" in fams),
        float("memory" in fams),
        float("crypto" in fams),
        float(inp.rule_count > 0 and (not fams or "other" in fams)),
        float(inp.flow_hit),
        math.log(p / (1 - p)),
    ]


@dataclass(frozen=True)
class Decision:
    """The combiner's verdict: flagged, calibrated confidence, and why."""

    flagged: bool
    confidence: float
    reason: str


@dataclass(frozen=True)
class LanguageCombiner:
    """A fitted combiner for one language."""

    language: str
    #: logistic regression over `FEATURES` (None: not fitted, hits decide alone)
    model: Any
    #: P at or above which the model adds a finding where nothing fired (inf: never)
    threshold: float
    note: str = ""

    @property
    def model_adds(self) -> bool:
        """Whether the model may add findings in this language."""
        return math.isfinite(self.threshold)

    def probability(self, inp: CombinerInput) -> float:
        """The calibrated P(vulnerable) for one input (hits alone when not fitted)."""
        if self.model is None:
            return 1.0 if inp.hit else 0.0
        return float(self.model.predict(np.asarray(feature_row(inp))))

    def decide(self, inp: CombinerInput) -> Decision:
        """A hit is always flagged (the combiner sets only its confidence); otherwise
        the model's finding is added when the calibrated P reaches the threshold."""
        p = self.probability(inp)
        if inp.hit:
            return Decision(True, p, "rule or data-flow hit")
        if p >= self.threshold:
            return Decision(True, p, "combiner: model adds")
        return Decision(False, p, "below threshold" if self.model_adds else "model off")


def added_clean_rate(
    scores: Sequence[float], labels: Sequence[int], hits: Sequence[bool], threshold: float
) -> float:
    """Share of clean records flagged by the model alone (no hit) at `threshold`."""
    clean = [i for i, y in enumerate(labels) if y == 0]
    if not clean:
        return 0.0
    added = sum(1 for i in clean if not hits[i] and scores[i] >= threshold)
    return added / len(clean)


def _youden(labels: Sequence[int], flagged: Sequence[bool]) -> float:
    pos = sum(1 for y in labels if y == 1)
    neg = len(labels) - pos
    if pos == 0 or neg == 0:
        return 0.0
    tp = sum(1 for y, f in zip(labels, flagged, strict=True) if y == 1 and f)
    fp = sum(1 for y, f in zip(labels, flagged, strict=True) if y == 0 and f)
    return tp / pos - fp / neg


def capped_threshold(
    scores: Sequence[float], labels: Sequence[int], hits: Sequence[bool], cap: float
) -> float:
    """The threshold with the best J of (hit or score >= t) among those that add at
    most `cap` of the clean records; inf when none beats the hits alone."""
    best_t, best_j = math.inf, _youden(labels, hits)
    for t in sorted({s for s, h in zip(scores, hits, strict=True) if not h}, reverse=True):
        if added_clean_rate(scores, labels, hits, t) > cap:
            break  # lower thresholds only add more clean records
        flagged = [h or s >= t for s, h in zip(scores, hits, strict=True)]
        j = _youden(labels, flagged)
        if j > best_j + 1e-9:
            best_t, best_j = t, j
    return best_t


def fit_combiner(
    language: str,
    inputs: Sequence[CombinerInput],
    labels: Sequence[int],
    clean_flag_cap: float = 0.02,
    l2: float = 1.0,
) -> LanguageCombiner:
    """Fit one language's combiner; both labels are needed, else hits decide alone."""
    if len(set(labels)) < 2:
        return LanguageCombiner(language, None, math.inf, "training data lacks a label")
    x = np.asarray([feature_row(i) for i in inputs], dtype=np.float64)
    model = fit_head(x, np.asarray(labels), np.arange(len(FEATURES)), l2=l2)
    scores = [float(s) for s in model.predict(x)]
    threshold = capped_threshold(scores, labels, [i.hit for i in inputs], clean_flag_cap)
    note = "" if math.isfinite(threshold) else "no threshold adds to the hits under the cap"
    return LanguageCombiner(language, model, threshold, note)


def rescore(
    findings: Sequence[Finding], decision: Decision, min_confidence: float = 0.0
) -> list[Finding]:
    """The findings of one function after the combiner: the same findings (none is
    dropped), each at the combiner's confidence, but a finding the user asked to see
    (at or above `min_confidence`) is never pushed below that floor."""
    out = []
    for f in findings:
        conf = round(decision.confidence, 4)
        if f.confidence >= min_confidence > conf:
            conf = min_confidence
        out.append(replace(f, confidence=conf))
    return out
