"""The values the engine tracks: taints with their path, and per-function summaries."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from vulnsight.dataflow.spec import ALL_CWES, SinkSpec
from vulnsight.types import PathStep

#: Taints kept per value; more distinct origins add nothing a user can act on.
MAX_TAINTS = 6
#: Steps kept per path: the first ones (the source) and the last ones (the sink side).
MAX_STEPS = 40


@dataclass(frozen=True)
class Taint:
    """Untrusted data, where it came from and what has been done to it.

    `param` is set while a function is summarised: the value came from its parameter
    number `param` (the caller decides whether that is untrusted). `source` is set when
    the value came from a source. `sanitised` lists the CWEs it has been made safe for.
    """

    path: tuple[PathStep, ...]
    param: int | None = None
    source: str = ""
    confidence: float = 0.8
    sanitised: frozenset[str] = frozenset()
    only: frozenset[str] = frozenset()  # the CWEs this source counts for (empty: all)
    # Solidity: where the value was stored in a state variable by a function anyone can
    # call, when it reached this transaction through storage (`sol_state.py`)
    stored_at: PathStep | None = None

    def key(self) -> tuple[int | None, str, frozenset[str]]:
        """Taints with the same key are the same fact; the first path found is kept."""
        return (self.param, self.source, self.sanitised)

    def then(self, *steps: PathStep) -> Taint:
        """The same taint, one or more steps further."""
        path = self.path + steps
        if len(path) > MAX_STEPS:
            path = path[:4] + path[-(MAX_STEPS - 4) :]
        return replace(self, path=path)

    def cleaned(self, cwes: frozenset[str]) -> Taint | None:
        """The taint after a sanitiser for `cwes` (None: clean for every weakness)."""
        if ALL_CWES in cwes:
            return None
        return replace(self, sanitised=self.sanitised | cwes)

    def reaches(self, cwe: str) -> bool:
        """Whether the value is still dangerous for `cwe`."""
        return cwe not in self.sanitised and (not self.only or cwe in self.only)


#: A value's taints (empty: trusted). Tuples keep paths deterministic.
Value = tuple[Taint, ...]
CLEAN: Value = ()


def union(*values: Iterable[Taint]) -> Value:
    """All taints of `values`, one per key, the first path kept."""
    seen: dict[tuple[int | None, str, frozenset[str]], Taint] = {}
    for value in values:
        for taint in value:
            if len(seen) >= MAX_TAINTS:
                break
            seen.setdefault(taint.key(), taint)
    return tuple(seen.values())


def step_all(value: Value, *steps: PathStep) -> Value:
    """Every taint of `value`, further by `steps`."""
    return tuple(t.then(*steps) for t in value)


@dataclass(frozen=True)
class SinkHit:
    """A tainted value reaching a sink: `taint.path` ends where the sink's argument was
    built; `step` is the sink call itself."""

    taint: Taint
    sink: SinkSpec
    step: PathStep


@dataclass(frozen=True)
class Summary:
    """What a function does with its parameters, as its callers need to know.

    `returns` holds the taints of its return value: parameter taints (`param` set,
    path from the parameter to the return) and source taints (the function returns
    untrusted data of its own). `sinks` holds parameter taints reaching a sink, here
    or in a function it calls.
    """

    params: tuple[str, ...] = ()
    returns: Value = ()
    sinks: tuple[SinkHit, ...] = ()
    method: bool = False  # its first parameter is self/cls, bound by `obj.m(...)`
    key: str = ""  # the summarised function's `qualified_id` ("" for the empty summary)


EMPTY = Summary()
