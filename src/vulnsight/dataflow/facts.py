"""Per-function data-flow facts for the model and the incremental cache.

The engine's summaries are bottom-up (what a function does with its parameters); the
facts a reviewer (or the model) wants about one function are also top-down: which of
its parameters receive untrusted data from its callers, from which source and by which
path. `derive_facts` computes both from one analysis:

* tainted parameters: a route handler's own parameters, and every parameter a caller
  passes untrusted data to, followed through chains of calls (a worklist over the
  recorded tainted calls, each (function, parameter) reached once, first path kept);
* sinks reached: the function's parameters that reach a sink (here or in a callee, from
  its summary) and the sources inside it that do (its source-to-sink hits);
* the sources it returns.

`FunctionFacts.digest` fingerprints the facts together with the summaries of the
function's callees, without line numbers or file names (a line shift or a rename is no
change): the verdict cache keys on it, so a caller is judged again when a change in a
callee changes what flows into or out of it. Everything here is pure.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from vulnsight.dataflow.taint import MAX_STEPS, SinkHit, Summary, Taint
from vulnsight.types import Function, PathStep

#: Facts of each kind kept per function; more add nothing a reader can use.
MAX_FACTS = 6


@dataclass(frozen=True)
class TaintedParameter:
    """A parameter that receives untrusted data: from which source, by which path (the
    path ends at the call that passes it, or at the handler's own parameter)."""

    name: str
    source: str
    path: tuple[PathStep, ...]
    sanitised: tuple[str, ...] = ()  # CWEs the value was made safe for on the way
    #: the only CWEs the source counts for (empty: all); a local source (argv, the
    #: environment) is the user's own input except for code-execution sinks
    only: tuple[str, ...] = ()


@dataclass(frozen=True)
class ReachedSink:
    """A sink the function's data reaches: `via` is `parameter <name>` or the source's
    label; `path` ends at the sink call (possibly in a callee)."""

    cwe: str
    sink: str
    via: str
    path: tuple[PathStep, ...]


@dataclass(frozen=True)
class FunctionFacts:
    """What data flow knows about one function (see the module doc).

    `digest` is "" when nothing touches the function and its callees' summaries are
    empty, so such a function's cache key is the same as without data flow.
    """

    tainted: tuple[TaintedParameter, ...] = ()
    sinks: tuple[ReachedSink, ...] = ()
    returns: tuple[str, ...] = ()  # labels of the sources the function returns
    digest: str = ""

    @property
    def empty(self) -> bool:
        """Whether no fact touches the function (its callees may still have summaries)."""
        return not (self.tainted or self.sinks or self.returns)


NO_FACTS = FunctionFacts()

#: (caller key) -> the tainted arguments it passes: (callee key, parameter, taint)
CallFacts = Mapping[str, Sequence[tuple[str, int, Taint]]]


def _joined(first: tuple[PathStep, ...], then: tuple[PathStep, ...]) -> tuple[PathStep, ...]:
    path = first + then
    return path if len(path) <= MAX_STEPS else path[:4] + path[-(MAX_STEPS - 4) :]


def _tainted_parameters(
    summaries: Mapping[str, Summary],
    calls: CallFacts,
    entries: Mapping[str, Sequence[tuple[int, Taint]]],
) -> dict[str, dict[int, TaintedParameter]]:
    """Parameters receiving source data, followed through calls (first path kept)."""
    found: dict[str, dict[int, TaintedParameter]] = {}
    onward: dict[tuple[str, int], list[tuple[str, int, Taint]]] = {}
    queue: list[tuple[str, int]] = []

    def add(
        key: str,
        param: int,
        source: str,
        path: tuple[PathStep, ...],
        clean: Iterable[str],
        only: Iterable[str],
    ) -> None:
        params = summaries.get(key, Summary()).params
        if param >= len(params) or param in found.get(key, {}):
            return
        if len(found.get(key, {})) >= MAX_FACTS:
            return
        name = params[param]
        found.setdefault(key, {})[param] = TaintedParameter(
            name, source, path, tuple(sorted(set(clean))), tuple(sorted(set(only)))
        )
        queue.append((key, param))

    for key, seeds in sorted(entries.items()):
        for param, taint in seeds:
            add(key, param, taint.source, taint.path, taint.sanitised, taint.only)
    for caller, records in sorted(calls.items()):
        for callee, param, taint in records:
            if taint.param is None:
                if taint.source:
                    add(callee, param, taint.source, taint.path, taint.sanitised, taint.only)
            else:
                onward.setdefault((caller, taint.param), []).append((callee, param, taint))
    while queue:
        key, param = queue.pop(0)
        origin = found[key][param]
        for callee, into, taint in onward.get((key, param), ()):
            clean = set(origin.sanitised) | taint.sanitised
            path = _joined(origin.path, taint.path)
            add(callee, into, origin.source, path, clean, origin.only)
    return found


def _sinks(summary: Summary, hits: Sequence[SinkHit]) -> tuple[ReachedSink, ...]:
    out: dict[tuple[str, str, str], ReachedSink] = {}
    for hit in summary.sinks:
        if hit.taint.param is None or hit.taint.param >= len(summary.params):
            continue
        via = f"parameter {summary.params[hit.taint.param]}"
        out.setdefault(
            (hit.sink.cwe, hit.sink.id, via),
            ReachedSink(hit.sink.cwe, hit.sink.label, via, (*hit.taint.path, hit.step)),
        )
    for hit in hits:
        via = hit.taint.source or "untrusted data"
        out.setdefault(
            (hit.sink.cwe, hit.sink.id, via),
            ReachedSink(hit.sink.cwe, hit.sink.label, via, (*hit.taint.path, hit.step)),
        )
    return tuple(list(out.values())[:MAX_FACTS])


def summary_signature(summary: Summary) -> list[object]:
    """What a caller's facts can depend on in a callee's summary (no paths, no lines)."""
    sinks = sorted(
        {
            (h.taint.param, h.sink.id, h.sink.cwe, tuple(sorted(h.taint.sanitised)))
            for h in summary.sinks
        },
        key=repr,
    )
    returns = sorted(
        {(t.param, t.source, tuple(sorted(t.sanitised))) for t in summary.returns}, key=repr
    )
    return [list(summary.params), [list(s) for s in sinks], [list(r) for r in returns]]


def _steps(path: Sequence[PathStep]) -> list[list[str]]:
    """A path for the digest: no lines (a shift is no change), no file names (nor is a
    rename; the cache key of a function's text does not hold its file either)."""
    return [[s.function, s.description] for s in path]


def _digest(facts: FunctionFacts, callees: Sequence[object]) -> str:
    if facts.empty and not any(callees):
        return ""
    data = {
        "tainted": [
            [t.name, t.source, list(t.sanitised), list(t.only), _steps(t.path)]
            for t in facts.tainted
        ],
        "sinks": [[s.cwe, s.sink, s.via, _steps(s.path)] for s in facts.sinks],
        "returns": list(facts.returns),
        "callees": callees,
    }
    text = json.dumps(data, sort_keys=True, ensure_ascii=True)
    return hashlib.sha256(text.encode("ascii")).hexdigest()[:32]


def derive_facts(
    functions: Iterable[Function],
    summaries: Mapping[str, Summary],
    calls: CallFacts,
    entries: Mapping[str, Sequence[tuple[int, Taint]]],
    hits: Sequence[tuple[Function, SinkHit]],
    callees: Callable[[Function], Sequence[Function]],
) -> dict[str, FunctionFacts]:
    """The facts of every function in `functions`, by `qualified_id` (see the module doc).

    `entries` holds the source taints of route handlers' parameters; `hits` the
    source-to-sink hits each function's analysis recorded; `callees` the call graph.
    """
    tainted = _tainted_parameters(summaries, calls, entries)
    hits_of: dict[str, list[SinkHit]] = {}
    for fn, hit in hits:
        hits_of.setdefault(fn.qualified_id, []).append(hit)
    out: dict[str, FunctionFacts] = {}
    for fn in functions:
        key = fn.qualified_id
        summary = summaries.get(key, Summary())
        returns = tuple(
            dict.fromkeys(t.source for t in summary.returns if t.param is None and t.source)
        )
        facts = FunctionFacts(
            tainted=tuple(v for _, v in sorted(tainted.get(key, {}).items())),
            sinks=_sinks(summary, hits_of.get(key, ())),
            returns=returns[:MAX_FACTS],
        )
        relevant = sorted(
            (
                [c.name, signature]
                for c in callees(fn)
                if c.qualified_id in summaries and c.qualified_id != key
                for signature in [summary_signature(summaries[c.qualified_id])]
                if any(signature[1:])  # sinks or returns: what a caller can depend on
            ),
            key=repr,
        )
        digest = _digest(facts, relevant)
        if digest or not facts.empty:
            out[key] = FunctionFacts(facts.tainted, facts.sinks, facts.returns, digest)
    return out
