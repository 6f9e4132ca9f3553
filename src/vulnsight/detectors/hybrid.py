"""Merging rule hits and model verdicts per location.

The model may add findings and raise or lower a rule hit's confidence, but a rule hit
is never removed, and its confidence never drops by more than `MAX_DEMOTION`: the
model's disagreement is stated in the message instead, so nothing is silently lost.

Nor does the model push a rule hit out of sight: the scanned code chooses the words the
model reads (identifiers, strings), so a rule hit the user asked to see (confidence at
or above `--min-confidence`) is never lowered below that floor. It is held there, its
message says the model would have lowered it, and `MergeStats.held_at_floor` counts it.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from vulnsight.types import Finding, Function

#: The most a model verdict may lower a rule hit's confidence.
MAX_DEMOTION = 0.15
#: The most a model verdict may raise it.
MAX_PROMOTION = 0.25
#: Lines apart at which a model finding and a rule hit are the same location.
NEAR = 3


class FunctionIndex:
    """Which function encloses a file line (innermost wins)."""

    def __init__(self, functions: Iterable[Function]) -> None:
        self._by_file: dict[str, list[Function]] = defaultdict(list)
        for fn in functions:
            self._by_file[fn.file].append(fn)
        for fns in self._by_file.values():
            fns.sort(key=lambda f: (f.start_line, -f.end_line))
        self._starts = {k: [f.start_line for f in v] for k, v in self._by_file.items()}

    def enclosing(self, file: str, line: int) -> Function | None:
        """The innermost non-toplevel function holding `line`, else the toplevel unit."""
        fns = self._by_file.get(file, [])
        hi = bisect.bisect_right(self._starts.get(file, []), line)
        best: Function | None = None
        toplevel: Function | None = None
        for fn in fns[:hi]:
            if fn.start_line <= line <= fn.end_line:
                if fn.kind == "toplevel":
                    toplevel = fn
                elif best is None or fn.end_line - fn.start_line <= best.end_line - best.start_line:
                    best = fn
        return best or toplevel


def _adjust(rule_conf: float, p: float) -> float:
    """A rule hit's confidence after the model's P(vulnerable) = p."""
    shift = (p - 0.5) * 0.5
    shift = max(-MAX_DEMOTION, min(MAX_PROMOTION, shift))
    return round(max(0.0, min(1.0, rule_conf + shift)), 4)


@dataclass(frozen=True)
class MergeStats:
    """What the model did to rule hits in one merge."""

    #: rule hits whose confidence the model lowered
    demoted: int = 0
    #: rule hits the model would have lowered below the min-confidence floor; held there
    held_at_floor: int = 0

    def as_stats(self) -> dict[str, float | int | str]:
        """The counts as report stats (`model_demoted`, `model_held_at_min_confidence`)."""
        return {"model_demoted": self.demoted, "model_held_at_min_confidence": self.held_at_floor}


def merge(
    rule_findings: Sequence[Finding],
    model_findings: Sequence[Finding],
    scores: Mapping[str, float],
    functions: Iterable[Function],
    threshold: float = 0.5,
    by_language: Mapping[str, float] | None = None,
    min_confidence: float = 0.0,
) -> list[Finding]:
    """One list of findings with `detectors` saying who agrees on each location
    (`merge_with_stats` without the stats)."""
    merged, _ = merge_with_stats(
        rule_findings, model_findings, scores, functions, threshold, by_language, min_confidence
    )
    return merged


def merge_with_stats(
    rule_findings: Sequence[Finding],
    model_findings: Sequence[Finding],
    scores: Mapping[str, float],
    functions: Iterable[Function],
    threshold: float = 0.5,
    by_language: Mapping[str, float] | None = None,
    min_confidence: float = 0.0,
) -> tuple[list[Finding], MergeStats]:
    """One list of findings with `detectors` saying who agrees on each location, and
    counts of what the model did to rule hits.

    The model agrees with a rule hit when its score for the enclosing function reaches
    the threshold of that function's language (`by_language`, else `threshold`). A rule
    hit at or above `min_confidence` is never lowered below it by the model."""
    index = FunctionIndex(functions)
    demoted = held = 0
    merged: list[Finding] = []
    used_model: set[int] = set()
    for rf in rule_findings:
        fn = index.enclosing(rf.file, rf.line_number)
        function = fn.name if fn else rf.function
        p = scores.get(fn.qualified_id) if fn else None
        same = [
            i
            for i, mf in enumerate(model_findings)
            if mf.file == rf.file
            and (mf.function == function or abs(mf.line_number - rf.line_number) <= NEAR)
        ]
        used_model.update(same)
        if p is None:
            merged.append(replace(rf, function=function, detectors=("rules",)))
            continue
        agrees = fn is not None and p >= (by_language or {}).get(fn.language, threshold)
        verdict = "agrees" if agrees else "does not flag this function"
        note = f"model {verdict}: p={p:.2f}"
        confidence = _adjust(rf.confidence, p)
        if confidence < rf.confidence:
            demoted += 1
            if rf.confidence >= min_confidence > confidence:
                held += 1
                note += (
                    f"; it would lower confidence to {confidence:.2f}, "
                    f"held at --min-confidence {min_confidence:.2f}"
                )
                confidence = min_confidence
        merged.append(
            replace(
                rf,
                function=function,
                confidence=confidence,
                detectors=("rules", "llm") if agrees else ("rules",),
                model=next((model_findings[i].model for i in same), rf.model),
                message=f"{rf.message} [{note}]",
            )
        )
    merged.extend(mf for i, mf in enumerate(model_findings) if i not in used_model)
    return merged, MergeStats(demoted=demoted, held_at_floor=held)
