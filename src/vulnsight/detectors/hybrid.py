"""Merging rule hits and model verdicts per location.

The model may add findings and raise or lower a rule hit's confidence, but a rule hit
is never removed, and its confidence never drops by more than `MAX_DEMOTION`: the
model's disagreement is stated in the message instead, so nothing is silently lost.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace

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


def merge(
    rule_findings: Sequence[Finding],
    model_findings: Sequence[Finding],
    scores: Mapping[str, float],
    functions: Iterable[Function],
    threshold: float = 0.5,
    by_language: Mapping[str, float] | None = None,
) -> list[Finding]:
    """One list of findings with `detectors` saying who agrees on each location.

    The model agrees with a rule hit when its score for the enclosing function reaches
    the threshold of that function's language (`by_language`, else `threshold`)."""
    index = FunctionIndex(functions)
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
        merged.append(
            replace(
                rf,
                function=function,
                confidence=_adjust(rf.confidence, p),
                detectors=("rules", "llm") if agrees else ("rules",),
                model=next((model_findings[i].model for i in same), rf.model),
                message=f"{rf.message} [model {verdict}: p={p:.2f}]",
            )
        )
    merged.extend(mf for i, mf in enumerate(model_findings) if i not in used_model)
    return merged
