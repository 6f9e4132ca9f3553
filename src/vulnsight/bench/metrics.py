"""Metrics over per-sample predictions: pure functions, no I/O.

Conventions (tested against hand-computed values in tests/unit/bench/test_metrics.py):

* A ratio whose denominator is 0 is 0.0 (precision with no positive prediction,
  recall with no positive label, MCC when a margin is empty), as scikit-learn's
  ``zero_division=0``; the counts are always reported beside it.
* Percentiles use the nearest-rank method: p-th percentile = the ceil(p/100 * n)-th
  smallest value.
* CWE ids are normalised to ``CWE-<n>`` without leading zeros. A CWE prediction is
  *exact* when it equals the label, *family* when both fall into one of the groups of
  ``CWE_FAMILIES`` (near-equivalent weaknesses that datasets label inconsistently, e.g.
  Juliet's CWE-121 stack overflow vs a tool's CWE-120 or CWE-787). Only the prediction's
  primary CWE (its highest-confidence finding) counts.
"""

from __future__ import annotations

import bisect
import math
import random
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

#: Near-equivalent CWEs. Each group is a set of ids a reviewer would accept for one
#: another; an id appears in at most one group.
CWE_FAMILIES: dict[str, frozenset[int]] = {
    "memory-bounds": frozenset(
        {119, 120, 121, 122, 123, 124, 125, 126, 127, 129, 131, 170, 193, 786, 787, 788, 805, 806}
    ),
    "path-traversal": frozenset({22, 23, 24, 35, 36, 73, 99}),
    "os-command": frozenset({77, 78, 88}),
    "code-injection": frozenset({94, 95, 96}),
    "sql-injection": frozenset({89, 564, 943}),
    "xss": frozenset({79, 80, 83, 116}),
    "integer": frozenset({190, 191, 192, 681, 682}),
    "weak-crypto": frozenset({326, 327, 328, 916, 759, 760}),
    "weak-random": frozenset({330, 331, 338}),
    "credentials": frozenset({259, 321, 798}),
    "free": frozenset({415, 416, 761, 763}),
    "null-deref": frozenset({476, 690}),
    "input-validation": frozenset({20, 1284}),
    "reentrancy": frozenset({841, 1265}),
}
_FAMILY_OF: dict[int, str] = {n: name for name, ids in CWE_FAMILIES.items() for n in ids}
_CWE = re.compile(r"(?:CWE)?[-_ ]?0*(\d+)", re.IGNORECASE)

#: How far (in lines) a reported line may be from a labelled one and still hit it.
LINE_TOLERANCE = 2


def normalise_cwe(value: str | None) -> str | None:
    """``"cwe-089"``, ``"CWE-89: SQL"``, ``"89"`` -> ``"CWE-89"``; None when no id."""
    if not value:
        return None
    m = _CWE.search(value.strip())
    return f"CWE-{int(m.group(1))}" if m else None


def cwe_family(value: str | None) -> str | None:
    """The family name of a CWE, or the normalised id itself when it has none."""
    cwe = normalise_cwe(value)
    if cwe is None:
        return None
    return _FAMILY_OF.get(int(cwe[4:]), cwe)


@dataclass(frozen=True)
class Confusion:
    """Confusion counts of binary verdicts."""

    tp: int = 0
    fp: int = 0
    tn: int = 0
    fn: int = 0

    @property
    def n(self) -> int:
        """Number of samples."""
        return self.tp + self.fp + self.tn + self.fn


def confusion(labels: Sequence[int], predicted: Sequence[bool]) -> Confusion:
    """Count TP/FP/TN/FN; `labels` are 0/1."""
    tp = fp = tn = fn = 0
    for y, p in zip(labels, predicted, strict=True):
        if p and y:
            tp += 1
        elif p:
            fp += 1
        elif y:
            fn += 1
        else:
            tn += 1
    return Confusion(tp, fp, tn, fn)


def _div(a: float, b: float) -> float:
    return a / b if b else 0.0


def precision(c: Confusion) -> float:
    """TP / (TP + FP)."""
    return _div(c.tp, c.tp + c.fp)


def recall(c: Confusion) -> float:
    """TP / (TP + FN), the true-positive rate."""
    return _div(c.tp, c.tp + c.fn)


def f1(c: Confusion) -> float:
    """2TP / (2TP + FP + FN)."""
    return _div(2 * c.tp, 2 * c.tp + c.fp + c.fn)


