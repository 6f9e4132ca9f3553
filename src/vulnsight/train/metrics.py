"""Development-split metrics computed during training (pure functions)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from vulnsight.train.data import Example


@dataclass(frozen=True)
class Confusion:
    """Counts at one threshold and the rates derived from them."""

    tp: int
    fp: int
    tn: int
    fn: int

    @property
    def precision(self) -> float:
        """TP / (TP + FP); 0 when nothing is flagged."""
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        """TP / (TP + FN)."""
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def fpr(self) -> float:
        """FP / (FP + TN)."""
        return self.fp / (self.fp + self.tn) if self.fp + self.tn else 0.0

    @property
    def f1(self) -> float:
        """Harmonic mean of precision and recall."""
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def youden_j(self) -> float:
        """TPR - FPR, the OWASP Benchmark score."""
        return self.recall - self.fpr


def confusion(labels: Sequence[int], scores: Sequence[float], threshold: float) -> Confusion:
    """Confusion counts of `scores >= threshold` against `labels`."""
    tp = fp = tn = fn = 0
    for y, s in zip(labels, scores, strict=True):
        flagged = s >= threshold
        if y and flagged:
            tp += 1
        elif y:
            fn += 1
        elif flagged:
            fp += 1
        else:
            tn += 1
    return Confusion(tp, fp, tn, fn)


def roc_auc(labels: Sequence[int], scores: Sequence[float]) -> float:
    """Probability that a random vulnerable example outscores a random clean one."""
    pos = sorted(s for y, s in zip(labels, scores, strict=True) if y)
    neg = sorted(s for y, s in zip(labels, scores, strict=True) if not y)
    if not pos or not neg:
        return 0.5
    wins = 0.0
    for p in pos:
        wins += sum(1.0 if p > n else 0.5 if p == n else 0.0 for n in neg)
    return wins / (len(pos) * len(neg))


def best_threshold(labels: Sequence[int], scores: Sequence[float]) -> float:
    """The threshold (among observed scores) with the highest Youden's J."""
    candidates = sorted(set(scores)) or [0.5]
    return max(candidates, key=lambda t: (confusion(labels, scores, t).youden_j, t))


@dataclass(frozen=True)
class DevMetrics:
    """Development-split quality at 0.5 and at the J-optimal threshold."""

    n: int
    auc: float
    at_half: Confusion
    threshold: float
    at_best: Confusion
    per_language: dict[str, float] = field(default_factory=dict)  # Youden's J at `threshold`

    @property
    def youden_j(self) -> float:
        """J at the calibrated threshold: what model selection maximises."""
        return self.at_best.youden_j

    def to_dict(self) -> dict[str, Any]:
        """Plain data for logs and model cards."""

        def conf(c: Confusion) -> dict[str, Any]:
            return {
                **asdict(c),
                "precision": round(c.precision, 4),
                "recall": round(c.recall, 4),
                "f1": round(c.f1, 4),
                "fpr": round(c.fpr, 4),
                "youden_j": round(c.youden_j, 4),
            }

        return {
            "n": self.n,
            "auc": round(self.auc, 4),
            "at_0.5": conf(self.at_half),
            "threshold": round(self.threshold, 4),
            "at_threshold": conf(self.at_best),
            "youden_j_per_language": {k: round(v, 4) for k, v in self.per_language.items()},
        }


def dev_metrics(examples: Sequence[Example], scores: Sequence[float]) -> DevMetrics:
    """All development metrics from per-example P(vulnerable)."""
    labels = [e.label for e in examples]
    threshold = best_threshold(labels, scores)
    per_language: dict[str, float] = {}
    for lang in sorted({e.language for e in examples}):
        idx = [i for i, e in enumerate(examples) if e.language == lang]
        per_language[lang] = confusion(
            [labels[i] for i in idx], [scores[i] for i in idx], threshold
        ).youden_j
    return DevMetrics(
        n=len(examples),
        auc=roc_auc(labels, scores),
        at_half=confusion(labels, scores, 0.5),
        threshold=threshold,
        at_best=confusion(labels, scores, threshold),
        per_language=per_language,
    )