def fpr(c: Confusion) -> float:
    """FP / (FP + TN)."""
    return _div(c.fp, c.fp + c.tn)


def youden_j(c: Confusion) -> float:
    """TPR - FPR: 0 for any verdict independent of the label, 1 for a perfect one."""
    return recall(c) - fpr(c)


def mcc(c: Confusion) -> float:
    """Matthews correlation coefficient; 0.0 when any margin is empty."""
    den = math.sqrt((c.tp + c.fp) * (c.tp + c.fn) * (c.tn + c.fp) * (c.tn + c.fn))
    return _div(c.tp * c.tn - c.fp * c.fn, den)


def accuracy(c: Confusion) -> float:
    """(TP + TN) / n."""
    return _div(c.tp + c.tn, c.n)


def binary_metrics(c: Confusion) -> dict[str, float | int]:
    """Counts and every ratio derived from them."""
    return {
        "n": c.n,
        "tp": c.tp,
        "fp": c.fp,
        "tn": c.tn,
        "fn": c.fn,
        "precision": precision(c),
        "recall": recall(c),
        "f1": f1(c),
        "mcc": mcc(c),
        "fpr": fpr(c),
        "youden_j": youden_j(c),
        "accuracy": accuracy(c),
    }


@dataclass(frozen=True)
class PairOutcome:
    """One vulnerable/fixed pair: was each half judged right?"""

    pair_id: str
    vulnerable_right: bool
    fixed_right: bool


def pair_outcomes(
    items: Iterable[tuple[str | None, int, bool]],
) -> list[PairOutcome]:
    """(pair_id, label, predicted) -> one outcome per complete pair (one half of each label).

    Incomplete pairs (a half missing or not evaluated) are left out.
    """
    halves: dict[str, dict[int, bool]] = {}
    for pair_id, label, predicted in items:
        if pair_id is None:
            continue
        halves.setdefault(pair_id, {})[label] = predicted
    out = []
    for pid in sorted(halves):
        h = halves[pid]
        if 0 in h and 1 in h:
            out.append(PairOutcome(pid, vulnerable_right=h[1], fixed_right=not h[0]))
    return out


def pair_metrics(outcomes: Sequence[PairOutcome]) -> dict[str, float | int]:
    """Pair-correct rate (both halves right) and the other three outcomes' rates.

    ``pair_vuln_both`` is the share of pairs flagged on both halves: the detector sees
    the pattern but not the fix.
    """
    n = len(outcomes)
    both = sum(1 for o in outcomes if o.vulnerable_right and o.fixed_right)
    flags_both = sum(1 for o in outcomes if o.vulnerable_right and not o.fixed_right)
    return {
        "pairs": n,
        "pair_correct": _div(both, n),
        "pair_vuln_both": _div(flags_both, n),
    }


def line_hit(labelled: Sequence[int], reported: Sequence[int], tol: int = LINE_TOLERANCE) -> bool:
    """Whether any reported line lies within `tol` lines of any labelled line."""
    return any(abs(a - b) <= tol for a in labelled for b in reported)


def line_hit_rate(items: Iterable[tuple[Sequence[int], Sequence[int]]]) -> tuple[float, int]:
    """(hit rate, n) over (labelled lines, reported lines) of true positives that carry
    labelled lines. A true positive without any reported line is a miss."""
    cases = [(lab, rep) for lab, rep in items if lab]
    hits = sum(1 for lab, rep in cases if line_hit(lab, rep))
    return _div(hits, len(cases)), len(cases)


def cwe_accuracy(items: Iterable[tuple[str | None, str | None]]) -> dict[str, float | int]:
    """Exact and family CWE accuracy over (labelled CWE, predicted primary CWE) of true
    positives whose label has a CWE. A missing prediction counts as wrong."""
    cases = [(normalise_cwe(lab), normalise_cwe(pred)) for lab, pred in items]
    cases = [(lab, pred) for lab, pred in cases if lab]
    exact = sum(1 for lab, pred in cases if pred == lab)
    family = sum(1 for lab, pred in cases if pred and cwe_family(pred) == cwe_family(lab))
    return {
        "cwe_n": len(cases),
        "cwe_exact": _div(exact, len(cases)),
        "cwe_family": _div(family, len(cases)),
    }


@dataclass(frozen=True)
class ReliabilityBin:
    """One equal-width confidence bin: [lo, hi), the last one closed."""

    lo: float
    hi: float
    count: int
    mean_score: float
    positive_rate: float


def reliability_bins(
    labels: Sequence[int], scores: Sequence[float], bins: int = 10
) -> list[ReliabilityBin]:
    """Equal-width bins over [0, 1]; a score of exactly 1.0 falls into the last bin."""
    counts = [0] * bins
    sums = [0.0] * bins
    pos = [0] * bins
    for y, s in zip(labels, scores, strict=True):
        s = min(1.0, max(0.0, s))
        i = min(bins - 1, int(s * bins))
        counts[i] += 1
        sums[i] += s
        pos[i] += y
    return [
        ReliabilityBin(
            i / bins, (i + 1) / bins, counts[i], _div(sums[i], counts[i]), _div(pos[i], counts[i])
        )
        for i in range(bins)
    ]


def expected_calibration_error(
    labels: Sequence[int], scores: Sequence[float], bins: int = 10
) -> float:
    """ECE = sum over bins of |bin| / n * |positive rate - mean score|."""
    n = len(labels)
    return (
        sum(
            b.count / n * abs(b.positive_rate - b.mean_score)
            for b in reliability_bins(labels, scores, bins)
            if b.count
        )
        if n
        else 0.0
    )


def threshold_sweep(
    labels: Sequence[int], scores: Sequence[float], steps: int = 20
) -> list[dict[str, float]]:
    """Precision, recall, F1 and FPR when flagging ``score >= t`` for t = 0, 1/steps .. 1."""
    out = []
    for k in range(steps + 1):
        t = k / steps
        c = confusion(labels, [s >= t - 1e-12 for s in scores])
        out.append(
            {
                "threshold": round(t, 6),
                "precision": precision(c),
                "recall": recall(c),
                "f1": f1(c),
                "fpr": fpr(c),
            }
        )
    return out


def roc_auc(labels: Sequence[int], scores: Sequence[float]) -> float | None:
    """Probability that a random positive outranks a random negative (ties count half);
    None when one class is absent."""
    pos = [s for y, s in zip(labels, scores, strict=True) if y]
    neg = [s for y, s in zip(labels, scores, strict=True) if not y]
    if not pos or not neg:
        return None
    ranked = sorted(neg)
    total = 0.0
    for s in pos:
        lo = bisect.bisect_left(ranked, s)
        hi = bisect.bisect_right(ranked, s)
        total += lo + 0.5 * (hi - lo)
    return total / (len(pos) * len(neg))


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile; 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def latency_stats(latencies_ms: Sequence[float], wall_s: float | None = None) -> dict[str, float]:
    """Median, p95 and mean latency per sample, and throughput (samples/s over `wall_s`,
    else over the summed latencies)."""
    n = len(latencies_ms)
    total_s = wall_s if wall_s is not None else sum(latencies_ms) / 1000
    return {
        "latency_ms_median": percentile(latencies_ms, 50),
        "latency_ms_p95": percentile(latencies_ms, 95),
        "latency_ms_mean": _div(sum(latencies_ms), n),
        "throughput_per_s": _div(n, total_s),
    }


def bootstrap_ci(
    groups: Sequence[str],
    labels: Sequence[int],
    predicted: Sequence[bool],
    metric: Callable[[Confusion], float] = f1,
    rounds: int = 1000,
    seed: int = 0,
) -> tuple[float, float]:
    """95% interval of a metric by resampling whole groups (projects) with replacement,
    so code from one project never counts as independent evidence."""
    by_group: dict[str, list[tuple[int, bool]]] = {}
    for g, y, p in zip(groups, labels, predicted, strict=True):
        by_group.setdefault(g, []).append((y, p))
    keys = sorted(by_group)
    if not keys:
        return (0.0, 0.0)
    rng = random.Random(seed)
    values = []
    for _ in range(rounds):
        tp = fp = tn = fn = 0
        for _k in keys:
            for y, p in by_group[keys[rng.randrange(len(keys))]]:
                tp += bool(p and y)
                fp += bool(p and not y)
                fn += bool(y and not p)
                tn += bool(not y and not p)
        values.append(metric(Confusion(tp, fp, tn, fn)))
    return percentile(values, 2.5), percentile(values, 97.5)
